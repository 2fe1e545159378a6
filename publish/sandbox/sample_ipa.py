"""Build realistic sample IPAs — valid, or with one chosen defect — for tests, the demo and benchmarks.

Imports nothing else of the project. What makes them realistic: a binary Info.plist with the keys Xcode
writes, a provisioning profile that is a real CMS SignedData (signed with a throwaway certificate, DER),
entitlements that match the profile type, `_CodeSignature/CodeResources` listing the bundle's files'
hashes, a Mach-O header for the executable, real PNG icons, app extensions with their own profiles, and
optionally a watch app. Output is byte-for-byte deterministic for the same arguments (fixed timestamps,
fixed key material derived from a seed, RSA PKCS#1 v1.5 signatures).

`pad_to` appends a stored, incompressible asset so the file reaches exactly that size; it is streamed
in 1 MiB chunks, so a 2 GiB IPA is written with a few MiB of memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import plistlib
import random
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

PROFILE_TYPES = ("app-store", "ad-hoc", "development", "enterprise")
DEFAULT_TEAM_ID = "A1B2C3D4E5"
DEFAULT_PROFILE_CREATED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
DEFAULT_PROFILE_EXPIRES = datetime(2045, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
_ZIP_TIMESTAMP = (2025, 6, 1, 12, 0, 0)
_CHUNK = 1024 * 1024
_PAD_NAME = "Assets/GameData.pak"

_PLATFORMS = {
    # platform: (CFBundleSupportedPlatforms, UIDeviceFamily, DTPlatformName, MinimumOSVersion)
    "IOS": ("iPhoneOS", [1, 2], "iphoneos", "15.0"),
    "TV_OS": ("AppleTVOS", [3], "appletvos", "15.0"),
    "VISION_OS": ("XROS", [7], "xros", "1.0"),
}


@dataclass(frozen=True)
class ExtensionSpec:
    """An app extension (.appex in PlugIns/). Unset fields follow the app (bundle ID: <app id>.<name lowercased>)."""

    name: str
    bundle_id: str | None = None
    version: str | None = None
    build_number: str | None = None
    extension_point: str = "com.apple.widgetkit-extension"


# Keyword arguments producing each kind of invalid IPA, with the pre-flight finding it should trigger.
DEFECTS: dict[str, tuple[dict[str, Any], str]] = {
    "no_payload": ({"payload_folder": False}, "layout.no_payload"),
    "no_app": ({"app_bundle": False}, "layout.no_app"),
    "two_apps": ({"extra_apps": ("Second",)}, "layout.several_apps"),
    "top_level_folder": ({"top_level_folder": "MyApp"}, "layout.payload_in_subfolder"),
    "no_info_plist": ({"info_plist": False}, "plist.missing"),
    "corrupt_info_plist": ({"info_plist_bytes": b"<?xml version='1.0'?><plist><dict><key>broken"}, "plist.corrupt"),
    "missing_plist_keys": ({"omit_info_keys": ("CFBundleShortVersionString", "CFBundleExecutable")},
                           "plist.missing_key"),
    "bad_version": ({"version": "1.0.0-beta"}, "version.format"),
    "bad_build_number": ({"build_number": "1.2.3.4"}, "build_number.format"),
    "no_profile": ({"profile_type": None}, "profile.missing"),
    "corrupt_profile": ({"profile_bytes": b"0\x82\x01\x00not DER at all"}, "profile.corrupt"),
    "development_profile": ({"profile_type": "development"}, "profile.development"),
    "ad_hoc_profile": ({"profile_type": "ad-hoc"}, "profile.ad_hoc"),
    "enterprise_profile": ({"profile_type": "enterprise"}, "profile.enterprise"),
    "expired_profile": ({"profile_created": datetime(2023, 1, 1, tzinfo=timezone.utc),
                         "profile_expires": datetime(2024, 1, 1, tzinfo=timezone.utc)}, "profile.expired"),
    "wrong_app_id": ({"profile_app_id": "com.other.app"}, "profile.app_id_mismatch"),
    "get_task_allow": ({"get_task_allow": True}, "entitlements.get_task_allow"),
    "no_code_signature": ({"code_signature": False}, "signature.missing"),
    "extension_prefix": ({"extensions": (ExtensionSpec("Widgets", bundle_id="com.other.widgets"),)},
                         "extension.bundle_id_prefix"),
    "extension_version": ({"extensions": (ExtensionSpec("Widgets", version="9.9.9"),)}, "extension.version_mismatch"),
    "simulator_build": ({"info_overrides": {"CFBundleSupportedPlatforms": ["iPhoneSimulator"]}},
                        "plist.simulator_build"),
}


def build_ipa(
    path: str | os.PathLike[str],
    *,
    bundle_id: str = "com.example.app",
    version: str = "1.0.0",
    build_number: str = "1",
    display_name: str = "Example",
    profile_type: str | None = "app-store",
    extensions: Sequence[ExtensionSpec | str] = ("Widgets",),
    watch_app: bool = False,
    uses_non_exempt_encryption: bool | None = False,
    pad_to: int | None = None,
    platform: str = "IOS",
    team_id: str = DEFAULT_TEAM_ID,
    team_name: str = "Example Team",
    profile_app_id: str | None = None,
    profile_created: datetime = DEFAULT_PROFILE_CREATED,
    profile_expires: datetime = DEFAULT_PROFILE_EXPIRES,
    get_task_allow: bool | None = None,
    code_signature: bool = True,
    icons: bool = True,
    top_level_folder: str | None = None,
    payload_folder: bool = True,
    app_bundle: bool = True,
    extra_apps: Sequence[str] = (),
    info_plist: bool = True,
    info_plist_bytes: bytes | None = None,
    omit_info_keys: Iterable[str] = (),
    info_overrides: Mapping[str, Any] | None = None,
    profile_bytes: bytes | None = None,
    executable_size: int = 64 * 1024,
    seed: int = 1,
) -> Path:
    """Write a sample IPA to `path` and return it. See DEFECTS for the arguments producing each invalid kind."""
    if profile_type not in (*PROFILE_TYPES, None):
        raise ValueError(f"profile_type must be one of {PROFILE_TYPES} or None, not {profile_type!r}")
    if platform not in _PLATFORMS:
        raise ValueError(f"platform must be one of {sorted(_PLATFORMS)}, not {platform!r}")
    app_name = "".join(ch for ch in display_name if ch.isalnum()) or "App"
    signer = _SigningIdentity.for_seed(seed, team_id, team_name, profile_type)
    profile_settings = _ProfileSettings(profile_type, team_id, team_name, profile_created, profile_expires,
                                        get_task_allow, profile_bytes)

    root = (f"{top_level_folder}/" if top_level_folder else "") + ("Payload/" if payload_folder else "")
    members: list[tuple[str, bytes, bool]] = []  # (zip name, data, executable?)
    if top_level_folder:
        members.append((f"{top_level_folder}/", b"", False))
    if payload_folder:
        members.append((root, b"", False))
    app_dir = f"{root}{app_name}.app/"
    app_plist = _info_plist(
        bundle_id=bundle_id, version=version, build_number=build_number, name=app_name, display_name=display_name,
        platform=platform, package_type="APPL", encryption=uses_non_exempt_encryption, icons=icons)
    for key in omit_info_keys:
        app_plist.pop(key, None)
    app_plist.update(info_overrides or {})
    if app_bundle:
        files = _bundle_files(app_name, app_plist, icons=icons, seed=seed, executable_size=executable_size,
                              platform=platform)
        nested: list[tuple[str, dict[str, tuple[bytes, bool]]]] = []
        for spec in extensions:
            spec = ExtensionSpec(spec) if isinstance(spec, str) else spec
            nested.append((f"PlugIns/{spec.name}.appex/",
                           _extension_files(spec, bundle_id, version, build_number, platform, seed, executable_size,
                                            signer, profile_settings, code_signature)))
        if watch_app:
            nested.append(("Watch/WatchApp.app/",
                           _watch_files(bundle_id, version, build_number, display_name, seed, executable_size,
                                        signer, profile_settings, code_signature)))
        files.update(_flattened(nested))
        if not info_plist:
            files.pop("Info.plist")
        elif info_plist_bytes is not None:
            files["Info.plist"] = (info_plist_bytes, False)
        if profile_type is not None or profile_bytes is not None:
            files["embedded.mobileprovision"] = (
                _profile(signer, profile_settings, profile_app_id or bundle_id, app_name), False)
        if code_signature:
            files["_CodeSignature/CodeResources"] = (_code_resources(files), False)
        members += [(app_dir + rel, data, executable) for rel, (data, executable) in sorted(files.items())]
    for extra in extra_apps:
        extra_plist = _info_plist(
            bundle_id=f"{bundle_id}.{extra.lower()}", version=version, build_number=build_number, name=extra,
            display_name=extra, platform=platform, package_type="APPL", encryption=uses_non_exempt_encryption,
            icons=False)
        extra_files = _bundle_files(extra, extra_plist, icons=False, seed=seed + 1, executable_size=1024,
                                    platform=platform)
        members += [(f"{root}{extra}.app/{rel}", data, ex) for rel, (data, ex) in sorted(extra_files.items())]
    return _write_zip(Path(path), members, pad_to=pad_to, pad_name=app_dir + _PAD_NAME, seed=seed)


def _flattened(nested: list[tuple[str, dict[str, tuple[bytes, bool]]]]) -> dict[str, tuple[bytes, bool]]:
    """Nested bundles' files as paths inside the app bundle."""
    return {prefix + rel: value for prefix, child in nested for rel, value in child.items()}


