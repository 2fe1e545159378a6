"""Untrusted IPAs: zip bombs, lying headers, path traversal, symlinks, truncation — each a clear IpaError,
in bounded time and memory, never an uncaught exception. The zips are written byte by byte so headers can lie."""

from __future__ import annotations

import plistlib
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from inputs_deflate import deflate_repeated
from inputs_zip import numbered_records
from publish.ipa import IpaError, extract_icon, inspect_ipa, run_preflight
from publish.ipa import archive
from publish.ipa.archive import MAX_ENTRIES
from publish.sandbox.sample_ipa import build_ipa

APP = "Payload/Demo.app/"
PLIST = plistlib.dumps({"CFBundleIdentifier": "com.example.demo", "CFBundleShortVersionString": "1.0",
                        "CFBundleVersion": "1", "CFBundleExecutable": "Demo", "MinimumOSVersion": "15.0"},
                       fmt=plistlib.FMT_BINARY)


@dataclass
class Member:
    name: str
    data: bytes = b""
    method: int = 8
    declared_size: int | None = None  # what the headers claim the uncompressed size is
    attr: int = 0o100644 << 16
    system: int = 3
    flags: int = 0x800
    crc: int | None = None
    payload: bytes | None = None  # stored verbatim as the compressed data when given


def raw_zip(members: list[Member], *, declared_entries: int | None = None, zip64: bool = False,
            declared_cd_size: int | None = None) -> bytes:
    out, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        payload = m.payload if m.payload is not None else zlib.compress(m.data)[2:-4] if m.method == 8 else m.data
        size = len(m.data) if m.declared_size is None else m.declared_size
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        offset = len(out)
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, m.flags, m.method, 0, 0x21, crc, len(payload), size,
                           len(name), 0) + name + payload
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, m.system, 20, 0, m.flags, m.method, 0, 0x21, crc,
                               len(payload), size, len(name), 0, 0, 0, 0, m.attr, offset) + name
    return finish_zip(out, central, declared_entries if declared_entries is not None else len(members),
                      zip64=zip64, declared_cd_size=declared_cd_size)


def finish_zip(out: bytearray, central: bytes, entries: int, *, zip64: bool = False,
               declared_cd_size: int | None = None) -> bytes:
    cd_offset = len(out)
    cd_size = len(central) if declared_cd_size is None else declared_cd_size
    out += central
    if zip64:
        record_offset = len(out)
        out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset)
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, record_offset, 1)
        out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, cd_size, cd_offset, 0)
    return bytes(out)


def write(tmp_path: Path, data: bytes, name: str = "t.ipa") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(path: Path, finding_id: str, *, within: float = 2.0) -> str:
    started = time.perf_counter()
    with pytest.raises(IpaError) as caught:
        inspect_ipa(path)
    assert caught.value.finding_id == finding_id, str(caught.value)
    [finding] = run_preflight(path)
    assert (finding.id, finding.severity) == (finding_id, "error")
    assert time.perf_counter() - started < within
    return str(caught.value)


def test_hand_made_zip_is_read(tmp_path: Path) -> None:
    info = inspect_ipa(write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST), Member(APP + "Demo", b"\xcf\xfa")])))
    assert info.bundle_id == "com.example.demo" and info.executable == "Demo"


def test_huge_declared_info_plist(tmp_path: Path) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST, declared_size=100 * 1024 * 1024)]))
    message = refused(path, "zip.member_too_large")
    assert "declares 104857600 bytes" in message


def test_real_100_mb_info_plist_is_not_inflated(tmp_path: Path) -> None:
    # 100 MB of plist padding deflates to ~100 KB; its honest declared size alone gets it refused.
    big = PLIST + b"\0" * (100 * 1024 * 1024)
    deflated = deflate_repeated(PLIST, b"\0" * (1024 * 1024), 100)  # big, deflated without compressing 100 MB
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", big, payload=deflated)]))
    refused(path, "zip.member_too_large")


def test_deflate_bomb_lying_about_its_size(tmp_path: Path) -> None:
    # Declares 300 bytes, inflates to 50 MB: reading stops just past the 2 MB Info.plist limit.
    bomb = b"<?xml version='1.0'?>" + b" " * (50 * 1024 * 1024)
    deflated = deflate_repeated(b"<?xml version='1.0'?>", b" " * (1024 * 1024), 50)
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", bomb, declared_size=300, payload=deflated)]))
    assert "inflates to more than" in refused(path, "zip.member_too_large")


def test_declared_million_entries_is_refused_before_reading_them(tmp_path: Path) -> None:
    record = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    central = record * 1_000_000  # 47 MB, built at C speed
    data = finish_zip(bytearray(), central, 1_000_000, zip64=True)
    assert "declares 1000000 zip entries" in refused(write(tmp_path, data), "zip.too_many_entries", within=1.0)


