"""Build realistic sample macOS installer packages (.pkg) — valid, or with one chosen defect — for tests, the
simulator, the demo and benchmarks.

What makes them realistic: a real xar archive (header, zlib-compressed XML table of contents with file and
archived checksums, heap with the TOC checksum first and the signature after it), laid out as productbuild
lays out a product archive (Distribution, Resources/, Example.pkg/{Bom,PackageInfo,Payload}) or as pkgbuild
lays out a component package; a Payload that is a gzip'd (or pbzx / xz) cpio archive ("odc" or "newc")
holding Example.app/Contents/{Info.plist, MacOS/<exe>, _CodeSignature/CodeResources,
embedded.provisionprofile}; a Mac provisioning profile that is a real CMS SignedData; and an RSA installer
signature over the TOC checksum made with a throwaway certificate of the chosen kind ("3rd Party Mac
Developer Installer", "Developer ID Installer", ...) carrying Apple's extension OID for that kind.
Deterministic for the same arguments. `payload_padding` adds an incompressible resource of that many bytes,
written in 1 MiB pieces through temporary files, so a large sample costs little memory.
"""

from __future__ import annotations

import base64
import hashlib
import lzma
import os
import plistlib
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from publish.sandbox.sample_ipa import DEFAULT_PROFILE_CREATED, DEFAULT_PROFILE_EXPIRES, DEFAULT_TEAM_ID, mach_o, pad_block
from publish.sandbox.sample_pkg_signing import (CERTIFICATE_EXPIRES, INSTALLER_CERTIFICATES, MAC_PROFILE_TYPES,
                                                cms_signature, cms_size, installer_identity, mac_profile_der)

PAYLOAD_FORMATS = ("gzip", "pbzx", "xz")
_MTIME = int(datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp())
_PIECE = 1024 * 1024
_PBZX_MORE = 1 << 24
# Keyword arguments producing each kind of defective .pkg, with the pre-flight finding it should trigger.
DEFECTS: dict[str, tuple[dict[str, Any], str]] = {
    "not_a_xar": ({"magic": b"PK\x03\x04"}, "pkg.not_a_xar"),
    "component_package": ({"kind": "component"}, "pkg.component_package"),
    "no_app": ({"app_bundle": False}, "pkg.no_app"),
    "two_apps": ({"extra_apps": ("Second",)}, "pkg.several_apps"),
    "no_info_plist": ({"info_plist": False}, "plist.missing"),
    "corrupt_info_plist": ({"info_plist_bytes": b"<?xml version='1.0'?><plist><dict><key>broken"}, "plist.corrupt"),
    "missing_plist_keys": ({"omit_info_keys": ("CFBundleShortVersionString", "CFBundleExecutable")},
                           "plist.missing_key"),
    "no_category": ({"omit_info_keys": ("LSApplicationCategoryType",)}, "plist.missing_category"),
    "ios_app": ({"info_overrides": {"CFBundleSupportedPlatforms": ["iPhoneOS"]}}, "pkg.not_mac_app"),
    "bad_version": ({"version": "1.0.0-beta"}, "version.format"),
    "bad_build_number": ({"build_number": "1.2.3.4"}, "build_number.format"),
    "unsigned": ({"installer_certificate": None}, "pkg.unsigned"),
    "developer_id_signed": ({"installer_certificate": "developer_id"}, "pkg.signed_developer_id"),
    "development_signed": ({"installer_certificate": "development"}, "pkg.signed_development"),
    "other_signed": ({"installer_certificate": "other"}, "pkg.signed_other"),
    "tampered": ({"tamper_after_signing": True}, "pkg.signature_invalid"),
    "expired_installer_certificate": ({"certificate_expires": datetime(2025, 3, 1, tzinfo=timezone.utc)},
                                      "pkg.certificate_expired"),
    "no_profile": ({"profile_type": None}, "profile.missing"),
    "corrupt_profile": ({"profile_bytes": b"0\x82\x01\x00not DER at all"}, "profile.corrupt"),
    "development_profile": ({"profile_type": "development"}, "profile.development"),
    "developer_id_profile": ({"profile_type": "developer-id"}, "profile.developer_id"),
    "expired_profile": ({"profile_created": datetime(2023, 1, 1, tzinfo=timezone.utc),
                         "profile_expires": datetime(2024, 1, 1, tzinfo=timezone.utc)}, "profile.expired"),
    "wrong_app_id": ({"profile_app_id": "com.other.app"}, "profile.app_id_mismatch"),
    "get_task_allow": ({"get_task_allow": True}, "entitlements.get_task_allow"),
    "no_code_signature": ({"code_signature": False}, "signature.missing"),
    "no_executable": ({"executable": False}, "bundle.executable_missing"),
    "installs_elsewhere": ({"install_location": "/Library/Application Support"}, "pkg.install_location"),
    "no_icon": ({"icon": False}, "icon.missing"),
}


