"""Hand-made xar and cpio bytes for the .pkg tests, written independently of publish/sandbox/sample_pkg.py so
that the reader is not only checked against the generator, and so that every field can be made to lie."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib


def file_xml(name: str, *, offset: int | None = None, length: int = 0, size: int | None = None,
             encoding: str = "application/octet-stream", kind: str = "file", children: str = "",
             archived_sha1: str | None = None, extracted_sha1: str | None = None) -> str:
    data = ""
    if offset is not None:
        checksum = f'<archived-checksum style="sha1">{archived_sha1}</archived-checksum>' if archived_sha1 else ""
        checksum += f'<extracted-checksum style="sha1">{extracted_sha1}</extracted-checksum>' if extracted_sha1 else ""
        data = (f"<data><offset>{offset}</offset><length>{length}</length><size>{length if size is None else size}"
                f'</size><encoding style="{encoding}"/>{checksum}</data>')
    return f"<file><name>{name}</name><type>{kind}</type>{data}{children}</file>"


def xar(files_xml: str, heap: bytes = b"", *, checksum: str | None = "sha1", toc_extra: str = "",
        magic: bytes = b"xar!", declared_compressed: int | None = None, declared_size: int | None = None,
        toc_document: bytes | None = None) -> bytes:
    """A xar file; file offsets in `files_xml` count from the heap's start. The TOC checksum goes after `heap`."""
    digest_size = hashlib.new(checksum).digest_size if checksum else 0
    checksum_xml = (f'<checksum style="{checksum}"><offset>{len(heap)}</offset><size>{digest_size}</size></checksum>'
                    if checksum else "")
    document = toc_document if toc_document is not None else (
        f'<?xml version="1.0" encoding="UTF-8"?><xar><toc>{checksum_xml}{toc_extra}{files_xml}</toc></xar>').encode()
    compressed = zlib.compress(document)
    algorithm = {None: 0, "sha1": 1, "md5": 2}[checksum]
    header = struct.pack(">4sHHQQI", magic, 28, 1, len(compressed) if declared_compressed is None else declared_compressed,
                         len(document) if declared_size is None else declared_size, algorithm)
    digest = hashlib.new(checksum, compressed).digest() if checksum else b""
    return header + compressed + heap + digest


def component_pkg(payload: bytes) -> bytes:
    """A flat component package whose Payload member holds `payload` as is."""
    return xar(file_xml("Payload", offset=0, length=len(payload)), payload)


def odc(name: str, data: bytes = b"", *, mode: int = 0o100644, size: int | None = None,
        name_size: int | None = None) -> bytes:
    raw = name.encode() + b"\0"
    declared = len(data) if size is None else size
    header = (f"070707{0:06o}{1:06o}{mode:06o}{0:06o}{0:06o}{1:06o}{0:06o}{0:011o}"
              f"{len(raw) if name_size is None else name_size:06o}{declared:011o}").encode()
    return header + raw + data


def odc_archive(*entries: bytes) -> bytes:
    return b"".join(entries) + odc("TRAILER!!!")


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


INFO_PLIST = (b'<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>'
              b"<key>CFBundleIdentifier</key><string>com.example.hand</string>"
              b"<key>CFBundleShortVersionString</key><string>2.0</string>"
              b"<key>CFBundleVersion</key><string>7</string>"
              b"<key>CFBundleExecutable</key><string>Hand</string>"
              b"<key>LSMinimumSystemVersion</key><string>13.0</string></dict></plist>")


def app_payload(*extra: bytes, info_plist: bytes = INFO_PLIST) -> bytes:
    """A gzip'd odc cpio Payload holding Hand.app with an Info.plist and an executable."""
    return gzip_bytes(odc_archive(
        odc(".", mode=0o40755), odc("./Hand.app", mode=0o40755), odc("./Hand.app/Contents", mode=0o40755),
        odc("./Hand.app/Contents/Info.plist", info_plist), odc("./Hand.app/Contents/MacOS/Hand", b"\xcf\xfa\xed\xfe"),
        *extra))
