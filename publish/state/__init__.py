"""The state store: what this tool has done, kept in one SQLite file under the state directory.

Callers import from here. The modules beside this one are the store's parts: where the state directory is and
what it holds (location.py), the tables (schema.py), the connection and its locking (connection.py), and one
module per kind of record, gathered by StateStore (store.py).
"""

from publish.state.connection import BUSY_TIMEOUT_S, StateError
from publish.state.history import EVENT_KINDS, STEP_STATUSES
from publish.state.location import ARTIFACTS_DIR, DATABASE_NAME, DEFAULT_STATE_DIR, STATE_DIR_ENV, resolve_state_dir
from publish.state.schema import SCHEMA_VERSION
from publish.state.store import StateStore

__all__ = [
    "ARTIFACTS_DIR",
    "BUSY_TIMEOUT_S",
    "DATABASE_NAME",
    "DEFAULT_STATE_DIR",
    "EVENT_KINDS",
    "SCHEMA_VERSION",
    "STATE_DIR_ENV",
    "STEP_STATUSES",
    "StateError",
    "StateStore",
    "resolve_state_dir",
]
