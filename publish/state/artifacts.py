"""Kept binaries: a content-addressed copy of an uploaded binary (profiles with `keep_binaries: true`), because
Apple offers no download of what was uploaded.

Files sit at `artifacts/<sha256[:2]>/<sha256>.ipa`; a file is only ever moved into its address once completely
written and hashed, and copied out only when its bytes still hash to that address.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from publish.errors import InputError
from publish.state.binaries import BinaryRecords
from publish.state.connection import StateError

_CHUNK = 1024 * 1024


class KeptBinaries(BinaryRecords):
    artifacts_dir: Path

    def _artifact_file(self, sha256: str) -> Path:
        return self.artifacts_dir / sha256[:2] / f"{sha256}.ipa"

    def keep_binary(self, fingerprint: str, ipa_path: str | os.PathLike[str]) -> str:
        """Copy the IPA into the artifact store (streamed, hashed on the way); returns its sha256."""
        if not self._database.read("SELECT 1 FROM binaries WHERE fingerprint = ?", (fingerprint,)):
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
            with self._database.write() as tx:
                self._require(tx, fingerprint)
                os.replace(tmp, final)  # atomic; an identical concurrent copy lands on the same name
                tx.execute("UPDATE binaries SET kept_sha256 = ? WHERE fingerprint = ?", (sha256, fingerprint))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha256

    def artifact_path(self, fingerprint: str) -> Path | None:
        """Where the kept binary is, or None when it was not kept."""
        rows = self._database.read(
            "SELECT kept_sha256 FROM binaries WHERE fingerprint = ? AND deleted = 0", (fingerprint,)
        )
        if not rows or not rows[0]["kept_sha256"]:
            return None
        return self._artifact_file(rows[0]["kept_sha256"])

    def export_binary(self, fingerprint: str, out: str | os.PathLike[str]) -> str:
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


def _copy_hashing(source: BinaryIO, target: BinaryIO, digest: Any) -> None:
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