# -- Info.plist and bundle contents ----------------------------------------------------------------


def _info_plist(*, bundle_id: str, version: str, build_number: str, name: str, display_name: str, platform: str,
                package_type: str, encryption: bool | None, icons: bool) -> dict[str, Any]:
    supported, families, dt_platform, minimum_os = _PLATFORMS[platform]
    plist: dict[str, Any] = {
        "BuildMachineOSBuild": "24G84",
        "CFBundleDevelopmentRegion": "en",
        "CFBundleDisplayName": display_name,
        "CFBundleExecutable": name,
        "CFBundleIdentifier": bundle_id,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name,
        "CFBundlePackageType": package_type,
        "CFBundleShortVersionString": version,
        "CFBundleSupportedPlatforms": [supported],
        "CFBundleVersion": build_number,
        "DTCompiler": "com.apple.compilers.llvm.clang.1_0",
        "DTPlatformBuild": "22F76",
        "DTPlatformName": dt_platform,
        "DTPlatformVersion": "18.5",
        "DTSDKBuild": "22F76",
        "DTSDKName": f"{dt_platform}18.5",
        "DTXcode": "1640",
        "DTXcodeBuild": "16F6",
        "MinimumOSVersion": minimum_os,
        "UIDeviceFamily": list(families),
    }
    if package_type == "APPL":
        plist["LSRequiresIPhoneOS"] = True
        plist["UILaunchScreen"] = {}
        plist["UIRequiredDeviceCapabilities"] = ["arm64"]
    if icons and platform == "IOS":
        plist["CFBundleIcons"] = {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60"],
                                                          "CFBundleIconName": "AppIcon"}}
        plist["CFBundleIcons~ipad"] = {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60", "AppIcon76x76"],
                                                               "CFBundleIconName": "AppIcon"}}
    if encryption is not None:
        plist["ITSAppUsesNonExemptEncryption"] = encryption
    return plist


