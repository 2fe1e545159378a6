"""`appstore-publish delete VERSION` / `delete --profile BUNDLE_ID`: forget versions in the local state.

Like Appcircle's Delete, this never removes anything from App Store Connect (Apple offers no way to delete a
build). `--expire-build` additionally expires the build in TestFlight, so testers can no longer install it.
The user types the version (or bundle ID) again to confirm, unless `--yes`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import add_api_arguments, add_command
from publish.commands._state_cli import (
    add_state_dir_argument,
    binary_order,
    label,
    open_store,
    parse_version_ref,
    resolve_binary,
)
from publish.errors import InputError, PublishError

if TYPE_CHECKING:
    from publish.cli import CliContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "delete", run)
    parser.add_argument("version", nargs="?", metavar="VERSION", help="1.2.3 (its latest build) or 1.2.3(45)")
    parser.add_argument("--profile", metavar="BUNDLE_ID", help="the profile; alone, delete all its versions")
    parser.add_argument("--yes", action="store_true", help="do not ask to type the version again (for CI)")
    parser.add_argument(
        "--expire-build",
        action="store_true",
        help="also expire the build in TestFlight (the build's expired attribute); needs an API key",
    )
    add_api_arguments(parser, flow_help="the flow file: its API keys and state_dir")
    add_state_dir_argument(parser)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    if not args.version and not args.profile:
        raise InputError(
            "delete needs a VERSION, or --profile BUNDLE_ID to delete every version of a profile",
            hint="e.g. `appstore-publish delete '1.2.3 (45)'` or `appstore-publish delete --profile com.example.app`",
        )
    flow = None
    if args.flow:
        from publish.commands._remote import load_flow_file

        flow = load_flow_file(args.flow)
    with open_store(args, ctx, flow, required=True) as store:
        if args.version:
            targets = [resolve_binary(store, args.version, args.profile)]
            confirm_with = args.version
            what = f"{targets[0]['bundle_id']} {label(targets[0])}"
        else:
            targets = sorted(store.find_binaries(bundle_id=args.profile), key=binary_order, reverse=True)
            if not targets:
                raise InputError(
                    f"the state store has no versions of {args.profile}",
                    hint="`appstore-publish versions` lists the profiles and versions it knows",
                )
            confirm_with = args.profile
            what = f"all {len(targets)} version(s) of {args.profile}: " + ", ".join(label(b) for b in targets)

        if not args.yes:
            _confirm(ctx, what, confirm_with, targets, by_version=bool(args.version))

        client = None
        build_ids: dict[str, str] = {}
        if args.expire_build:
            # Resolve every build before changing anything, so a missing one stops us with nothing done.
            from publish.commands._builds import find_build_ids
            from publish.commands._remote import connect

            client = connect(args, ctx, flow, targets[0]["bundle_id"])
            build_ids = find_build_ids(client, targets)

        done: list[str] = []
        for binary in targets:
            name = f"{binary['bundle_id']} {label(binary)}"
            try:
                if client is not None:
                    build_id = build_ids[binary["fingerprint"]]
                    client.update_build(build_id, expired=True)
                    store.record_event(kind="expire", fingerprint=binary["fingerprint"], detail={"build_id": build_id})
                    ctx.print(f"Expired build {build_id} ({name}) in TestFlight: testers can no longer install it.")
                kept = bool(binary["kept_sha256"])
                store.delete_binary(binary["fingerprint"])
            except PublishError as exc:
                if done:
                    exc.message += f" (already deleted before this failure: {', '.join(done)})"
                raise
            done.append(name)
            ctx.print(f"Deleted {name} from the local state{' and its kept binary' if kept else ''}.")
    ctx.print(
        "Nothing was removed from App Store Connect: "
        + (
            "the expired build(s) stay listed there."
            if args.expire_build
            else "the build(s) stay in TestFlight and the App Store (use --expire-build to expire them in TestFlight)."
        )
    )
    return 0


def _confirm(
    ctx: CliContext, what: str, typed_argument: str, targets: list[dict[str, Any]], *, by_version: bool
) -> None:
    prompt_target = label(targets[0]) if by_version else typed_argument
    ctx.stderr.write(f"This removes {what} from the local state directory.\n")
    ctx.stderr.write(f"Type {prompt_target!r} to confirm: ")
    ctx.stderr.flush()
    answer = ctx.stdin.readline() if ctx.stdin is not None else ""
    if not answer:
        raise InputError(
            "delete needs a confirmation and none could be read (standard input is not interactive); nothing was "
            "deleted",
            hint="pass --yes to delete without typing the version again",
        )
    typed = answer.strip()
    if typed == typed_argument or (by_version and _same_version(typed, targets[0])):
        return
    raise InputError(
        f"the confirmation {typed!r} does not match {prompt_target!r}; nothing was deleted",
        hint=f"type {prompt_target!r} exactly, or pass --yes",
    )


def _same_version(typed: str, binary: dict[str, Any]) -> bool:
    try:
        ref = parse_version_ref(typed)
    except InputError:
        return False
    return ref.version == binary["version"] and ref.build_number in (None, binary["build_number"])
