"""`appstore-publish info IPA`: what is inside an IPA or a macOS .pkg (App Information), without extracting it."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import add_command, local_path, output_path
from publish.errors import InputError
if TYPE_CHECKING:
    from publish.ipa import IpaInfo
    from publish.ipa.binary import BinaryInfo
    from publish.ipa.pkg_model import PkgInfo

PROFILE_TYPE_LABELS = {
    "app-store": "App Store",
    "ad-hoc": "Ad hoc",
    "development": "Development",
    "enterprise": "Enterprise (in-house)",
}


def _output_file(text: str) -> Path:
    return Path(output_path(text))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "info", run)
    parser.add_argument("ipa", metavar="IPA", type=local_path, help="path to the .ipa (or .pkg) file")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (documented by schemas/ipa-info.schema.json, for a .pkg by "
                        "schemas/pkg-info.schema.json)")
    parser.add_argument("--icon-out", metavar="FILE", type=_output_file,
                        help="write the largest app icon PNG to FILE (byte for byte: Xcode's crushed 'CgBI' PNGs stay as they are)")


def inspect_or_fail(path: str) -> BinaryInfo:
    """inspect_binary (an .ipa or a .pkg), with its IpaError turned into the CLI's InputError (exit 2)."""
    from publish.ipa import IpaError  # noqa: PLC0415 - heavy; `--help` stays fast
    from publish.ipa.binary import inspect_binary  # noqa: PLC0415

    try:
        return inspect_binary(path)
    except IpaError as exc:
        raise InputError(exc.message, hint=exc.hint) from None


def run(args: argparse.Namespace, ctx: Any) -> int:
    from publish.ipa import IpaError, extract_icon  # noqa: PLC0415 - heavy; `--help` stays fast

    from publish.ipa.pkg_model import PkgInfo  # noqa: PLC0415

    info = inspect_or_fail(args.ipa)
    if isinstance(info, PkgInfo):
        return _run_pkg(args, ctx, info)
    document = info.to_json()
    icon_line = None
    if args.icon_out is not None:
        try:
            icon = extract_icon(args.ipa, args.icon_out)
        except IpaError as exc:
            raise InputError(exc.message, hint=exc.hint) from None
        except OSError as exc:
            raise InputError(f"cannot write the icon to {args.icon_out}: {exc.strerror}.",
                             hint="Choose a writable path for --icon-out.") from None
        if icon is None:
            raise InputError(f"{args.ipa}: the app has no icon PNG to extract (no AppIcon*.png in {info.app_path}).",
                             hint="Icons compiled only into Assets.car cannot be extracted; omit --icon-out.")
        document["icon_file"] = {"path": str(args.icon_out), "source": icon.zip_path, "size": icon.size,
                                 "width": icon.width, "height": icon.height, "crushed_png": icon.crushed}
        dims = f"{icon.width}x{icon.height} " if icon.width else ""
        icon_line = f"icon written to {args.icon_out} ({dims}PNG, {icon.size} bytes, from {icon.zip_path})"
        if icon.crushed:
            icon_line += ("; it is an Xcode-optimized 'CgBI' PNG, saved as is: most viewers need it converted "
                          "first (e.g. `xcrun pngcrush -revert-iphone-optimizations`)")
    if args.json:
        ctx.print(json.dumps(document, indent=2, sort_keys=False))
        return 0
    ctx.print(format_info(info))
    if icon_line:
        ctx.print(icon_line)
    return 0


def _run_pkg(args: argparse.Namespace, ctx: Any, info: PkgInfo) -> int:
    if args.icon_out is not None:
        raise InputError(f"{args.ipa} is a macOS installer package; --icon-out extracts PNG icons from IPAs only.",
                         hint=f"Omit --icon-out; the app's icon files are {', '.join(info.icon_files) or 'none'} "
                         f"in {info.app_path}/Contents/Resources/.")
    ctx.print(json.dumps(info.to_json(), indent=2) if args.json else format_pkg_info(info))
    return 0


SIGNATURE_LABELS = {
    "mac_app_store": "Mac App Store",
    "developer_id": "Developer ID Installer (outside the Mac App Store)",
    "development": "development certificate",
    "other": "a certificate of no installer kind",
    "unsigned": "unsigned",
}


