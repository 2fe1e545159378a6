"""What the simulator's "processing" reads from an uploaded macOS installer package: the app's Info.plist.

Independent of publish.ipa on purpose (as ipa_check.py is): the simulator judges the client's work, so it reads
the .pkg its own way, the minimum App Store Connect needs to accept or refuse a build: the xar header, the
zlib-compressed XML table of contents, the component's Payload (gzip, xz or pbzx around a cpio archive, "odc"
or "newc"), and in it <Name>.app/Contents/Info.plist. Every size is capped before it is used, the payload is
streamed and never kept, and the TOC is refused if it declares a DTD (no entity expansion).
"""

from __future__ import annotations

import lzma
import plistlib
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree
from xml.parsers.expat import ExpatError

from publish.sandbox.ipa_check import ProcessingFailure, UploadedApp, app_from_info_plist

XAR_MAGIC = b"xar!"
MAX_TOC_BYTES = 16 * 1024 * 1024
MAX_PLIST_BYTES = 2 * 1024 * 1024
MAX_PAYLOAD_EXPANDED = 16 * 1024 * 1024 * 1024
MAX_CPIO_NAME = 4096
_CHUNK = 256 * 1024
_HEADER = struct.Struct(">4sHHQQI")


def read_uploaded_pkg(path: Path) -> UploadedApp:
    try:
        with open(path, "rb") as file:
            payloads = _payloads(file, path.stat().st_size)
            plists = [p for payload in payloads for p in _info_plists(_expand(file, *payload))]
    except (OSError, zlib.error, lzma.LZMAError, ElementTree.ParseError, struct.error, ValueError) as exc:
        raise ProcessingFailure("ITMS-90023", f"The package could not be read: {exc}.") from None
    if len(plists) != 1:
        raise ProcessingFailure("ITMS-90168", "The package must install exactly one app bundle (<Name>.app with "
                                f"Contents/Info.plist); found {len(plists)}.")
    try:
        plist = plistlib.loads(plists[0])
    except (plistlib.InvalidFileException, ExpatError, ValueError) as exc:
        raise ProcessingFailure("ITMS-90023", f"The app's Info.plist could not be read: {exc}.") from None
    return app_from_info_plist(plist, minimum_os_key="LSMinimumSystemVersion")


def _payloads(file: BinaryIO, file_size: int) -> list[tuple[int, int, str]]:
    """(absolute offset, archived length, encoding) of every Payload the TOC lists at the top or one level down."""
    magic, header_size, _version, toc_length, toc_size, _algorithm = _HEADER.unpack(file.read(_HEADER.size))
    if magic != XAR_MAGIC:
        raise ProcessingFailure("ITMS-90023", "The uploaded file is not a valid package: it is not a xar archive.")
    if toc_length > MAX_TOC_BYTES or toc_size > MAX_TOC_BYTES or header_size < _HEADER.size:
        raise ValueError("the table of contents is larger than any installer package's")
    file.seek(header_size)
    toc = zlib.decompressobj().decompress(file.read(toc_length), toc_size + 1)
    if len(toc) != toc_size:
        raise ValueError("the table of contents is not as long as the header says")
    if b"<!DOCTYPE" in toc or b"<!ENTITY" in toc:
        raise ValueError("the table of contents declares a DTD")
    heap = header_size + toc_length
    root = ElementTree.fromstring(toc).find("toc")
    if root is None:
        raise ValueError("no <toc> element")
    found = []
    for name, element in _files(root, ""):
        if name != "Payload" and not (name.endswith("/Payload") and name.count("/") == 1):
            continue
        data = element.find("data")
        if data is None:
            continue
        offset, length = int(data.findtext("offset", "-1")), int(data.findtext("length", "-1"))
        if offset < 0 or length < 0 or heap + offset + length > file_size:
            raise ValueError(f"{name} lies outside the file")
        encoding = data.find("encoding")
        found.append((heap + offset, length, encoding.get("style", "") if encoding is not None else ""))
    return found


def _files(parent: ElementTree.Element, prefix: str, depth: int = 0) -> Iterator[tuple[str, ElementTree.Element]]:
    if depth > 2:  # a Payload is at most one level down; deeper files are not looked at
        return
    for element in parent.findall("file"):
        name = prefix + (element.findtext("name") or "")
        yield name, element
        yield from _files(element, name + "/", depth + 1)


