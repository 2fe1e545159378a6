"""`appstore-publish profiles FLOW`: the flow's publish profiles, named and iconed from their latest binary."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import add_command, local_path
from publish.commands._state_cli import (
    add_json_argument,
    add_state_dir_argument,
    binary_order,
    latest_state,
    open_store,
    print_json,
    state_dir_for,
    table,
)

if TYPE_CHECKING:
    from publish.cli import CliContext
    from publish.spec import ProfileSpec
    from publish.state import StateStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "profiles", run)
    parser.add_argument("flow", metavar="FLOW", type=local_path, help="the publish flow file (YAML)")
    add_json_argument(parser)
    add_state_dir_argument(parser)


def describe(store: StateStore | None, profile: ProfileSpec) -> dict[str, Any]:
    binaries = store.find_binaries(bundle_id=profile.bundle_id) if store is not None else []
    last_seen = binaries[0] if binaries else None  # find_binaries: most recently seen first
    latest = max(binaries, key=binary_order) if binaries else None
    return {
        "bundle_id": profile.bundle_id,
        "name": profile.name,
        "app_name": last_seen["display_name"] if last_seen else None,
        "icon_name": last_seen["icon_name"] if last_seen else None,
        "keep_binaries": bool(profile.keep_binaries),
        "steps": [step.step for step in profile.flow],
        "versions": len(binaries),
        "latest": None
        if latest is None or store is None  # store is None only when there are no binaries (said for mypy)
        else {
            "version": latest["version"],
            "build_number": latest["build_number"],
            "state": latest_state(store, latest),
            "rc": latest["rc"],
            "last_seen": latest["last_seen"],
        },
    }


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    from publish.spec import load_flow  # noqa: PLC0415 - heavy; `--help` stays fast

    flow = load_flow(args.flow)
    store = open_store(args, ctx, flow, required=False)
    try:
        profiles = [describe(store, profile) for profile in flow.profiles]
    finally:
        if store is not None:
            store.close()
    if args.json:
        print_json(
            ctx, {"flow": str(args.flow), "state_dir": str(state_dir_for(args, ctx, flow)), "profiles": profiles}
        )
        return 0
    rows = []
    for p in profiles:
        latest = p["latest"]
        rows.append(
            [
                p["bundle_id"],
                p["name"] or "",
                p["app_name"] or "-",
                p["icon_name"] or "-",
                p["versions"],
                f"{latest['version']} ({latest['build_number']})" + (" RC" if latest["rc"] else "") if latest else "-",
                latest["state"] if latest else "no binary seen yet",
                " > ".join(p["steps"]),
            ]
        )
    ctx.print(table(rows, ["PROFILE", "NAME", "APP NAME", "ICON", "VERSIONS", "LATEST", "STATE", "FLOW"]))
    return 0