def test_entry_count_lie_is_caught_while_parsing(tmp_path: Path) -> None:
    count = MAX_ENTRIES + 1
    header = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0)
    central = numbered_records(header + b"f", 7, count)  # each name "f" and its number, 7 digits
    data = finish_zip(bytearray(), central, 3)  # the end record claims 3 entries
    assert f"more than {MAX_ENTRIES} zip entries" in refused(write(tmp_path, data), "zip.too_many_entries", within=5.0)


def _records_walked(data: bytes, limit: int) -> int | None:
    """The count as the full parse walks the directory: one record after another, None where one is damaged."""
    count = pos = 0
    while pos < len(data):
        if len(data) - pos < 46 or data[pos:pos + 4] != b"PK\x01\x02":
            return None
        pos += 46 + sum(struct.unpack_from("<3H", data, pos + 28))
        count += 1
        if count > limit:
            return count
    return count if pos == len(data) else None


@pytest.mark.parametrize("limit", [1, 2, 3, MAX_ENTRIES])
def test_the_record_count_walks_the_directory_as_the_parse_does(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # The count refuses a too-large directory before any entry is built, so it must agree with the parse on every
    # directory, damaged ones included: cut anywhere, a signature broken, a length overrunning, bytes left over; and
    # at the bound (lowered here: 200 001 alike records, counted without the walk, are in the two tests around).
    monkeypatch.setattr(archive, "MAX_ENTRIES", limit)
    central = raw_zip([Member(APP + "Info.plist", PLIST), Member(APP + "D" * 300, b"x"), Member("a", b"")])
    directory = central[central.index(b"PK\x01\x02"):central.index(b"PK\x05\x06")]
    variants = [directory[:cut] for cut in range(len(directory) + 1)] + [directory + b"PK", directory + bytes(46)]
    variants += [directory[:at] + b"PK\x01\x03" + directory[at + 4:] for at in (0, directory.rindex(b"PK\x01"))]
    variants += [directory[:28] + b"\xff\xff" + directory[30:]]
    # Directories of alike records (one length, one signature), which are counted without the walk, and each
    # changed in one record: its signature, a length, cut, or bytes left over.
    size = 46 + sum(struct.unpack_from("<3H", directory, 28))
    record = directory[:size]  # the first record alone
    for alike in (record * count for count in (1, 2, 3, 5)):
        variants += [alike, alike + b"P", alike[:-1], alike + record[:46], alike[:-size] + b"PK\x01\x03" + record[4:]]
        variants += [alike[:-size] + record[:28] + bytes([size - 47]) + record[29:],  # its name one byte shorter
                     alike + record[:30] + b"\x01\x00" + record[32:] + b"e"]  # one more, with an extra field
    counts = [archive._count_records(data) for data in variants]
    assert set(counts) >= {None, 0, min(limit + 1, 3), min(limit + 1, 5)}
    assert counts == [_records_walked(data, limit) for data in variants]


def test_a_directory_of_alike_records_is_counted_without_the_walk() -> None:
    header = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0)
    central = numbered_records(header + b"f", 7, MAX_ENTRIES + 1)
    # (the walk's answers by construction; test_the_record_count_walks... compares the two on small directories)
    assert archive._count_alike_records(central) == MAX_ENTRIES + 1
    assert archive._count_alike_records(central[:-54]) == MAX_ENTRIES
    changed = central[:54 * 7 + 28] + b"\x09" + central[54 * 7 + 29:]  # the eighth record's name one byte longer
    assert archive._count_alike_records(changed) is None  # not alike: left to the walk


def test_oversized_central_directory_is_refused(tmp_path: Path) -> None:
    data = raw_zip([Member(APP + "Info.plist", PLIST)], declared_cd_size=500 * 1024 * 1024)
    refused(write(tmp_path, data), "zip.too_many_entries")


@pytest.mark.parametrize("name", ["Payload/../../etc/passwd", "/etc/passwd", "Payload/Demo.app/..\\..\\evil",
                                  "C:\\Windows\\evil.dll", "Payload/Demo.app/a\x00b"])
def test_path_traversal_names(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST), Member(name, b"x")]))
    assert "unsafe entry name" in refused(path, "zip.unsafe_path")


def test_symlink_entry(tmp_path: Path) -> None:
    link = Member(APP + "Frameworks/escape", b"/etc/passwd", method=0, attr=0o120777 << 16)
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST), link]))
    assert "symbolic link" in refused(path, "zip.symlink")


def test_duplicate_entry_names(tmp_path: Path) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST), Member(APP + "Info.plist", b"other")]))
    refused(path, "zip.duplicate_entry")


def test_encrypted_info_plist(tmp_path: Path) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST, flags=0x801)]))
    refused(path, "zip.encrypted")