def build_pkg(
    path: str | os.PathLike[str],
    *,
    bundle_id: str = "com.example.mac",
    version: str = "1.0.0",
    build_number: str = "1",
    display_name: str = "Example",
    kind: str = "product",
    installer_certificate: str | None = "mac_app_store",
    certificate_expires: datetime = CERTIFICATE_EXPIRES,
    profile_type: str | None = "app-store",
    payload_format: str = "gzip",
    cpio_format: str = "odc",
    install_location: str = "/Applications",
    category: str = "public.app-category.developer-tools",
    minimum_os: str = "12.0",
    uses_non_exempt_encryption: bool | None = False,
    team_id: str = DEFAULT_TEAM_ID,
    team_name: str = "Example Team",
    app_bundle: bool = True,
    extra_apps: Iterable[str] = (),
    info_plist: bool = True,
    info_plist_bytes: bytes | None = None,
    omit_info_keys: Iterable[str] = (),
    info_overrides: Mapping[str, Any] | None = None,
    profile_bytes: bytes | None = None,
    profile_app_id: str | None = None,
    profile_created: datetime = DEFAULT_PROFILE_CREATED,
    profile_expires: datetime = DEFAULT_PROFILE_EXPIRES,
    get_task_allow: bool | None = None,
    code_signature: bool = True,
    executable: bool = True,
    executable_size: int = 64 * 1024,
    icon: bool = True,
    payload_padding: int = 0,
    payload_compression: int = 6,
    toc_checksum: str = "sha1",
    signature_styles: tuple[str, ...] = ("RSA", "CMS"),
    cms_signed_attributes: bool = False,
    tamper_after_signing: bool = False,
    magic: bytes = b"xar!",
    seed: int = 1,
) -> Path:
    """Write a sample .pkg to `path` and return it. See DEFECTS for the arguments producing each defective kind."""
    _check_choices(kind, installer_certificate, profile_type, payload_format, cpio_format, toc_checksum)
    name = "".join(ch for ch in display_name if ch.isalnum()) or "App"
    plist = _info_plist(bundle_id, version, build_number, name, display_name, category, minimum_os,
                        uses_non_exempt_encryption)
    for key in omit_info_keys:
        plist.pop(key, None)
    plist.update(info_overrides or {})
    files: list[tuple[str, bytes | int]] = []  # payload path, bytes or a padding size
    if app_bundle:
        contents = f"{name}.app/Contents/"
        if info_plist:
            files.append((contents + "Info.plist", info_plist_bytes if info_plist_bytes is not None
                          else plistlib.dumps(plist, fmt=plistlib.FMT_BINARY, sort_keys=True)))
        files.append((contents + "PkgInfo", b"APPL????"))
        if executable:
            files.append((contents + f"MacOS/{name}", mach_o(name, seed, executable_size)))
        if icon:
            files.append((contents + "Resources/AppIcon.icns", b"icns" + struct.pack(">I", 8)))
        if payload_padding:
            files.append((contents + "Resources/GameData.pak", payload_padding))
        if profile_bytes is not None or profile_type is not None:
            files.append((contents + "embedded.provisionprofile", profile_bytes if profile_bytes is not None else
                          mac_profile_der(bundle_id=profile_app_id or bundle_id, profile_type=profile_type or "app-store",
                                          team_id=team_id, team_name=team_name, created=profile_created,
                                          expires=profile_expires, get_task_allow=get_task_allow, seed=seed)))
        if code_signature:
            files.append((contents + "_CodeSignature/CodeResources", _code_resources(files)))
    for extra in extra_apps:
        extra_plist = _info_plist(f"{bundle_id}.{extra.lower()}", version, build_number, extra, extra, category,
                                  minimum_os, uses_non_exempt_encryption)
        files.append((f"{extra}.app/Contents/Info.plist", plistlib.dumps(extra_plist, fmt=plistlib.FMT_BINARY)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sample-pkg-", dir=path.parent) as tmp:
        payload = Path(tmp) / "Payload"
        with open(payload, "wb") as out:
            _write_payload(out, _cpio(sorted(files), cpio_format, seed), payload_format, payload_compression)
        component = f"{name}.pkg/" if kind == "product" else ""
        members: list[tuple[str, str, bytes | Path]] = []  # xar path, type, data
        if kind == "product":
            members.append(("Distribution", "file", _distribution(bundle_id, version, name, minimum_os).encode()))
            members.append(("Resources", "directory", b""))
            members.append((f"{name}.pkg", "directory", b""))
        members.append((component + "Bom", "file", _bom(files)))
        members.append((component + "PackageInfo", "file",
                        _package_info(bundle_id, version, build_number, name, install_location, files).encode()))
        members.append((component + "Payload", "file", payload))
        signer = installer_identity(installer_certificate, team_id, team_name, certificate_expires, seed) \
            if installer_certificate else None
        _write_xar(path, members, signer, signature_styles, cms_signed_attributes, toc_checksum, tamper_after_signing,
                   magic, Path(tmp))
    return path


def _check_choices(kind: str, installer_certificate: str | None, profile_type: str | None, payload_format: str,
                   cpio_format: str, toc_checksum: str) -> None:
    """The arguments of build_pkg that name one of a few kinds: a typo fails here, not as a puzzling package."""
    if kind not in ("product", "component"):
        raise ValueError(f"kind must be 'product' or 'component', not {kind!r}")
    if installer_certificate not in (*INSTALLER_CERTIFICATES, None):
        raise ValueError(f"installer_certificate must be one of {INSTALLER_CERTIFICATES} or None")
    if profile_type not in (*MAC_PROFILE_TYPES, None):
        raise ValueError(f"profile_type must be one of {MAC_PROFILE_TYPES} or None")
    if payload_format not in PAYLOAD_FORMATS or cpio_format not in ("odc", "newc"):
        raise ValueError(f"payload_format must be one of {PAYLOAD_FORMATS}, cpio_format 'odc' or 'newc'")
    if toc_checksum not in ("sha1", "sha256"):
        raise ValueError("toc_checksum must be 'sha1' or 'sha256'")


# -- app contents -----------------------------------------------------------------------------------


def _info_plist(bundle_id: str, version: str, build_number: str, name: str, display_name: str, category: str,
                minimum_os: str, encryption: bool | None) -> dict[str, Any]:
    plist: dict[str, Any] = {
        "BuildMachineOSBuild": "24G84",
        "CFBundleDevelopmentRegion": "en",
        "CFBundleDisplayName": display_name,
        "CFBundleExecutable": name,
        "CFBundleIconFile": "AppIcon",
        "CFBundleIdentifier": bundle_id,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": version,
        "CFBundleSupportedPlatforms": ["MacOSX"],
        "CFBundleVersion": build_number,
        "DTPlatformName": "macosx",
        "DTPlatformVersion": "15.5",
        "DTSDKName": "macosx15.5",
        "DTXcode": "1640",
        "LSApplicationCategoryType": category,
        "LSMinimumSystemVersion": minimum_os,
        "NSPrincipalClass": "NSApplication",
    }
    if encryption is not None:
        plist["ITSAppUsesNonExemptEncryption"] = encryption
    return plist


def _code_resources(files: list[tuple[str, bytes | int]]) -> bytes:
    listed = {p.split("/Contents/", 1)[1]: d for p, d in files if isinstance(d, bytes) and "/MacOS/" not in p}
    return plistlib.dumps({
        "files": {rel: hashlib.sha1(data).digest() for rel, data in sorted(listed.items())},
        "files2": {rel: {"hash2": hashlib.sha256(data).digest()} for rel, data in sorted(listed.items())},
        "rules": {"^Resources/": True}, "rules2": {"^Resources/": {"weight": 20}},
    }, fmt=plistlib.FMT_XML, sort_keys=True)


def _distribution(bundle_id: str, version: str, name: str, minimum_os: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<installer-gui-script minSpecVersion="2">\n'
            f'    <pkg-ref id={quoteattr(bundle_id)}><bundle-version><bundle id={quoteattr(bundle_id)} '
            f'CFBundleShortVersionString={quoteattr(version)} path={quoteattr(name + ".app")}/></bundle-version></pkg-ref>\n'
            f'    <product id={quoteattr(bundle_id)} version={quoteattr(version)}/>\n'
            f'    <options customize="never" require-scripts="false" hostArchitectures="arm64,x86_64"/>\n'
            f'    <volume-check><allowed-os-versions><os-version min={quoteattr(minimum_os)}/></allowed-os-versions>'
            f'</volume-check>\n    <choices-outline><line choice="default"><line choice={quoteattr(bundle_id)}/></line>'
            f'</choices-outline>\n    <choice id="default"/>\n    <choice id={quoteattr(bundle_id)} visible="false">'
            f'<pkg-ref id={quoteattr(bundle_id)}/></choice>\n    <pkg-ref id={quoteattr(bundle_id)} version='
            f'{quoteattr(version)} onConclusion="none">#{escape(name)}.pkg</pkg-ref>\n</installer-gui-script>\n')


def _package_info(bundle_id: str, version: str, build_number: str, name: str, install_location: str,
                  files: list[tuple[str, bytes | int]]) -> str:
    size_kb = sum(len(d) if isinstance(d, bytes) else d for _p, d in files) // 1024 + 1
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<pkg-info overwrite-permissions="true" relocatable="false" '
            f'identifier={quoteattr(bundle_id)} postinstall-action="none" version={quoteattr(version)} '
            f'format-version="2" generator-version="InstallCmds-844 (24G84)" install-location='
            f'{quoteattr(install_location)} auth="root">\n    <payload numberOfFiles="{len(files) + 8}" '
            f'installKBytes="{size_kb}"/>\n    <bundle path={quoteattr("./" + name + ".app")} id={quoteattr(bundle_id)} '
            f'CFBundleShortVersionString={quoteattr(version)} CFBundleVersion={quoteattr(build_number)}/>\n'
            f'    <bundle-version><bundle id={quoteattr(bundle_id)}/></bundle-version>\n</pkg-info>\n')


def _bom(files: list[tuple[str, bytes | int]]) -> bytes:
    # The real Bom is a BOMStore database; inspection never reads it, so a marked stand-in of its header will do.
    listing = "\n".join(p for p, _d in sorted(files)).encode()
    return b"BOMStore" + struct.pack(">II", 1, len(listing)) + listing


# -- payload ----------------------------------------------------------------------------------------


def _cpio(files: list[tuple[str, bytes | int]], fmt: str, seed: int) -> Iterator[tuple[bytes, bool]]:
    """The archive's pieces in order, each with whether it is padding (random bytes that nothing can shrink)."""
    directories = sorted({"/".join(p.split("/")[:i]) for p, _d in files for i in range(1, p.count("/") + 1)})
    entries: list[tuple[str, int, bytes | int]] = [(".", 0o40755, b"")]
    entries += [(f"./{d}", 0o40755, b"") for d in directories]
    entries += [(f"./{p}", 0o100755 if "/MacOS/" in p else 0o100644, d) for p, d in files]
    entries.sort(key=lambda e: e[0])
    for inode, (name, mode, data) in enumerate(entries, start=1):
        size = data if isinstance(data, int) else len(data)
        yield _cpio_header(fmt, name, mode, size, inode), False
        if isinstance(data, int):
            yield from ((piece, True) for piece in _padding(data, seed))
        else:
            yield data, False
        if fmt == "newc":
            yield b"\0" * (-size % 4), False
    yield _cpio_header(fmt, "TRAILER!!!", 0, 0, 0), False


def _cpio_header(fmt: str, name: str, mode: int, size: int, inode: int) -> bytes:
    raw = name.encode() + b"\0"
    if fmt == "odc":
        return (f"070707{0:06o}{inode:06o}{mode:06o}{0:06o}{80:06o}{1:06o}{0:06o}{_MTIME:011o}"
                f"{len(raw):06o}{size:011o}").encode() + raw
    fields = (inode, mode, 0, 80, 1, _MTIME, size, 1, 4, 0, 0, len(raw), 0)
    header = b"070701" + b"".join(b"%08X" % f for f in fields) + raw
    return header + b"\0" * (-len(header) % 4)


def _padding(size: int, seed: int) -> Iterator[bytes]:
    block = bytearray(pad_block(seed))
    counter = 0
    while size > 0:
        block[:8] = counter.to_bytes(8, "little")  # keeps every block distinct, so nothing compresses
        piece = bytes(block[:min(size, _PIECE)])
        size -= len(piece)
        counter += 1
        yield piece


def _write_payload(out: BinaryIO, cpio: Iterator[tuple[bytes, bool]], fmt: str, level: int) -> None:
    if fmt == "gzip":
        engine = zlib.compressobj(level, zlib.DEFLATED, 31)
        for piece, _padding_only in cpio:
            out.write(engine.compress(piece))
        out.write(engine.flush())
    elif fmt == "xz":
        xz = lzma.LZMACompressor(lzma.FORMAT_XZ, preset=min(level, 9))
        for piece, _padding_only in cpio:
            out.write(xz.compress(piece))
        out.write(xz.flush())
    else:
        out.write(b"pbzx" + struct.pack(">Q", _PBZX_MORE))
        pending: tuple[bytes, bool] | None = None
        for chunk in _rechunk(cpio, _PIECE):
            if pending:
                _pbzx_chunk(out, *pending, last=False, level=level)
            pending = chunk
        assert pending is not None  # _rechunk always yields the (possibly short) last chunk
        _pbzx_chunk(out, *pending, last=True, level=level)


def _rechunk(pieces: Iterator[tuple[bytes, bool]], size: int) -> Iterator[tuple[bytes, bool]]:
    """The pieces regrouped into `size`-byte chunks (the last one shorter), each with whether it is padding only."""
    buffer = bytearray()
    start = 0  # stream offset of buffer[0]
    plain: list[tuple[int, int]] = []  # stream ranges of bytes that are not padding, not yet passed on whole
    for piece, padding_only in pieces:
        if piece and not padding_only:
            plain.append((start + len(buffer), start + len(buffer) + len(piece)))
        buffer += piece
        while len(buffer) >= size:
            end = start + size
            yield bytes(buffer[:size]), not any(first < end for first, _after in plain)
            del buffer[:size]
            start = end
            plain = [(first, after) for first, after in plain if after > start]
    yield bytes(buffer), not plain


def _pbzx_chunk(out: BinaryIO, data: bytes, padding_only: bool, *, last: bool, level: int) -> None:
    # Level 0 stores every chunk as is; otherwise a fast preset (chunks are compressed one by one anyway).
    # A chunk of padding only is stored raw without trying: it is at most two disjoint stretches of one random
    # block (_padding's blocks differ from each other only in their first 8 bytes, 1 MiB apart, and a chunk is
    # 1 MiB), so it holds no repeat for xz to find and xz's output would be larger; trying cost ~0.4 s a MiB.
    packed = lzma.compress(data, format=lzma.FORMAT_XZ, preset=1) if level and not padding_only else data
    body = packed if len(packed) < len(data) else data  # Apple stores a chunk raw when xz does not shrink it
    out.write(struct.pack(">QQ", len(data) | (0 if last else _PBZX_MORE), len(body)) + body)


# -- xar --------------------------------------------------------------------------------------------


def _write_xar(path: Path, members: list[tuple[str, str, bytes | Path]],
               signer: tuple[rsa.RSAPrivateKey, tuple[x509.Certificate, ...]] | None, styles: tuple[str, ...],
               attributes: bool, checksum: str, tamper: bool, magic: bytes, tmp: Path) -> None:
    # Heap: the TOC checksum, then the RSA signature Installer checks, then the CMS one productsign adds beside it.
    digest_size = hashlib.new(checksum).digest_size
    styles = styles if signer else ()
    rsa_size = signer[0].key_size // 8 if signer and "RSA" in styles else 0
    cms_length = cms_size(signer, digest_size, signed_attributes=attributes) if signer and "CMS" in styles else 0
    heap_files: list[tuple[bytes | Path, int]] = []
    offset = digest_size + rsa_size + cms_length
    described: dict[str, str] = {}
    for name, kind, data in members:
        if kind == "directory":
            described[name] = ""
            continue
        archived: bytes | Path
        if isinstance(data, Path):
            archived, encoding = data, "application/octet-stream"  # the Payload is compressed already
            length, extracted = data.stat().st_size, _file_sha1(data)
            archived_sum, size = extracted, length
        else:
            compressed, encoding = zlib.compress(data, 9), "application/x-gzip"  # xar's name for zlib
            length, extracted, archived_sum, size = len(compressed), hashlib.sha1(data).hexdigest(), \
                hashlib.sha1(compressed).hexdigest(), len(data)
            archived = compressed
        described[name] = (f"<data><length>{length}</length><offset>{offset}</offset><size>{size}</size>"
                           f"<encoding style=\"{encoding}\"/><extracted-checksum style=\"sha1\">{extracted}"
                           f"</extracted-checksum><archived-checksum style=\"sha1\">{archived_sum}</archived-checksum>"
                           f"</data>")
        heap_files.append((archived, length))
        offset += length
    types = {name: kind for name, kind, _d in members}

    def toc(creation: str) -> bytes:
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<xar>", " <toc>",
                 f'  <checksum style="{checksum}"><offset>0</offset><size>{digest_size}</size></checksum>',
                 f"  <creation-time>{creation}</creation-time>"]
        if signer:
            certificates = "".join(f"<X509Certificate>{base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}"
                                   f"</X509Certificate>" for c in signer[1])
            key_info = (f'<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data>{certificates}</X509Data>'
                        f"</KeyInfo>")
            if rsa_size:
                lines.append(f'  <signature style="RSA"><offset>{digest_size}</offset><size>{rsa_size}</size>'
                             f"{key_info}</signature>")
            if cms_length:
                lines.append(f'  <x-signature style="CMS"><offset>{digest_size + rsa_size}</offset><size>{cms_length}'
                             f"</size>{key_info}</x-signature>")
        lines += _file_elements(sorted(described), types, described) + [" </toc>", "</xar>"]
        return "\n".join(lines).encode()

    signed_toc = zlib.compress(toc("2025-06-01T12:00:00"), 9)
    written_toc = zlib.compress(toc("2025-06-02T09:30:00"), 9) if tamper else signed_toc
    algorithm = hashlib.new(checksum)
    signature = b""
    if signer:
        digest = hashlib.new(checksum, signed_toc).digest()
        hash_type = hashes.SHA1() if checksum == "sha1" else hashes.SHA256()
        if rsa_size:
            signature += signer[0].sign(digest, padding.PKCS1v15(), Prehashed(hash_type))
        if cms_length:
            signature += cms_signature(signer, digest, signed_attributes=attributes)
        assert len(signature) == rsa_size + cms_length
    algorithm.update(written_toc)
    uncompressed = len(zlib.decompress(written_toc))
    if checksum == "sha1":
        header = struct.pack(">4sHHQQI", magic, 28, 1, len(written_toc), uncompressed, 1)
    else:
        header = struct.pack(">4sHHQQI", magic, 36, 1, len(written_toc), uncompressed, 3) + b"sha256\0\0"
    partial = tmp / "archive.partial"
    with open(partial, "wb") as out:
        out.write(header + written_toc + algorithm.digest() + signature)
        for data, _length in heap_files:
            if isinstance(data, Path):
                with open(data, "rb") as source:
                    while piece := source.read(_PIECE):
                        out.write(piece)
            else:
                out.write(data)
    os.replace(partial, path)


def _file_elements(names: list[str], types: dict[str, str], described: dict[str, str]) -> list[str]:
    """Nested <file> elements for "/"-joined names, ids in order of appearance."""
    lines: list[str] = []
    counter = [0]

    def emit(prefix: str, depth: int) -> None:
        children = [n for n in names if n.startswith(prefix) and "/" not in n[len(prefix):]]
        for name in children:
            counter[0] += 1
            pad = "  " * (depth + 1)
            lines.append(f'{pad}<file id="{counter[0]}"><name>{escape(name[len(prefix):])}</name>'
                         f"<type>{types[name]}</type>{described[name]}")
            emit(name + "/", depth + 1)
            lines.append(f"{pad}</file>")

    emit("", 1)
    return lines


def _file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as source:
        while piece := source.read(_PIECE):
            digest.update(piece)
    return digest.hexdigest()


__all__ = ["DEFECTS", "INSTALLER_CERTIFICATES", "MAC_PROFILE_TYPES", "PAYLOAD_FORMATS", "build_pkg",
           "mac_profile_der"]
