"""`appstore-publish run FLOW --ipa IPA`: run the publish flow of the IPA's profile (see publish.runner)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from publish.asc.transport import BASE_URL_ENV, resolve_base_url
from publish.errors import InputError, PublishError
from publish.runner import FlowFailed, RunOptions, run_flow
from publish.spec import load_flow
from publish.state import STATE_DIR_ENV, resolve_state_dir
from publish.summary import render_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the publish flow on an IPA (upload, TestFlight, App Store)",
        description="Run the steps of the IPA's publish profile in order. Steps already done for this binary with "
        "the same settings are skipped; a failing step stops the flow (exit 1, or 2 for bad input).",
    )
    parser.add_argument("flow", metavar="FLOW", help="the publish flow file (YAML)")
    parser.add_argument("--ipa", required=True, metavar="IPA", help="the .ipa to publish")
    parser.add_argument("--profile", metavar="ID", help="use this profile (bundle ID or name) instead of the one "
                        "matching the IPA's bundle ID")
    parser.add_argument("--api-base-url", metavar="URL", help=f"App Store Connect API base URL (env {BASE_URL_ENV}; "
                        "http:// only for loopback, e.g. the simulator)")
    parser.add_argument("--state-dir", metavar="DIR", help=f"state directory (default: ${STATE_DIR_ENV}, else the "
                        "flow's state_dir, else .appstore-publish/)")
    parser.add_argument("--restart", action="store_true", help="run every step, even those already done")
    parser.add_argument("--dry-run", action="store_true", help="print every call that would be made; make none")
    parser.add_argument("--result-json", metavar="FILE", help="write the run result (schemas/run-result.schema.json)")
    parser.add_argument("--concurrency", type=_positive_int, default=6, metavar="N", help="parallel part uploads "
                        "(default 6)")
    parser.add_argument("--poll-interval", type=_positive_float, default=10.0, metavar="S",
                        help="seconds between processing status polls (default 10)")
    parser.set_defaults(handler=handle)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1-64)")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def handle(args: argparse.Namespace, ctx: Any) -> int:
    return run_command(ctx, flow_path=args.flow, ipa_path=args.ipa, profile=args.profile,
                       api_base_url=args.api_base_url, state_dir=args.state_dir, restart=args.restart,
                       dry_run=args.dry_run, result_json=args.result_json, concurrency=args.concurrency,
                       poll_interval=args.poll_interval)


def run_command(
    ctx: Any,
    *,
    flow_path: str | os.PathLike[str],
    ipa_path: str | os.PathLike[str],
    profile: str | None = None,
    api_base_url: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    restart: bool = False,
    dry_run: bool = False,
    result_json: str | os.PathLike[str] | None = None,
    concurrency: int = 6,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    on_call: Callable[[str, str, Any], None] | None = None,
) -> int:
    """What `run` does; `demo` calls it too, so the demo goes through the very same path."""
    try:
        ipa = Path(ipa_path)
        if not ipa.is_file():
            raise InputError(f"the IPA {ipa} does not exist", hint="pass the path of the built .ipa with --ipa")
        flow = load_flow(flow_path)
        base_url = resolve_base_url(api_base_url, ctx.env)
        directory = resolve_state_dir(str(state_dir) if state_dir else None, ctx.env,
                                      getattr(flow, "state_dir", None) or flow.raw.get("state_dir"), Path.cwd(),
                                      flow_base=flow.base_dir)
        calls: list[str] = []

        def report_call(method: str, url: str, body: Any) -> None:
            if on_call is not None:
                on_call(method, url, body)
            if dry_run:
                parts = urlsplit(url)
                shown = parts.path + (f"?{parts.query}" if parts.query else "")
                text = f"{method} {shown}" + (f" {json.dumps(body, sort_keys=True)}" if body is not None else "")
                calls.append(text)
                ctx.print(f"would call: {text}")

        options = RunOptions(
            flow=flow, ipa_path=ipa, state_dir=directory, profile=profile, base_url=base_url, restart=restart,
            dry_run=dry_run, concurrency=concurrency, poll_interval=poll_interval, env=ctx.env,
            redactor=ctx.redactor, register_secret=ctx.register_secret, on_call=report_call, sleep=sleep,
            progress_stream=ctx.stderr,
        )
        result = run_flow(options)
    except FlowFailed as failure:
        _write_result(result_json, failure.result, ctx)
        ctx.print(render_text(failure.result))
        ctx.error(f"error: {failure}")
        return failure.exit_code
    except PublishError as error:
        _write_result(result_json, _early_failure(error, ctx), ctx)
        raise
    _write_result(result_json, result, ctx)
    ctx.print(render_text(result))
    if dry_run:
        ctx.print(f"dry run: {len(calls)} App Store Connect call(s) would be made; none was made")
    return 0


def _early_failure(error: PublishError, ctx: Any) -> dict[str, Any]:
    """A result for a run that stopped before any step (bad flow, IPA refused by pre-flight, ...)."""
    return {
        "format_version": 1, "status": "failed", "dry_run": False, "app_name": None, "bundle_id": None,
        "version": None, "build_number": None, "platform": None, "fingerprint": None, "profile": None,
        "flow_hash": None, "state_dir": None, "steps": [], "ids": {}, "warnings": [], "links": {},
        "error": {"step": None, "index": None, "message": ctx.redactor.redact(error.message), "hint": error.hint},
        "api_calls": 0, "duration_s": 0.0,
    }


def _write_result(path: str | os.PathLike[str] | None, result: dict[str, Any], ctx: Any) -> None:
    if not path:
        return
    target = Path(path)
    text = ctx.redactor.redact(json.dumps(result, indent=2, sort_keys=True, default=str)) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
