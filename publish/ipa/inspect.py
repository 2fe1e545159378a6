"""Inspect an IPA without extracting it: layout, Info.plist files, provisioning profile, icons."""

from __future__ import annotations

import os
import plistlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publish.ipa.archive import ZipArchive
from publish.ipa.errors import IpaError
from publish.ipa.model import BundleInfo, IpaInfo, platform_of
from publish.ipa.profile import ProvisioningProfile, parse_provisioning_profile

MAX_INFO_PLIST_BYTES = 2 * 1024 * 1024
MAX_PROFILE_BYTES = 1024 * 1024
MAX_ICON_BYTES = 5 * 1024 * 1024

# Keys App Store Connect refuses a build without (ITMS-90360 and friends).
REQUIRED_APP_KEYS = ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion", "CFBundleExecutable",
                     "MinimumOSVersion")
REQUIRED_NESTED_KEYS = ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion", "CFBundleExecutable")

# Where nested bundles live, relative to their parent bundle: (folder, suffix, kind, kind when inside a watch app).
_NESTED_LOCATIONS = (
    ("PlugIns/", ".appex", "extension", "watch_extension"),
    ("Extensions/", ".appex", "extension", "watch_extension"),
    ("Watch/", ".app", "watch_app", None),
    ("AppClips/", ".app", "app_clip", None),
)

_EXPORT_HINT = "Export the archive with Xcode's Distribute App > App Store Connect, or `xcodebuild -exportArchive`."


@dataclass(frozen=True)
class Layout:
    payload_prefix: str  # "" or "Folder/" when Payload/ is nested in a top-level folder
    app_path: str  # "Payload/Name.app/" (with the prefix)


def inspect_ipa(path: str | os.PathLike[str]) -> IpaInfo:
    """Inspect the IPA at `path`; lenient about a top-level folder around Payload/. Raises IpaError."""
    with ZipArchive(path) as archive:
        return inspect_archive(archive, strict=True)


def inspect_archive(archive: ZipArchive, *, strict: bool) -> IpaInfo:
    """With strict=False, missing Info.plist keys leave empty strings instead of raising (pre-flight lists them)."""
    layout = locate_app(archive)
    app = read_bundle(archive, layout.app_path, "app")
    if app.problems and not app.info_plist:
        finding_id, message, hint = app.problems[0]
        raise IpaError(message, finding_id=finding_id, hint=hint)
    if strict:
        missing = [k for k in ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion")
                   if not (_str(app.info_plist.get(k)) or "").strip()]
        if missing:
            raise IpaError(f"{layout.app_path}Info.plist lacks {', '.join(missing)}.", finding_id="plist.missing_key",
                           hint="Set them in the target's build settings (Version, Build, Bundle Identifier) and archive again.")
    nested = _nested_bundles(archive, app.path, inside_watch=False)
    icon_names, icon_files = _icons(archive, app.path, app.info_plist)
    encryption = app.info_plist.get("ITSAppUsesNonExemptEncryption")
    return IpaInfo(
        path=archive.path,
        file_size=archive.file_size,
        fingerprint=archive.fingerprint,
        bundle_id=app.bundle_id or "",
        version=app.version or "",
        build_number=app.build_number or "",
        display_name=app.display_name or app.name.removesuffix(".app"),
        executable=app.executable,
        minimum_os=app.minimum_os,
        device_families=app.device_families,
        platforms=app.platforms,
        platform=platform_of(app.platforms, app.device_families),
        icon_names=icon_names,
        uses_non_exempt_encryption=encryption if isinstance(encryption, bool) else None,
        extensions=nested,
        profile=app.profile,
        has_code_signature=app.has_code_signature,
        app_path=app.path,
        top_level_folder=layout.payload_prefix.rstrip("/") or None,
        icon_path=icon_files[0] if icon_files else None,
        entry_count=len(archive.entries),
        app=app,
    )


# -- layout -----------------------------------------------------------------------------------------


