"""Inspect a macOS installer package (.pkg) without extracting it: package kind, the app's Info.plist and
embedded provisioning profile from the component's Payload, and the installer signature.

Two layouts occur. A product archive (what productbuild and Xcode's Mac App Store export write, and the only
kind App Store Connect takes) has a Distribution file at the top of the xar and one directory per component
package ("Example.pkg/Bom", ".../PackageInfo", ".../Payload"). A flat component package (pkgbuild) has
Bom, PackageInfo and Payload at the top. Either way the app is found by streaming each Payload's cpio
archive once: the top-level "<Name>.app/" in it is the app, and only its Contents/Info.plist and
Contents/embedded.provisionprofile are kept (each with a byte limit). Both layouts are inspected; the
pre-flight (publish/ipa/pkg_preflight.py) says which one App Store Connect refuses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from publish.ipa.regular_file import open_regular_file
from publish.ipa.errors import IpaError
from publish.ipa.inspect import load_plist
from publish.ipa.pkg_model import (COMPONENT_PACKAGE, MAC_PROFILE_APP_STORE, MAC_PROFILE_DEVELOPER_ID,
                                   MAC_PROFILE_DEVELOPMENT, PRODUCT_ARCHIVE, PkgApp, PkgInfo)
from publish.ipa.pkg_payload import MAX_EXPANDED_PAYLOAD_BYTES, CpioEntry, open_payload, walk_cpio
from publish.ipa.pkg_signature import installer_signature
from publish.ipa.profile import ProvisioningProfile, parse_provisioning_profile
from publish.ipa.safe_xml import XmlNode, parse_xml
from publish.ipa.xar import MAGIC, XarArchive

MAX_INFO_PLIST_BYTES = 2 * 1024 * 1024
MAX_PROFILE_BYTES = 1024 * 1024
MAX_XML_MEMBER_BYTES = 4 * 1024 * 1024  # Distribution, PackageInfo
MAX_APPS = 32  # top-level app bundles remembered per package; more is refused as hostile

_BUILD_HINT = ("Build it with Xcode (Product > Archive > Distribute App > App Store Connect > Export) or "
               "`productbuild --component Example.app /Applications --sign \"3rd Party Mac Developer Installer: "
               "<Team> (<TEAMID>)\" Example.pkg`.")
_DEVELOPMENT_CERTIFICATES = ("Apple Development:", "Mac Developer:")


def looks_like_pkg(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts like a xar archive: how a caller tells a .pkg from an .ipa (a zip) by content,
    whatever its name. False for anything unreadable; inspecting it then says why."""
    try:
        with open_regular_file(os.fspath(path)) as file:
            return file.read(4) == MAGIC
    except OSError:
        return False


def inspect_pkg(path: str | os.PathLike[str], *, max_expanded_payload: int = MAX_EXPANDED_PAYLOAD_BYTES) -> PkgInfo:
    """Inspect the .pkg at `path`. Raises IpaError (finding ids "pkg.*", "plist.*") when it cannot be read."""
    with XarArchive(path) as archive:
        return inspect_archive(archive, strict=True, max_expanded_payload=max_expanded_payload)


