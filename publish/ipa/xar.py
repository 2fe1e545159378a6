"""A guarded, read-only view of a xar archive, the container format of macOS installer packages (.pkg).

Layout (all integers big-endian): a header (magic "xar!", header size, version, compressed and
uncompressed lengths of the table of contents, checksum algorithm, and for algorithm 3 its name), then the
table of contents (an XML document, zlib-compressed), then the heap, which holds every file's data at
offsets the TOC gives relative to the heap's start. The TOC's own checksum (a digest of the compressed TOC
bytes) sits in the heap too, and an installer signature signs that digest, so the checksum is what ties the
signature to every file in the package.

Why a reader of our own: a .pkg is untrusted input, and no stdlib module reads xar. Every size here is
checked before it is used: the declared TOC lengths are capped before anything is inflated, inflating stops
at the declared length, the XML parser refuses DTDs (so no entity expansion) and caps depth, element count
and text, every heap range is checked against the file before the archive is accepted, and a member is only
ever read as a bounded stream. Nothing is ever extracted to disk.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import hashlib
import lzma
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from publish.ipa.regular_file import NotRegularFile, open_regular_file
from publish.ipa.errors import IpaError
from publish.ipa.safe_xml import XmlNode, parse_xml

MAGIC = b"xar!"
MAX_TOC_COMPRESSED_BYTES = 16 * 1024 * 1024
MAX_TOC_BYTES = 64 * 1024 * 1024
MAX_ENTRIES = 10_000  # files listed in the TOC (see safe_xml.MAX_ELEMENTS)
MAX_SIGNATURE_BYTES = 1024 * 1024  # an RSA signature is 256-512 bytes, a CMS one a few KiB
CHUNK = 256 * 1024

_HEADER = struct.Struct(">4sHHQQI")
# Called with no argument (an incremental hash) or with the bytes to hash at once.
_DIGESTS: dict[str, Callable[..., Any]] = {"sha1": hashlib.sha1, "md5": hashlib.md5, "sha224": hashlib.sha224,
                                           "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_ALGORITHM_BY_NUMBER = {0: "none", 1: "sha1", 2: "md5"}
_RAW = ("application/octet-stream", "")
_REBUILD_HINT = "Build the package again (productbuild / Xcode's Distribute App > App Store Connect > Export)."


class Checksum(NamedTuple):
    style: str  # "sha1", "md5", "sha256" ...
    hex: str


class XarEntry(NamedTuple):
    path: str  # "/"-joined names from the TOC's nested <file> elements
    type: str  # "file" | "directory" | "symlink" | ...
    offset: int  # absolute offset in the file of the archived data (-1: no data)
    length: int  # archived (encoded) bytes in the heap
    size: int  # extracted bytes
    encoding: str  # "application/octet-stream", "application/x-gzip", "application/x-bzip2", ...
    archived_checksum: Checksum | None
    extracted_checksum: Checksum | None


@dataclass(frozen=True)
class XarSignature:
    element: str  # "signature" (the RSA signature installers check) or "x-signature" (a CMS one beside it)
    style: str  # "RSA" | "CMS"
    offset: int  # absolute offset of the signature bytes
    size: int
    certificates: list[bytes] = field(repr=False)  # DER, as listed in KeyInfo (leaf first)


class XarArchive:
    """Header, table of contents and heap ranges of a xar file, plus bounded member streams.

    Use as a context manager; the file stays open for member reads. Raises IpaError for anything that is
    not a sound xar archive; the finding ids start with "pkg.".
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._file: BinaryIO = open_regular_file(self.path)
        except NotRegularFile:
            raise IpaError(f"{self.path} is not a regular file (a pipe, device or socket), so it is not a .pkg.",
                           finding_id="pkg.not_a_xar", hint="Pass the path of the installer package itself.") from None
        except FileNotFoundError:
            raise IpaError(f"{self.path}: no such file.", finding_id="pkg.not_found",
                           hint="Check the path to the .pkg (relative paths are resolved from the current directory).") from None
        except IsADirectoryError:
            raise IpaError(f"{self.path} is a directory, not a .pkg file.", finding_id="pkg.not_a_xar",
                           hint="Pass the flat installer package written by productbuild, not a bundle folder.") from None
        except OSError as exc:
            raise IpaError(f"{self.path}: cannot be read ({exc.strerror}).", finding_id="pkg.unreadable",
                           hint="Check the file's permissions.") from None
        try:
            self.file_size = os.fstat(self._file.fileno()).st_size
            self._read_header()
            self._read_toc()
            self._check_toc_checksum()
            self.entries: dict[str, XarEntry] = {}
            toc = self.toc.find("toc")
            assert toc is not None
            self._collect_entries(toc, "")
            self.signatures = self._signatures(toc)
            self.creation_time = toc.child_text("creation-time")
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> XarArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _read_at(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(size)

    # -- header and table of contents ---------------------------------------------------------------

    def _read_header(self) -> None:
        head = self._read_at(0, _HEADER.size)
        if head[:4] != MAGIC:
            raise IpaError(
                f"{self.path} is not a xar archive (it does not start with 'xar!'), so it is not a macOS installer package.",
                finding_id="pkg.not_a_xar",
                hint="Pass the .pkg written by productbuild (or Xcode's export for the Mac App Store), not another file.")
        if len(head) < _HEADER.size:
            raise IpaError(f"{self.path}: the xar header is cut short; the file is truncated.",
                           finding_id="pkg.truncated", hint="Fetch or build the .pkg again and compare its size.")
        _magic, header_size, _version, self.toc_compressed_size, self.toc_size, algorithm = _HEADER.unpack(head)
        if header_size < _HEADER.size or header_size > 4096:
            raise IpaError(f"{self.path}: the xar header declares an impossible size ({header_size} bytes).",
                           finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        if algorithm == 3:
            raw = self._read_at(_HEADER.size, header_size - _HEADER.size)
            name = raw.split(b"\0", 1)[0].decode("ascii", "replace").lower()
        else:
            name = _ALGORITHM_BY_NUMBER.get(algorithm, f"#{algorithm}")
        if name != "none" and name not in _DIGESTS:
            raise IpaError(f"{self.path}: the xar header names an unknown checksum algorithm ({name}).",
                           finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        self.header_size = header_size
        self.checksum_algorithm = name
        for declared, cap, what in ((self.toc_compressed_size, MAX_TOC_COMPRESSED_BYTES, "compressed"),
                                    (self.toc_size, MAX_TOC_BYTES, "uncompressed")):
            if declared > cap:
                raise IpaError(
                    f"{self.path} declares a {declared}-byte {what} table of contents; more than {cap} is refused "
                    f"as a likely decompression bomb or a damaged header.",
                    finding_id="pkg.toc_too_large", hint=_REBUILD_HINT)
        self.heap_start = header_size + self.toc_compressed_size
        if self.heap_start > self.file_size:
            raise IpaError(f"{self.path}: the table of contents runs past the end of the file; the file is truncated.",
                           finding_id="pkg.truncated", hint="Fetch or build the .pkg again and compare its size.")

    def _read_toc(self) -> None:
        self.toc_compressed = self._read_at(self.header_size, self.toc_compressed_size)
        inflater = zlib.decompressobj()
        try:
            # max_length stops a TOC that inflates past its declared size without inflating the rest.
            data = inflater.decompress(self.toc_compressed, self.toc_size + 1)
        except zlib.error as exc:
            raise IpaError(f"{self.path}: the table of contents cannot be decompressed ({exc}).",
                           finding_id="pkg.corrupt", hint=_REBUILD_HINT) from None
        if len(data) != self.toc_size or not inflater.eof:
            raise IpaError(
                f"{self.path}: the table of contents inflates to {'more' if len(data) > self.toc_size else 'fewer'} "
                f"bytes than the {self.toc_size} its header declares; the archive is damaged.",
                finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        self.toc = parse_xml(data, source=f"{self.path}'s table of contents", finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        if self.toc.tag != "xar" or self.toc.find("toc") is None:
            raise IpaError(f"{self.path}: the table of contents is not a xar TOC (<xar><toc>).",
                           finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        digest = hashlib.sha256(self.toc_compressed)
        digest.update(b"\0file-size=%d" % self.file_size)
        self.fingerprint = digest.hexdigest()

    def _heap_range(self, offset_text: str | None, size_text: str | None, what: str) -> tuple[int, int]:
        offset, size = _integer(offset_text, what, self.path), _integer(size_text, what, self.path)
        start = self.heap_start + offset
        if start + size > self.file_size:
            raise IpaError(
                f"{self.path}: {what} lies outside the file (heap bytes {offset}..{offset + size} of "
                f"{self.file_size - self.heap_start}); the package is truncated or damaged.",
                finding_id="pkg.truncated", hint="Fetch or build the .pkg again and compare its size.")
        return start, size

    def _check_toc_checksum(self) -> None:
        toc = self.toc.find("toc")
        assert toc is not None
        node = toc.find("checksum")
        self.toc_digest: bytes | None = None
        if self.checksum_algorithm == "none":
            return
        if node is None:
            raise IpaError(f"{self.path}: the header announces a {self.checksum_algorithm} TOC checksum but the TOC has none.",
                           finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        style = node.attrs.get("style", "").lower()
        if style != self.checksum_algorithm:
            raise IpaError(f"{self.path}: the TOC checksum is {style or 'unnamed'} but the header says "
                           f"{self.checksum_algorithm}.", finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        start, size = self._heap_range(node.child_text("offset"), node.child_text("size"), "the TOC checksum")
        digest = _DIGESTS[style](self.toc_compressed).digest()
        if size != len(digest) or self._read_at(start, size) != digest:
            raise IpaError(
                f"{self.path}: the table of contents does not match its {style} checksum, so the package was altered "
                f"or damaged after it was built (its signature cannot hold either).",
                finding_id="pkg.checksum_mismatch", hint=_REBUILD_HINT)
        self.toc_digest = digest

    def _collect_entries(self, parent: XmlNode, prefix: str) -> None:
        for node in parent.findall("file"):
            name = (node.child_text("name") or "").strip()
            if not name or name in (".", "..") or "/" in name or "\0" in name:
                raise IpaError(f"{self.path} holds a file named {name!r} in its table of contents; refused for safety.",
                               finding_id="pkg.unsafe_path",
                               hint="A genuine package only holds plain relative names; build it again.")
            path = prefix + name
            if path in self.entries:
                raise IpaError(f"{self.path} lists {path} twice in its table of contents; refused as ambiguous.",
                               finding_id="pkg.corrupt", hint=_REBUILD_HINT)
            if len(self.entries) >= MAX_ENTRIES:
                raise IpaError(f"{self.path} lists more than {MAX_ENTRIES} files; refused as a likely archive bomb.",
                               finding_id="pkg.toc_too_large", hint=_REBUILD_HINT)
            self.entries[path] = self._entry(node, path)
            self._collect_entries(node, path + "/")

    def _entry(self, node: XmlNode, path: str) -> XarEntry:
        kind = node.child_text("type") or "file"
        data = node.find("data")
        if data is None:
            return XarEntry(path, kind, -1, 0, 0, "", None, None)
        start, length = self._heap_range(data.child_text("offset"), data.child_text("length"), f"the data of {path}")
        size = _integer(data.child_text("size"), f"the size of {path}", self.path)
        encoding = data.find("encoding")
        style = encoding.attrs.get("style", "application/octet-stream") if encoding is not None else "application/octet-stream"
        return XarEntry(path, kind, start, length, size, style, _checksum(data.find("archived-checksum")),
                        _checksum(data.find("extracted-checksum")))

    def _signatures(self, toc: XmlNode) -> list[XarSignature]:
        found = []
        for element in ("signature", "x-signature"):
            for node in toc.findall(element):
                start, size = self._heap_range(node.child_text("offset"), node.child_text("size"), f"the {element}")
                if size > MAX_SIGNATURE_BYTES:
                    raise IpaError(f"{self.path}: the installer {element} declares {size} bytes, more than the "
                                   f"{MAX_SIGNATURE_BYTES} any signature needs; refused as damaged or hostile.",
                                   finding_id="pkg.corrupt", hint="Sign the package again (productsign / productbuild --sign).")
                certificates = []
                for cert in node.iter("X509Certificate"):
                    try:
                        certificates.append(base64.b64decode("".join(cert.text.split()), validate=True))
                    except (binascii.Error, ValueError):
                        raise IpaError(f"{self.path}: a certificate in the installer signature is not valid base64.",
                                       finding_id="pkg.corrupt",
                                       hint="Sign the package again (productsign / productbuild --sign).") from None
                found.append(XarSignature(element, node.attrs.get("style", ""), start, size, certificates))
        return found

    def read_signature(self, signature: XarSignature) -> bytes:
        return self._read_at(signature.offset, signature.size)

    # -- members ------------------------------------------------------------------------------------

    def stream(self, name: str, *, limit: int, what: str) -> Iterator[bytes]:
        """The extracted bytes of one member as chunks, never more than `limit` in all (whatever the TOC claims).

        The archived and extracted checksums are checked as the bytes go by; a mismatch raises at the end of the
        stream (so a caller that stops early has not had them checked).
        """
        entry = self.entries[name]
        if entry.size > limit:
            raise IpaError(
                f"{what} ({name}) declares {entry.size} bytes, more than the {limit} allowed; refused as a likely "
                f"decompression bomb or a damaged package.", finding_id="pkg.member_too_large", hint=_REBUILD_HINT)
        decoder = _decoder(entry.encoding, name, self.path)
        archived = _hasher(entry.archived_checksum)
        # Stored members are the same bytes both ways: one digest is enough.
        extracted = _hasher(entry.extracted_checksum) if entry.encoding not in _RAW else None
        produced, remaining, position = 0, entry.length, entry.offset
        while remaining > 0:
            chunk = self._read_at(position, min(remaining, CHUNK))
            if not chunk:
                raise IpaError(f"{name} runs past the end of {self.path}: the package is truncated.",
                               finding_id="pkg.truncated", hint="Fetch or build the .pkg again.")
            position += len(chunk)
            remaining -= len(chunk)
            if archived is not None:
                archived.update(chunk)
            for piece in decoder(chunk, limit + 1 - produced):
                produced += len(piece)
                if produced > limit:
                    raise IpaError(
                        f"{what} ({name}) expands to more than {limit} bytes although it declares {entry.size}; "
                        f"refused as a decompression bomb.", finding_id="pkg.member_too_large", hint=_REBUILD_HINT)
                if extracted is not None:
                    extracted.update(piece)
                yield piece
        for digest, expected in ((archived, entry.archived_checksum), (extracted, entry.extracted_checksum)):
            if digest is not None and expected is not None and digest.hexdigest() != expected.hex.lower():
                raise IpaError(f"{name} in {self.path} does not match its {expected.style} checksum; the "
                               f"package is damaged.", finding_id="pkg.checksum_mismatch", hint=_REBUILD_HINT)

    def read(self, name: str, *, limit: int, what: str) -> bytes:
        data = b"".join(self.stream(name, limit=limit, what=what))
        if len(data) != self.entries[name].size:
            raise IpaError(f"{name} in {self.path} extracts to {len(data)} bytes, not the {self.entries[name].size} "
                           f"its table of contents declares; the package is damaged.",
                           finding_id="pkg.corrupt", hint=_REBUILD_HINT)
        return data


Decoder = Callable[[bytes, int], Iterator[bytes]]


def _decoder(encoding: str, name: str, path: str) -> Decoder:
    """A function feeding archived bytes in and yielding extracted pieces, each call's output bounded."""
    if encoding in _RAW:
        def raw(chunk: bytes, _room: int) -> Iterator[bytes]:
            yield chunk
        return raw
    factories: dict[str, Callable[[], Any]] = {
        "application/x-gzip": lambda: zlib.decompressobj(47),  # xar writes zlib streams under this name; 47 takes gzip too
        "application/zlib": lambda: zlib.decompressobj(47),
        "application/x-bzip2": bz2.BZ2Decompressor,
        "application/x-lzma": lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO),
        "application/x-xz": lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO),
    }
    if encoding not in factories:
        raise IpaError(f"{name} in {path} is encoded as {encoding}, which this reader does not know.",
                       finding_id="pkg.unsupported_compression", hint=_REBUILD_HINT)
    engine = factories[encoding]()
    is_zlib = isinstance(engine, type(zlib.decompressobj()))

    def decode(chunk: bytes, room: int) -> Iterator[bytes]:
        # `room` already counts one byte past the limit: producing it proves the overflow, and no more is made.
        try:
            if is_zlib:
                data = chunk
                while data and room > 0:
                    piece = engine.decompress(data, room)
                    data = engine.unconsumed_tail
                    if not piece:
                        break  # no progress: the input is incomplete; the caller's size check reports it
                    room -= len(piece)
                    yield piece
                return
            piece = engine.decompress(chunk, room)
            room -= len(piece)
            yield piece
            while room > 0 and not engine.eof and not engine.needs_input:
                piece = engine.decompress(b"", room)
                room -= len(piece)
                yield piece
        except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
            raise IpaError(f"{name} in {path} cannot be decompressed ({exc}).", finding_id="pkg.corrupt",
                           hint=_REBUILD_HINT) from None
    return decode


def _hasher(checksum: Checksum | None) -> Any:
    return _DIGESTS[checksum.style]() if checksum is not None and checksum.style in _DIGESTS else None


def _integer(text: str | None, what: str, path: str) -> int:
    if text is None or not text.strip().isdigit() or len(text.strip()) > 20:
        raise IpaError(f"{path}: {what} has no valid offset or size in the table of contents.",
                       finding_id="pkg.corrupt", hint=_REBUILD_HINT)
    return int(text.strip())


def _checksum(node: XmlNode | None) -> Checksum | None:
    if node is None or not node.text.strip():
        return None
    return Checksum(node.attrs.get("style", "").lower(), node.text.strip())


__all__ = ["Checksum", "XarArchive", "XarEntry", "XarSignature"]
