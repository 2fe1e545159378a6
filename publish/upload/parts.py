"""Sending the upload operations of a build-file reservation (the presigned part PUTs; checking them is in
`operations.py`).

protocol.md C2/C3: every operation names a byte range of the file, a method (PUT when empty), a presigned URL and
the exact headers to send. The URL carries its own signature, so it is a bearer credential until it expires: it is
never logged or put in an error message with its query string, and no API token is ever sent with it, nor a
~/.netrc entry's credentials: a PUT goes out through `publish.asc.wire.send_prepared`, the one way the client's calls
go too, which prepares it as `Session.request` would, without requests' generic merging and without netrc.

The body of a part is streamed from the file with `os.pread` in chunks of at most 1 MiB by a `FileRange`, so a
part of any size costs one chunk of memory per connection, and several parts can read the same descriptor at once.

What cannot be fixed by sending again is not retried: a TLS failure, a Retry-After beyond `MAX_RETRY_AFTER`, a
file that changed under the upload. A part's waits are bounded in total, and its answer body is read no further
than 64 KiB.
"""

from __future__ import annotations

import logging
import os
import random as random_module
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import SKIP_HEADER

from publish.asc.transport import backoff_delay, is_loopback_host, parse_retry_after
from publish.asc.wire import send_prepared
from publish.errors import InputError, RemoteError
from publish.upload.operations import (
    ALLOWED_METHODS,
    MAX_OPERATIONS,
    PartOperation,
    sum_lengths,
    url_problem,
    validate_operations,
)