def inspect_archive(archive: XarArchive, *, strict: bool,
                    max_expanded_payload: int = MAX_EXPANDED_PAYLOAD_BYTES) -> PkgInfo:
    """With strict=False, missing Info.plist keys leave empty strings instead of raising (pre-flight lists them)."""
    kind, components = _components(archive)
    product_id, product_version, distribution_min_os = _distribution(archive) if kind == PRODUCT_ARCHIVE else (None,) * 3
    apps: list[PkgApp] = []
    formats: list[str] = []
    entry_count = 0
    for component in components:
        payload_format, count, found = _scan_payload(archive, component, max_expanded_payload)
        formats.append(payload_format)
        entry_count += count
        apps += found
    if not apps:
        where = ", ".join(_payload_name(c) for c in components)
        raise IpaError(f"{archive.path}: no app bundle (<Name>.app/Contents/) in {where}.", finding_id="pkg.no_app",
                       hint="The package installs no app; package the .app itself. " + _BUILD_HINT)
    if len(apps) > 1:
        raise IpaError(
            f"{archive.path} installs {len(apps)} apps ({', '.join(a.path for a in apps)}); a Mac App Store package "
            f"must hold exactly one.", finding_id="pkg.several_apps",
            hint="Package only the app (helpers belong inside it, e.g. in Contents/Library/LoginItems/). " + _BUILD_HINT)
    app = apps[0]
    if app.problems and not app.info_plist:
        finding_id, message, hint = app.problems[0]
        raise IpaError(message, finding_id=finding_id, hint=hint)
    info = app.info_plist
    if strict:
        missing = [k for k in ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion")
                   if not _str(info.get(k)) or not info[k].strip()]
        if missing:
            raise IpaError(f"{app.path}/Contents/Info.plist lacks {', '.join(missing)}.", finding_id="plist.missing_key",
                           hint="Set them in the target's build settings (Version, Build, Bundle Identifier) and archive again.")
    executable = _str(info.get("CFBundleExecutable"))
    encryption = info.get("ITSAppUsesNonExemptEncryption")
    install_location = _install_location(archive, app.component)
    platforms = info.get("CFBundleSupportedPlatforms")
    return PkgInfo(
        path=archive.path,
        file_size=archive.file_size,
        fingerprint=archive.fingerprint,
        kind=kind,
        bundle_id=_str(info.get("CFBundleIdentifier")) or "",
        version=_str(info.get("CFBundleShortVersionString")) or "",
        build_number=_str(info.get("CFBundleVersion")) or "",
        display_name=_str(info.get("CFBundleDisplayName")) or _str(info.get("CFBundleName"))
        or app.path.rsplit("/", 1)[-1].removesuffix(".app"),
        executable=executable,
        minimum_os=_str(info.get("LSMinimumSystemVersion")) or distribution_min_os,
        platform="MAC_OS",
        category=_str(info.get("LSApplicationCategoryType")),
        uses_non_exempt_encryption=encryption if isinstance(encryption, bool) else None,
        supported_platforms=[p for p in platforms if isinstance(p, str)] if isinstance(platforms, list) else [],
        app_path=app.path,
        component=app.component,
        install_location=install_location,
        product_id=product_id,
        product_version=product_version,
        payload_format="+".join(dict.fromkeys(formats)),
        payload_entry_count=entry_count,
        apps=[a.path for a in apps],
        has_code_signature=app.has_code_signature,
        has_executable=bool(executable) and executable in app.executables,
        installed_path=_installed_path(install_location, app.path),
        icon_files=sorted(app.icons),
        profile=app.profile,
        signature=installer_signature(archive),
        app=app,
    )


# -- package layout ---------------------------------------------------------------------------------


def _payload_name(component: str) -> str:
    return f"{component}/Payload" if component else "Payload"


def _components(archive: XarArchive) -> tuple[str, list[str]]:
    if "Distribution" in archive.entries:
        components = sorted(path for path, entry in archive.entries.items()
                            if "/" not in path and entry.type == "directory" and f"{path}/Payload" in archive.entries)
        if not components:
            raise IpaError(f"{archive.path} is a product archive whose Distribution lists no component package with a "
                           f"Payload, so it installs nothing.", finding_id="pkg.no_payload", hint=_BUILD_HINT)
        return PRODUCT_ARCHIVE, components
    if "Payload" in archive.entries:
        return COMPONENT_PACKAGE, [""]
    raise IpaError(f"{archive.path} is a xar archive but not an installer package: it has neither a Distribution "
                   f"nor a Payload.", finding_id="pkg.no_payload", hint=_BUILD_HINT)