def _is_junk(name: str) -> bool:
    """Finder and archivers' litter, never part of the app: __MACOSX/ resource forks, ._ files, .DS_Store."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith("._") or base == ".DS_Store"


def locate_app(archive: ZipArchive) -> Layout:
    names = [n for n in archive.entries if not _is_junk(n)]
    prefix = ""
    if not any(n.startswith("Payload/") for n in names):
        tops = sorted({n.split("/", 2)[0] for n in names if n.count("/") >= 2 and n.split("/", 2)[1] == "Payload"})
        if len(tops) != 1:
            raise IpaError(
                f"{archive.path} has no Payload/ folder, so it is not an app archive (an .ipa holds Payload/<App>.app/).",
                finding_id="layout.no_payload",
                hint=_EXPORT_HINT + " If you zipped it by hand, zip the Payload folder itself: `zip -qr App.ipa Payload`.")
        prefix = tops[0] + "/"
    payload = prefix + "Payload/"
    apps = sorted({
        n[len(payload):].split("/", 1)[0]
        for n in names
        if n.startswith(payload) and n[len(payload):].split("/", 1)[0].endswith(".app") and "/" in n[len(payload):]
    })
    if not apps:
        raise IpaError(f"{archive.path}: {payload} holds no .app bundle.", finding_id="layout.no_app",
                       hint="The build produced no app. " + _EXPORT_HINT)
    if len(apps) > 1:
        raise IpaError(
            f"{archive.path}: {payload} holds {len(apps)} app bundles ({', '.join(apps)}); an .ipa must hold exactly one.",
            finding_id="layout.several_apps",
            hint="Remove the extra .app folders from Payload/ (extensions belong in <App>.app/PlugIns/), or export again.")
    return Layout(payload_prefix=prefix, app_path=f"{payload}{apps[0]}/")


def _nested_bundles(archive: ZipArchive, parent: str, *, inside_watch: bool) -> list[BundleInfo]:
    found: dict[str, str] = {}
    for name in archive.entries:
        if not name.startswith(parent) or _is_junk(name):
            continue
        rel = name[len(parent):]
        for folder, suffix, kind, watch_kind in _NESTED_LOCATIONS:
            if rel.startswith(folder):
                child = rel[len(folder):].split("/", 1)
                if len(child) == 2 and child[0].endswith(suffix):
                    resolved = watch_kind if inside_watch else kind
                    if resolved:
                        found.setdefault(f"{parent}{folder}{child[0]}/", resolved)
    bundles: list[BundleInfo] = []
    for path, kind in sorted(found.items()):
        bundle = read_bundle(archive, path, kind)
        bundles.append(bundle)
        if kind == "watch_app":
            bundles.extend(_nested_bundles(archive, path, inside_watch=True))
    return bundles


# -- bundles ----------------------------------------------------------------------------------------


def read_bundle(archive: ZipArchive, path: str, kind: str) -> BundleInfo:
    problems: list[tuple[str, str, str | None]] = []
    plist_name = f"{path}Info.plist"
    info: dict[str, Any] = {}
    if plist_name not in archive.entries:
        others = sorted(n[len(path):] for n in archive.entries
                        if n.startswith(path) and "/" not in n[len(path):] and n.endswith(".plist") and not _is_junk(n))
        seen = f" (it holds {', '.join(others)} instead)" if others else ""
        problems.append(("plist.missing", f"{plist_name} is missing{seen}.",
                         "Every bundle needs an Info.plist at its top level, named exactly Info.plist; check the "
                         "target's INFOPLIST_FILE build setting and archive again."))
    else:
        try:
            info = load_plist(archive.read(plist_name, limit=MAX_INFO_PLIST_BYTES, what="Info.plist"), plist_name)
        except IpaError as exc:
            problems.append((exc.finding_id, exc.message, exc.hint))
    profile: ProvisioningProfile | None = None
    profile_name = f"{path}embedded.mobileprovision"
    if profile_name in archive.entries:
        try:
            profile = parse_provisioning_profile(
                archive.read(profile_name, limit=MAX_PROFILE_BYTES, what="the provisioning profile"), source=profile_name)
        except IpaError as exc:
            problems.append((exc.finding_id, exc.message, exc.hint))
    executable = _str(info.get("CFBundleExecutable"))
    extension = info.get("NSExtension")
    extension = extension if isinstance(extension, dict) else {}
    platforms = info.get("CFBundleSupportedPlatforms")
    families = info.get("UIDeviceFamily")
    return BundleInfo(
        kind=kind,
        path=path,
        bundle_id=_str(info.get("CFBundleIdentifier")),
        version=_str(info.get("CFBundleShortVersionString")),
        build_number=_str(info.get("CFBundleVersion")),
        display_name=_str(info.get("CFBundleDisplayName")) or _str(info.get("CFBundleName")),
        executable=executable,
        minimum_os=_str(info.get("MinimumOSVersion")) or _str(info.get("LSMinimumSystemVersion")),
        platforms=[p for p in platforms if isinstance(p, str)] if isinstance(platforms, list) else [],
        device_families=[f for f in families if isinstance(f, int) and not isinstance(f, bool)]
        if isinstance(families, list) else [],
        extension_point=_str(extension.get("NSExtensionPointIdentifier")),
        has_info_plist=plist_name in archive.entries,
        has_executable=bool(executable) and f"{path}{executable}" in archive.entries,
        has_code_signature=f"{path}_CodeSignature/CodeResources" in archive.entries,
        profile=profile,
        problems=problems,
        info_plist=info,
    )


def load_plist(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = plistlib.loads(data)
    except Exception as exc:  # plistlib raises InvalidFileException, ExpatError, ValueError, RecursionError ...
        raise IpaError(f"{name} is corrupt: it is neither a binary nor an XML property list ({type(exc).__name__}).",
                       finding_id="plist.corrupt",
                       hint="Check the file in Xcode (open it as a property list) and archive again.") from None
    if not isinstance(value, dict):
        raise IpaError(f"{name} is not a dictionary property list.", finding_id="plist.corrupt",
                       hint="Check the file in Xcode and archive again.")
    return value


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- icons ------------------------------------------------------------------------------------------

_ICON_SIZE = re.compile(r"(\d+(?:\.\d+)?)x\d+(?:\.\d+)?(?:@(\d)x)?")


def _declared_icon_names(info: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for key in ("CFBundleIcons", "CFBundleIcons~ipad"):
        icons = info.get(key)
        primary = icons.get("CFBundlePrimaryIcon") if isinstance(icons, dict) else None
        if isinstance(primary, dict):
            files = primary.get("CFBundleIconFiles")
            names += [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
            if not files and isinstance(primary.get("CFBundleIconName"), str):
                names.append(primary["CFBundleIconName"])
    legacy = info.get("CFBundleIconFiles")
    names += [f for f in legacy if isinstance(f, str)] if isinstance(legacy, list) else []
    if isinstance(info.get("CFBundleIconFile"), str):
        names.append(info["CFBundleIconFile"])
    return list(dict.fromkeys(n.removesuffix(".png") for n in names))


def _icon_pixels(name: str) -> float:
    match = _ICON_SIZE.search(name.rsplit("/", 1)[-1])
    if not match:
        return 0.0
    return float(match.group(1)) * int(match.group(2) or 1)


def _icons(archive: ZipArchive, app_path: str, info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Declared icon names, and the icon PNG files in the bundle's top level, largest first."""
    pngs = [n for n in archive.entries
            if n.startswith(app_path) and n.endswith(".png") and "/" not in n[len(app_path):] and not _is_junk(n)]
    declared = _declared_icon_names(info)
    files = [n for n in pngs if any(n[len(app_path):].startswith(d) for d in declared)]
    if not files:
        files = [n for n in pngs if n[len(app_path):].startswith(("AppIcon", "Icon"))]
    if not declared:
        declared = list(dict.fromkeys(re.sub(r"(@\dx)?(~\w+)?\.png$", "", n[len(app_path):]) for n in files))
    files.sort(key=lambda n: (_icon_pixels(n), archive.entries[n].file_size, n), reverse=True)
    return declared, files


