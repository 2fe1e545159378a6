"""The binaries a state store has seen: their inspection, App Store Connect ids and states, and the lookups.

A binary is known by its fingerprint (the inspection's, stable across copies of the same file); seeing it again
refreshes what is known of it, and a deleted one comes back as new when it is recorded again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from publish.state.columns import dumps, equal_to, iso, listing, loads
from publish.state.connection import StateDatabase, StateError

# What a binary reads as (`versions --json`, `show --json`), in this order: columns of `binaries`.
BINARY_FIELDS = ("bundle_id", "version", "build_number", "fingerprint", "file_size", "display_name", "icon_name", "info",
                 "remote", "rc", "rc_note", "kept_sha256", "first_seen", "last_seen", "deleted")
# What BinaryRecords._require reads of a binary: bundle_id, version, build_number, remote, kept_sha256, deleted.
BinaryRow = tuple[str, str, str, str, str | None, int]


class BinaryRecords:
    """The `binaries` table; the base of every part of StateStore (they all need a binary to exist)."""

    _database: StateDatabase
    _clock: Callable[[], float]

    def record_binary(self, info: Mapping[str, Any]) -> None:
        """Remember a binary (from `IpaInfo.to_json()`); seeing it again refreshes it and `last_seen`."""
        missing = [k for k in ("fingerprint", "bundle_id", "version", "build_number") if not info.get(k)]
        if missing:
            raise ValueError(f"record_binary: inspection is missing {', '.join(missing)}")
        icons = info.get("icon_names") or []
        now = self._clock()
        with self._database.write() as tx:
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
                    dumps(dict(info)),
                    now,
                    now,
                ),
            )

    def get_binary(self, fingerprint: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        rows = self._database.read("SELECT * FROM binaries WHERE fingerprint = ?", (fingerprint,))
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
    ) -> list[dict[str, Any]]:
        """Binaries matching every given field, most recently seen first."""
        where, params = equal_to((("bundle_id", bundle_id), ("version", version), ("build_number", build_number)))
        if not include_deleted:
            where.append("deleted = 0")
        sql = listing("binaries", where, "last_seen DESC, rowid DESC")
        return [self._binary(row) for row in self._database.read(sql, params)]

    @staticmethod
    def _binary(row: dict[str, Any]) -> dict[str, Any]:
        binary = {name: row[name] for name in BINARY_FIELDS}
        # Decoded in place: a dict keeps each key where it was first put, so the order stays BINARY_FIELDS'.
        binary.update(info=loads(row["info"]), remote=loads(row["remote"]) or {}, rc=bool(row["rc"]),
                      first_seen=iso(row["first_seen"]), last_seen=iso(row["last_seen"]), deleted=bool(row["deleted"]))
        return binary

    def _require(self, tx: sqlite3.Connection, fingerprint: str) -> BinaryRow:
        row: BinaryRow | None = tx.execute(
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
        with self._database.write() as tx:
            remote = loads(self._require(tx, fingerprint)[3]) or {}
            remote.update(fields)
            tx.execute("UPDATE binaries SET remote = ? WHERE fingerprint = ?", (dumps(remote), fingerprint))