def _xml_member(archive: XarArchive, name: str) -> XmlNode | None:
    entry = archive.entries.get(name)
    if entry is None or entry.type != "file":
        return None
    data = archive.read(name, limit=MAX_XML_MEMBER_BYTES, what=name)
    return parse_xml(data, source=f"{archive.path}: {name}", finding_id="pkg.corrupt", hint=_BUILD_HINT,
                     max_elements=20_000)


def _distribution(archive: XarArchive) -> tuple[str | None, str | None, str | None]:
    root = _xml_member(archive, "Distribution")
    if root is None:
        return None, None, None
    product = root.find("product")
    os_version = next(root.iter("os-version"), None)
    return (product.attrs.get("id") if product is not None else None,
            product.attrs.get("version") if product is not None else None,
            os_version.attrs.get("min") if os_version is not None else None)


def _install_location(archive: XarArchive, component: str) -> str | None:
    root = _xml_member(archive, f"{component}/PackageInfo" if component else "PackageInfo")
    return root.attrs.get("install-location") if root is not None and root.tag == "pkg-info" else None


# -- payload ----------------------------------------------------------------------------------------


@dataclass
class _AppFiles:
    info_plist: bytes | None = None
    profile: bytes | None = None
    has_info_plist: bool = False
    has_code_signature: bool = False
    executables: set[str] = field(default_factory=set)
    icons: set[str] = field(default_factory=set)


def _app_root(path: str) -> tuple[str, str] | None:
    """("Applications/Example.app", "Contents/Info.plist") for a path inside (or at) a top-level app bundle.

    Runs once per payload entry, so it avoids splitting the path: the first "<name>.app" component is the app.
    """
    start = 0
    while True:
        index = path.find(".app", start)
        if index < 0:
            return None
        end = index + 4
        if end == len(path) or path[end] == "/":
            name_start = path.rfind("/", 0, index) + 1
            if end - name_start > 4:  # a name, not ".app" alone
                return path[:end], path[end + 1:]
        start = end


_INFO_PLIST = "Contents/Info.plist"
_PROFILE = "Contents/embedded.provisionprofile"
_CODE_RESOURCES = "Contents/_CodeSignature/CodeResources"
_EXECUTABLES = "Contents/MacOS/"
_RESOURCES = "Contents/Resources/"


def _note_file(files: _AppFiles, rest: str, entry_type: str) -> None:
    """What the presence of a file inside an app bundle tells, without reading it: signature, executables, icons."""
    if rest == _CODE_RESOURCES:
        files.has_code_signature = True
    elif rest.startswith(_EXECUTABLES) and "/" not in rest[len(_EXECUTABLES):] and entry_type in ("file", "symlink"):
        files.executables.add(rest[len(_EXECUTABLES):])
    elif rest.startswith(_RESOURCES) and (rest.endswith(".icns") or rest.endswith("/Assets.car")) \
            and "/" not in rest[len(_RESOURCES):] and len(files.icons) < 64:
        files.icons.add(rest[len(_RESOURCES):])


def _scan_payload(archive: XarArchive, component: str, max_expanded: int) -> tuple[str, int, list[PkgApp]]:
    name = _payload_name(component)
    source = f"{archive.path}: {name}"
    chunks = archive.stream(name, limit=max_expanded, what="the Payload")
    compression, cpio = open_payload(chunks, source=source, max_expanded=max_expanded)
    cpio_format = "odc" if cpio.peek(6) == b"070707" else "newc"
    found: dict[str, _AppFiles] = {}

    def wanted(entry: CpioEntry) -> int | None:
        located = _app_root(entry.path)
        if located is None:
            return None
        root, rest = located
        if not rest and entry.type != "directory":
            return None
        files = found.get(root)
        if files is None:
            if len(found) >= MAX_APPS:
                raise IpaError(f"{source} holds more than {MAX_APPS} app bundles; refused as hostile.",
                               finding_id="pkg.several_apps", hint=_BUILD_HINT)
            files = found[root] = _AppFiles()
        if rest == _INFO_PLIST:
            files.has_info_plist = True
            return MAX_INFO_PLIST_BYTES
        if rest == _PROFILE:
            return MAX_PROFILE_BYTES
        _note_file(files, rest, entry.type)
        return None

    count = 0
    for entry, data in walk_cpio(cpio, wanted):
        count += 1
        if data is not None:
            root, rest = _app_root(entry.path) or ("", "")
            files = found[root]
            if (files.info_plist if rest == _INFO_PLIST else files.profile) is not None:
                # Two copies of one file: which one would be installed is not for an inspector to guess.
                raise IpaError(f"{source} holds {entry.path} twice; refused as ambiguous.",
                               finding_id="pkg.corrupt", hint=_BUILD_HINT)
            if rest == _INFO_PLIST:
                files.info_plist = data
            else:
                files.profile = data
    for _rest in cpio.rest():
        pass  # to the end: what follows the cpio trailer still has to pass gzip's CRC and the xar checksum
    apps = [_app(component, root, files, source) for root, files in sorted(found.items())]
    return f"{compression}/{cpio_format}", count, apps