def test_unsupported_compression(tmp_path: Path) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST, method=12)]))
    refused(path, "zip.unsupported_compression")


def test_checksum_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", PLIST, crc=1234)]))
    assert "corrupt" in refused(path, "zip.corrupt")


def test_garbage_deflate_stream(tmp_path: Path) -> None:
    bad = Member(APP + "Info.plist", PLIST, payload=b"\xff\xfe\xfd" * 20)
    assert "cannot be decompressed" in refused(write(tmp_path, raw_zip([bad])), "zip.corrupt")


def test_truncated_ipa(tmp_path: Path) -> None:
    whole = build_ipa(tmp_path / "whole.ipa").read_bytes()
    cut_end = write(tmp_path, whole[:-10], "end.ipa")
    assert "truncated" in refused(cut_end, "zip.truncated")
    cut_half = write(tmp_path, whole[: len(whole) // 2], "half.ipa")
    refused(cut_half, "zip.truncated")


def test_not_a_zip_empty_and_missing_files(tmp_path: Path) -> None:
    refused(write(tmp_path, b"", "empty.ipa"), "zip.not_a_zip")
    refused(write(tmp_path, b"%PDF-1.7\n" * 100, "pdf.ipa"), "zip.not_a_zip")
    with pytest.raises(IpaError) as missing:
        inspect_ipa(tmp_path / "absent.ipa")
    assert missing.value.finding_id == "zip.not_found"
    with pytest.raises(IpaError) as directory:
        inspect_ipa(tmp_path)
    assert "is a directory" in str(directory.value)


def test_malformed_profile_in_ipa(tmp_path: Path) -> None:
    members = [Member(APP + "Info.plist", PLIST), Member(APP + "embedded.mobileprovision", b"\x30\x82\xff\xff garbage")]
    path = write(tmp_path, raw_zip(members))
    info = inspect_ipa(path)  # inspection still describes the app
    assert info.profile is None and info.bundle_id == "com.example.demo"
    findings = [f for f in run_preflight(path) if f.id == "profile.corrupt"]
    assert findings and "CMS/PKCS#7" in findings[0].message
    assert "profile.missing" not in [f.id for f in run_preflight(path)]


def test_huge_declared_profile(tmp_path: Path) -> None:
    members = [Member(APP + "Info.plist", PLIST),
               Member(APP + "embedded.mobileprovision", b"x", declared_size=2**31)]
    findings = run_preflight(write(tmp_path, raw_zip(members)))
    assert "zip.member_too_large" in [f.id for f in findings]


def test_plist_that_is_not_a_dictionary(tmp_path: Path) -> None:
    path = write(tmp_path, raw_zip([Member(APP + "Info.plist", plistlib.dumps(["a", "list"]))]))
    refused(path, "plist.corrupt")


def test_junk_and_finder_litter_is_ignored(tmp_path: Path) -> None:
    members = [Member(APP + "Info.plist", PLIST), Member("__MACOSX/Payload/Other.app/._Info.plist", b"\0\5\26\7"),
               Member("Payload/.DS_Store", b"\0" * 64)]
    assert inspect_ipa(write(tmp_path, raw_zip(members))).app_path == APP


def test_crushed_cgbi_icon_is_extracted_byte_for_byte(tmp_path: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    crushed = (b"\x89PNG\r\n\x1a\n" + chunk(b"CgBI", b"\x50\x00\x20\x06")
               + chunk(b"IHDR", struct.pack(">IIBBBBB", 1024, 1024, 8, 6, 0, 0, 0)) + chunk(b"IEND", b""))
    plist = plistlib.loads(PLIST) | {"CFBundleIcons": {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60"]}}}
    members = [Member(APP + "Info.plist", plistlib.dumps(plist, fmt=plistlib.FMT_BINARY)),
               Member(APP + "AppIcon60x60@2x.png", b"\x89PNG small"), Member(APP + "AppIcon60x60@3x.png", crushed)]
    path = write(tmp_path, raw_zip(members))
    icon = extract_icon(path, tmp_path / "icon.png")
    assert icon is not None and icon.zip_path == APP + "AppIcon60x60@3x.png"
    assert (icon.width, icon.height, icon.crushed) == (1024, 1024, True)
    assert (tmp_path / "icon.png").read_bytes() == crushed


def test_ipa_package_imports_nothing_else_of_the_project() -> None:
    import ast

    import publish.ipa
    import publish.sandbox.sample_ipa as sample

    sources = list(Path(publish.ipa.__file__).parent.glob("*.py")) + [Path(sample.__file__)]
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                allowed = name.startswith("publish.ipa") and source != Path(sample.__file__)
                assert not name.startswith("publish") or allowed, f"{source.name} imports {name}"
