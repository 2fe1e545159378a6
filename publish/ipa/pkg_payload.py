"""Read a component package's Payload as a stream: its compression layer, then the cpio archive inside.

A Payload is a cpio archive ("odc", magic 070707, as pkgbuild writes it; "newc" 070701/070702 also occur)
compressed with gzip, or wrapped in Apple's pbzx framing (a "pbzx" magic, a flags word, then chunks each
introduced by flags and a length, holding an xz stream or raw bytes; the "more chunks" flag is bit 24), or
plain xz. Payloads run to gigabytes, so nothing is held but the current chunk and the few small members the
caller asks for (each with its own byte limit); everything else is decompressed through and dropped, with
the total expanded size capped. No path from the payload ever reaches the filesystem.
"""

from __future__ import annotations

import lzma
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

from publish.ipa.errors import IpaError

MAX_EXPANDED_PAYLOAD_BYTES = 64 * 1024**3
MAX_CPIO_NAME_BYTES = 4096  # macOS's PATH_MAX is 1024; a longer name is damage or an attack
MAX_CPIO_ENTRIES = 1_000_000  # each costs a few microseconds: this bounds a hostile payload to seconds
MAX_PBZX_CHUNK_BYTES = 256 * 1024 * 1024
PIECE = 256 * 1024

_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"
_PBZX = b"pbzx"
_PBZX_MORE = 1 << 24
_ODC = b"070707"
_NEWC = (b"070701", b"070702")
_TRAILER = "TRAILER!!!"
_S_IFMT = 0o170000
_TYPES = {0o100000: "file", 0o040000: "directory", 0o120000: "symlink"}
_HINT = "Build the package again with productbuild (or Xcode's export for the Mac App Store)."


