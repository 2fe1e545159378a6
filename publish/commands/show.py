"""`appstore-publish show VERSION`: everything known about one binary (Appcircle's Details / App Information)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import add_command
from publish.commands._state_cli import (
    add_json_argument,
    add_profile_argument,
    add_state_dir_argument,
    label,
    latest_state,
    open_store,
    print_json,
    resolve_binary,
)

if TYPE_CHECKING:
    from publish.cli import CliContext
    from publish.state import StateStore

RECENT_HISTORY = 10


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "show", run)
    parser.add_argument(
        "version", metavar="VERSION", help="1.2.3 (its latest build), or 1.2.3(45), 1.2.3+45, '1.2.3 (45)'"
    )
    add_profile_argument(parser)
    add_json_argument(parser)
    add_state_dir_argument(parser)


def describe(store: StateStore, binary: dict[str, Any]) -> dict[str, Any]:
    kept = None
    if binary["kept_sha256"]:
        path = store.artifact_path(binary["fingerprint"])
        kept = {"sha256": binary["kept_sha256"], "path": str(path), "present": bool(path and path.is_file())}
    return {
        "bundle_id": binary["bundle_id"],
        "version": binary["version"],
        "build_number": binary["build_number"],
        "display_name": binary["display_name"],
        "icon_name": binary["icon_name"],
        "fingerprint": binary["fingerprint"],
        "file_size": binary["file_size"],
        "first_seen": binary["first_seen"],
        "last_seen": binary["last_seen"],
        "state": latest_state(store, binary),
        "rc": binary["rc"],
        "rc_note": binary["rc_note"],
        "kept": kept,
        "remote": binary["remote"],
        "inspection": binary["info"],
        "history": store.history(fingerprint=binary["fingerprint"], limit=RECENT_HISTORY),
    }


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    with open_store(args, ctx, required=True) as store:
        binary = resolve_binary(store, args.version, args.profile)
        document = describe(store, binary)
    if args.json:
        print_json(ctx, document)
        return 0
    ctx.print(_text(document))
    return 0


def _text(doc: dict[str, Any]) -> str:
    name = doc["display_name"] or doc["bundle_id"]
    lines = [f"{name} {label(doc)}  [{doc['bundle_id']}]", ""]
    rc = "yes" + (f" ({doc['rc_note']})" if doc["rc_note"] else "") if doc["rc"] else "no"
    if doc["kept"]:
        kept = f"sha256 {doc['kept']['sha256']}  {doc['kept']['path']}"
        if not doc["kept"]["present"]:
            kept += "  (MISSING: the artifacts/ folder was not restored)"
    else:
        kept = "not kept (set keep_binaries: true in the profile to keep binaries)"
    lines += _pairs(
        [
            ("State", doc["state"]),
            ("Release candidate", rc),
            ("Kept binary", kept),
            ("Fingerprint", doc["fingerprint"]),
            ("File size", _size(doc["file_size"])),
            ("Icon", doc["icon_name"]),
            ("First seen", doc["first_seen"]),
            ("Last seen", doc["last_seen"]),
        ]
    )
    lines += ["", "App Store Connect:"]
    lines += _pairs(sorted(doc["remote"].items())) if doc["remote"] else ["  nothing recorded yet"]
    lines += ["", "Inspection (--json for all of it):"]
    lines += _pairs(_inspection_summary(doc["inspection"] or {}))
    if doc["history"]:
        lines += ["", f"Recent history (newest first; `appstore-publish history '{label(doc)}'` for all):"]
        for entry in doc["history"]:
            what = entry["step_name"] or entry["kind"]
            took = f" {entry['duration_s']:.1f}s" if entry["kind"] == "step" and entry["duration_s"] is not None else ""
            lines.append(f"  {entry['started_at']}  {what}  {entry['status']}{took}")
            if entry["error"]:
                lines.append(f"      {entry['error'].splitlines()[0]}")
    return "\n".join(lines)


def _pairs(items: Iterable[tuple[str, Any]]) -> list[str]:
    items = [(k, v) for k, v in items if v not in (None, "", [], {})]
    width = max((len(k) for k, _ in items), default=0)
    return [f"  {k.ljust(width)}  {_value(v)}" for k, v in items]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return str(value)


_DEVICE_FAMILIES = {1: "iPhone", 2: "iPad", 3: "Apple TV", 4: "Apple Watch", 6: "Mac", 7: "Apple Vision"}


def _inspection_summary(info: dict[str, Any]) -> list[tuple[str, Any]]:
    """What a release manager checks at a glance; the whole inspection is in --json."""
    profile = info.get("profile") if isinstance(info.get("profile"), dict) else {}
    signing = None
    if profile:
        signing = " ".join(
            str(part)
            for part in (
                profile.get("type"),
                f"profile {profile['name']!r}" if profile.get("name") else None,
                f"team {profile['team_id']}" if profile.get("team_id") else None,
                f"expires {profile['expiration_date']}" if profile.get("expiration_date") else None,
            )
            if part
        )
    elif "profile" in info:
        signing = "no embedded provisioning profile"
    extensions = [
        f"{ext.get('name') or ext.get('bundle_id')} ({ext.get('bundle_id')})"
        for ext in info.get("extensions") or []
        if isinstance(ext, dict)
    ]
    encryption = info.get("uses_non_exempt_encryption")
    return [
        ("Executable", info.get("executable")),
        ("Platform", info.get("platform")),
        ("Minimum OS", info.get("minimum_os")),
        ("Device families", [_DEVICE_FAMILIES.get(f, f) for f in info.get("device_families") or []]),
        ("Signing", signing),
        ("Code signature", info.get("has_code_signature")),
        (
            "Non-exempt encryption",
            "not declared (ITSAppUsesNonExemptEncryption missing)"
            if encryption is None and "uses_non_exempt_encryption" in info
            else encryption,
        ),
        ("Icons", info.get("icon_names")),
        ("Extensions", extensions),
    ]


def _size(size: int | None) -> str | None:
    if size is None:
        return None
    # Powers of 1024, so the binary units (as the upload's progress prints them: "600.0 KiB" for 614400 bytes).
    scaled: float = size
    for unit in ("B", "KiB", "MiB", "GiB"):
        if scaled < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{scaled:.1f} {unit}"
        scaled /= 1024
    return None
