"""Release-candidate marks: one flag (and note) per binary, every change of it kept in history."""

from __future__ import annotations

from publish.state.history import StepHistory


class ReleaseCandidates(StepHistory):
    def set_rc(self, fingerprint: str, flag: bool, note: str | None = None) -> None:
        """Mark (or unmark) a binary as release candidate, and record it in history."""
        with self._database.write() as tx:
            self._require(tx, fingerprint)
            tx.execute(
                "UPDATE binaries SET rc = ?, rc_note = ? WHERE fingerprint = ?",
                (int(flag), note if flag else None, fingerprint),
            )
            self._insert_event(tx, "rc" if flag else "unrc", fingerprint, {"note": note} if note else None)

    def is_rc(self, fingerprint: str) -> bool:
        rows = self._database.read("SELECT rc FROM binaries WHERE fingerprint = ? AND deleted = 0", (fingerprint,))
        return bool(rows and rows[0]["rc"])
