"""`appstore-publish plan FLOW --ipa IPA`: which profile the IPA belongs to and what its steps would do.

It renders the plan `run` executes (publish.plan.build_plan), so the settings, skip decisions and credentials shown
are the run's. Offline: nothing is sent to App Store Connect. The state store, when it exists, is only read (to show
which steps a run would skip because they already succeeded for this binary with the same settings).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import local_path
from publish.commands._state_cli import add_state_dir_argument, open_store

if TYPE_CHECKING:
    from publish.cli import CliContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show what a flow would do with an IPA, offline",
        description="Inspect the IPA, pick the publish profile matching its bundle ID, and print the steps that "
        "would run with the settings in effect (defaults filled in, files read), which of them a run would skip, "
        "and what each signs in with: the plan `run` executes. Nothing is sent to App Store Connect.",
    )
    parser.add_argument("flow", metavar="FLOW", type=local_path, help="the publish-flow YAML file")
    parser.add_argument("--ipa", required=True, metavar="IPA", type=local_path,
                        help="the .ipa (or macOS .pkg) to publish")
    parser.add_argument("--profile", metavar="BUNDLE_ID",
                        help="use this profile (bundle ID or name) instead of the one matching the IPA")
    parser.add_argument("--check-secrets", action="store_true",
                        help="also resolve the credentials the steps use and check the private keys (locally)")
    parser.add_argument("--restart", action="store_true",
                        help="plan as `run --restart` would: no step is skipped as already done")
    parser.add_argument("--json", action="store_true",
                        help="print the plan as JSON (documented by schemas/plan.schema.json)")
    add_state_dir_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    from publish.commands.info import inspect_or_fail  # noqa: PLC0415 - heavy; `--help` stays fast
    from publish.plan import build_plan  # noqa: PLC0415
    from publish.spec import load_flow  # noqa: PLC0415

    flow = load_flow(args.flow)
    info = inspect_or_fail(args.ipa)
    store = open_store(args, ctx, flow, required=False)
    try:
        plan = build_plan(flow, info, profile=args.profile, store=store, restart=args.restart)
    finally:
        if store is not None:
            store.close()

    credential_lines: list[str] = []
    if args.check_secrets:
        # Only here: reading keys needs the .p8 parser, cryptography and the client (~0.3 s of a plain plan).
        from publish.secrets import describe_credentials  # noqa: PLC0415

        credential_lines = describe_credentials(flow, plan.api_key_names(), env=ctx.env, base_dir=flow.base_dir,
                                                redactor=ctx.redactor, mask=ctx.register_secret)
    shown = plan.to_json(flow_path=args.flow, credentials=credential_lines)
    if args.json:
        ctx.print(json.dumps(shown, indent=2))
        return 0
    _print_plan(ctx, shown)
    return 0


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _print_plan(ctx: CliContext, plan: dict[str, Any]) -> None:
    ipa, profile = plan["ipa"], plan["profile"]
    size_mb = ipa["file_size"] / 1_000_000
    ctx.print(f"{ipa.get('kind', 'IPA')} {ipa['path']}")
    ctx.print(f"  {ipa['display_name'] or ipa['bundle_id']} ({ipa['bundle_id']}) version {ipa['version']} "
              f"build {ipa['build_number']}, {ipa['platform']}, {size_mb:.1f} MB")
    how = "chosen with --profile" if profile["matched_by"] == "override" else "matched by bundle ID"
    name = f" \"{profile['name']}\"" if profile["name"] else ""
    ctx.print(f"Profile {profile['bundle_id']}{name} ({how})")
    ctx.print("Steps that would run:")
    for step in plan["steps"]:
        skip = f"  [would skip: already succeeded {step['done_at']}]" if step["would_skip"] else ""
        ctx.print(f"  {step['index'] + 1}. {step['step']} (line {step['line']}; {step['credentials']}){skip}")
        for key, value in step["settings"].items():
            if key in ("api_key", "apple_id"):
                continue
            ctx.print(f"       {key}: {_render(value)}")
        compliance = step["export_compliance"]
        if compliance and compliance["from"] == "Info.plist":
            ctx.print(f"       uses_non_exempt_encryption: {_render(compliance['uses_non_exempt_encryption'])} "
                      "(from the Info.plist)")
    for line in plan["credentials"]:
        ctx.print(f"  {line}")
    for warning in plan["warnings"]:
        ctx.print(f"warning: {warning}")
    ctx.print("Nothing was sent to App Store Connect.")
