"""The state store: what this tool has done, kept in one SQLite file under the state directory.

Layout of a state directory (default `.appstore-publish/` in the working directory):

    state.sqlite3                       binaries seen, their App Store Connect ids, RC flags, history
    artifacts/<sha256[:2]>/<sha256>.ipa kept binaries (profiles with `keep_binaries: true`), content-addressed

Two runs may share a state directory at the same time (two CI jobs on one self-hosted runner, a release
manager marking an RC while a flow runs): SQLite's WAL journal lets readers go on while one writer works,
every write is a short `BEGIN IMMEDIATE` transaction (it takes the write lock up front, so two writers queue
behind `busy_timeout` instead of failing half-way through a read-modify-write), and nothing is cached in
memory between calls.

The schema is versioned with `PRAGMA user_version`; `_MIGRATIONS[n]` takes a database from version n to n+1.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from publish.errors import InputError, PublishError
from publish.local_paths import checked_path

STATE_DIR_ENV = "APPSTORE_PUBLISH_STATE_DIR"
DEFAULT_STATE_DIR = ".appstore-publish"
DATABASE_NAME = "state.sqlite3"
ARTIFACTS_DIR = "artifacts"

# Long enough to outwait another run's write transaction (they are all short), short enough that a stuck
# process is reported rather than waited on forever.
BUSY_TIMEOUT_S = 30.0
_CHUNK = 1024 * 1024

STEP_STATUSES = ("running", "succeeded", "failed", "skipped")
EVENT_KINDS = ("rc", "unrc", "download", "delete", "expire")


class StateError(PublishError):
    """The state store cannot be used as it is (unknown binary, corrupt kept file, unreadable database)."""


def resolve_state_dir(
    flag: str | None,
    env: Mapping[str, str],
    flow_state_dir: str | None,
    base: Path,
    *,
    flow_base: Path | None = None,
) -> Path:
    """The state directory: `--state-dir` > $APPSTORE_PUBLISH_STATE_DIR > the flow's `state_dir` > `.appstore-publish/`.

    Relative paths are taken from `base` (the working directory); a relative `state_dir` in a flow file is taken
    from `flow_base` (the flow file's directory) when given, so the flow means the same wherever it is run from.
    """
    if flag:
        chosen, root, source = flag, base, "--state-dir"
    elif env.get(STATE_DIR_ENV):
        chosen, root, source = env[STATE_DIR_ENV], base, f"${STATE_DIR_ENV}"
    elif flow_state_dir:
        chosen, root, source = flow_state_dir, flow_base or base, "the flow's state_dir"
    else:
        chosen, root, source = DEFAULT_STATE_DIR, base, "the state directory"
    # A NUL byte or an over-long path would fail deep inside sqlite3 or os with a bare ValueError/OSError.
    path = checked_path(str(chosen), source).expanduser()
    return path if path.is_absolute() else Path(root) / path


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE binaries (
            fingerprint   TEXT PRIMARY KEY,
            bundle_id     TEXT NOT NULL,
            version       TEXT NOT NULL,
            build_number  TEXT NOT NULL,
            display_name  TEXT,
            icon_name     TEXT,
            file_size     INTEGER,
            info          TEXT NOT NULL,             -- IpaInfo.to_json()
            remote        TEXT NOT NULL DEFAULT '{}', -- App Store Connect ids and states
            rc            INTEGER NOT NULL DEFAULT 0,
            rc_note       TEXT,
            kept_sha256   TEXT,
            first_seen    REAL NOT NULL,
            last_seen     REAL NOT NULL,
            deleted       INTEGER NOT NULL DEFAULT 0,
            -- step runs up to this history id belong to before a `delete`: the runner must not skip on them
            forgotten_upto INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX binaries_by_version ON binaries (bundle_id, version, build_number)")
    db.execute(
        """
        CREATE TABLE history (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            kind          TEXT NOT NULL,          -- 'step' | 'rc' | 'unrc' | 'download' | 'delete' | 'expire'
            fingerprint   TEXT,
            bundle_id     TEXT,
            version       TEXT,
            build_number  TEXT,
            flow_hash     TEXT,
            step_index    INTEGER,
            step_name     TEXT,
            settings_hash TEXT,
            status        TEXT NOT NULL,
            started_at    REAL NOT NULL,
            finished_at   REAL,
            duration_s    REAL,
            asc_ids       TEXT,
            error         TEXT,
            outputs       TEXT,
            detail        TEXT
        )
        """
    )
    db.execute("CREATE INDEX history_by_binary ON history (fingerprint, step_index, step_name, settings_hash)")
    db.execute("CREATE INDEX history_by_version ON history (bundle_id, version, build_number)")
    db.execute("CREATE INDEX history_by_time ON history (started_at)")


_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_0_to_1,)
SCHEMA_VERSION = len(_MIGRATIONS)


class StateStore:
    """The state of one state directory. Open with `StateStore.open(state_dir)`; use as a context manager."""

    def __init__(
        self, state_dir: Path, db: sqlite3.Connection, clock: Callable[[], float], busy_timeout: float = BUSY_TIMEOUT_S
    ) -> None:
        self.state_dir = state_dir
        self.busy_timeout = busy_timeout
        self.database_path = state_dir / DATABASE_NAME
        self.artifacts_dir = state_dir / ARTIFACTS_DIR
        self._db = db
        self._clock = clock
        # One connection per store; the lock lets threads of one run (parallel part uploads reporting
        # progress, say) share it safely.
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, state_dir: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> StateStore:
        state_dir = Path(state_dir)
        if state_dir.exists() and not state_dir.is_dir():
            raise InputError(
                f"state directory {state_dir} is a file, not a directory",
                hint="point --state-dir (or APPSTORE_PUBLISH_STATE_DIR, or the flow's state_dir) at a directory",
            )
        created = not state_dir.exists()
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create the state directory {state_dir}: {exc.strerror}",
                hint="choose a writable place with --state-dir or APPSTORE_PUBLISH_STATE_DIR",
            ) from exc
        if created:
            # The state holds ids and kept binaries, not source: keep it out of commits by default.
            (state_dir / ".gitignore").write_text("# created by appstore-publish\n*\n")
        path = state_dir / DATABASE_NAME
        try:
            db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise InputError(
                f"cannot open the state database {path}: {exc}",
                hint="check the state directory is writable, or choose another with --state-dir",
            ) from exc
        store = cls(state_dir, db, clock, busy_timeout)
        try:
            store._prepare()
        except PublishError:
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            raise InputError(
                f"{path} is not a usable appstore-publish state database ({exc})",
                hint="move the file aside (a fresh one is created) or point --state-dir elsewhere",
            ) from exc
        return store

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
        if self._schema_version(db) == SCHEMA_VERSION:
            return
        with self._write() as tx:
            current = self._schema_version(tx)  # another process may have migrated meanwhile
            for step in _MIGRATIONS[current:]:
                step(tx)
            if current != SCHEMA_VERSION:
                tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _schema_version(self, db: sqlite3.Connection) -> int:
        current = int(db.execute("PRAGMA user_version").fetchone()[0])
        if current > SCHEMA_VERSION:
            raise InputError(
                f"the state database {self.database_path} has schema version {current}, newer than this "
                f"appstore-publish understands ({SCHEMA_VERSION})",
                hint="upgrade appstore-publish, or use another --state-dir",
            )
        return current

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

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
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

    def _read(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

    # -- binaries ------------------------------------------------------------------------------------------

    def record_binary(self, info: Mapping[str, Any]) -> None:
        """Remember a binary (from `IpaInfo.to_json()`); seeing it again refreshes it and `last_seen`."""
        missing = [k for k in ("fingerprint", "bundle_id", "version", "build_number") if not info.get(k)]
        if missing:
            raise ValueError(f"record_binary: inspection is missing {', '.join(missing)}")
        icons = info.get("icon_names") or []
        now = self._clock()
        with self._write() as tx:
            tx.execute(
                """
                INSERT INTO binaries (fingerprint, bundle_id, version, build_number, display_name, icon_name,
                                      file_size, info, first_seen, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (fingerprint) DO UPDATE SET
                    bundle_id = excluded.bundle_id, version = excluded.version,
                    build_number = excluded.build_number, display_name = excluded.display_name,
                    icon_name = excluded.icon_name, file_size = excluded.file_size, info = excluded.info,
                    last_seen = excluded.last_seen,
                    first_seen = CASE WHEN binaries.deleted THEN excluded.first_seen ELSE binaries.first_seen END,
                    deleted = 0
                """,
                (
                    info["fingerprint"],
                    info["bundle_id"],
                    str(info["version"]),
                    str(info["build_number"]),
                    info.get("display_name"),
                    icons[0] if icons else None,
                    info.get("file_size"),
                    _dumps(dict(info)),
                    now,
                    now,
                ),
            )

    def get_binary(self, fingerprint: str, *, include_deleted: bool = False) -> dict | None:
        rows = self._read("SELECT * FROM binaries WHERE fingerprint = ?", (fingerprint,))
        if not rows or (rows[0]["deleted"] and not include_deleted):
            return None
        return self._binary(rows[0])

    def find_binaries(
        self,
        *,
        bundle_id: str | None = None,
        version: str | None = None,
        build_number: str | None = None,
        include_deleted: bool = False,
    ) -> list[dict]:
        """Binaries matching every given field, most recently seen first."""
        where, params = [], []
        for column, value in (("bundle_id", bundle_id), ("version", version), ("build_number", build_number)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        if not include_deleted:
            where.append("deleted = 0")
        sql = "SELECT * FROM binaries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY last_seen DESC, rowid DESC"
        return [self._binary(row) for row in self._read(sql, params)]

    @staticmethod
    def _binary(row: dict) -> dict:
        return {
            "bundle_id": row["bundle_id"],
            "version": row["version"],
            "build_number": row["build_number"],
            "fingerprint": row["fingerprint"],
            "file_size": row["file_size"],
            "display_name": row["display_name"],
            "icon_name": row["icon_name"],
            "info": _loads(row["info"]),
            "remote": _loads(row["remote"]) or {},
            "rc": bool(row["rc"]),
            "rc_note": row["rc_note"],
            "kept_sha256": row["kept_sha256"],
            "first_seen": _iso(row["first_seen"]),
            "last_seen": _iso(row["last_seen"]),
            "deleted": bool(row["deleted"]),
        }

    def _require(self, tx: sqlite3.Connection, fingerprint: str) -> tuple:
        row = tx.execute(
            "SELECT bundle_id, version, build_number, remote, kept_sha256, deleted FROM binaries WHERE fingerprint = ?",
            (fingerprint,),
        ).fetchone()
        if row is None:
            raise StateError(
                f"no binary with fingerprint {fingerprint} in the state store",
                hint="record the binary first (a flow run does); `appstore-publish versions` lists the known ones",
            )
        return row

    def update_remote(self, fingerprint: str, **fields: Any) -> None:
        """Merge App Store Connect ids and states (app_id, build_id, processing_state, ...) into the binary."""
        with self._write() as tx:
            remote = _loads(self._require(tx, fingerprint)[3]) or {}
            remote.update(fields)
            tx.execute("UPDATE binaries SET remote = ? WHERE fingerprint = ?", (_dumps(remote), fingerprint))

    # -- release candidates --------------------------------------------------------------------------------

    def set_rc(self, fingerprint: str, flag: bool, note: str | None = None) -> None:
        """Mark (or unmark) a binary as release candidate, and record it in history."""
        with self._write() as tx:
            self._require(tx, fingerprint)
            tx.execute(
                "UPDATE binaries SET rc = ?, rc_note = ? WHERE fingerprint = ?",
                (int(flag), note if flag else None, fingerprint),
            )
            self._insert_event(tx, "rc" if flag else "unrc", fingerprint, {"note": note} if note else None)

    def is_rc(self, fingerprint: str) -> bool:
        rows = self._read("SELECT rc FROM binaries WHERE fingerprint = ? AND deleted = 0", (fingerprint,))
        return bool(rows and rows[0]["rc"])

    # -- step runs and history -----------------------------------------------------------------------------

    def start_step_run(
        self,
        *,
        fingerprint: str,
        bundle_id: str,
        flow_hash: str,
        step_index: int,
        step_name: str,
        settings_hash: str,
    ) -> int:
        now = self._clock()
        with self._write() as tx:
            row = tx.execute(
                "SELECT version, build_number FROM binaries WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            version, build_number = row if row else (None, None)
            cursor = tx.execute(
                """
                INSERT INTO history (kind, fingerprint, bundle_id, version, build_number, flow_hash, step_index,
                                     step_name, settings_hash, status, started_at)
                VALUES ('step', ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)
                """,
                (fingerprint, bundle_id, version, build_number, flow_hash, step_index, step_name, settings_hash, now),
            )
            return int(cursor.lastrowid)

    def finish_step_run(
        self,
        run_id: int,
        *,
        status: str,
        asc_ids: dict | None = None,
        error: str | None = None,
        outputs: dict | None = None,
    ) -> None:
        if status not in ("succeeded", "failed", "skipped"):
            raise ValueError(f"finish_step_run: status must be succeeded, failed or skipped, not {status!r}")
        now = self._clock()
        with self._write() as tx:
            cursor = tx.execute(
                """
                UPDATE history SET status = ?, finished_at = ?, duration_s = MAX(0, ? - started_at),
                                   asc_ids = ?, error = ?, outputs = ?
                WHERE id = ? AND kind = 'step'
                """,
                (status, now, now, _dumps(asc_ids), error, _dumps(outputs), run_id),
            )
            if cursor.rowcount != 1:
                raise StateError(f"no step run with id {run_id} in the state store")

    def find_completed_step(
        self, *, fingerprint: str, step_index: int, step_name: str, settings_hash: str
    ) -> dict | None:
        """The last successful run of this step, with these settings, on this binary (since it was last deleted)."""
        rows = self._read(
            """
            SELECT h.* FROM history h JOIN binaries b ON b.fingerprint = h.fingerprint
            WHERE h.kind = 'step' AND h.status = 'succeeded' AND h.fingerprint = ? AND h.step_index = ?
              AND h.step_name = ? AND h.settings_hash = ? AND h.id > b.forgotten_upto AND b.deleted = 0
            ORDER BY h.id DESC LIMIT 1
            """,
            (fingerprint, step_index, step_name, settings_hash),
        )
        return self._history_row(rows[0]) if rows else None

    def record_event(self, *, kind: str, fingerprint: str, detail: dict | None = None) -> None:
        """A history row for an action that is not a step run (download, delete, expire, ...)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"record_event: kind must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")
        with self._write() as tx:
            self._insert_event(tx, kind, fingerprint, detail)

    def _insert_event(self, tx: sqlite3.Connection, kind: str, fingerprint: str, detail: dict | None) -> None:
        bundle_id, version, build_number, *_ = self._require(tx, fingerprint)
        now = self._clock()
        tx.execute(
            """
            INSERT INTO history (kind, fingerprint, bundle_id, version, build_number, status, started_at,
                                 finished_at, duration_s, detail)
            VALUES (?, ?, ?, ?, ?, 'succeeded', ?, ?, 0, ?)
            """,
            (kind, fingerprint, bundle_id, version, build_number, now, now, _dumps(detail)),
        )

    def history(
        self,
        *,
        bundle_id: str | None = None,
        version: str | None = None,
        build_number: str | None = None,
        fingerprint: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """History rows matching every given field, newest first (deleted versions' history is kept)."""
        where, params = [], []
        for column, value in (
            ("bundle_id", bundle_id),
            ("version", version),
            ("build_number", build_number),
            ("fingerprint", fingerprint),
            ("kind", kind),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        sql = "SELECT * FROM history"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [self._history_row(row) for row in self._read(sql, params)]

    @staticmethod
    def _history_row(row: dict) -> dict:
        return {
            "id": row["id"],
            "kind": row["kind"],
            "step_name": row["step_name"],
            "step_index": row["step_index"],
            "status": row["status"],
            "started_at": _iso(row["started_at"]),
            "finished_at": _iso(row["finished_at"]),
            "duration_s": row["duration_s"],
            "asc_ids": _loads(row["asc_ids"]) or {},
            "error": row["error"],
            "outputs": _loads(row["outputs"]) or {},
            "bundle_id": row["bundle_id"],
            "version": row["version"],
            "build_number": row["build_number"],
            "fingerprint": row["fingerprint"],
            "flow_hash": row["flow_hash"],
            "settings_hash": row["settings_hash"],
            "detail": _loads(row["detail"]) or {},
        }

    # -- kept binaries -------------------------------------------------------------------------------------

    def _artifact_file(self, sha256: str) -> Path:
        return self.artifacts_dir / sha256[:2] / f"{sha256}.ipa"

    def keep_binary(self, fingerprint: str, ipa_path: str | os.PathLike) -> str:
        """Copy the IPA into the artifact store (streamed, hashed on the way); returns its sha256."""
        if not self._read("SELECT 1 FROM binaries WHERE fingerprint = ?", (fingerprint,)):
            # Fail before copying gigabytes for a binary we do not know.
            raise StateError(f"no binary with fingerprint {fingerprint} in the state store")
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        # Copy to a temporary name first so a half-written file never sits at a content address.
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", suffix=".ipa", dir=self.artifacts_dir)
        tmp = Path(tmp_name)
        try:
            with open(ipa_path, "rb") as source, os.fdopen(fd, "wb") as target:
                _copy_hashing(source, target, digest)
                target.flush()
                os.fsync(target.fileno())
            sha256 = digest.hexdigest()
            final = self._artifact_file(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            # Under the write lock, so a concurrent delete of another binary with the same content cannot
            # remove the file between the move and the record.
            with self._write() as tx:
                self._require(tx, fingerprint)
                os.replace(tmp, final)  # atomic; an identical concurrent copy lands on the same name
                tx.execute("UPDATE binaries SET kept_sha256 = ? WHERE fingerprint = ?", (sha256, fingerprint))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha256

    def artifact_path(self, fingerprint: str) -> Path | None:
        """Where the kept binary is, or None when it was not kept."""
        rows = self._read("SELECT kept_sha256 FROM binaries WHERE fingerprint = ? AND deleted = 0", (fingerprint,))
        if not rows or not rows[0]["kept_sha256"]:
            return None
        return self._artifact_file(rows[0]["kept_sha256"])

    def export_binary(self, fingerprint: str, out: str | os.PathLike) -> str:
        """Copy the kept binary to `out`, verifying its sha256 on the way; returns the sha256.

        The copy is written beside `out` under a temporary name and moved into place only when the checksum
        matches, so a corrupt kept file never leaves a plausible-looking IPA behind.
        """
        path = self.artifact_path(fingerprint)
        if path is None:
            raise StateError(f"the binary {fingerprint} was not kept in the state directory")
        expected = path.stem
        if not path.is_file():
            raise StateError(
                f"the kept binary {path} is missing from the artifact store",
                hint="the state directory was restored without its artifacts/ folder; persist the whole directory",
            )
        out_path = Path(out)
        out_dir = out_path.parent if str(out_path.parent) else Path(".")
        if not out_dir.is_dir():
            raise InputError(f"cannot write {out_path}: {out_dir} is not a directory", hint="create it first")
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".part", dir=out_dir)
        tmp = Path(tmp_name)
        try:
            with open(path, "rb") as source, os.fdopen(fd, "wb") as target:
                _copy_hashing(source, target, digest)
            actual = digest.hexdigest()
            if actual != expected:
                raise StateError(
                    f"the kept binary {path} is corrupt: its sha256 is {actual}, expected {expected}",
                    hint="the file in the artifact store was altered or damaged; nothing was written to "
                    f"{out_path}. Rebuild the IPA (Apple offers no download of uploaded builds)",
                )
            os.replace(tmp, out_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return actual

    # -- deletion ------------------------------------------------------------------------------------------

    def delete_binary(self, fingerprint: str) -> None:
        """Forget a version: hidden from listings, kept binary removed, RC cleared; its history stays."""
        with self._write() as tx:
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


def _copy_hashing(source: BinaryIO, target: BinaryIO, digest: Any) -> None:
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)

