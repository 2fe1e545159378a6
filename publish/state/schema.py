"""The tables of the state database and how an older database is brought up to date.

The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[n]` takes a database from version n to n+1. A
database newer than this program is refused rather than read: its rows may mean what this version cannot know.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from publish.errors import InputError


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


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_0_to_1,)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection, database_path: Path) -> int:
    """The database's schema version; an InputError when it is newer than this program understands."""
    current = int(db.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise InputError(
            f"the state database {database_path} has schema version {current}, newer than this "
            f"appstore-publish understands ({SCHEMA_VERSION})",
            hint="upgrade appstore-publish, or use another --state-dir",
        )
    return current


def migrate(tx: sqlite3.Connection, database_path: Path) -> None:
    """Bring the database to SCHEMA_VERSION; `tx` holds the write lock, so two processes cannot both migrate."""
    current = schema_version(tx, database_path)  # another process may have migrated meanwhile
    for step in MIGRATIONS[current:]:
        step(tx)
    if current != SCHEMA_VERSION:
        tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