class ByteStream:
    """Exact reads and skips over an iterator of chunks, holding one chunk at a time."""

    def __init__(self, chunks: Iterator[bytes], *, source: str) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._pos = 0
        self.source = source
        self.consumed = 0

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buffer, self._pos = chunk, 0
                return True
        return False

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at the end of the stream."""
        end = self._pos + size
        if end <= len(self._buffer):  # the common case: all within the current chunk
            data = self._buffer[self._pos:end]
            self._pos = end
            self.consumed += size
            return data
        parts = []
        while size > 0:
            if self._pos >= len(self._buffer) and not self._fill():
                break
            piece = self._buffer[self._pos:self._pos + size]
            self._pos += len(piece)
            size -= len(piece)
            parts.append(piece)
        data = b"".join(parts)
        self.consumed += len(data)
        return data

    def read_exact(self, size: int, what: str) -> bytes:
        data = self.read(size)
        if len(data) != size:
            raise IpaError(f"{self.source} ends in the middle of {what}: the payload is truncated.",
                           finding_id="pkg.truncated", hint=_HINT)
        return data

    def peek(self, size: int) -> bytes:
        if self._pos >= len(self._buffer):
            self._fill()
        if len(self._buffer) - self._pos < size:
            # Rare (chunks are large): join with what follows, keeping the stream's position.
            extra = self.read(size)
            self._buffer, self._pos = extra + self._buffer[self._pos:], 0
            self.consumed -= len(extra)
        return self._buffer[self._pos:self._pos + size]

    def skip(self, size: int, what: str) -> None:
        while size > 0:
            if self._pos >= len(self._buffer) and not self._fill():
                raise IpaError(f"{self.source} ends in the middle of {what}: the payload is truncated.",
                               finding_id="pkg.truncated", hint=_HINT)
            step = min(size, len(self._buffer) - self._pos)
            self._pos += step
            self.consumed += step
            size -= step

    def pieces(self, size: int, what: str) -> Iterator[bytes]:
        """The next `size` bytes as pieces, without joining them."""
        while size > 0:
            if self._pos >= len(self._buffer) and not self._fill():
                raise IpaError(f"{self.source} ends in the middle of {what}: the payload is truncated.",
                               finding_id="pkg.truncated", hint=_HINT)
            piece = self._buffer[self._pos:self._pos + size]
            self._pos += len(piece)
            self.consumed += len(piece)
            size -= len(piece)
            yield piece

    def rest(self) -> Iterator[bytes]:
        if self._pos < len(self._buffer):
            piece = self._buffer[self._pos:]
            self._pos = len(self._buffer)
            self.consumed += len(piece)
            yield piece
        for chunk in self._chunks:
            self.consumed += len(chunk)
            yield chunk


# -- compression layer ------------------------------------------------------------------------------


def open_payload(chunks: Iterator[bytes], *, source: str,
                 max_expanded: int = MAX_EXPANDED_PAYLOAD_BYTES) -> tuple[str, ByteStream]:
    """("gzip" | "pbzx" | "xz" | "none", the cpio bytes as a stream). The expanded size is capped."""
    stream = ByteStream(chunks, source=source)
    head = stream.peek(6)
    if head.startswith(_GZIP):
        kind, expanded = "gzip", _inflate(stream, source)
    elif head.startswith(_PBZX):
        kind, expanded = "pbzx", _pbzx(stream, source)
    elif head.startswith(_XZ):
        kind, expanded = "xz", _unxz(stream.rest(), source)
    elif head.startswith(_ODC) or head in _NEWC:
        kind, expanded = "none", stream.rest()
    else:
        raise IpaError(
            f"{source} is neither a gzip, pbzx nor xz-compressed cpio archive (it starts with {head[:6]!r}), so the "
            f"app inside cannot be read.", finding_id="pkg.payload_unreadable", hint=_HINT)
    return kind, ByteStream(_capped(expanded, source, max_expanded), source=f"{source} (cpio)")


def _capped(pieces: Iterator[bytes], source: str, limit: int) -> Iterator[bytes]:
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise IpaError(f"{source} expands to more than {limit} bytes; refused as a likely decompression bomb.",
                           finding_id="pkg.payload_too_large", hint=_HINT)
        yield piece


def _bounded(decompress: Callable[[bytes, int], bytes], more: Callable[[], bool], data: bytes) -> Iterator[bytes]:
    """Feed `data` and drain the output in pieces of at most PIECE bytes, so no single call balloons."""
    piece = decompress(data, PIECE)
    yield piece
    while more():
        piece = decompress(b"", PIECE)
        if not piece:
            return
        yield piece


def _inflate(stream: ByteStream, source: str) -> Iterator[bytes]:
    engine = zlib.decompressobj(31)
    try:
        for chunk in stream.rest():
            data = chunk
            while data:
                if engine.eof:
                    engine = zlib.decompressobj(31)  # concatenated gzip members are one stream, as gunzip reads them
                piece = engine.decompress(data, PIECE)
                data = engine.unused_data if engine.eof else engine.unconsumed_tail
                if piece:
                    yield piece
        if not engine.eof:
            raise IpaError(f"{source}: the gzip stream ends early; the payload is truncated.",
                           finding_id="pkg.truncated", hint=_HINT)
    except zlib.error as exc:
        raise IpaError(f"{source}: the gzip payload cannot be decompressed ({exc}).", finding_id="pkg.corrupt",
                       hint=_HINT) from None


def _unxz(chunks: Iterator[bytes], source: str) -> Iterator[bytes]:
    engine = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    try:
        for chunk in chunks:
            if engine.eof:
                break
            yield from _bounded(engine.decompress, lambda: not engine.eof and not engine.needs_input, chunk)
        if not engine.eof:
            raise IpaError(f"{source}: the xz stream ends early; the payload is truncated.",
                           finding_id="pkg.truncated", hint=_HINT)
    except (lzma.LZMAError, EOFError) as exc:
        raise IpaError(f"{source}: the xz data cannot be decompressed ({exc}).", finding_id="pkg.corrupt",
                       hint=_HINT) from None


def _pbzx(stream: ByteStream, source: str) -> Iterator[bytes]:
    stream.read_exact(4, "the pbzx magic")
    (flags,) = struct.unpack(">Q", stream.read_exact(8, "the pbzx header"))
    number = 0
    while flags & _PBZX_MORE:
        number += 1
        flags, length = struct.unpack(">QQ", stream.read_exact(16, f"pbzx chunk {number}'s header"))
        if length > MAX_PBZX_CHUNK_BYTES:
            raise IpaError(f"{source}: pbzx chunk {number} declares {length} bytes, more than the "
                           f"{MAX_PBZX_CHUNK_BYTES} allowed; refused as damaged.", finding_id="pkg.corrupt", hint=_HINT)
        what = f"pbzx chunk {number}"
        if length >= len(_XZ) and stream.peek(len(_XZ)) == _XZ:
            yield from _unxz(stream.pieces(length, what), f"{source} ({what})")
        else:
            yield from stream.pieces(length, what)


# -- cpio -------------------------------------------------------------------------------------------


class CpioEntry(NamedTuple):
    path: str  # without the leading "./"
    type: str  # "file" | "directory" | "symlink" | "other"
    mode: int
    size: int


def walk_cpio(stream: ByteStream, wanted: Callable[[CpioEntry], int | None]
              ) -> Iterator[tuple[CpioEntry, bytes | None]]:
    """Every entry of the cpio archive, with its bytes when `wanted(entry)` gives a byte limit for them.

    Written for speed as well as safety: an app can hold a hundred thousand files, and this loop runs for each.
    """
    source = stream.source
    count = 0
    while True:
        header = stream.read(76)  # odc's whole header; newc's first 76 bytes
        count += 1
        if count > MAX_CPIO_ENTRIES:
            raise IpaError(f"{source} holds more than {MAX_CPIO_ENTRIES} files; refused as a likely archive bomb.",
                           finding_id="pkg.payload_too_large", hint=_HINT)
        magic = header[:6]
        if len(header) < 76 and (magic == _ODC or magic in _NEWC or len(magic) < 6):
            raise IpaError(f"{source} ends in the middle of a cpio header: the payload is truncated.",
                           finding_id="pkg.truncated", hint=_HINT)
        if magic == _ODC:
            fields = _ODC_FIELDS.fullmatch(header)
            if fields is None:
                raise _damaged_header(source, header)
            mode, name_size, size = int(fields[1], 8), int(fields[2], 8), int(fields[3], 8)
            name_pad = data_pad = 0
        elif magic in _NEWC:
            header += stream.read_exact(34, "a cpio header")
            fields = _NEWC_FIELDS.fullmatch(header)
            if fields is None:
                raise _damaged_header(source, header)
            mode, size, name_size = int(fields[1], 16), int(fields[2], 16), int(fields[3], 16)
            name_pad = -(110 + name_size) % 4
            data_pad = -size % 4
        else:
            raise IpaError(f"{source} is damaged: expected a cpio header at byte {stream.consumed - len(header)}, found "
                           f"{magic!r}.", finding_id="pkg.corrupt", hint=_HINT)
        if not 1 <= name_size <= MAX_CPIO_NAME_BYTES:
            raise IpaError(f"{source}: a cpio entry declares a {name_size}-byte name (at most {MAX_CPIO_NAME_BYTES} "
                           f"is allowed); refused as damaged or hostile.", finding_id="pkg.corrupt", hint=_HINT)
        name = stream.read_exact(name_size, "a cpio file name").rstrip(b"\0").decode("utf-8", "replace")
        if name_pad:
            stream.skip(name_pad, "a cpio file name")
        if name == _TRAILER:
            return
        entry = CpioEntry(_clean_path(name, source), _TYPES.get(mode & _S_IFMT, "other"), mode, size)
        limit = wanted(entry) if entry.path else None
        data: bytes | None = None
        if limit is not None and entry.type == "file":
            if size > limit:
                raise IpaError(f"{entry.path} in {source} is {size} bytes, more than the {limit} allowed for it; "
                               f"refused as damaged or hostile.", finding_id="pkg.member_too_large", hint=_HINT)
            data = stream.read_exact(size, entry.path)
        elif size:
            stream.skip(size, entry.path)
        if data_pad:
            stream.skip(data_pad, entry.path)
        yield entry, data


# Strict digits: int() alone would also take spaces, "+", "_" and "0o" prefixes.
_ODC_FIELDS = re.compile(rb"070707[0-7]{12}([0-7]{6})[0-7]{35}([0-7]{6})([0-7]{11})")
_NEWC_FIELDS = re.compile(rb"07070[12][0-9A-Fa-f]{8}([0-9A-Fa-f]{8})[0-9A-Fa-f]{32}([0-9A-Fa-f]{8})[0-9A-Fa-f]{32}"
                          rb"([0-9A-Fa-f]{8})[0-9A-Fa-f]{8}")


def _damaged_header(source: str, header: bytes) -> IpaError:
    return IpaError(f"{source} is damaged: a cpio header has a field that is not a number ({header!r}).",
                    finding_id="pkg.corrupt", hint=_HINT)


def _clean_path(name: str, source: str) -> str:
    if name.startswith("./") and ".." not in name and "\0" not in name and not name.startswith(".//"):
        return name[2:].rstrip("/")  # the common case, decided without splitting
    path = name
    while path.startswith("./"):
        path = path[2:]
    if path == ".":
        return ""
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or "\0" in path:
        raise IpaError(f"{source} holds an unsafe path {name!r} (absolute or with '..'); refused for safety.",
                       finding_id="pkg.unsafe_path",
                       hint="A genuine payload only holds paths relative to its install location; build it again.")
    return path.rstrip("/")


__all__ = ["ByteStream", "CpioEntry", "open_payload", "walk_cpio"]