__all__ = [
    "ALLOWED_METHODS", "MAX_OPERATIONS", "FileRange", "PartOperation", "PartResult", "PartUploadError",
    "PartUploader", "PresignedUrlRejected", "SourceFileChanged", "UploadCancelled", "configure_part_session",
    "sum_lengths", "url_problem", "validate_operations",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
# Headers the HTTP stack would add on its own that the reservation did not list: suppressed, so each part carries
# exactly the listed headers (plus Host and Content-Length, which HTTP/1.1 needs).
_SUPPRESSED_DEFAULTS = ("User-Agent", "Accept-Encoding")


class UploadCancelled(Exception):
    """Another part failed for good (or the run is stopping): this part stops reading the file."""


class PartUploadError(RemoteError):
    """A part was refused for good (a 4xx other than an expired URL, or retries ran out)."""


class SourceFileChanged(InputError):
    """The file being uploaded shrank after its reservation: the parts no longer add up to what was reserved, so
    no retry can help. A local problem (exit 2, like the engine's own check of the file's identity), and not an
    OSError, so the HTTP stack does not mistake it for a broken connection and retry it."""


class PresignedUrlRejected(PartUploadError):
    """The storage refused the presigned URL (HTTP 403, or its expiration has passed): a fresh one is needed."""

    def __init__(self, message: str, *, operation: PartOperation) -> None:
        super().__init__(message)
        self.operation = operation


class FileRange:
    """A byte range of an open file as a stream for `requests`: `read(n)` returns at most one chunk (1 MiB) read
    with `os.pread` (no shared file position, so parts can read one descriptor concurrently) and `len()` is the
    range's length, which becomes the Content-Length.

    With `buffer`, chunks are read into that buffer and returned as memoryviews of it: the HTTP stack sends each
    chunk before asking for the next, so one reused buffer per connection is all the memory a part costs (and no
    allocation churn grows the allocator's per-thread arenas)."""

    def __init__(self, fd: int, offset: int, length: int, *, on_read: Callable[[int], None] | None = None,
                 cancelled: threading.Event | None = None, chunk_size: int = CHUNK_SIZE,
                 buffer: bytearray | None = None) -> None:
        self._fd = fd
        self._offset = offset
        self._length = length
        self._position = 0
        self._on_read = on_read
        self._cancelled = cancelled
        self._buffer = memoryview(buffer) if buffer is not None else None
        self._chunk_size = min(chunk_size, len(buffer)) if buffer is not None else chunk_size

    def __len__(self) -> int:
        return self._length

    @property
    def bytes_read(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes | memoryview:
        if self._cancelled is not None and self._cancelled.is_set():
            raise UploadCancelled("upload stopped")
        remaining = self._length - self._position
        if remaining <= 0:
            return b""
        want = min(remaining, self._chunk_size if size is None or size < 0 else min(size, self._chunk_size))
        position = self._offset + self._position
        data: bytes | memoryview
        if self._buffer is not None:
            count = os.preadv(self._fd, [self._buffer[:want]], position)
            data = self._buffer[:count]
        else:
            data = os.pread(self._fd, want, position)
        if len(data) < want:
            raise SourceFileChanged(
                f"The file ended at byte {position + len(data)}, inside the part that needs bytes {self._offset}-"
                f"{self._offset + self._length - 1}: it shrank while it was being uploaded (was it rebuilt or "
                "overwritten meanwhile?).",
                hint="Let whatever writes the file (IPA or package) finish, then run again with the final file.",
            )
        self._position += len(data)
        if self._on_read is not None:
            self._on_read(len(data))
        return data


class _PartAdapter(HTTPAdapter):
    """Sends request bodies in 1 MiB writes instead of urllib3's default 16 KiB (fewer system calls per part)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs.setdefault("blocksize", CHUNK_SIZE)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def configure_part_session(session: requests.Session, *, pool_size: int, urls: Iterable[str] = ()) -> None:
    """Prepare a session for presigned part URLs: no default headers, a connection pool per worker, big writes.
    Proxy settings from the environment are ignored only for loopback URLs (the simulator)."""
    session.headers.clear()
    adapter = _PartAdapter(pool_connections=4, pool_maxsize=max(1, pool_size), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    hosts = {urlsplit(u).hostname or "" for u in urls}
    if hosts and all(is_loopback_host(h) for h in hosts):
        session.trust_env = False


@dataclass
class PartResult:
    operation: PartOperation
    status: int
    attempts: int
    bytes_sent: int
    retried_reasons: list[str] = field(default_factory=list)


class PartUploader:
    """Sends one operation with retries: connection errors, timeouts, 5xx and 429 (honouring Retry-After) are
    retried with exponential backoff and full jitter through the injected `sleep`; a 403 means the presigned URL
    is expired or no longer valid (`PresignedUrlRejected`); any other status is fatal (`PartUploadError`)."""

    BACKOFF_BASE = 1.0
    BACKOFF_CAP = 60.0
    # A Retry-After above this fails the part at once, naming the wait, instead of sleeping it up to 8 times.
    MAX_RETRY_AFTER = 300.0
    # The most one part may spend sleeping between its attempts.
    MAX_TOTAL_WAIT = 900.0

    def __init__(self, session: requests.Session, *, sleep: Callable[[float], None] = time.sleep,
                 wall_clock: Callable[[], float] = time.time, random: random_module.Random | None = None,
                 max_attempts: int = 8, timeout: tuple[float, float] = (10.0, 300.0)) -> None:
        self._session = session
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._random = random if random is not None else random_module.Random()
        self._random_lock = threading.Lock()
        self._buffers = threading.local()
        self.max_attempts = max(1, max_attempts)
        self._timeout = timeout

    def headers_for(self, op: PartOperation) -> dict[str, str]:
        headers = {name: value for name, value in op.headers}
        listed = {name.lower() for name in headers}
        for name in _SUPPRESSED_DEFAULTS:
            if name.lower() not in listed:
                headers[name] = SKIP_HEADER
        # Content-Length comes from len(FileRange); a listed value must agree with the range.
        for name in list(headers):
            if name.lower() == "content-length" and headers[name] != str(op.length):
                raise PartUploadError(
                    f"The reservation lists Content-Length {headers[name]} for {op.label}, which is "
                    f"{op.length} bytes long.",
                    hint="Run again to get a fresh reservation; report it if it keeps happening.",
                )
        return headers

    def put(self, fd: int, op: PartOperation, *, on_progress: Callable[[int], None] | None = None,
            cancelled: threading.Event | None = None) -> PartResult:
        headers = self.headers_for(op)
        reasons: list[str] = []
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            if cancelled is not None and cancelled.is_set():
                raise UploadCancelled("upload stopped")
            _check_size(fd, op)
            body = FileRange(fd, op.offset, op.length, on_read=on_progress, cancelled=cancelled,
                             buffer=self._buffer())
            retry_after: float | None = None
            try:
                response = send_prepared(self._session, op.method, op.url, headers=headers, body=body,
                                         timeout=self._timeout)
                try:
                    status = response.status_code
                    text = _answer_excerpt(response)
                    if status in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
                finally:
                    response.close()
            except (UploadCancelled, SourceFileChanged):
                self._unsend(on_progress, body)
                raise
            except requests.exceptions.SSLError as exc:
                self._unsend(on_progress, body)
                raise PartUploadError(
                    f"Uploading {op.label} to {op.safe_url} failed: the TLS connection could not be set up "
                    f"({_describe(exc)}).",
                    hint="Retrying cannot fix a certificate: check this machine's clock and CA certificates (a proxy "
                         "that re-signs TLS needs its CA in REQUESTS_CA_BUNDLE or SSL_CERT_FILE).",
                ) from None
            except (requests.RequestException, OSError) as exc:
                self._unsend(on_progress, body)
                reason = _describe(exc)
            else:
                if 200 <= status < 300:
                    return PartResult(op, status, attempt, op.length, reasons)
                self._unsend(on_progress, body)
                if status == 403:
                    raise PresignedUrlRejected(
                        f"The storage refused the presigned URL for {op.label} (HTTP 403{_excerpt(text)}); it has "
                        "probably expired.",
                        operation=op,
                    )
                if status != 429 and status < 500:
                    raise PartUploadError(
                        f"Uploading {op.label} to {op.safe_url} failed with HTTP {status}{_excerpt(text)}.",
                        hint="This is not a network problem that a retry would fix; run again to get a fresh "
                             "reservation, and report it if it keeps happening.",
                    )
                reason = f"HTTP {status}"
            reasons.append(reason)
            if retry_after is not None and retry_after > self.MAX_RETRY_AFTER:
                raise PartUploadError(
                    f"Uploading {op.label} to {op.safe_url} failed with {reason}, and the storage asked to retry in "
                    f"{retry_after:.0f} s, longer than the {self.MAX_RETRY_AFTER:.0f} s a part may wait.",
                    hint="Apple's upload storage is unavailable for now; run again later (the parts already sent "
                         "are remembered).",
                )
            if attempt == self.max_attempts:
                break
            delay = self._delay(attempt - 1, retry_after)
            if waited + delay > self.MAX_TOTAL_WAIT:
                break
            waited += delay
            log.info("%s: %s; retrying in %.1f s (attempt %d of %d)", op.label, reason, delay, attempt + 1,
                     self.max_attempts)
            self._sleep(delay)
        raise PartUploadError(
            f"Uploading {op.label} to {op.safe_url} failed {len(reasons)} times "
            f"(last: {reasons[-1] if reasons else 'unknown'}).",
            hint="Check the network connection and run again: the parts already sent are remembered and only the "
                 "missing ones are sent again.",
        )

    def _buffer(self) -> bytearray:
        """This worker thread's chunk buffer (one per connection, reused for every part it sends)."""
        buffer = getattr(self._buffers, "buffer", None)
        if buffer is None:
            buffer = self._buffers.buffer = bytearray(CHUNK_SIZE)
        return buffer

    def _delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        with self._random_lock:
            return backoff_delay(retry, self._random, base=self.BACKOFF_BASE, cap=self.BACKOFF_CAP)

    @staticmethod
    def _unsend(on_progress: Callable[[int], None] | None, body: FileRange) -> None:
        """Take back from the progress count the bytes of an attempt that did not land."""
        if on_progress is not None and body.bytes_read:
            on_progress(-body.bytes_read)


def _check_size(fd: int, op: PartOperation) -> None:
    """Refuse to send a part of a file that no longer reaches its end (checked before each attempt, so a rebuild
    that truncated the IPA is named at once instead of costing every retry)."""
    try:
        size = os.fstat(fd).st_size
    except OSError:
        return
    if size < op.end:
        raise SourceFileChanged(
            f"The file is now {size} bytes, but {op.label} needs bytes up to {op.end - 1}: it shrank while it was "
            "being uploaded (was it rebuilt or overwritten meanwhile?).",
            hint="Let whatever writes the file (IPA or package) finish, then run again with the final file.",
        )


def _answer_excerpt(response: requests.Response, limit: int = 64 << 10) -> str:
    """The start of a part answer's body. A body within `limit` is read to its end, so the connection goes back to
    the pool for the next part; a gigantic or endless one (a hostile storage's error page) is cut there and its
    connection closed rather than drained, costing neither memory nor time."""
    if response.raw is None:
        return (response.text or "")[:500]
    data = bytearray()
    try:
        for chunk in response.iter_content(8192):
            data += chunk
            if len(data) > limit:
                break
    except (requests.RequestException, OSError):
        pass  # a broken answer body only loses the excerpt
    return bytes(data[:2048]).decode("utf-8", "replace")[:500]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    return f": {text[:200]}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer within the read timeout"
    name = type(exc).__name__
    # The message of a connection error quotes the URL (with its signature): keep only the exception's kind
    # and the innermost reason's class.
    inner: Any = exc.args[0] if exc.args else None
    inner = getattr(inner, "reason", inner)
    if isinstance(inner, BaseException):
        return f"{name} ({type(inner).__name__})"
    return name
