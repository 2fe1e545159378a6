"""The xar reader and the Payload stream on hand-made archives (tests/pkg_xar_writer.py), apart from the
sample generator: member encodings, checksums, bounded streams, cpio over awkward chunking, app location."""

from __future__ import annotations

import bz2
import shutil
import subprocess
import hashlib
import lzma
import zlib
from pathlib import Path

import pytest

from inputs_deflate import deflate_repeated
from pkg_xar_writer import (INFO_PLIST, app_payload, component_pkg, file_xml, gzip_bytes, odc, odc_archive, xar)
from publish.ipa import IpaError
from publish.ipa.pkg import inspect_pkg
from publish.ipa.pkg_payload import ByteStream, open_payload, walk_cpio
from publish.ipa.pkg_preflight import run_pkg_preflight
from publish.ipa.xar import XarArchive


def write(tmp_path: Path, data: bytes, name: str = "t.pkg") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_entries_encodings_and_checksums(tmp_path: Path) -> None:
    text = b"hello xar " * 1000
    encoded = {"application/octet-stream": text, "application/x-gzip": zlib.compress(text),
               "application/x-bzip2": bz2.compress(text), "application/x-xz": lzma.compress(text)}
    heap, files = b"", ""
    for index, (encoding, data) in enumerate(encoded.items()):
        files += file_xml(f"f{index}", offset=len(heap), length=len(data), size=len(text), encoding=encoding,
                          archived_sha1=hashlib.sha1(data).hexdigest())
        heap += data
    files = file_xml("dir", kind="directory", children=files)
    with XarArchive(write(tmp_path, xar(files, heap))) as archive:
        assert list(archive.entries) == ["dir", "dir/f0", "dir/f1", "dir/f2", "dir/f3"]
        assert archive.entries["dir"].type == "directory" and archive.checksum_algorithm == "sha1"
        for index in range(4):
            assert archive.read(f"dir/f{index}", limit=len(text), what="a member") == text
        with pytest.raises(IpaError) as caught:
            archive.read("dir/f1", limit=len(text) - 1, what="a member")
        assert caught.value.finding_id == "pkg.member_too_large"


def test_md5_and_no_checksum_archives(tmp_path: Path) -> None:
    for checksum in ("md5", None):
        with XarArchive(write(tmp_path, xar(file_xml("a", offset=0, length=3), b"abc", checksum=checksum))) as archive:
            assert archive.read("a", limit=10, what="a") == b"abc"
            assert archive.checksum_algorithm == (checksum or "none")


def test_stream_stops_one_byte_past_the_limit_whatever_the_declared_size(tmp_path: Path) -> None:
    bomb = deflate_repeated(b"", b"\0" * (1024 * 1024), 64, wbits=15)  # 64 MiB of zeros in ~64 KiB, declared as 10 bytes
    path = write(tmp_path, xar(file_xml("bomb", offset=0, length=len(bomb), size=10, encoding="application/x-gzip"), bomb))
    with XarArchive(path) as archive:
        produced = 0
        with pytest.raises(IpaError) as caught:
            for piece in archive.stream("bomb", limit=1000, what="the bomb"):
                produced += len(piece)
        assert caught.value.finding_id == "pkg.member_too_large" and produced <= 1001


def test_checksum_mismatches(tmp_path: Path) -> None:
    packed = zlib.compress(b"abc")
    right_archived, right_extracted = hashlib.sha1(packed).hexdigest(), hashlib.sha1(b"abc").hexdigest()
    for archived, extracted in ((right_archived, right_extracted), ("0" * 40, right_extracted), (right_archived, "0" * 40)):
        path = write(tmp_path, xar(file_xml("a", offset=0, length=len(packed), size=3, encoding="application/x-gzip",
                                            archived_sha1=archived, extracted_sha1=extracted), packed))
        with XarArchive(path) as archive:
            if (archived, extracted) == (right_archived, right_extracted):
                assert archive.read("a", limit=10, what="a") == b"abc"
                continue
            with pytest.raises(IpaError) as caught:
                archive.read("a", limit=10, what="a")
            assert caught.value.finding_id == "pkg.checksum_mismatch"


