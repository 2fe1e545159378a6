"""Untrusted .pkg files: not a xar, truncation anywhere, TOC bombs, XML bombs, heap ranges outside the file,
cpio with huge names and sizes, unsafe paths, payload decompression bombs — each a clear IpaError (and the
same single pre-flight finding), in bounded time and memory, never an uncaught exception."""

from __future__ import annotations

import struct
import time
import tracemalloc
from pathlib import Path

import pytest

from inputs_deflate import deflate_repeated
from pkg_xar_writer import INFO_PLIST, app_payload, component_pkg, file_xml, gzip_bytes, odc, odc_archive, xar
from publish.ipa import IpaError
from publish.ipa.pkg import inspect_pkg
from publish.ipa.pkg_preflight import run_pkg_preflight
from publish.ipa.safe_xml import MAX_DEPTH, MAX_ELEMENTS
from publish.ipa.xar import MAX_TOC_COMPRESSED_BYTES
from publish.sandbox.sample_pkg import build_pkg


def write(tmp_path: Path, data: bytes, name: str = "t.pkg") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(path: Path, finding_id: str, *, within: float = 2.0, **kwargs: int) -> str:
    # CPU time of this process, not wall time: the bound is on the work a hostile package costs, and must not
    # fail because other processes share the machine.
    started = time.process_time()
    with pytest.raises(IpaError) as caught:
        inspect_pkg(path, **kwargs)
    assert caught.value.finding_id == finding_id, str(caught.value)
    assert caught.value.hint, "every refusal says how to fix it"
    [finding] = run_pkg_preflight(path, **kwargs)
    assert (finding.id, finding.severity) == (finding_id, "error")
    assert time.process_time() - started < within
    return str(caught.value)


# -- not a package ----------------------------------------------------------------------------------


def test_not_a_xar(tmp_path: Path) -> None:
    assert "not a xar archive" in refused(write(tmp_path, b"PK\x03\x04" + b"\0" * 100), "pkg.not_a_xar")
    refused(write(tmp_path, b"", "empty.pkg"), "pkg.not_a_xar")
    refused(write(tmp_path, b"xar", "short.pkg"), "pkg.not_a_xar")
    refused(write(tmp_path, b"xar!\0\x1c", "cut.pkg"), "pkg.truncated")
    refused(tmp_path, "pkg.not_a_xar")  # a directory
    refused(tmp_path / "missing.pkg", "pkg.not_found")


def test_a_xar_that_is_no_installer_package(tmp_path: Path) -> None:
    assert "neither a Distribution nor a Payload" in refused(
        write(tmp_path, xar(file_xml("readme", offset=0, length=2), b"hi")), "pkg.no_payload")


