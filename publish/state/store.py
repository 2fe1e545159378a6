"""The state store: what this tool has done, kept in one SQLite file under the state directory.

StateStore is the one object callers hold; its parts live beside it, one table or one job each: the binaries
(binaries.py), step runs and events (history.py), RC marks (release_candidates.py), kept binaries
(artifacts.py), on one connection (connection.py) at the schema of schema.py. Deleting a version crosses
them all, so it is here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from publish.state.artifacts import KeptBinaries
from publish.state.connection import BUSY_TIMEOUT_S, StateDatabase
from publish.state.location import ARTIFACTS_DIR, DATABASE_NAME, create_state_dir
from publish.state.release_candidates import ReleaseCandidates


class StateStore(ReleaseCandidates, KeptBinaries, AbstractContextManager["StateStore"]):
    """The state of one state directory. Open with `StateStore.open(state_dir)`; use as a context manager."""

    def __init__(self, state_dir: Path, database: StateDatabase, clock: Callable[[], float]) -> None:
        self.state_dir = state_dir
        self.busy_timeout = database.busy_timeout
        self.database_path = database.database_path
        self.artifacts_dir = state_dir / ARTIFACTS_DIR
        self._database = database
        self._clock = clock

    @classmethod
    def open(
        cls, state_dir: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> StateStore:
        state_dir = Path(state_dir)
        create_state_dir(state_dir)
        return cls(state_dir, StateDatabase.open(state_dir / DATABASE_NAME, busy_timeout=busy_timeout), clock)

    def close(self) -> None:
        self._database.close()

    def __exit__(self, *exc_info: object) -> None:  # __enter__ (returning the store) is AbstractContextManager's
        self.close()

    def delete_binary(self, fingerprint: str) -> None:
        """Forget a version: hidden from listings, kept binary removed, RC cleared; its history stays."""
        with self._database.write() as tx:
            sha256 = self._require(tx, fingerprint)[4]
            self._insert_event(tx, "delete", fingerprint, None)
            upto = tx.execute("SELECT MAX(id) FROM history").fetchone()[0] or 0
            tx.execute(
                """
                UPDATE binaries SET deleted = 1, rc = 0, rc_note = NULL, kept_sha256 = NULL, forgotten_upto = ?
                WHERE fingerprint = ?
                """,
                (upto, fingerprint),
            )
            # Content-addressed: another binary may share the file (same bytes under two fingerprints).
            if sha256 and not tx.execute(
                "SELECT 1 FROM binaries WHERE kept_sha256 = ? AND deleted = 0", (sha256,)
            ).fetchone():
                self._artifact_file(sha256).unlink(missing_ok=True)
