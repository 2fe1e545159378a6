"""The simulator's blob store: presigned part URLs for reserved build upload files, and the parts' bytes in a sparse
temp file per upload file (never in memory: benchmarks push GiB-sized IPAs through it)."""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from publish.sandbox.model import iso

URL_LIFETIME = 7 * 24 * 3600  # Apple's asset guide: plan on finishing within about a week
CONTENT_TYPE = "application/octet-stream"


class PartError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def document(self) -> dict[str, Any]:
        return {"errors": [{"status": str(self.status), "code": self.code, "title": "The part upload was refused.",
                            "detail": self.message}]}


@dataclass
class BlobFile:
    file_id: str
    token: str
    path: Path
    size: int
    parts: list[tuple[int, int]]  # (offset, length) by part number - 1
    received: set[int] = field(default_factory=set)
    sealed: bool = False  # committed: no more parts accepted

    def missing(self) -> list[int]:
        return [n for n in range(1, len(self.parts) + 1) if n not in self.received]

    def digest(self, algorithm: str) -> str:
        hasher = hashlib.md5() if algorithm == "MD5" else hashlib.sha256()
        with self.path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                hasher.update(chunk)
        return hasher.hexdigest()


@dataclass(frozen=True)
class PartTarget:
    blob: BlobFile
    part_number: int
    offset: int
    length: int


class BlobStore:
    def __init__(self, clock: Callable[[], float], part_size: int) -> None:
        if part_size < 1:
            raise ValueError("part_size must be at least 1 byte")
        self.clock = clock
        self.part_size = part_size
        self.base_url = ""
        self._secret = secrets.token_bytes(32)
        # Made at the first reservation: most simulators (a test's) never receive a file, and a directory made and
        # removed for nothing costs each of them ~0.2 ms.
        self._dir: Path | None = None
        self._closed = False
        self._by_token: dict[str, BlobFile] = {}
        self._lock = threading.Lock()

    def reserve(self, file_id: str, size: int) -> tuple[BlobFile, list[dict[str, Any]]]:
        token = secrets.token_hex(16)
        with self._lock:
            if self._closed:  # a request still in flight as the simulator stops: no directory made to be left behind
                raise FileNotFoundError(errno.ENOENT, "the simulator has stopped; its blob store is closed")
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="asc-sandbox-blobs-"))
            path = self._dir / f"{token}.part"
        with path.open("wb") as stream:
            stream.truncate(size)  # sparse: parts land at their offsets in any order
        parts = [(offset, min(self.part_size, size - offset)) for offset in range(0, size, self.part_size)]
        blob = BlobFile(file_id, token, path, size, parts)
        with self._lock:
            self._by_token[token] = blob
        expires = int(self.clock()) + URL_LIFETIME
        operations = []
        for number, (offset, length) in enumerate(parts, start=1):
            operations.append({
                "method": "PUT",
                "url": self._url(token, number, expires),
                "length": length,
                "offset": offset,
                "partNumber": number,
                "expiration": iso(expires),
                "requestHeaders": [{"name": "Content-Type", "value": CONTENT_TYPE}],
            })
        return blob, operations

    def _signature(self, token: str, number: int, expires: int) -> str:
        return hmac.new(self._secret, f"{token}/{number}/{expires}".encode(), hashlib.sha256).hexdigest()

    def _url(self, token: str, number: int, expires: int) -> str:
        return f"{self.base_url}/blob/{token}/{number}?Expires={expires}&Signature={self._signature(token, number, expires)}"

    def authorize(self, path: str, query: str, headers: dict[str, str]) -> PartTarget:
        """Checks a part PUT the way a presigned blob store does; raises PartError."""
        if "authorization" in headers:
            raise PartError(400, "InvalidArgument", "Part URLs are presigned: send no Authorization header "
                            "(only the operation's requestHeaders).")
        segments = path.strip("/").split("/")
        if len(segments) != 3 or not segments[2].isdigit():
            raise PartError(404, "NoSuchKey", "No such part URL; use the uploadOperations URLs unchanged.")
        _, token, number_text = segments
        number = int(number_text)
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            expires = int(params["Expires"])
            signature = params["Signature"]
        except (KeyError, ValueError):
            raise PartError(403, "AccessDenied", "The part URL lost its Expires/Signature; use it unchanged.") from None
        if not hmac.compare_digest(signature, self._signature(token, number, expires)):
            raise PartError(403, "SignatureDoesNotMatch", "The part URL's signature does not match; use it unchanged.")
        if expires < self.clock():
            raise PartError(403, "AccessDenied", "The part URL has expired; reserve the file again.")
        with self._lock:
            blob = self._by_token.get(token)
        if blob is None or not 1 <= number <= len(blob.parts):
            raise PartError(404, "NoSuchKey", "This upload file no longer exists.")
        if blob.sealed:
            raise PartError(409, "InvalidState", "The file was already committed; no more parts are accepted.")
        offset, length = blob.parts[number - 1]
        content_type = headers.get("content-type")
        if content_type != CONTENT_TYPE:
            raise PartError(400, "InvalidArgument", f"Content-Type must be exactly {CONTENT_TYPE!r} as listed "
                            f"in the operation's requestHeaders (got {content_type!r}).")
        if "transfer-encoding" in headers:
            raise PartError(411, "MissingContentLength", "Send the part with a Content-Length, not chunked.")
        declared = headers.get("content-length")
        if declared is None or not declared.isdigit() or int(declared) != length:
            raise PartError(400, "IncompleteBody", f"Part {number} must be sent with Content-Length {length} "
                            f"(bytes {offset}..{offset + length - 1} of the file); got {declared}.")
        return PartTarget(blob, number, offset, length)

    def write(self, target: PartTarget, read: Callable[[int], bytes], throttle: Callable[[int], None] | None = None,
              stop_after: int | None = None, chunk_size: int = 1 << 20) -> int:
        """Streams the body into place; returns the bytes written (< length if the client went away)."""
        written = 0
        limit = target.length if stop_after is None else min(stop_after, target.length)
        fd = os.open(target.blob.path, os.O_WRONLY)
        try:
            while written < limit:
                chunk = read(min(chunk_size, limit - written))
                if not chunk:
                    break
                os.pwrite(fd, chunk, target.offset + written)
                written += len(chunk)
                if throttle is not None:
                    throttle(len(chunk))
        finally:
            os.close(fd)
        return written

    def mark_received(self, target: PartTarget) -> None:
        with self._lock:
            target.blob.received.add(target.part_number)

    def seal(self, blob: BlobFile) -> None:
        with self._lock:
            blob.sealed = True

    def discard(self, blob: BlobFile, *, forget: bool = False) -> None:
        """Deletes the bytes. The URLs keep answering "already committed" unless the file is forgotten (deleted)."""
        with self._lock:
            blob.sealed = True
            if forget:
                self._by_token.pop(blob.token, None)
        blob.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def files_on_disk(self) -> list[Path]:
        return sorted(self._dir.iterdir()) if self._dir is not None and self._dir.exists() else []
