"""The upload operations of a build-file reservation (protocol.md C2): what each one is, and the checks made
before a byte is sent - they cover the file exactly (no gap, no overlap, nothing outside it), use PUT, and go over
`https://` (plain `http://` only to this machine, the simulator). A reservation naming `http://10.1.2.3/` or
`http://169.254.169.254/` (a cloud metadata service) would otherwise receive the whole IPA in clear text.

A presigned URL is a bearer credential until it expires: `safe_url` is the form used in messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from publish.asc.transport import is_loopback_host
from publish.errors import RemoteError

ALLOWED_METHODS = ("PUT",)
# A reservation is a handful of parts (Apple cuts files in parts of tens of MB); thousands would be a broken answer.
MAX_OPERATIONS = 10_000


@dataclass(frozen=True)
class PartOperation:
    """One entry of `uploadOperations` (OpenAPI `DeliveryFileUploadOperation`)."""

    offset: int
    length: int
    url: str
    method: str = "PUT"
    part_number: int | None = None
    expiration: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def key(self) -> str:
        """Identity of a part within one reservation: its byte range (part numbers are optional in the spec)."""
        return f"{self.offset}+{self.length}"

    @property
    def label(self) -> str:
        number = f"part {self.part_number}" if self.part_number is not None else "part"
        return f"{number} (bytes {self.offset}-{self.end - 1})"

    @property
    def safe_url(self) -> str:
        """The URL without its query (which holds the signature), for messages."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def expires_at(self) -> float | None:
        """Unix time after which the URL is no longer valid: `expiration`, else the URL's `Expires` parameter."""
        if self.expiration:
            try:
                when = datetime.fromisoformat(self.expiration.replace("Z", "+00:00"))
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc)
                return when.timestamp()
            except ValueError:
                pass
        for pair in urlsplit(self.url).query.split("&"):
            name, _, value = pair.partition("=")
            if name.lower() in ("expires", "x-amz-expires-at") and value.isdigit():
                return float(value)
        return None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PartOperation:
        headers = tuple(
            (str(h.get("name")), str(h.get("value") if h.get("value") is not None else ""))
            for h in obj.get("requestHeaders") or []
            if isinstance(h, Mapping) and h.get("name")
        )
        return cls(
            offset=obj.get("offset"),  # type: ignore[arg-type]  # checked by validate_operations
            length=obj.get("length"),  # type: ignore[arg-type]
            url=obj.get("url") or "",
            method=(obj.get("method") or "PUT").upper(),
            part_number=obj.get("partNumber"),
            expiration=obj.get("expiration"),
            headers=headers,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "length": self.length,
            "url": self.url,
            "method": self.method,
            "partNumber": self.part_number,
            "expiration": self.expiration,
            "requestHeaders": [{"name": n, "value": v} for n, v in self.headers],
        }


def validate_operations(raw: Any, file_size: int) -> list[PartOperation]:
    """The reservation's operations, sorted by offset, after checking that they cover [0, file_size) exactly.

    Raises RemoteError naming the first problem: sending parts that do not add up to the file would only fail
    later, at the commit or in processing, after the whole file went over the network.
    """
    what = "App Store Connect's upload reservation"
    hint = "Run again to get a fresh reservation; if it keeps happening, report it with this message."
    if not isinstance(raw, list) or not raw:
        raise RemoteError(f"{what} has no upload operations, so there is nowhere to send the file.", hint=hint)
    if len(raw) > MAX_OPERATIONS:
        raise RemoteError(f"{what} lists {len(raw)} upload operations, more than the {MAX_OPERATIONS} a file is ever "
                          "cut into.", hint=hint)
    operations: list[PartOperation] = []
    for index, obj in enumerate(raw):
        if not isinstance(obj, Mapping):
            raise RemoteError(f"{what}: operation {index} is not an object.", hint=hint)
        op = PartOperation.from_json(obj)
        if not isinstance(op.offset, int) or isinstance(op.offset, bool) or op.offset < 0:
            raise RemoteError(f"{what}: operation {index} has an invalid offset {obj.get('offset')!r}.", hint=hint)
        if not isinstance(op.length, int) or isinstance(op.length, bool) or op.length < 1:
            raise RemoteError(f"{what}: operation {index} has an invalid length {obj.get('length')!r} "
                              "(at least 1 byte).", hint=hint)
        problem = url_problem(op.url)
        if problem:
            raise RemoteError(f"{what}: operation {index} {problem}; nothing was sent.", hint=hint)
        if op.end > file_size:
            raise RemoteError(f"{what}: operation {index} asks for bytes {op.offset}-{op.end - 1}, outside the "
                              f"{file_size}-byte file.", hint=hint)
        if op.method not in ALLOWED_METHODS:
            raise RemoteError(f"{what}: operation {index} asks for HTTP method {op.method!r}; only PUT is expected.",
                              hint=hint)
        operations.append(op)
    operations.sort(key=lambda o: o.offset)
    position = 0
    for op in operations:
        if op.offset > position:
            raise RemoteError(f"{what} leaves bytes {position}-{op.offset - 1} of the {file_size}-byte file "
                              "without an upload operation.", hint=hint)
        if op.offset < position:
            raise RemoteError(f"{what} has overlapping operations: bytes {op.offset}-{min(position, op.end) - 1} are "
                              "named twice.", hint=hint)
        position = op.end
    if position != file_size:
        raise RemoteError(f"{what} covers {position} bytes but the file has {file_size}: the reservation does not "
                          "match the file.", hint=hint)
    numbers = [op.part_number for op in operations if op.part_number is not None]
    if len(numbers) != len(set(numbers)):
        raise RemoteError(f"{what} repeats a part number.", hint=hint)
    return operations


def url_problem(url: str) -> str | None:
    """Why a part URL must not be used, or None. Plain http is allowed only to loopback (the simulator)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "has a malformed URL"
    if parts.scheme not in ("http", "https") or not host:
        return "has no usable URL (it must be https:// and name a host)"
    if parts.username or parts.password:
        return f"has a URL with a user name or password ({parts.scheme}://...@{host})"
    if parts.scheme == "http" and not is_loopback_host(host):
        return (f"sends the file over plain http:// to {host}, which is not this machine; parts go over https:// "
                "only (plain http is for the local simulator)")
    return None


def sum_lengths(operations: Sequence[PartOperation]) -> int:
    return sum(op.length for op in operations)