def _app(component: str, root: str, files: _AppFiles, source: str) -> PkgApp:
    problems: list[tuple[str, str, str | None]] = []
    info: dict[str, Any] = {}
    plist_name = f"{root}/Contents/Info.plist"
    if files.info_plist is None:
        problems.append(("plist.missing", f"{plist_name} is missing from {source}.",
                         "A Mac app needs Contents/Info.plist; check the target's INFOPLIST_FILE build setting and "
                         "archive again."))
    else:
        try:
            info = load_plist(files.info_plist, plist_name)
        except IpaError as exc:
            problems.append((exc.finding_id, exc.message, exc.hint))
    profile = None
    if files.profile is not None:
        try:
            profile = mac_profile(parse_provisioning_profile(files.profile,
                                                             source=f"{root}/Contents/embedded.provisionprofile"))
        except IpaError as exc:
            problems.append((exc.finding_id, exc.message, exc.hint))
    return PkgApp(component=component, path=root, info_plist=info, profile=profile, has_info_plist=files.has_info_plist,
                  has_code_signature=files.has_code_signature, executables=frozenset(files.executables),
                  icons=frozenset(files.icons),
                  problems=problems)


def mac_profile(profile: ProvisioningProfile) -> ProvisioningProfile:
    """A profile read with macOS's conventions: the app ID and get-task-allow under their com.apple.* keys,
    and the kinds a Mac profile comes in (App Store, development, Developer ID: the one for all devices)."""
    entitlements = profile.entitlements
    identifier = profile.application_identifier or _str(entitlements.get("com.apple.application-identifier"))
    app_id = profile.app_id
    if profile.application_identifier is None and identifier is not None:
        team, dot, rest = identifier.partition(".")
        app_id = rest if dot and (team == profile.team_id or len(team) == 10) else identifier
    get_task_allow = profile.get_task_allow or entitlements.get("com.apple.security.get-task-allow") is True
    development_certificate = any((c.common_name or "").startswith(_DEVELOPMENT_CERTIFICATES)
                                  for c in profile.certificates)
    if profile.provisions_all_devices:
        kind = MAC_PROFILE_DEVELOPER_ID
    elif get_task_allow or profile.devices_count or development_certificate:
        kind = MAC_PROFILE_DEVELOPMENT  # macOS has no ad hoc distribution: a device list means development
    else:
        kind = MAC_PROFILE_APP_STORE
    return replace(profile, application_identifier=identifier, app_id=app_id, get_task_allow=get_task_allow, type=kind)


def _installed_path(install_location: str | None, app_path: str) -> str | None:
    """Where Installer puts the app: the component's install-location joined with the payload path."""
    if install_location is None:
        return None
    return "/" + "/".join(p for p in f"{install_location}/{app_path}".split("/") if p and p != ".")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


__all__ = ["inspect_archive", "inspect_pkg", "looks_like_pkg", "mac_profile"]