def _binary_plist(value: dict[str, Any]) -> bytes:
    return plistlib.dumps(value, fmt=plistlib.FMT_BINARY, sort_keys=True)


def _bundle_files(name: str, plist: dict[str, Any], *, icons: bool, seed: int, executable_size: int,
                  platform: str) -> dict[str, tuple[bytes, bool]]:
    files: dict[str, tuple[bytes, bool]] = {
        "Info.plist": (_binary_plist(plist), False),
        name: (mach_o(name, seed, executable_size), True),
    }
    if plist.get("CFBundlePackageType") == "APPL":
        files["PkgInfo"] = (b"APPL????", False)
    if icons and platform == "IOS":
        for file_name, pixels in (("AppIcon60x60@2x.png", 120), ("AppIcon60x60@3x.png", 180),
                                  ("AppIcon76x76@2x~ipad.png", 152)):
            files[file_name] = (_png(pixels, seed), False)
    return files


def _extension_files(spec: ExtensionSpec, app_bundle_id: str, version: str, build_number: str, platform: str,
                     seed: int, executable_size: int, signer: _SigningIdentity, settings: _ProfileSettings,
                     code_signature: bool) -> dict[str, tuple[bytes, bool]]:
    bundle_id = spec.bundle_id or f"{app_bundle_id}.{spec.name.lower()}"
    plist = _info_plist(bundle_id=bundle_id, version=spec.version or version,
                        build_number=spec.build_number or build_number, name=spec.name, display_name=spec.name,
                        platform=platform, package_type="XPC!", encryption=None, icons=False)
    plist["NSExtension"] = {"NSExtensionPointIdentifier": spec.extension_point}
    files = _bundle_files(spec.name, plist, icons=False, seed=seed + 2, executable_size=executable_size // 4,
                          platform=platform)
    if settings.profile_type is not None:
        files["embedded.mobileprovision"] = (_profile(signer, settings, bundle_id, spec.name), False)
    if code_signature:
        files["_CodeSignature/CodeResources"] = (_code_resources(files), False)
    return files