def test_hand_made_component_package(tmp_path: Path) -> None:
    helper_plist = INFO_PLIST.replace(b"com.example.hand", b"com.example.hand.helper")
    payload = app_payload(odc("./Hand.app/Contents/Library/LoginItems/Helper.app/Contents/Info.plist", helper_plist),
                          odc("./._Hand.app", b"\0\5\26\7 AppleDouble"), odc("./.app", mode=0o40755))
    info = inspect_pkg(write(tmp_path, component_pkg(payload)))
    assert (info.kind, info.bundle_id, info.version, info.build_number) == ("component_package", "com.example.hand", "2.0", "7")
    assert info.apps == ["Hand.app"]  # not the login item inside it, nor Finder's AppleDouble file, nor ".app"
    assert (info.has_executable, info.has_code_signature, info.profile, info.signature.type) == (True, False, None, "unsigned")
    assert info.minimum_os == "13.0" and info.install_location is None
    ids = {f.id for f in run_pkg_preflight(write(tmp_path, component_pkg(payload)))}
    assert {"pkg.component_package", "pkg.unsigned", "signature.missing", "profile.missing",
            "plist.missing_category"} <= ids


def test_app_under_a_folder_and_concatenated_gzip_members(tmp_path: Path) -> None:
    cpio = odc_archive(odc("./Applications/Hand.app/Contents/Info.plist", INFO_PLIST),
                       odc("./Applications/Hand.app/Contents/MacOS/Hand", b"x"))
    split = len(cpio) // 2
    payload = gzip_bytes(cpio[:split]) + gzip_bytes(cpio[split:])
    info = inspect_pkg(write(tmp_path, component_pkg(payload)))
    assert info.app_path == "Applications/Hand.app" and info.has_executable


def test_cpio_over_one_byte_chunks() -> None:
    cpio = odc_archive(odc("./A.app/Contents/Info.plist", b"plist!"), odc("./A.app/Contents/MacOS/A", b"exe"))
    kind, stream = open_payload(iter([bytes([b]) for b in gzip_bytes(cpio)]), source="test")
    assert kind == "gzip"
    seen = list(walk_cpio(stream, lambda e: 100 if e.path.endswith("Info.plist") else None))
    assert [(e.path, e.size, data) for e, data in seen] == [
        ("A.app/Contents/Info.plist", 6, b"plist!"), ("A.app/Contents/MacOS/A", 3, None)]


def test_byte_stream_peek_keeps_position() -> None:
    stream = ByteStream(iter([b"ab", b"cd", b"ef"]), source="test")
    assert stream.peek(3) == b"abc"
    assert stream.read(4) == b"abcd" and stream.consumed == 4
    assert b"".join(stream.rest()) == b"ef"


@pytest.mark.skipif(shutil.which("bsdtar") is None, reason="libarchive's bsdtar is not installed (apt-get install libarchive-tools)")
@pytest.mark.parametrize(("cpio_format", "compress"), [("odc", ["gzip", "-n"]), ("newc", ["xz"])])
def test_packages_written_by_libarchive(tmp_path: Path, cpio_format: str, compress: list[str]) -> None:
    """A xar, a cpio and a compression written by other implementations (libarchive, gzip, xz), read by ours."""
    contents = tmp_path / "root" / "Lib.app" / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    (contents / "Info.plist").write_bytes(INFO_PLIST)
    (contents / "MacOS" / "Hand").write_bytes(b"\xcf\xfa\xed\xfe")
    component = tmp_path / "pkgroot" / "Lib.pkg"
    component.mkdir(parents=True)
    cpio = subprocess.run(["bsdtar", "--format", cpio_format, "-cf", "-", "-C", str(tmp_path / "root"), "."],
                          capture_output=True, check=True).stdout
    (component / "Payload").write_bytes(subprocess.run(compress, input=cpio, capture_output=True, check=True).stdout)
    (component / "PackageInfo").write_text('<pkg-info install-location="/Applications" identifier="com.example.hand"/>')
    (tmp_path / "pkgroot" / "Distribution").write_text(
        '<?xml version="1.0"?><installer-gui-script><product id="com.example.hand" version="2.0"/></installer-gui-script>')
    package = tmp_path / "lib.pkg"
    subprocess.run(["bsdtar", "--format", "xar", "-cf", str(package), "-C", str(tmp_path / "pkgroot"),
                    "Distribution", "Lib.pkg"], check=True)
    info = inspect_pkg(package)
    assert (info.kind, info.bundle_id, info.build_number, info.app_path) == ("product_archive", "com.example.hand", "7", "Lib.app")
    assert info.payload_format == f"{compress[0]}/{cpio_format}" and info.has_executable
    assert (info.install_location, info.product_id, info.signature.type) == ("/Applications", "com.example.hand", "unsigned")
