"""`appstore-publish validate FLOW`: check a flow file against the schema and its references, offline."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from publish.commands._arguments import add_command, local_path

if TYPE_CHECKING:
    from publish.cli import CliContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "validate", run)
    parser.add_argument("flow", metavar="FLOW", type=local_path, help="the publish-flow YAML file")
    parser.add_argument("--check-secrets", action="store_true",
                        help="also resolve every API key and Apple ID the flow uses (environment variables, files) "
                        "and check the private keys; nothing is sent anywhere")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of text")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    from publish.spec import load_flow  # noqa: PLC0415 - heavy; `--help` stays fast

    from publish.credentials_needed import check_profile_credentials, describe_apple_id_only  # noqa: PLC0415

    flow = load_flow(args.flow)
    for profile in flow.profiles:  # an Apple ID without an API key can only upload: exit 2 listing what needs one
        check_profile_credentials(profile, ctx.env)
    apple_id_only = [line for p in flow.profiles for line in describe_apple_id_only(p, ctx.env)]
    steps = sum(len(p.flow) for p in flow.profiles)
    credentials: list[str] = []
    if args.check_secrets:
        # Only here: reading keys needs the .p8 parser, cryptography and the client (~0.3 s of a plain validate).
        from publish.secrets import describe_credentials  # noqa: PLC0415

        names = [s.settings.get("api_key") for p in flow.profiles for s in p.flow
                 if s.step != "mark_as_rc" and not s.settings.get("apple_id")]
        credentials = describe_credentials(flow, names, env=ctx.env, base_dir=flow.base_dir,
                                           redactor=ctx.redactor, mask=ctx.register_secret)
    if args.json:
        ctx.print(json.dumps({
            "flow": args.flow,
            "valid": True,
            "profiles": [{"bundle_id": p.bundle_id, "name": p.name, "steps": [s.step for s in p.flow]}
                         for p in flow.profiles],
            "credentials": credentials,
            "apple_id_only": apple_id_only,
        }, indent=2))
        return 0
    ctx.print(f"{args.flow} is valid: {_count(len(flow.profiles), 'profile')}, {_count(steps, 'step')}")
    for line in credentials + apple_id_only:
        ctx.print(f"  {line}")
    return 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"
