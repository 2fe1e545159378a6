"""`appstore-publish plan FLOW --ipa IPA`: which profile the IPA belongs to and what its steps would do.

Offline: nothing is sent to App Store Connect. The state store, when it exists, is only read (to show which steps a
run would skip because they already succeeded for this binary with the same settings).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import local_path
from publish.commands._state_cli import add_state_dir_argument, open_store
from publish.errors import InputError
if TYPE_CHECKING:
    from publish.spec import StepSpec

UPLOADING_STEPS = ("send_to_testflight", "send_to_app_store")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show what a flow would do with an IPA, offline",
        description="Inspect the IPA, pick the publish profile matching its bundle ID, and print the steps that "
        "would run with their effective settings (defaults filled in). Nothing is sent to App Store Connect.",
    )
    parser.add_argument("flow", metavar="FLOW", type=local_path, help="the publish-flow YAML file")
    parser.add_argument("--ipa", required=True, metavar="IPA", type=local_path,
                        help="the .ipa (or macOS .pkg) to publish")
    parser.add_argument("--profile", metavar="BUNDLE_ID",
                        help="use this profile (bundle ID or name) instead of the one matching the IPA")
    parser.add_argument("--check-secrets", action="store_true",
                        help="also resolve the credentials the steps use and check the private keys (locally)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_state_dir_argument(parser)
    parser.set_defaults(handler=run)


def _inspect(path: str):
    from publish.ipa import IpaError  # noqa: PLC0415 - heavy; `--help` stays fast
    from publish.ipa.binary import inspect_binary  # noqa: PLC0415

    try:
        return inspect_binary(path)
    except IpaError as exc:
        raise InputError(exc.message, hint=exc.hint) from None


def _encryption_note(step: StepSpec, settings: dict[str, Any], from_plist: bool | None) -> str | None:
    """Where uses_non_exempt_encryption comes from, or why the step would fail without it."""
    if step.step not in UPLOADING_STEPS or "uses_non_exempt_encryption" in step.settings:
        return None
    if from_plist is not None:
        settings["uses_non_exempt_encryption"] = from_plist
        return None
    return ("uses_non_exempt_encryption is neither set in the step nor in the IPA's Info.plist "
            "(ITSAppUsesNonExemptEncryption): add `uses_non_exempt_encryption: false` (or true) to the step")


def run(args: argparse.Namespace, ctx) -> int:
    from publish.ipa.binary import binary_kind, run_binary_preflight  # noqa: PLC0415 - heavy; `--help` stays fast
    from publish.plan import choose_profile, effective_settings  # noqa: PLC0415
    from publish.secrets import describe_credentials  # noqa: PLC0415
    from publish.spec import load_flow  # noqa: PLC0415

    flow = load_flow(args.flow)
    info = _inspect(args.ipa)
    profile = choose_profile(flow, info.bundle_id, args.profile)
    warnings: list[str] = []
    if profile.bundle_id != info.bundle_id:
        warnings.append(f"the {binary_kind(info)}'s bundle ID is {info.bundle_id}, but the chosen profile is for {profile.bundle_id}")
    findings = run_binary_preflight(args.ipa, expected_bundle_id=profile.bundle_id,
                                    for_testflight=any(s.step == "send_to_testflight" for s in profile.flow))
    for finding in findings:
        if finding.severity == "error":
            warnings.append(f"pre-flight: {finding.message}")

    store = open_store(args, ctx, flow, required=False)
    steps: list[dict[str, Any]] = []
    try:
        for step in profile.flow:
            settings = effective_settings(step)
            note = _encryption_note(step, settings, info.uses_non_exempt_encryption)
            if note:
                warnings.append(f"step {step.index + 1} ({step.step}): {note}")
            done = None
            if store is not None:
                done = store.find_completed_step(fingerprint=info.fingerprint, step_index=step.index,
                                                 step_name=step.step, settings_hash=step.settings_hash)
            credentials = (f"apple_id {step.settings['apple_id']}" if "apple_id" in step.settings
                           else f"api_key {step.settings['api_key']}" if "api_key" in step.settings
                           else "API key from the environment" if step.step != "mark_as_rc" else "none")
            steps.append({
                "index": step.index,
                "step": step.step,
                "line": step.line,
                "credentials": credentials,
                "settings": settings,
                "settings_hash": step.settings_hash,
                "would_skip": done is not None,
                "done_at": done.get("finished_at") if done else None,
            })
    finally:
        if store is not None:
            store.close()

    credential_lines: list[str] = []
    if args.check_secrets:
        names = [s.settings.get("api_key") for s in profile.flow
                 if s.step != "mark_as_rc" and "apple_id" not in s.settings]
        credential_lines = describe_credentials(flow, names, env=ctx.env, base_dir=flow.base_dir,
                                                redactor=ctx.redactor, mask=ctx.register_secret)

    plan = {
        "flow": args.flow,
        "ipa": {
            "path": info.path,
            "bundle_id": info.bundle_id,
            "version": info.version,
            "build_number": info.build_number,
            "display_name": info.display_name,
            "platform": info.platform,
            "file_size": info.file_size,
            "fingerprint": info.fingerprint,
            "kind": binary_kind(info),
        },
        "profile": {"bundle_id": profile.bundle_id, "name": profile.name, "keep_binaries": profile.keep_binaries,
                    "matched_by": "override" if args.profile else "bundle_id"},
        "steps": steps,
        "credentials": credential_lines,
        "warnings": warnings,
    }
    if args.json:
        ctx.print(json.dumps(plan, indent=2))
        return 0
    _print_plan(ctx, plan)
    return 0


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _print_plan(ctx, plan: dict[str, Any]) -> None:
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
    for line in plan["credentials"]:
        ctx.print(f"  {line}")
    for warning in plan["warnings"]:
        ctx.print(f"warning: {warning}")
    ctx.print("Nothing was sent to App Store Connect.")
