"""`appstore-publish check IPA`: the pre-flight checks an upload runs, on their own (an .ipa or a macOS .pkg)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from publish.commands._arguments import add_command, local_path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "check", run)
    parser.add_argument("ipa", metavar="IPA", type=local_path, help="path to the .ipa (or .pkg) file")
    parser.add_argument("--bundle-id", metavar="ID", help="fail unless the IPA's bundle ID is ID")
    parser.add_argument("--for-testflight", action="store_true",
                        help="the build is meant for TestFlight: what only TestFlight refuses (a .pkg without a "
                        "provisioning profile) is an error")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (the check_report in schemas/ipa-info.schema.json)")


def run(args: argparse.Namespace, ctx: Any) -> int:
    from publish.ipa.binary import run_binary_preflight  # noqa: PLC0415 - heavy; `--help` stays fast

    findings = run_binary_preflight(args.ipa, expected_bundle_id=args.bundle_id, for_testflight=args.for_testflight)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if args.json:
        ctx.print(json.dumps({
            "path": args.ipa,
            "ok": not errors,
            "errors": len(errors),
            "warnings": len(warnings),
            "findings": [f.to_json() for f in findings],
        }, indent=2))
    else:
        for finding in findings:
            ctx.print(f"{finding.severity}: [{finding.id}] {finding.message}")
        verdict = "FAILED" if errors else "passed"
        ctx.print(f"{args.ipa}: pre-flight {verdict}: {len(errors)} error(s), {len(warnings)} warning(s)")
    return 2 if errors else 0
