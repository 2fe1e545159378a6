"""What was done to each binary: step runs (the runner skips a step whose last run with the same settings
succeeded) and events (RC marks, downloads, deletes, expiries), newest first.

History outlives the binary it speaks of: a deleted version's rows stay, but step runs from before a delete no
longer count as done (`binaries.forgotten_upto`).
"""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from publish.state.binaries import BinaryRecords
from publish.state.columns import dumps, equal_to, iso, listing, loads
from publish.state.connection import StateError

STEP_STATUSES = ("running", "succeeded", "failed", "skipped")
EVENT_KINDS = ("rc", "unrc", "download", "delete", "expire")
# What a history row reads as (`history --json`), in this order: columns of `history`.
HISTORY_FIELDS = ("id", "kind", "step_name", "step_index", "status", "started_at", "finished_at", "duration_s",
                  "asc_ids", "error", "outputs", "bundle_id", "version", "build_number", "fingerprint", "flow_hash",
                  "settings_hash", "detail")


class StepHistory(BinaryRecords):
    """The `history` table."""

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
        with self._database.write() as tx:
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
            return int(cast(int, cursor.lastrowid))  # set after every INSERT; None only before the first

    def finish_step_run(
        self,
        run_id: int,
        *,
        status: str,
        asc_ids: dict[str, Any] | None = None,
        error: str | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> None:
        if status not in ("succeeded", "failed", "skipped"):
            raise ValueError(f"finish_step_run: status must be succeeded, failed or skipped, not {status!r}")
        now = self._clock()
        with self._database.write() as tx:
            cursor = tx.execute(
                """
                UPDATE history SET status = ?, finished_at = ?, duration_s = MAX(0, ? - started_at),
                                   asc_ids = ?, error = ?, outputs = ?
                WHERE id = ? AND kind = 'step'
                """,
                (status, now, now, dumps(asc_ids), error, dumps(outputs), run_id),
            )
            if cursor.rowcount != 1:
                raise StateError(f"no step run with id {run_id} in the state store")

    def find_completed_step(
        self, *, fingerprint: str, step_index: int, step_name: str, settings_hash: str
    ) -> dict[str, Any] | None:
        """The last successful run of this step, with these settings, on this binary (since it was last deleted)."""
        rows = self._database.read(
            """
            SELECT h.* FROM history h JOIN binaries b ON b.fingerprint = h.fingerprint
            WHERE h.kind = 'step' AND h.status = 'succeeded' AND h.fingerprint = ? AND h.step_index = ?
              AND h.step_name = ? AND h.settings_hash = ? AND h.id > b.forgotten_upto AND b.deleted = 0
            ORDER BY h.id DESC LIMIT 1
            """,
            (fingerprint, step_index, step_name, settings_hash),
        )
        return self._history_row(rows[0]) if rows else None

    def record_event(self, *, kind: str, fingerprint: str, detail: dict[str, Any] | None = None) -> None:
        """A history row for an action that is not a step run (download, delete, expire, ...)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"record_event: kind must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")
        with self._database.write() as tx:
            self._insert_event(tx, kind, fingerprint, detail)

    def _insert_event(self, tx: sqlite3.Connection, kind: str, fingerprint: str, detail: dict[str, Any] | None) -> None:
        bundle_id, version, build_number, *_ = self._require(tx, fingerprint)
        now = self._clock()
        tx.execute(
            """
            INSERT INTO history (kind, fingerprint, bundle_id, version, build_number, status, started_at,
                                 finished_at, duration_s, detail)
            VALUES (?, ?, ?, ?, ?, 'succeeded', ?, ?, 0, ?)
            """,
            (kind, fingerprint, bundle_id, version, build_number, now, now, dumps(detail)),
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
    ) -> list[dict[str, Any]]:
        """History rows matching every given field, newest first (deleted versions' history is kept)."""
        where, params = equal_to((
            ("bundle_id", bundle_id),
            ("version", version),
            ("build_number", build_number),
            ("fingerprint", fingerprint),
            ("kind", kind),
        ))
        sql = listing("history", where, "started_at DESC, id DESC")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [self._history_row(row) for row in self._database.read(sql, params)]

    @staticmethod
    def _history_row(row: dict[str, Any]) -> dict[str, Any]:
        entry = {name: row[name] for name in HISTORY_FIELDS}
        # Decoded in place: a dict keeps each key where it was first put, so the order stays HISTORY_FIELDS'.
        entry.update(started_at=iso(row["started_at"]), finished_at=iso(row["finished_at"]),
                     asc_ids=loads(row["asc_ids"]) or {}, outputs=loads(row["outputs"]) or {},
                     detail=loads(row["detail"]) or {})
        return entry
