"""`appstore-publish history [VERSION]`: what was done (step runs, RC marks, downloads, deletions), newest first."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import add_command
from publish.commands._state_cli import (
    add_json_argument,
    add_profile_argument,
    add_state_dir_argument,
    known_versions_text,
    open_store,
    parse_version_ref,
    print_json,
    table,
)
from publish.errors import InputError

if TYPE_CHECKING:
    from publish.cli import CliContext

DEFAULT_LIMIT = 50

MAX_LIMIT = 1_000_000_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "history", run)
    parser.add_argument("version", nargs="?", metavar="VERSION", help="only this version: 1.2.3 or 1.2.3(45)")
    add_profile_argument(parser, "only this publish profile (bundle ID)")
    parser.add_argument(
        "--limit", type=_limit, default=DEFAULT_LIMIT, metavar="N",
        help=f"show at most N entries (default {DEFAULT_LIMIT}; 0 for all)",
    )
    add_json_argument(parser)
    add_state_dir_argument(parser)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--limit must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("--limit must be 0 (all) or more")
    if value > MAX_LIMIT:  # SQLite's LIMIT is a 64-bit integer: a bigger one ends in OverflowError
        raise argparse.ArgumentTypeError(f"--limit must be at most {MAX_LIMIT:,} (0 shows all)")
    return value


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    store = open_store(args, ctx, required=False)
    limit = args.limit or None
    if store is None:
        if args.version:
            # No store at all: the version cannot be known.
            open_store(args, ctx, required=True)
        entries: list[dict[str, Any]] = []
    else:
        with store:
            ref = parse_version_ref(args.version) if args.version else None
            entries = store.history(
                bundle_id=args.profile,
                version=ref.version if ref else None,
                build_number=ref.build_number if ref else None,
                limit=limit,
            )
            if ref and not entries:
                ever = store.find_binaries(
                    bundle_id=args.profile, version=ref.version, build_number=ref.build_number, include_deleted=True
                )
                if not ever:
                    raise InputError(
                        f"version {ref} has no history in the state store; known versions: "
                        f"{known_versions_text(store.find_binaries(bundle_id=args.profile))}",
                        hint="pick one of the known versions (`appstore-publish versions` lists them)",
                    )
    if args.json:
        print_json(ctx, {"history": entries})
        return 0
    if not entries:
        ctx.print("No history yet.")
        return 0
    rows = []
    for entry in entries:
        what = entry["step_name"] if entry["kind"] == "step" else _EVENT_LABELS.get(entry["kind"], entry["kind"])
        duration = "" if entry["duration_s"] is None or entry["kind"] != "step" else f"{entry['duration_s']:.1f}s"
        ids = " ".join(f"{k}={v}" for k, v in sorted(entry["asc_ids"].items()))
        if entry["kind"] != "step" and entry["detail"]:
            ids = " ".join(f"{k}={v}" for k, v in sorted(entry["detail"].items()))
        rows.append(
            [
                entry["started_at"],
                f"{entry['version']} ({entry['build_number']})",
                entry["bundle_id"],
                what,
                entry["status"],
                duration,
                ids,
            ]
        )
    lines = table(rows, ["TIME", "VERSION", "PROFILE", "ACTION", "STATUS", "DURATION", "IDS / DETAIL"]).splitlines()
    out = [lines[0]]
    for line, entry in zip(lines[1:], entries, strict=False):  # a cell with a line break adds lines
        out.append(line)
        if entry["error"]:
            out.extend("    " + err for err in entry["error"].splitlines())
    ctx.print("\n".join(out))
    return 0


_EVENT_LABELS = {
    "rc": "mark-rc",
    "unrc": "unmark-rc",
    "download": "download",
    "delete": "delete (local)",
    "expire": "expire build",
}