def format_pkg_info(info: PkgInfo, *, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    signature = info.signature
    kind = "product archive" if info.kind == "product_archive" else "component package"
    rows: list[tuple[str, str]] = [
        ("bundle ID", info.bundle_id),
        ("version", f"{info.version} (build {info.build_number})"),
        ("platform", f"{info.platform}  minimum OS: {info.minimum_os or '?'}  category: {info.category or 'none'}"),
        ("file", f"{info.path}  {_size(info.file_size)}, {kind}, payload {info.payload_format}"),
        ("fingerprint", info.fingerprint),
        ("app", f"{info.app_path}" + (f"  (installs to {info.installed_path})" if info.installed_path else "")),
        ("code signature", "yes" if info.has_code_signature else "no (Contents/_CodeSignature/CodeResources missing)"),
        ("encryption", {True: "uses non-exempt encryption", False: "no non-exempt encryption",
                        None: "not declared (ITSAppUsesNonExemptEncryption)"}[info.uses_non_exempt_encryption]),
        ("icons", ", ".join(info.icon_files) or "none"),
        ("installer", SIGNATURE_LABELS.get(signature.type, signature.type)
         + (f"  {signature.common_name}" if signature.common_name else "")
         + ("" if signature.not_valid_after is None else
            f"  (expires {signature.not_valid_after:%Y-%m-%d}{' EXPIRED' if signature.is_expired(now) else ''})")),
    ]
    profile = info.profile
    if profile is None:
        rows.append(("profile", "none (no Contents/embedded.provisionprofile)"))
    else:
        expires = profile.expiration_date
        state = " EXPIRED" if expires is not None and profile.is_expired(now) else ""
        rows.append(("profile", f"{profile.name}  [{profile.type}]"))
        rows.append(("", f"team {profile.team_name} ({profile.team_id}), app ID {profile.app_id}"))
        rows.append(("", f"expires {expires:%Y-%m-%d}{state}, UUID {profile.uuid}" if expires else f"UUID {profile.uuid}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{info.display_name} {info.version} ({info.build_number})", ""]
    return "\n".join(lines + [f"  {key.ljust(width)}  {value}" for key, value in rows])


def format_info(info: IpaInfo, *, now: datetime | None = None) -> str:
    from publish.ipa.model import DEVICE_FAMILY_NAMES  # noqa: PLC0415

    now = now or datetime.now(timezone.utc)
    families = ", ".join(DEVICE_FAMILY_NAMES.get(f, str(f)) for f in info.device_families) or "unspecified"
    rows: list[tuple[str, str]] = [
        ("bundle ID", info.bundle_id),
        ("version", f"{info.version} (build {info.build_number})"),
        ("platform", f"{info.platform}  devices: {families}  minimum OS: {info.minimum_os or '?'}"),
        ("file", f"{info.path}  {_size(info.file_size)}, {info.entry_count} zip entries"),
        ("fingerprint", info.fingerprint),
        ("app", info.app_path + (f"  (under top-level folder {info.top_level_folder}/)" if info.top_level_folder else "")),
        ("code signature", "yes" if info.has_code_signature else "no (_CodeSignature/CodeResources missing)"),
        ("encryption", {True: "uses non-exempt encryption", False: "no non-exempt encryption",
                        None: "not declared (ITSAppUsesNonExemptEncryption)"}[info.uses_non_exempt_encryption]),
        ("icons", (", ".join(info.icon_names) or "none")
         + (f"  (largest: {info.icon_path.rsplit('/', 1)[-1]})" if info.icon_path else "")),
    ]
    profile = info.profile
    if profile is None:
        rows.append(("profile", "none (no embedded.mobileprovision)"))
    else:
        expires = profile.expiration_date
        state = "" if expires is None else (" EXPIRED" if profile.is_expired(now) else "")
        rows.append(("profile", f"{profile.name}  [{PROFILE_TYPE_LABELS.get(profile.type, profile.type)}]"))
        rows.append(("", f"team {profile.team_name} ({profile.team_id}), app ID {profile.app_id}"))
        rows.append(("", f"expires {expires:%Y-%m-%d}{state}, UUID {profile.uuid}" if expires else f"UUID {profile.uuid}"))
        if profile.devices_count:
            rows.append(("", f"{profile.devices_count} provisioned devices"))
        for cert in profile.certificates:
            rows.append(("certificate", f"{cert.common_name}  (expires {cert.not_valid_after:%Y-%m-%d})"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{info.display_name} {info.version} ({info.build_number})", ""]
    lines += [f"  {key.ljust(width)}  {value}" for key, value in rows]
    if info.extensions:
        lines += ["", "  nested bundles:"]
        table = [(b.kind, b.name, b.bundle_id or "-",
                  f"{b.version} ({b.build_number})" if b.has_info_plist and b.version else
                  ("no Info.plist" if not b.has_info_plist else "-"))
                 for b in info.extensions]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        for row in table:
            lines.append("    " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    return "\n".join(lines)


def _size(size: int) -> str:
    scaled: float = size
    for unit in ("bytes", "KB", "MB", "GB"):
        if scaled < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{scaled:.1f} {unit}"
        scaled /= 1000
    return str(size)