def _watch_files(app_bundle_id: str, version: str, build_number: str, display_name: str, seed: int,
                 executable_size: int, signer: _SigningIdentity, settings: _ProfileSettings,
                 code_signature: bool) -> dict[str, tuple[bytes, bool]]:
    watch_id = f"{app_bundle_id}.watchkitapp"
    plist = _info_plist(bundle_id=watch_id, version=version, build_number=build_number, name="WatchApp",
                        display_name=display_name, platform="IOS", package_type="APPL", encryption=None, icons=False)
    plist.update({"CFBundleSupportedPlatforms": ["WatchOS"], "UIDeviceFamily": [4], "DTPlatformName": "watchos",
                  "MinimumOSVersion": "9.0", "WKApplication": True, "WKCompanionAppBundleIdentifier": app_bundle_id})
    for key in ("LSRequiresIPhoneOS", "UIRequiredDeviceCapabilities"):
        plist.pop(key, None)
    files = _bundle_files("WatchApp", plist, icons=False, seed=seed + 3, executable_size=executable_size // 2,
                          platform="IOS")
    complication = _extension_files(
        ExtensionSpec("WatchWidgets", bundle_id=f"{watch_id}.widgets"), watch_id, version, build_number, "IOS",
        seed + 4, executable_size, signer, settings, code_signature)
    complication["Info.plist"] = (_binary_plist({
        **plistlib.loads(complication["Info.plist"][0]),
        "CFBundleSupportedPlatforms": ["WatchOS"], "UIDeviceFamily": [4], "DTPlatformName": "watchos",
        "MinimumOSVersion": "9.0"}), False)
    if code_signature:
        complication["_CodeSignature/CodeResources"] = (
            _code_resources({k: v for k, v in complication.items() if not k.startswith("_CodeSignature/")}), False)
    for rel, value in complication.items():
        files[f"PlugIns/WatchWidgets.appex/{rel}"] = value
    if settings.profile_type is not None:
        files["embedded.mobileprovision"] = (_profile(signer, settings, watch_id, "WatchApp"), False)
    if code_signature:
        files["_CodeSignature/CodeResources"] = (_code_resources(files), False)
    return files


