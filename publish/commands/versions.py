"""`appstore-publish versions`: the versions this tool has handled and, with --remote, App Store Connect's builds."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import add_api_arguments, add_command
from publish.commands._state_cli import (
    add_json_argument,
    add_state_dir_argument,
    binary_order,
    latest_state,
    open_store,
    ordering_key,
    print_json,
    state_dir_for,
    table,
)

if TYPE_CHECKING:
    from publish.cli import CliContext
    from publish.state import StateStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "versions", run)
    parser.add_argument("--profile", metavar="BUNDLE_ID", help="only this publish profile (bundle ID)")
    parser.add_argument(
        "--remote", action="store_true", help="also read the builds from App Store Connect (needs an API key)"
    )
    add_api_arguments(parser, flow_help="the flow file: its profiles, API keys and state_dir")
    add_json_argument(parser)
    add_state_dir_argument(parser)


def local_row(store: StateStore, binary: dict[str, Any]) -> dict[str, Any]:
    return {
        "bundle_id": binary["bundle_id"],
        "version": binary["version"],
        "build_number": binary["build_number"],
        "display_name": binary["display_name"],
        "fingerprint": binary["fingerprint"],
        "local": True,
        "rc": binary["rc"],
        "rc_note": binary["rc_note"],
        "kept": bool(binary["kept_sha256"]),
        "first_seen": binary["first_seen"],
        "last_seen": binary["last_seen"],
        "state": latest_state(store, binary),
        "recorded_remote": binary["remote"],
        "remote": None,
    }


def remote_only_row(bundle_id: str, build: dict[str, Any]) -> dict[str, Any]:
    return {
        "bundle_id": bundle_id,
        "version": build["version"] or "?",
        "build_number": build["build_number"] or "?",
        "display_name": None,
        "fingerprint": None,
        "local": False,
        "rc": False,
        "rc_note": None,
        "kept": False,
        "first_seen": None,
        "last_seen": None,
        "state": None,
        "recorded_remote": {},
        "remote": {k: v for k, v in build.items() if k not in ("version", "build_number")},
    }


def merge(rows: list[dict[str, Any]], bundle_id: str, builds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach each App Store Connect build to the local row it is (by build id, else version and build number)."""
    mine = [r for r in rows if r["bundle_id"] == bundle_id]
    by_build_id = {r["recorded_remote"].get("build_id"): r for r in mine if r["recorded_remote"].get("build_id")}
    by_numbers = {(r["version"], r["build_number"]): r for r in mine}
    extra = []
    for build in builds:
        row = by_build_id.get(build["build_id"]) or by_numbers.get((build["version"], build["build_number"]))
        if row is not None and row["remote"] is None:
            row["remote"] = {k: v for k, v in build.items() if k not in ("version", "build_number")}
        else:
            extra.append(remote_only_row(bundle_id, build))
    return rows + extra


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        rows,
        key=lambda r: (r["bundle_id"], ordering_key(r["version"]), ordering_key(r["build_number"])),
        reverse=True,
    )


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    flow = None
    if args.flow:
        from publish.commands._remote import load_flow_file

        flow = load_flow_file(args.flow)
    store = open_store(args, ctx, flow, required=False)
    rows: list[dict[str, Any]] = []
    if store is not None:
        with store:
            binaries = sorted(store.find_binaries(bundle_id=args.profile), key=binary_order, reverse=True)
            rows = [local_row(store, b) for b in binaries]
    warnings: list[str] = []
    if args.remote:
        from publish.commands._remote import remote_builds_by_bundle

        for bundle_id, builds in remote_builds_by_bundle(args, ctx, flow, rows, warnings).items():
            rows = merge(rows, bundle_id, builds)
    rows = sort_rows(rows)
    for warning in warnings:
        ctx.error(f"warning: {warning}")
    if args.json:
        document: dict[str, Any] = {
            "state_dir": str(state_dir_for(args, ctx, flow)),
            "remote_checked": bool(args.remote),
            "versions": rows,
        }
        if warnings:
            document["warnings"] = warnings
        print_json(ctx, document)
        return 0
    if not rows:
        ctx.print(f"No versions in {state_dir_for(args, ctx, flow)} yet.")
        return 0
    ctx.print(_text(rows, bool(args.remote)))
    return 0


def _text(rows: list[dict[str, Any]], remote: bool) -> str:
    headers = ["PROFILE", "VERSION", "BUILD", "RC", "KEPT", "STATE"]
    if remote:
        headers += ["UPLOADED", "PROCESSING", "TESTFLIGHT (INT/EXT)", "APP STORE", "EXPIRED", "KNOWN"]
    table_rows = []
    for row in rows:
        line = [
            row["bundle_id"],
            row["version"],
            row["build_number"],
            "RC" if row["rc"] else "",
            "yes" if row["kept"] else "",
            row["state"] or "",
        ]
        if remote:
            build = row["remote"] or {}
            testflight = "/".join(
                s or "-" for s in (build.get("testflight_internal_state"), build.get("testflight_external_state"))
            )
            line += [
                (build.get("uploaded_date") or "")[:16].replace("T", " "),
                build.get("processing_state") or "",
                testflight if build else "",
                build.get("app_store_version_state") or "",
                _yes_no(build.get("expired")),
                "both" if row["local"] and build else ("local only" if row["local"] else "App Store Connect only"),
            ]
        table_rows.append(line)
    return table(table_rows, headers)


def _yes_no(flag: object) -> str:
    """A true/false answer of App Store Connect as a table cell; empty where it gave none."""
    return {True: "yes", False: "no"}.get(flag, "") if isinstance(flag, bool) else ""
