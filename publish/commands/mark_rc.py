"""`appstore-publish mark-rc VERSION` / `unmark-rc VERSION`: the release-candidate flag.

`send_to_app_store` with `require_rc: true` refuses a version that is not marked, so a release manager's
mark is what lets a flow submit it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from publish.commands._arguments import add_command
from publish.commands._state_cli import (
    add_profile_argument,
    add_state_dir_argument,
    label,
    open_store,
    resolve_binary,
)

if TYPE_CHECKING:
    from publish.cli import CliContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mark = add_command(subparsers, "mark-rc", run_mark)
    mark.add_argument("version", metavar="VERSION", help="1.2.3 (its latest build) or 1.2.3(45)")
    mark.add_argument("--note", help="why this build is the candidate (shown by show and history)")
    add_profile_argument(mark)
    add_state_dir_argument(mark)

    unmark = add_command(subparsers, "unmark-rc", run_unmark)
    unmark.add_argument("version", metavar="VERSION", help="1.2.3 (its latest build) or 1.2.3(45)")
    add_profile_argument(unmark)
    add_state_dir_argument(unmark)


def run_mark(args: argparse.Namespace, ctx: CliContext) -> int:
    return _set(args, ctx, True)


def run_unmark(args: argparse.Namespace, ctx: CliContext) -> int:
    return _set(args, ctx, False)


def _set(args: argparse.Namespace, ctx: CliContext, flag: bool) -> int:
    with open_store(args, ctx, required=True) as store:
        binary = resolve_binary(store, args.version, args.profile)
        store.set_rc(binary["fingerprint"], flag, note=getattr(args, "note", None))
    name = binary["display_name"] or binary["bundle_id"]
    if flag:
        note = f" ({args.note})" if args.note else ""
        ctx.print(f"Marked {name} {label(binary)} [{binary['bundle_id']}] as release candidate{note}.")
    elif binary["rc"]:
        ctx.print(f"Removed the release-candidate mark from {name} {label(binary)} [{binary['bundle_id']}].")
    else:
        ctx.print(f"{name} {label(binary)} [{binary['bundle_id']}] was not marked as release candidate; it still is not.")
    return 0
