"""`appstore-publish run FLOW --ipa IPA`: run the publish flow of the IPA's profile (see publish.runner).
`run FLOW --build 'VERSION (NUMBER)'` runs it on a build App Store Connect already has (see publish.promote)."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from publish.commands._arguments import bounded_float, bounded_int, local_path, output_path
from publish.errors import InputError, PublishError
from publish.local_paths import check_output_file, checked_path

# Import-light on purpose: `run --help` must not pay for requests, cryptography, jsonschema and yaml, which
# run_command imports when it runs.
BASE_URL_ENV = "ASC_API_BASE_URL"  # publish.asc.transport.BASE_URL_ENV; a test holds the two equal
STATE_DIR_ENV = "APPSTORE_PUBLISH_STATE_DIR"  # publish.state.STATE_DIR_ENV; likewise
MAX_POLL_INTERVAL = 3600.0  # an hour between polls is already far past Apple's processing times

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the publish flow on an IPA (upload, TestFlight, App Store)",
        description="Run the steps of the IPA's publish profile in order. Steps already done for this binary with "
        "the same settings are skipped; a failing step stops the flow (exit 1, or 2 for bad input).",
    )
    parser.add_argument("flow", metavar="FLOW", type=local_path, help="the publish flow file (YAML)")
    binary = parser.add_mutually_exclusive_group(required=True)
    binary.add_argument("--ipa", metavar="IPA", type=local_path, help="the .ipa (or macOS .pkg) to publish")
    binary.add_argument("--build", metavar="'VERSION (NUMBER)'", help="promote a build App Store Connect already "
                        "has, e.g. --build '1.2.3 (45)': the flow runs on it without an IPA and without uploading")
    parser.add_argument("--profile", metavar="ID", help="use this profile (bundle ID or name) instead of the one "
                        "matching the IPA's bundle ID (with --build: required when the state store does not know "
                        "the build)")
    parser.add_argument("--api-base-url", metavar="URL", help=f"App Store Connect API base URL (env {BASE_URL_ENV}; "
                        "http:// only for loopback, e.g. the simulator)")
    parser.add_argument("--state-dir", metavar="DIR", type=local_path,
                        help=f"state directory (default: ${STATE_DIR_ENV}, else the "
                        "flow's state_dir, else .appstore-publish/)")
    parser.add_argument("--restart", action="store_true", help="run every step, even those already done")
    parser.add_argument("--dry-run", action="store_true",
                        help="change nothing: read App Store Connect for real (it needs a working key; the flow's "
                        "app, groups, versions and builds are checked) and print every write that would be made "
                        "without making one; offline checks: validate, plan, check")
    parser.add_argument("--result-json", metavar="FILE", type=output_path,
                        help="write the run result (schemas/run-result.schema.json)")
    parser.add_argument("--json", action="store_true", help="print the run result as JSON on stdout (the same "
                        "document as --result-json); the summary, logs and progress go to stderr")
    parser.add_argument("--concurrency", type=bounded_int(1, 64, example=6), default=6, metavar="N",
                        help="parallel part uploads (1-64, default 6)")
    parser.add_argument("--poll-interval", type=bounded_float(0, MAX_POLL_INTERVAL, low_open=True, example=10),
                        default=10.0, metavar="S", help="seconds between processing status polls (default 10, at "
                        f"most {MAX_POLL_INTERVAL:g})")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: Any) -> int:
    return run_command(ctx, flow_path=args.flow, ipa_path=args.ipa, build=args.build, profile=args.profile,
                       api_base_url=args.api_base_url, state_dir=args.state_dir, restart=args.restart,
                       dry_run=args.dry_run, result_json=args.result_json, concurrency=args.concurrency,
                       poll_interval=args.poll_interval, json_output=args.json)


def run_command(
    ctx: Any,
    *,
    flow_path: str | os.PathLike[str],
    ipa_path: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    api_base_url: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    restart: bool = False,
    dry_run: bool = False,
    result_json: str | os.PathLike[str] | None = None,
    concurrency: int = 6,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_call: Callable[[str, str, Any], None] | None = None,
    json_output: bool = False,
    build: str | None = None,
) -> int:
    """What `run` does; `demo` calls it too, so the demo goes through the very same path.

    Local output is checked before anything remote happens: a result file that cannot be written is refused
    now, not after the build was uploaded. With `json_output` the result document is the only thing on stdout.
    """
    result_path = check_output_file(result_json, "--result-json") if result_json else None
    if json_output:
        json_stdout, ctx = ctx.stdout, ctx.with_stdout(ctx.stderr)
    try:
        outcome = _run(ctx, flow_path=flow_path, ipa_path=ipa_path, build=build, profile=profile,
                       api_base_url=api_base_url,
                       state_dir=state_dir, restart=restart, dry_run=dry_run, result_path=result_path,
                       concurrency=concurrency, poll_interval=poll_interval, sleep=sleep, clock=clock,
                       on_call=on_call)
    except PublishError as error:
        if json_output:
            _print_json(json_stdout, _early_failure(error, ctx), ctx)
        raise
    code, result = outcome
    if json_output:
        _print_json(json_stdout, result, ctx)
    return code


def _run(
    ctx: Any,
    *,
    flow_path: str | os.PathLike[str],
    ipa_path: str | os.PathLike[str] | None,
    build: str | None,
    profile: str | None,
    api_base_url: str | None,
    state_dir: str | os.PathLike[str] | None,
    restart: bool,
    dry_run: bool,
    result_path: Path | None,
    concurrency: int,
    poll_interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    on_call: Callable[[str, str, Any], None] | None,
) -> tuple[int, dict[str, Any]]:
    from urllib.parse import urlsplit  # noqa: PLC0415

    from publish.asc.transport import resolve_base_url  # noqa: PLC0415 - heavy: requests
    from publish.runner import FlowFailed, RunOptions, run_flow  # noqa: PLC0415
    from publish.spec import load_flow  # noqa: PLC0415
    from publish.state import resolve_state_dir  # noqa: PLC0415
    from publish.summary import render_text  # noqa: PLC0415

    try:
        if state_dir is not None:
            checked_path(os.fspath(state_dir), "--state-dir")
        ipa = _checked_binary(ipa_path, build)
        flow = load_flow(os.fspath(flow_path))
        base_url = resolve_base_url(api_base_url, ctx.env)
        directory = resolve_state_dir(str(state_dir) if state_dir else None, ctx.env,
                                      getattr(flow, "state_dir", None) or flow.raw.get("state_dir"), Path.cwd(),
                                      flow_base=flow.base_dir)
        calls: list[str] = []  # the writes a dry run would make
        reads: list[str] = []

        def report_call(method: str, url: str, body: Any) -> None:
            if on_call is not None:
                on_call(method, url, body)
            if dry_run and method == "GET":
                reads.append(method)
            elif dry_run:  # a write: recorded by the dry run, never sent
                parts = urlsplit(url)
                shown = parts.path + (f"?{parts.query}" if parts.query else "")
                text = f"{method} {shown}" + (f" {json.dumps(body, sort_keys=True)}" if body is not None else "")
                calls.append(text)
                ctx.print(f"would call: {text}")

        options = RunOptions(
            flow=flow, ipa_path=ipa, build=build, state_dir=directory, profile=profile, base_url=base_url,
            restart=restart,
            dry_run=dry_run, concurrency=concurrency, poll_interval=poll_interval, env=ctx.env,
            redactor=ctx.redactor, register_secret=ctx.register_secret, on_call=report_call, sleep=sleep, clock=clock,
            progress_stream=_Discard() if getattr(ctx, "quiet", False) else ctx.stderr,
        )
        result = run_flow(options)
    except FlowFailed as failure:
        _write_result(result_path, failure.result, ctx)
        ctx.print(render_text(failure.result))
        ctx.error(f"error: {failure}")
        return failure.exit_code, failure.result
    except PublishError as error:
        _write_result(result_path, _early_failure(error, ctx), ctx)
        raise
    _write_result(result_path, result, ctx)
    ctx.print(render_text(result))
    if dry_run:
        ctx.print(f"dry run: {len(calls)} App Store Connect write(s) would be made; none was made "
                  f"({len(reads)} read(s) made)")
    return 0, result


def _checked_binary(ipa_path: str | os.PathLike[str] | None, build: str | None) -> Path | None:
    """The IPA to publish, or None for a promote (--build); exactly one of the two."""
    if (ipa_path is None) == (build is None):
        raise InputError("give either --ipa (publish a binary) or --build (promote a build App Store Connect has)",
                         hint="e.g. --ipa App.ipa, or --build '1.2.3 (45)'")
    if build is not None:
        from publish.promote import parse_build_label  # noqa: PLC0415

        parse_build_label(build)  # a malformed label is refused before the flow file is even read
        return None
    ipa = Path(ipa_path)  # type: ignore[arg-type]
    if not ipa.is_file():
        raise InputError(f"the IPA {ipa} " + ("is not a regular file" if ipa.exists() else "does not exist"),
                         hint="pass the path of the built .ipa with --ipa")
    return ipa


class _Discard:
    """Where progress goes under --quiet."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _print_json(stream: Any, result: dict[str, Any], ctx: Any) -> None:
    stream.write(ctx.redactor.redact(json.dumps(result, indent=2, sort_keys=True, default=str)) + "\n")
    stream.flush()


def _early_failure(error: PublishError, ctx: Any) -> dict[str, Any]:
    """A result for a run that stopped before any step (bad flow, IPA refused by pre-flight, ...)."""
    return {
        "format_version": 1, "status": "failed", "dry_run": False, "app_name": None, "bundle_id": None,
        "version": None, "build_number": None, "platform": None, "fingerprint": None, "profile": None,
        "flow_hash": None, "state_dir": None, "steps": [], "ids": {}, "warnings": [], "links": {},
        "error": {"step": None, "index": None, "message": ctx.redactor.redact(error.message), "hint": error.hint},
        "api_calls": 0, "duration_s": 0.0,
    }


def _write_result(target: Path | None, result: dict[str, Any], ctx: Any) -> None:
    import tempfile  # noqa: PLC0415

    if target is None:
        return
    text = ctx.redactor.redact(json.dumps(result, indent=2, sort_keys=True, default=str)) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:  # checked writable at the start; something changed it during the run
        raise InputError(f"--result-json {target}: cannot write the result ({exc.strerror or exc})",
                         hint="the run itself is recorded in the state directory; `appstore-publish history` "
                         "shows it") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