@dataclass(frozen=True)
class ExtractedIcon:
    zip_path: str
    size: int
    width: int | None
    height: int | None
    crushed: bool  # Xcode's "CgBI" PNG variant: most viewers cannot display it as is


def extract_icon(path: str | os.PathLike[str], destination: str | os.PathLike[str]) -> ExtractedIcon | None:
    """Write the largest app icon PNG, byte for byte, to `destination`. None when the app has no icon PNG."""
    with ZipArchive(path) as archive:
        info = inspect_archive(archive, strict=False)
        if info.icon_path is None:
            return None
        data = archive.read(info.icon_path, limit=MAX_ICON_BYTES, what="the app icon")
    Path(destination).write_bytes(data)
    width, height, crushed = png_dimensions(data)
    return ExtractedIcon(info.icon_path, len(data), width, height, crushed)


def png_dimensions(data: bytes) -> tuple[int | None, int | None, bool]:
    """(width, height, crushed) from the PNG header; Xcode's crushed PNGs put a CgBI chunk before IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None, None, False
    pos, crushed = 8, False
    while pos + 8 <= len(data) and pos < 256:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"CgBI":
            crushed = True
        elif kind == b"IHDR" and pos + 16 <= len(data):
            return int.from_bytes(data[pos + 8:pos + 12], "big"), int.from_bytes(data[pos + 12:pos + 16], "big"), crushed
        pos += 12 + length
    return None, None, crushed