def _expand(file: BinaryIO, offset: int, length: int, encoding: str) -> Iterator[bytes]:
    """The cpio bytes of a Payload, streamed: the xar encoding undone, then the payload's own compression."""
    def archived() -> Iterator[bytes]:
        file.seek(offset)
        left = length
        while left:
            piece = file.read(min(_CHUNK, left))
            if not piece:
                raise ValueError("the Payload ends early")
            left -= len(piece)
            yield piece

    raw = archived()
    if encoding == "application/x-gzip":  # xar's name for zlib
        raw = _inflate(raw, zlib.decompressobj())
    return _uncompress(raw)


def _inflate(pieces: Iterator[bytes], engine: zlib._Decompress) -> Iterator[bytes]:
    expanded = 0
    for piece in pieces:
        while piece:
            out = engine.decompress(piece, _CHUNK)
            expanded += len(out)
            if expanded > MAX_PAYLOAD_EXPANDED:
                raise ValueError("the Payload expands beyond any app's size")
            if out:
                yield out
            piece = engine.unconsumed_tail
            if not out and not piece:
                break


def _uncompress(pieces: Iterator[bytes]) -> Iterator[bytes]:
    first = next(pieces, b"")
    rest = _chain(first, pieces)
    if first[:2] == b"\x1f\x8b":
        return _inflate(rest, zlib.decompressobj(31))
    if first[:6] == b"\xfd7zXZ\x00":
        return _unxz(rest)
    if first[:4] == b"pbzx":
        return _unpbzx(_Reader(rest))
    return rest


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _unxz(pieces: Iterator[bytes]) -> Iterator[bytes]:
    engine = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    expanded = 0
    for piece in pieces:
        while True:
            out = engine.decompress(piece, _CHUNK)
            piece = b""
            expanded += len(out)
            if expanded > MAX_PAYLOAD_EXPANDED:
                raise ValueError("the Payload expands beyond any app's size")
            if out:
                yield out
            if engine.eof or engine.needs_input:
                break


def _unpbzx(reader: _Reader) -> Iterator[bytes]:
    reader.take(12)  # "pbzx" + the chunk size
    while True:
        flags, size = struct.unpack(">QQ", reader.take(16))
        if size > 64 * 1024 * 1024:
            raise ValueError("a pbzx chunk is larger than Apple writes")
        body = reader.take(size)
        yield lzma.decompress(body, format=lzma.FORMAT_XZ) if body[:6] == b"\xfd7zXZ\x00" else body
        if not flags & (1 << 24):
            return


class _Reader:
    """Exact-length reads over a stream of byte pieces."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = bytearray()

    def take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            piece = next(self._pieces, None)
            if piece is None:
                raise ValueError("the Payload ends in the middle of an entry")
            self._buffer += piece
        out = bytes(self._buffer[:count])
        del self._buffer[:count]
        return out

    def skip(self, count: int) -> None:
        while count > 0:
            if not self._buffer:
                piece = next(self._pieces, None)
                if piece is None:
                    raise ValueError("the Payload ends in the middle of an entry")
                self._buffer += piece
            step = min(count, len(self._buffer))
            del self._buffer[:step]
            count -= step


def _info_plists(cpio: Iterator[bytes]) -> Iterator[bytes]:
    """Each top-level app's Contents/Info.plist in a cpio stream; every other file is skipped unread."""
    reader = _Reader(cpio)
    while True:
        magic = reader.take(6)
        if magic == b"070707":
            fields = reader.take(70)
            name_size, size = int(fields[53:59], 8), int(fields[59:70], 8)
            align = 1
        elif magic in (b"070701", b"070702"):
            fields = reader.take(104)
            size, name_size = int(fields[48:56], 16), int(fields[88:96], 16)
            align = 4
        else:
            raise ValueError("the Payload is not a cpio archive")
        if name_size > MAX_CPIO_NAME:
            raise ValueError("a file name in the Payload is too long")
        name = reader.take(name_size).rstrip(b"\0").decode("utf-8", "replace")
        reader.skip(-(6 + len(fields) + name_size) % align)
        if name == "TRAILER!!!":
            return
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if len(parts) == 3 and parts[0].endswith(".app") and parts[1:] == ["Contents", "Info.plist"]:
            if size > MAX_PLIST_BYTES:
                raise ValueError("the app's Info.plist is larger than any real one")
            yield reader.take(size)
        else:
            reader.skip(size)
        reader.skip(-size % align)
