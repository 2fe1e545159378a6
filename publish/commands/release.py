"""`appstore-publish release BUNDLE_ID VERSION [--pause | --resume | --complete]`: release an approved App Store
version waiting in PENDING_DEVELOPER_RELEASE, or steer its phased release, from the command line (the same
decisions as the flow's `release` step: publish.steps.release).

The state is read first and the action refused, before any write, when it does not allow it (not approved yet, no
phased release, not released yet); an action already done writes nothing and exits 0. Bad input (a bundle ID or
version that is not one, a version App Store Connect does not have) is exit 2; a refusal from the state is exit 1.
"""

from __future__ import annotations

import argparse
from typing import Any

from publish.commands._arguments import add_api_arguments, add_command
from publish.commands._state_cli import add_json_argument, print_json

PLATFORMS = ("IOS", "MAC_OS", "TV_OS", "VISION_OS")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "release", run)
    parser.add_argument("bundle_id", metavar="BUNDLE_ID", help="the app's bundle ID")
    parser.add_argument("version", metavar="VERSION", help="the App Store version (e.g. 1.2.3)")
    actions = parser.add_mutually_exclusive_group()
    for name, text in (("pause", "pause the phased release (ACTIVE -> PAUSED)"),
                       ("resume", "resume a paused phased release (PAUSED -> ACTIVE)"),
                       ("complete", "release to everyone now, ending the phased release (-> COMPLETE)")):
        actions.add_argument(f"--{name}", dest="action", action="store_const", const=name, help=text)
    parser.add_argument("--platform", choices=PLATFORMS, default="IOS", help="the platform (default IOS)")
    add_api_arguments(parser, flow_help="a flow file: its api_keys (the profile's api_key is used)")
    add_json_argument(parser)
    parser.set_defaults(action="release")


def run(args: argparse.Namespace, ctx: Any) -> int:
    import logging  # noqa: PLC0415

    from publish.commands.build_numbers import check_bundle_id, check_version  # noqa: PLC0415

    bundle_id = check_bundle_id(args.bundle_id)
    version = check_version(args.version)
    from publish.commands._remote import connect_for_app, require_app  # noqa: PLC0415 - heavy: requests, yaml
    from publish.steps.release import perform  # noqa: PLC0415

    client = connect_for_app(args, ctx, bundle_id)
    try:
        app = require_app(client, bundle_id)
        result = perform(client, app.id, version, args.platform, args.action, logging.getLogger(__name__))
        calls = client.call_count
    finally:
        client.close()
    if args.json:
        print_json(ctx, {"bundle_id": bundle_id, "version": version, "platform": args.platform, **result.to_json(),
                         "api_calls": calls})
    else:
        ctx.print(result.message)
    return 0