def mach_o(name: str, seed: int, size: int) -> bytes:
    """A 64-bit arm64 Mach-O executable header (MH_EXECUTE, PIE) followed by deterministic filler. The usual sizes
    (64 KiB and its quarters) are made once a process: every sample holds two or more of the same few."""
    return _kept_mach_o(name, seed, size) if size <= _CHUNK else _made_mach_o(name, seed, size)


def _made_mach_o(name: str, seed: int, size: int) -> bytes:
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 2, 0, 0, 0x00200085, 0)
    rng = random.Random(f"{seed}:{name}")
    return header + rng.randbytes(max(0, size - len(header)))


_kept_mach_o = functools.lru_cache(maxsize=16)(_made_mach_o)  # at most 16 MiB, usually well under 1


@functools.lru_cache(maxsize=64)  # pure and slow (pixel by pixel, then zlib level 9): every sample IPA has icons
def _png(pixels: int, seed: int) -> bytes:
    """A real RGBA PNG of pixels x pixels: a diagonal gradient."""
    rng = random.Random(seed)
    base = [rng.randrange(256) for _ in range(3)]
    # A pixel's colour depends on x + y alone: one table of them, each row a slice of it (the three icons of a
    # sample: ~6 ms of CPU, zlib included, against ~50 pixel by pixel, in every process that builds one).
    shades = [(step * 255 // (2 * pixels)) for step in range(2 * pixels - 1)]
    colours = [bytes(((base[0] + shade) % 256, (base[1] + shade // 2) % 256, base[2], 255)) for shade in shades]
    rows = b"".join(b"\0" + b"".join(colours[y:y + pixels]) for y in range(pixels))  # each row: filter type none

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", pixels, pixels, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _code_resources(files: Mapping[str, tuple[bytes, bool]]) -> bytes:
    """The shape codesign writes: SHA-1 ("files") and SHA-256 ("files2") of every resource in the bundle."""
    listed = {rel: data for rel, (data, executable) in files.items()
              if rel != "Info.plist" and not executable and "_CodeSignature/" not in rel}
    return plistlib.dumps({
        "files": {rel: hashlib.sha1(data).digest() for rel, data in sorted(listed.items())},
        "files2": {rel: {"hash2": hashlib.sha256(data).digest()} for rel, data in sorted(listed.items())},
        "rules": {"^.*": True, "^.*\\.lproj/": {"optional": True, "weight": 1000}, "^Base\\.lproj/": {"weight": 1010}},
        "rules2": {"^.*": True, ".*\\.dSYM($|/)": {"weight": 11}, "^Info\\.plist$": {"omit": True, "weight": 20},
                   "^embedded\\.provisionprofile$": {"weight": 20}},
    }, fmt=plistlib.FMT_XML, sort_keys=True)


# -- provisioning profile --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProfileSettings:
    profile_type: str | None
    team_id: str
    team_name: str
    created: datetime
    expires: datetime
    get_task_allow: bool | None
    raw: bytes | None  # used verbatim instead of a generated profile (to produce a corrupt one)


@dataclass(frozen=True)
class _SigningIdentity:
    key: rsa.RSAPrivateKey
    signer_certificate: x509.Certificate  # signs the profile's CMS envelope
    developer_certificate: x509.Certificate  # listed in DeveloperCertificates

    @staticmethod
    def for_seed(seed: int, team_id: str, team_name: str, profile_type: str | None) -> _SigningIdentity:
        return _signing_identity(seed, team_id, team_name, "Apple Development" if profile_type == "development"
                                 else "Apple Distribution")


@functools.lru_cache(maxsize=8)
def _signing_identity(seed: int, team_id: str, team_name: str, role: str) -> _SigningIdentity:
    key = _deterministic_rsa_key(seed)
    not_before = datetime(2025, 1, 1, tzinfo=timezone.utc)

    def certificate(subject: x509.Name, serial: int, days: int) -> x509.Certificate:
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sample Provisioning Authority (not Apple)"),
                            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "appstore-publish sample")])
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                .serial_number(serial).not_valid_before(not_before).not_valid_after(not_before + timedelta(days=days))
                .sign(key, hashes.SHA256()))

    signer = certificate(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Sample Provisioning Profile Signing (not Apple)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "appstore-publish sample")]), 1, 3650)
    developer = certificate(x509.Name([
        x509.NameAttribute(NameOID.USER_ID, team_id),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{role}: {team_name} ({team_id})"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, team_name),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]), 0x5A3E11 + seed, 7300)
    return _SigningIdentity(key, signer, developer)


def _profile(signer: _SigningIdentity, settings: _ProfileSettings, app_id: str, name: str) -> bytes:
    if settings.raw is not None:
        return settings.raw
    kind = settings.profile_type or "app-store"
    team = settings.team_id
    get_task_allow = settings.get_task_allow if settings.get_task_allow is not None else kind == "development"
    entitlements: dict[str, Any] = {
        "application-identifier": f"{team}.{app_id}",
        "com.apple.developer.team-identifier": team,
        "get-task-allow": get_task_allow,
        "keychain-access-groups": [f"{team}.*"],
    }
    if kind == "app-store":
        entitlements["beta-reports-active"] = True
    uuid_source = hashlib.sha256(f"{kind}:{team}:{app_id}:{settings.created.isoformat()}".encode()).hexdigest()
    uuid = f"{uuid_source[:8]}-{uuid_source[8:12]}-{uuid_source[12:16]}-{uuid_source[16:20]}-{uuid_source[20:32]}"
    plist: dict[str, Any] = {
        "AppIDName": name,
        "ApplicationIdentifierPrefix": [team],
        "CreationDate": settings.created.replace(tzinfo=None),
        "DeveloperCertificates": [signer.developer_certificate.public_bytes(serialization.Encoding.DER)],
        "Entitlements": entitlements,
        "ExpirationDate": settings.expires.replace(tzinfo=None),
        "IsXcodeManaged": False,
        "Name": f"{app_id} {_PROFILE_TITLES[kind]}",
        "Platform": ["iOS", "xrOS", "visionOS"],
        "TeamIdentifier": [team],
        "TeamName": settings.team_name,
        "TimeToLive": max(1, (settings.expires - settings.created).days),
        "UUID": uuid,
        "Version": 1,
    }
    if kind in ("development", "ad-hoc"):
        plist["ProvisionedDevices"] = [hashlib.sha1(f"device-{i}".encode()).hexdigest() for i in range(3)]
    if kind == "enterprise":
        plist["ProvisionsAllDevices"] = True
    return _signed_profile(plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True), signer.key,
                           signer.signer_certificate, signer.developer_certificate)


@functools.lru_cache(maxsize=64)
def _signed_profile(content: bytes, key: rsa.RSAPrivateKey, signer: x509.Certificate,
                    developer: x509.Certificate) -> bytes:
    """A profile's CMS SignedData over `content`. Made once a process for each content and signer (~1.2 ms): most
    samples of a test differ in a build number, and their profiles do not. Keyed on the very bytes signed, and the
    signature is deterministic (RSA PKCS#1 v1.5; no signed attributes, which would carry the signing time)."""
    return (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(signer, key, hashes.SHA256())
            .add_certificate(developer)
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoAttributes]))


