"""What a run leaves for people and workflows: the step outputs (`build-id`, `status`, ...) and a Markdown job
summary. Both read the run result (schemas/run-result.schema.json) and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OUTPUT_NAMES = ("build-id", "build-number", "version", "upload-id", "app-store-version-id", "review-submission-id",
                "status", "error")
FENCE = "`" * 3
_STATUS_MARK = {"succeeded": "✅", "failed": "❌", "skipped": "⏭️", "not_run": "⏸️", "running": "…"}
_LINK_TITLES = {
    "app": "App in App Store Connect",
    "build": "Build in TestFlight",
    "testflight": "TestFlight",
    "app_store_version": "App Store version",
    "review_submission": "Review submission",
}


def outputs(result: Mapping[str, Any]) -> dict[str, str]:
    """The action's outputs; an unknown id is an empty string (GitHub outputs are strings)."""
    ids = result.get("ids") or {}
    values = {
        "build-id": ids.get("build_id"),
        "build-number": result.get("build_number"),
        "version": result.get("version"),
        "upload-id": ids.get("upload_id"),
        "app-store-version-id": ids.get("app_store_version_id"),
        "review-submission-id": ids.get("review_submission_id"),
        "status": result.get("status"),
        "error": (result.get("error") or {}).get("message"),
    }
    return {name: "" if values[name] is None else str(values[name]) for name in OUTPUT_NAMES}


def _number(index: Any) -> int | None:
    """A step's 1-based number; None for an error raised before any step (bad flow file, IPA refused ...)."""
    try:
        return int(index) + 1
    except (TypeError, ValueError):
        return None


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _duration(seconds: Any) -> str:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    return f"{minutes} min {secs:02d} s"


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # unreachable


def _transfer_time(seconds: Any) -> str:
    """Loopback and small binaries go out in milliseconds; "0.0 s" would say nothing."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return ""
    return f"{value * 1000:.0f} ms" if value < 1 else _duration(value)


def report_lines(result: Mapping[str, Any]) -> list[str]:
    """The run report (calls, upload, waiting for Apple) as short phrases; none when the result has no report."""
    report = result.get("report")
    if not isinstance(report, Mapping):
        return []
    calls = int(report.get("api_calls") or 0)
    lines = [f"{calls} App Store Connect API call{'s' if calls != 1 else ''}"]
    sent = int(report.get("bytes_sent") or 0)
    if sent:
        rate = report.get("throughput_bytes_per_s")
        speed = f" ({_bytes(float(rate))}/s)" if rate else ""
        lines.append(f"{_bytes(sent)} sent in {_transfer_time(report.get('transfer_s'))}{speed}")
    elif report.get("uploads"):
        lines.append("nothing to send (the binary was already uploaded)")
    waiting = report.get("waiting") or {}
    total = float(report.get("waiting_s") or 0)
    detail = ""
    if total:
        parts = [f"status polls {_duration(waiting.get('polls_s'))}"]
        if waiting.get("rate_limits_and_retries_s"):
            parts.append(f"rate limits and retries {_duration(waiting.get('rate_limits_and_retries_s'))}")
        detail = f" ({', '.join(parts)})"
    lines.append(f"{_duration(total)} waiting for Apple{detail}")
    return lines


def render_markdown(result: Mapping[str, Any]) -> str:
    """A job summary: app, bundle ID, version and build, a table of steps, warnings, and links."""
    status = result.get("status") or "unknown"
    name = result.get("app_name") or result.get("bundle_id")
    what = f"{name} {result.get('version')} ({result.get('build_number')})" if name else f"appstore-publish: {status}"
    title = f"{_STATUS_MARK.get(status, '')} {what}".strip()
    lines = [f"### {title}", ""]
    if result.get("dry_run"):
        lines += ["_Dry run: nothing was sent to App Store Connect._", ""]
    if result.get("promote"):  # publish.promote
        lines += [f"_Promoted build {result['promote']['build']}, already in App Store Connect: nothing was uploaded._", ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| App | {_cell(result.get('app_name'))} |",
        f"| Bundle ID | `{_cell(result.get('bundle_id'))}` |",
        f"| Version | {_cell(result.get('version'))} |",
        f"| Build | {_cell(result.get('build_number'))} |",
        f"| Status | {_cell(status)} |",
        "",
    ]
    steps = result.get("steps") or []
    if steps:
        lines += ["| # | Step | Status | Duration | Details |", "|---|---|---|---|---|"]
        for step in steps:
            number = _number(step.get("index"))
            mark = _STATUS_MARK.get(step.get("status"), "")
            details = step.get("error") if step.get("status") == "failed" else step.get("message")
            lines.append(f"| {number} | `{_cell(step.get('name'))}` | {mark} {_cell(step.get('status'))} | "
                         f"{_duration(step.get('duration_s'))} | {_cell(details)} |")
        lines.append("")
    error = result.get("error")
    if error:
        number = _number(error.get("index"))
        where = f"Failed at step {number} (`{_cell(error.get('step'))}`)" if number else "Failed before any step ran"
        # A fenced block keeps a multi-line message (every problem of a flow file) readable.
        message = str(error.get("message") or "").replace(FENCE, "' ' '")
        lines += [f"**{where}:**", "", f"{FENCE}text", message, FENCE, ""]
        if error.get("hint"):
            lines += [f"How to fix: {_cell(error.get('hint'))}", ""]
    report = report_lines(result)
    if report:
        lines += ["**Run report:** " + " · ".join(_cell(line) for line in report), ""]
    warnings = result.get("warnings") or []
    if warnings:
        lines += ["**Warnings**", ""] + [f"- {_cell(w)}" for w in warnings] + [""]
    ids = {k: v for k, v in (result.get("ids") or {}).items() if v}
    if ids:
        lines += ["**App Store Connect IDs:** " + ", ".join(f"{k} `{v}`" for k, v in ids.items()), ""]
    link_lines = [f"- [{_LINK_TITLES.get(name, name)}]({url})" for name, url in (result.get("links") or {}).items()]
    if link_lines:
        lines += ["**Links**", ""] + link_lines + [""]
    return "\n".join(lines).rstrip() + "\n"


def render_text(result: Mapping[str, Any]) -> str:
    """The closing lines a person sees on the terminal."""
    status = result.get("status")
    lines = [f"{result.get('app_name')} {result.get('version')} ({result.get('build_number')}) "
             f"[{result.get('bundle_id')}]: {status}{' (dry run)' if result.get('dry_run') else ''}"
             f"{' (promoted: nothing uploaded)' if result.get('promote') else ''}"]
    for step in result.get("steps") or []:
        number = _number(step.get("index"))
        detail = step.get("error") if step.get("status") == "failed" else step.get("message")
        lines.append(f"  {number}. {step.get('name'):<20} {step.get('status'):<9} "
                     f"{_duration(step.get('duration_s')):>9}  {(detail or '').splitlines()[0] if detail else ''}")
    for name, url in (result.get("links") or {}).items():
        if name in ("build", "app_store_version", "app"):
            lines.append(f"  {_LINK_TITLES.get(name, name)}: {url}")
    report = report_lines(result)
    if report:
        lines.append("  " + "; ".join(report))
    if result.get("warnings"):
        lines.append(f"  {len(result['warnings'])} warning(s): see above")
    return "\n".join(lines)
