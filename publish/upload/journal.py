"""The upload journal: what a crashed or cancelled upload had done, so a re-run resumes instead of starting over.

One JSON file per (app, version, build number, platform) in `<state_dir>/uploads/`: the build upload, the file
reservation (its operations, including the presigned URLs), the parts the storage acknowledged, and whether the
file was committed. It also records which file the parts came from (size, mtime and a hash of its first and last
64 KiB): acknowledged parts only count for the very same file.

The presigned URLs work as bearer credentials until they expire, so the file is created 0600 in a 0700 directory
and deleted once the build upload is COMPLETE (or FAILED). No API key or token is ever written here.
Writes are atomic (temporary file, fsync, rename, fsync of the directory): a crash leaves the old or the new
journal, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOURNAL_FORMAT = 1
SAMPLE_SIZE = 64 * 1024


@dataclass(frozen=True)
class UploadKey:
    """What one build upload is for: App Store Connect allows one build per app, version, build number, platform."""

    app_id: str
    version: str
    build_number: str
    platform: str

    def file_name(self) -> str:
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.app_id}-{self.platform}-{self.version}-{self.build_number}")
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]
        return f"{readable[:80]}-{digest}.json"


@dataclass(frozen=True)
class FileIdentity:
    """A cheap identity of the IPA on disk (no full read): size, modification time and the hash of its first and
    last 64 KiB (the zip central directory lives at the end, so a rebuilt IPA differs there)."""

    size: int
    mtime_ns: int
    sample_sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileIdentity:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            digest = hashlib.sha256()
            digest.update(os.pread(handle.fileno(), SAMPLE_SIZE, 0))
            if stat.st_size > SAMPLE_SIZE:
                tail = max(SAMPLE_SIZE, stat.st_size - SAMPLE_SIZE)
                digest.update(os.pread(handle.fileno(), SAMPLE_SIZE, tail))
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sample_sha256=digest.hexdigest())

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FileIdentity:
        return cls(size=int(obj["size"]), mtime_ns=int(obj["mtime_ns"]), sample_sha256=str(obj["sample_sha256"]))


class UploadJournal:
    """The journal of one build upload. Thread-safe: part workers acknowledge parts concurrently."""

    # Acknowledgements are written at most this often (plus on every other change and at the end of a run): a
    # part whose acknowledgement was lost in a crash is merely sent again.
    SAVE_INTERVAL = 0.5

    def __init__(self, path: Path, key: UploadKey, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.key = key
        self._clock = clock
        self._lock = threading.RLock()
        self._last_save: float | None = None
        self._dirty = False
        self.file: FileIdentity | None = None
        self.upload_id: str | None = None
        self.file_id: str | None = None
        self.operations: list[dict[str, Any]] = []
        self.acknowledged: set[str] = set()
        self.committed = False
        self.md5_hex: str | None = None
        self.created_at: float | None = None

    # ------------------------------------------------------------------ location

    @staticmethod
    def directory(state_dir: Path) -> Path:
        return Path(state_dir) / "uploads"

    @classmethod
    def path_for(cls, state_dir: Path, key: UploadKey) -> Path:
        return cls.directory(state_dir) / key.file_name()

    @classmethod
    def open(cls, state_dir: Path, key: UploadKey, *, clock: Callable[[], float] = time.monotonic) -> UploadJournal:
        """The journal for `key`: loaded when a readable one exists, else a new, empty one (not yet written)."""
        journal = cls(cls.path_for(state_dir, key), key, clock=clock)
        try:
            text = journal.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return journal
        except OSError as exc:
            log.warning("Could not read the upload journal %s (%s); starting a new one.", journal.path, exc)
            return journal
        try:
            journal._load(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("The upload journal %s is unreadable (%s); starting a new one.", journal.path, exc)
            return cls(journal.path, key, clock=clock)
        return journal

    def _load(self, obj: Mapping[str, Any]) -> None:
        if obj.get("format") != JOURNAL_FORMAT:
            raise ValueError(f"unknown journal format {obj.get('format')!r}")
        key = obj["key"]
        if UploadKey(**key) != self.key:
            raise ValueError("the journal belongs to another upload")
        self.file = FileIdentity.from_json(obj["file"]) if obj.get("file") else None
        self.upload_id = obj.get("upload_id")
        self.file_id = obj.get("file_id")
        self.operations = [dict(op) for op in obj.get("operations") or []]
        self.acknowledged = {str(k) for k in obj.get("acknowledged") or []}
        self.committed = bool(obj.get("committed"))
        self.md5_hex = obj.get("md5_hex")
        self.created_at = obj.get("created_at")

    @property
    def exists(self) -> bool:
        return self.path.exists()

    # ------------------------------------------------------------------ changes

    def start(self, upload_id: str, file: FileIdentity) -> None:
        """A build upload (new or adopted) for this file; forgets any older reservation."""
        with self._lock:
            self.upload_id = upload_id
            self.file = file
            self.file_id = None
            self.operations = []
            self.acknowledged = set()
            self.committed = False
            self.md5_hex = None
            self.created_at = self.created_at or time.time()
            self.save()

    def record_reservation(self, file_id: str, operations: Iterable[Mapping[str, Any]], *,
                           keep_acknowledged: Iterable[str] = ()) -> None:
        """A file reservation. Parts acknowledged under the old one count only when named in `keep_acknowledged`
        (the same reservation re-read with fresh URLs)."""
        with self._lock:
            self.file_id = file_id
            self.operations = [dict(op) for op in operations]
            self.acknowledged = set(keep_acknowledged)
            self.save()

    def acknowledge(self, part_key: str) -> None:
        with self._lock:
            self.acknowledged.add(part_key)
            self._dirty = True
            now = self._clock()
            if self._last_save is None or now - self._last_save >= self.SAVE_INTERVAL:
                self.save()

    def mark_committed(self, md5_hex: str) -> None:
        with self._lock:
            self.committed = True
            self.md5_hex = md5_hex
            self.save()

    def flush(self) -> None:
        """Write pending acknowledgements (called when a run ends, however it ends)."""
        with self._lock:
            if self._dirty and self.upload_id is not None:
                self.save()

    # ------------------------------------------------------------------ storage

    def to_json(self) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "key": asdict(self.key),
            "file": asdict(self.file) if self.file else None,
            "upload_id": self.upload_id,
            "file_id": self.file_id,
            "operations": self.operations,
            "acknowledged": sorted(self.acknowledged, key=_part_sort_key),
            "committed": self.committed,
            "md5_hex": self.md5_hex,
            "created_at": self.created_at,
        }

    def save(self) -> None:
        with self._lock:
            _write_atomically(self.path, json.dumps(self.to_json(), indent=1, sort_keys=True).encode())
            self._last_save = self._clock()
            self._dirty = False

    def reset(self) -> None:
        """Forget everything (the recorded build upload is gone or failed): delete the file, clear the fields."""
        with self._lock:
            self.delete()
            self.file = None
            self.upload_id = None
            self.file_id = None
            self.operations = []
            self.acknowledged = set()
            self.committed = False
            self.md5_hex = None

    def delete(self) -> None:
        with self._lock:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            else:
                _fsync_directory(self.path.parent)
            self._dirty = False


class CommittedDigest:
    """The whole-file MD5 of a committed build upload, kept after its journal is deleted.

    App Store Connect does not echo a client checksum (none is sent: protocol.md H.7) and the one it computes is
    its own composite, so this local record is how a later run tells whether the build Apple has for these
    numbers came from this very IPA. One small file per upload key in `<state_dir>/digests/`: the digest and the
    ids, no URL, key or token (nothing secret), written atomically like the journal.
    """

    @staticmethod
    def path_for(state_dir: Path, key: UploadKey) -> Path:
        return Path(state_dir) / "digests" / key.file_name()

    @classmethod
    def save(cls, state_dir: Path, key: UploadKey, *, md5_hex: str, upload_id: str | None,
             file_id: str | None) -> None:
        record = {"format": JOURNAL_FORMAT, "key": asdict(key), "md5_hex": md5_hex.lower(), "upload_id": upload_id,
                  "file_id": file_id, "committed_at": time.time()}
        _write_atomically(cls.path_for(state_dir, key), json.dumps(record, indent=1, sort_keys=True).encode())

    @classmethod
    def load(cls, state_dir: Path, key: UploadKey) -> dict[str, Any] | None:
        try:
            record = json.loads(cls.path_for(state_dir, key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != asdict(key) or not record.get("md5_hex"):
            return None
        return record


def _write_atomically(path: Path, data: bytes) -> None:
    """Temporary file (0600, in a 0700 directory), fsync, rename, fsync of the directory."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = directory / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing temporary file keeps its mode through O_CREAT
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _part_sort_key(key: str) -> tuple[int, str]:
    head, _, _ = key.partition("+")
    return (int(head), key) if head.isdigit() else (-1, key)
