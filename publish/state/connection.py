"""The one SQLite connection of a state store: opening it, its write transactions, its reads.

Two runs may share a state directory at the same time (two CI jobs on one self-hosted runner, a release
manager marking an RC while a flow runs): SQLite's WAL journal lets readers go on while one writer works,
every write is a short `BEGIN IMMEDIATE` transaction (it takes the write lock up front, so two writers queue
behind `busy_timeout` instead of failing half-way through a read-modify-write), and nothing is cached in
memory between calls.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from publish.errors import InputError, PublishError
from publish.state.schema import SCHEMA_VERSION, migrate, schema_version

# Long enough to outwait another run's write transaction (they are all short), short enough that a stuck
# process is reported rather than waited on forever.
BUSY_TIMEOUT_S = 30.0


class StateError(PublishError):
    """The state store cannot be used as it is (unknown binary, corrupt kept file, unreadable database)."""


class StateDatabase:
    """The state database file, open and at the current schema. Open with `StateDatabase.open(path)`."""

    def __init__(self, database_path: Path, db: sqlite3.Connection, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.database_path = database_path
        self.busy_timeout = busy_timeout
        self._db = db
        # One connection per store; the lock lets threads of one run (parallel part uploads reporting
        # progress, say) share it safely.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> StateDatabase:
        try:
            db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise InputError(
                f"cannot open the state database {path}: {exc}",
                hint="check the state directory is writable, or choose another with --state-dir",
            ) from exc
        database = cls(path, db, busy_timeout)
        try:
            database._prepare()
        except PublishError:
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            raise InputError(
                f"{path} is not a usable appstore-publish state database ({exc})",
                hint="move the file aside (a fresh one is created) or point --state-dir elsewhere",
            ) from exc
        return database

    def _prepare(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        mode = self._retry_locked(lambda: db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if str(mode).lower() != "wal":
            # Some file systems (network mounts) cannot hold WAL's shared memory; the rollback journal still
            # serialises writers correctly, only readers wait more.
            db.execute("PRAGMA journal_mode = DELETE")
        # NORMAL is safe with WAL (no corruption on power loss; the last commit may be lost) and much faster.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        # Checked without the write lock first, so opening never waits on another run's write when up to date.
        if schema_version(db, self.database_path) == SCHEMA_VERSION:
            return
        with self.write() as tx:
            migrate(tx, self.database_path)

    def _retry_locked(self, action: Callable[[], Any]) -> Any:
        # Switching the journal mode is not covered by busy_timeout in every SQLite version.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._unwritable(exc) from exc
                time.sleep(0.05)

    def _unwritable(self, exc: sqlite3.OperationalError) -> StateError:
        if "locked" in str(exc) or "busy" in str(exc):
            return StateError(
                f"the state database {self.database_path} stayed locked for {self.busy_timeout:g} s",
                hint="another appstore-publish process holds it; wait for it to finish, or use another --state-dir",
            )
        return StateError(
            f"the state database {self.database_path} cannot be written: {exc}",
            hint="check the state directory is writable and its disk not full, or use another --state-dir",
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock first so read-modify-write cannot interleave."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._unwritable(exc) from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.execute("ROLLBACK")
                raise self._unwritable(exc) from exc

    def read(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