def test_truncated_anywhere(tmp_path: Path) -> None:
    data = build_pkg(tmp_path / "full.pkg").read_bytes()
    toc_end = 28 + struct.unpack(">Q", data[8:16])[0]
    for cut in (20, 28, 100, toc_end - 5, toc_end + 10, toc_end + 300, len(data) // 2, len(data) - 300, len(data) - 1):
        path = write(tmp_path, data[:cut], f"cut{cut}.pkg")
        with pytest.raises(IpaError) as caught:
            inspect_pkg(path)
        assert caught.value.finding_id in ("pkg.truncated", "pkg.corrupt"), (cut, str(caught.value))
        [finding] = run_pkg_preflight(path)
        assert finding.id == caught.value.finding_id


# -- table of contents ------------------------------------------------------------------------------


def test_toc_bomb_declared_sizes(tmp_path: Path) -> None:
    files = file_xml("Payload", offset=0, length=1)
    message = refused(write(tmp_path, xar(files, b"x", declared_compressed=2**60)), "pkg.toc_too_large")
    assert str(MAX_TOC_COMPRESSED_BYTES) in message
    refused(write(tmp_path, xar(files, b"x", declared_size=2**40), "u.pkg"), "pkg.toc_too_large")


def test_toc_that_inflates_past_its_declared_size(tmp_path: Path) -> None:
    # 64 MiB of TOC in ~64 KiB, declared as 4096
    compressed = deflate_repeated(b"<xar><toc>", b" " * (1024 * 1024), 64, b"</toc></xar>", level=9, wbits=15)
    header = struct.pack(">4sHHQQI", b"xar!", 28, 1, len(compressed), 4096, 0)
    path = write(tmp_path, header + compressed)
    tracemalloc.start()
    try:
        assert "more bytes than the 4096" in refused(path, "pkg.corrupt")
        assert tracemalloc.get_traced_memory()[1] < 16 * 1024 * 1024
    finally:
        tracemalloc.stop()


def test_toc_xml_bombs(tmp_path: Path) -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xar><toc>&c;</toc></xar>')
    assert "DTD" in refused(write(tmp_path, xar("", toc_document=laughs, checksum=None)), "pkg.corrupt")
    deep = b"<xar><toc>" + b"<file>" * 10_000 + b"</file>" * 10_000 + b"</toc></xar>"
    assert f"more than {MAX_DEPTH} levels" in refused(
        write(tmp_path, xar("", toc_document=deep, checksum=None), "deep.pkg"), "pkg.corrupt")
    wide = b"<xar><toc>" + b"<x/>" * (MAX_ELEMENTS + 1) + b"</toc></xar>"
    assert "XML elements" in refused(write(tmp_path, xar("", toc_document=wide, checksum=None), "wide.pkg"), "pkg.corrupt")
    refused(write(tmp_path, xar("", toc_document=b"<xar><toc><file>", checksum=None), "bad.pkg"), "pkg.corrupt")
    refused(write(tmp_path, xar("", toc_document=b"<zip/>", checksum=None), "tag.pkg"), "pkg.corrupt")


def test_heap_ranges_outside_the_file(tmp_path: Path) -> None:
    refused(write(tmp_path, xar(file_xml("Payload", offset=10**12, length=10), b"x" * 10)), "pkg.truncated")
    refused(write(tmp_path, xar(file_xml("Payload", offset=0, length=2**62), b"x" * 10), "l.pkg"), "pkg.truncated")
    refused(write(tmp_path, xar(file_xml("Payload", offset=-5, length=1), b"x"), "n.pkg"), "pkg.corrupt")
    signature = '<signature style="RSA"><offset>999999</offset><size>256</size></signature>'
    refused(write(tmp_path, xar(file_xml("Payload", offset=0, length=1), b"x", toc_extra=signature), "s.pkg"),
            "pkg.truncated")
    # A signature "covering" a 4 MiB stretch of the file would be read whole: refused by size instead.
    big = '<signature style="RSA"><offset>0</offset><size>4194304</size></signature>'
    heap = b"x" * (4 * 1024 * 1024)
    assert "any signature needs" in refused(
        write(tmp_path, xar(file_xml("Payload", offset=0, length=1), heap, toc_extra=big), "b.pkg"), "pkg.corrupt")


def test_checksums_and_names(tmp_path: Path) -> None:
    data = bytearray(build_pkg(tmp_path / "full.pkg").read_bytes())
    toc_end = 28 + struct.unpack(">Q", data[8:16])[0]
    data[toc_end] ^= 0xFF  # the TOC checksum is the heap's first bytes
    assert "altered" in refused(write(tmp_path, bytes(data)), "pkg.checksum_mismatch")
    for name in ("../evil", "a/b", ".."):
        refused(write(tmp_path, xar(file_xml(name, offset=0, length=1), b"x"), "n.pkg"), "pkg.unsafe_path")
    twice = file_xml("Payload", offset=0, length=1) * 2
    assert "twice" in refused(write(tmp_path, xar(twice, b"x"), "t.pkg"), "pkg.corrupt")
    bad_header = bytearray(xar(file_xml("Payload", offset=0, length=1), b"x"))
    bad_header[4:6] = struct.pack(">H", 5)
    refused(write(tmp_path, bytes(bad_header), "h.pkg"), "pkg.corrupt")
    certificate = '<signature style="RSA"><offset>0</offset><size>1</size><X509Certificate>@@@</X509Certificate></signature>'
    refused(write(tmp_path, xar(file_xml("Payload", offset=0, length=1), b"x", toc_extra=certificate), "c.pkg"),
            "pkg.corrupt")
    refused(write(tmp_path, xar(file_xml("Payload", offset=0, length=1, encoding="application/x-rar"), b"x"), "e.pkg"),
            "pkg.unsupported_compression")


def test_member_declaring_or_inflating_past_its_limit(tmp_path: Path) -> None:
    distribution = file_xml("Distribution", offset=0, length=1, size=100 * 1024 * 1024)
    payload = app_payload()
    files = distribution + file_xml("X.pkg", kind="directory", children=file_xml("Payload", offset=1, length=len(payload)))
    refused(write(tmp_path, xar(files, b"<" + payload)), "pkg.member_too_large")
    bomb = deflate_repeated(b"", b"<" * (1024 * 1024), 50, wbits=15)  # 50 MiB of "<"
    files = file_xml("Distribution", offset=0, length=len(bomb), size=100, encoding="application/x-gzip") + \
        file_xml("X.pkg", kind="directory", children=file_xml("Payload", offset=len(bomb), length=len(payload)))
    refused(write(tmp_path, xar(files, bomb + payload), "b.pkg"), "pkg.member_too_large")


# -- payload ----------------------------------------------------------------------------------------


def test_cpio_huge_names(tmp_path: Path) -> None:
    huge = gzip_bytes(odc("./A.app/Contents/Info.plist", b"x", name_size=200_000) + b"\0" * 64)
    assert "200000-byte name" in refused(write(tmp_path, component_pkg(huge)), "pkg.corrupt")
    newc = gzip_bytes(b"070701" + b"0" * 88 + b"FFFFFFFF" + b"0" * 8)
    refused(write(tmp_path, component_pkg(newc), "n.pkg"), "pkg.corrupt")
    zero = gzip_bytes(odc("", name_size=0))
    refused(write(tmp_path, component_pkg(zero), "z.pkg"), "pkg.corrupt")


def test_cpio_huge_sizes(tmp_path: Path) -> None:
    # 8 GiB declared by a file nobody wants, then the stream ends: truncated, found without reading 8 GiB.
    lying = gzip_bytes(odc("./A.app/Contents/Resources/big", b"abc", size=0o77777777777))
    refused(write(tmp_path, component_pkg(lying)), "pkg.truncated")
    wanted = gzip_bytes(odc("./A.app/Contents/Info.plist", b"abc", size=2**30))
    assert "more than the 2097152 allowed" in refused(write(tmp_path, component_pkg(wanted), "w.pkg"),
                                                      "pkg.member_too_large")
    header = odc("./A.app/Contents/Info.plist", b"abc")
    not_octal = gzip_bytes(header[:65] + b"0000000+_03" + header[76:])  # the file size field, which int() would take
    refused(write(tmp_path, component_pkg(not_octal), "o.pkg"), "pkg.corrupt")


def test_unsafe_payload_paths(tmp_path: Path) -> None:
    for name in ("./../../etc/passwd", "/etc/passwd", "./A.app/../../x"):
        payload = gzip_bytes(odc_archive(odc(name, b"root")))
        assert "unsafe path" in refused(write(tmp_path, component_pkg(payload), "u.pkg"), "pkg.unsafe_path")


def test_payload_that_is_no_cpio(tmp_path: Path) -> None:
    refused(write(tmp_path, component_pkg(b"\x42" * 100)), "pkg.payload_unreadable")
    refused(write(tmp_path, component_pkg(gzip_bytes(b"not a cpio archive at all")), "g.pkg"), "pkg.corrupt")
    refused(write(tmp_path, component_pkg(gzip_bytes(odc_archive())[:-8]), "t.pkg"), "pkg.truncated")
    refused(write(tmp_path, component_pkg(b"\x1f\x8b" + b"\xff" * 50), "z.pkg"), "pkg.corrupt")
    pbzx = b"pbzx" + struct.pack(">QQQ", 1 << 24, 0, 2**40)
    assert "pbzx chunk 1" in refused(write(tmp_path, component_pkg(pbzx), "p.pkg"), "pkg.corrupt")


def test_payload_expansion_is_capped(tmp_path: Path) -> None:
    # A cpio of 20 MiB of zeros, gzipped
    entry = odc("./A.app/Contents/Resources/zeros", size=20 * 1024 * 1024)
    bomb = deflate_repeated(entry, b"\0" * (1024 * 1024), 20, odc("TRAILER!!!"), level=9, wbits=31)
    assert "expands to more than" in refused(write(tmp_path, component_pkg(bomb)), "pkg.payload_too_large",
                                             max_expanded_payload=1024 * 1024)


def test_payload_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    # 64 MiB of zeros among the app's resources (~64 KiB compressed): inspected, never held.
    size = 64 * 1024 * 1024
    zeros = b"\0" * (1024 * 1024)
    head = odc_archive(odc("./Hand.app/Contents/Info.plist", INFO_PLIST), odc("./Hand.app/Contents/MacOS/Hand", b"x"))
    cpio = deflate_repeated(head[:-len(odc("TRAILER!!!"))] + odc("./Hand.app/Contents/Resources/zeros", size=size),
                            zeros, size // len(zeros), odc("TRAILER!!!"), wbits=31)
    path = write(tmp_path, component_pkg(cpio))
    tracemalloc.start()
    try:
        started = time.perf_counter()
        info = inspect_pkg(path)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.bundle_id == "com.example.hand" and info.has_executable
    assert peak < 8 * 1024 * 1024, peak
    assert elapsed < 10.0


def test_cpio_entry_count_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import publish.ipa.pkg_payload as payload_module

    monkeypatch.setattr(payload_module, "MAX_CPIO_ENTRIES", 1000)
    many = gzip_bytes(odc_archive(*(odc(f"./A.app/Contents/Resources/f{i}") for i in range(1001))))
    assert "more than 1000 files" in refused(write(tmp_path, component_pkg(many)), "pkg.payload_too_large")


def test_a_file_twice_in_the_payload_is_ambiguous(tmp_path: Path) -> None:
    payload = app_payload(odc("./Hand.app/Contents/Info.plist", INFO_PLIST.replace(b"com.example.hand", b"com.evil")))
    assert "twice" in refused(write(tmp_path, component_pkg(payload)), "pkg.corrupt")