_PROFILE_TITLES = {"app-store": "AppStore", "ad-hoc": "AdHoc", "development": "Development", "enterprise": "InHouse"}


@functools.lru_cache(maxsize=None)
def _deterministic_rsa_key(seed: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    """A throwaway RSA key derived from `seed`, so the sample profiles are reproducible byte for byte. Made once a
    process; the primes of the usual seeds are read from sample_keys.json rather than searched for again.

    OpenSSL's check of a loaded key (primality of p and q, ~65 ms a 2048-bit key, in every process that signs a
    sample) is skipped for the table's primes only: tests/unit/test_speed_sample_keys.py checks every entry (prime,
    distinct, the right size, and a key that signs what its public half verifies). Derived primes are checked."""
    known = _known_primes().get(str(seed)) if bits == _KNOWN_BITS else None
    p, q = (int(known[0], 16), int(known[1], 16)) if known else derive_primes(seed, bits)
    e = _PUBLIC_EXPONENT
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                    rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key(unsafe_skip_rsa_key_validation=known is not None)


_PUBLIC_EXPONENT = 65537
_KNOWN_BITS = 2048


@functools.cache
def _known_primes() -> dict[str, list[str]]:
    document = json.loads(resources.files("publish.sandbox").joinpath("sample_keys.json").read_text(encoding="utf-8"))
    return dict(document["primes"]) if document.get("bits") == _KNOWN_BITS else {}


def derive_primes(seed: int, bits: int = 2048) -> tuple[int, int]:
    """The primes of the sample key for `seed`: a search driven by a generator seeded with it (about a second)."""
    rng = random.Random(f"appstore-publish sample key {seed}")
    while True:
        p = _prime(rng, bits // 2)
        q = _prime(rng, bits // 2)
        if p != q and (p - 1) % _PUBLIC_EXPONENT and (q - 1) % _PUBLIC_EXPONENT:
            return p, q


_SMALL_PRIMES = [n for n in range(3, 2000, 2) if all(n % d for d in range(3, int(n ** 0.5) + 1, 2))]


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (0b11 << (bits - 2)) | 1
        if any(candidate % p == 0 for p in _SMALL_PRIMES):
            continue
        if _miller_rabin(candidate, rng):
            return candidate


def _miller_rabin(n: int, rng: random.Random, rounds: int = 40) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


# -- zip writing -----------------------------------------------------------------------------------


def _zip_info(name: str, executable: bool, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
    info.create_system = 3  # Unix, whatever we run on, so the bytes are the same everywhere
    if name.endswith("/"):
        info.external_attr = (0o40755 << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = (0o100755 if executable else 0o100644) << 16
        info.compress_type = compress_type
    return info


def _write_zip(path: Path, members: list[tuple[str, bytes, bool]], *, pad_to: int | None, pad_name: str,
               seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
            for name, data, executable in members:
                _write_member(archive, raw, _zip_info(name, executable, zipfile.ZIP_DEFLATED), data)
            if pad_to is not None:
                _write_padding(archive, raw, members, pad_to, pad_name, seed)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if pad_to is not None and path.stat().st_size != pad_to:
        raise RuntimeError(f"sample IPA is {path.stat().st_size} bytes, expected {pad_to}")
    return path


_DEFLATE_LEVEL = 6
_KEPT_DEFLATED = range(16 * 1024, _CHUNK + 1)  # member sizes whose deflated form is kept: the executables


def _write_member(archive: zipfile.ZipFile, raw: Any, info: zipfile.ZipInfo, data: bytes) -> None:
    """One member, deflated at level 6 as zipfile deflates it. The executables' random filler is the same in every
    sample of a process and the slowest thing zlib meets (~2.3 ms for 64 KiB), so its deflated form is kept
    (_deflated) and written as zipfile would have written it: handed over as stored bytes, then the local header
    rewritten in place (same length, as zipfile itself does once it knows the sizes) and the ZipInfo, which the
    central directory is made from, given the deflated member's type, size and CRC."""
    if info.compress_type != zipfile.ZIP_DEFLATED or len(data) not in _KEPT_DEFLATED:
        archive.writestr(info, data, compresslevel=_DEFLATE_LEVEL)
        return
    deflated, crc = _deflated(data)
    info.compress_type = zipfile.ZIP_STORED
    archive.writestr(info, deflated)
    end = raw.tell()
    info.compress_type, info.file_size, info.CRC = zipfile.ZIP_DEFLATED, len(data), crc
    raw.seek(info.header_offset)
    raw.write(info.FileHeader(False))  # no zip64: a kept member is at most 1 MiB
    raw.seek(end)


@functools.lru_cache(maxsize=16)  # at most 16 MiB (see _KEPT_DEFLATED)
def _deflated(data: bytes) -> tuple[bytes, int]:
    """What zipfile writes for `data` at level 6 (raw deflate, 15-bit window), and the CRC-32 of `data`."""
    engine = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return engine.compress(data) + engine.flush(), zlib.crc32(data)


def _zip64_overhead(size: int, data_offset: int) -> int:
    """Bytes zipfile adds for zip64 around a stored entry of `size` whose data starts at `data_offset`."""
    limit = zipfile.ZIP64_LIMIT
    local = 20 if size * 1.05 > limit else 0  # zipfile's own rule for the local header's zip64 extra
    central = 4 + 16 if size > limit else 0  # sizes in the central directory's zip64 extra
    end_records = 56 + 20 if data_offset + local + size > limit else 0  # zip64 end record + locator
    return local + central + end_records


def _write_padding(archive: zipfile.ZipFile, raw: Any, members: list[tuple[str, bytes, bool]], pad_to: int,
                   pad_name: str, seed: int) -> None:
    """Append one stored entry sized so that the finished zip is exactly `pad_to` bytes."""
    name_len = len(pad_name.encode())
    central = sum(46 + len(name.encode()) for name, _d, _x in members) + 46 + name_len
    offset = raw.tell()
    fixed = offset + (30 + name_len) + central + 22
    size = pad_to - fixed
    for _ in range(4):  # zipfile's zip64 choices depend on the size; settle on a consistent one
        overhead = _zip64_overhead(size, offset + 30 + name_len)
        candidate = pad_to - fixed - overhead
        if candidate == size:
            break
        size = candidate
    if size < 0:
        raise ValueError(f"pad_to={pad_to} is smaller than the IPA without padding ({fixed} bytes)")
    info = _zip_info(pad_name, False, zipfile.ZIP_STORED)
    info.file_size = size
    block = bytearray(pad_block(seed))
    with archive.open(info, "w") as stream:
        written = 0
        counter = 0
        while written < size:
            # A counter in each block keeps the data incompressible across blocks too.
            block[:8] = counter.to_bytes(8, "little")
            piece = memoryview(block)[:min(_CHUNK, size - written)]
            stream.write(piece)
            written += len(piece)
            counter += 1


@functools.lru_cache(maxsize=4)  # 1 MiB each; the samples use one or two seeds
def pad_block(seed: int) -> bytes:
    """The 1 MiB of random bytes that padding repeats (IPAs' pad_to, packages' payload_padding), each copy with a
    counter written over its first 8 bytes. Made once a process for each seed (~5 ms)."""
    return random.Random(f"pad {seed}").randbytes(_CHUNK)


def profile_der(*, bundle_id: str = "com.example.app", profile_type: str = "app-store",
                team_id: str = DEFAULT_TEAM_ID, team_name: str = "Example Team",
                created: datetime = DEFAULT_PROFILE_CREATED, expires: datetime = DEFAULT_PROFILE_EXPIRES,
                seed: int = 1) -> bytes:
    """A standalone signed provisioning profile (.mobileprovision bytes), as Xcode downloads them."""
    signer = _SigningIdentity.for_seed(seed, team_id, team_name, profile_type)
    settings = _ProfileSettings(profile_type, team_id, team_name, created, expires, None, None)
    return _profile(signer, settings, bundle_id, bundle_id)


__all__ = ["DEFECTS", "ExtensionSpec", "PROFILE_TYPES", "build_ipa", "profile_der"]
