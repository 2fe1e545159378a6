"""The checks a JSON Schema cannot express: names that refer to nothing, a second profile for one bundle ID, a
scheduled release without a date or off the hour (protocol.md H.5), App-Store-only settings on a TestFlight stage,
release-notes files that do not exist, and paths no file system could open (a NUL byte, a control character, a name
longer than any file system allows), so they are refused by `validate` rather than by the run that meets them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from publish.spec.messages import Reporter, suggest
from publish.spec.model import APP_STORE_ONLY_SETTINGS, Path_

# Linux's PATH_MAX and NAME_MAX: longer paths fail when opened, which for a state directory is halfway through a run.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
# Longer than any processing Apple does; a larger figure is a typo (or 1e30) that would wait forever.
MAX_PROCESSING_TIMEOUT = 7 * 24 * 3600
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# Digits are bounded so that int() is never handed a number Python refuses to convert.
_UNBOUNDED_DURATION = re.compile(r"^\s*(?:\d+h)?\s*(?:\d+m)?\s*(?:\d+s)?\s*$")
_DURATION = re.compile(r"^\s*(?:(\d{1,9})h)?\s*(?:(\d{1,9})m)?\s*(?:(\d{1,9})s)?\s*$")


def parse_duration(value: int | str) -> int:
    """Seconds from `processing_timeout`: an integer, or "45m", "2h", "1h30m", "90s"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.match(str(value))
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {value!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_release_date(text: str) -> datetime:
    """An ISO 8601 date-time with a time zone (Z or an offset)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed


def on_the_hour(moment: datetime) -> tuple[str, str]:
    """The whole hours before and after `moment`, in UTC, as App Store Connect writes them."""
    base = moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return (base.strftime("%Y-%m-%dT%H:%M:%SZ"), (base + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def check_flow(data: dict[str, Any], report: Reporter, base_dir: Path | None) -> None:
    """Every check below, on a flow that parsed into a mapping (schema errors or not)."""
    _check_paths(data, (), report)
    if isinstance(data.get("state_dir"), str):
        _check_path(("state_dir",), data["state_dir"], report)
    _check_references(data, report, base_dir)


def _check_paths(value: Any, path: Path_, report: Reporter) -> None:
    """Every `{file: path}` anywhere in the flow (secrets, release notes, fastlane JSON)."""
    if isinstance(value, dict):
        if isinstance(value.get("file"), str):
            _check_path(path + ("file",), value["file"], report)
        for key, item in value.items():
            _check_paths(item, path + (key,), report)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_paths(item, path + (index,), report)


def _check_path(path: Path_, text: str, report: Reporter) -> None:
    # Worded like the command line's path checks, so a path reads the same wherever it was given.
    what = "the flow's state_dir" if path == ("state_dir",) else "the file path"
    encoded = text.encode("utf-8", "surrogatepass")
    longest = max((len(part) for part in re.split(rb"[/\\]", encoded)), default=0)
    control = _CONTROL.search(text)
    if "\0" in text:
        problem = "the path contains a NUL byte (\\x00), which no file name can hold"
    elif control:
        problem = f"the path contains the control character U+{ord(control.group()):04X}"
    elif len(encoded) > MAX_PATH_BYTES:
        problem = f"the path is {len(encoded)} bytes long; the limit is {MAX_PATH_BYTES}"
    elif longest > MAX_NAME_BYTES:
        problem = f"a part of the path is {longest} bytes long; a file name has at most {MAX_NAME_BYTES}"
    else:
        return
    report.bad_paths.add(path)
    report.at_value(path, f"{what}: {problem}; write the path as it is on disk, e.g. "
                    + ("state_dir: .appstore-publish" if path == ("state_dir",) else "file: AuthKey_ABC123.p8"))


def _mapping(value: object) -> dict[str, Any]:
    """A part of the flow that should be a mapping; the schema has already reported it when it is not."""
    return value if isinstance(value, dict) else {}


def _sequence(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _check_references(data: dict[str, Any], report: Reporter, base_dir: Path | None) -> None:
    api_keys = _mapping(data.get("api_keys"))
    apple_ids = _mapping(data.get("apple_ids"))
    profiles = _sequence(data.get("profiles"))
    first_profile: dict[str, int] = {}
    for p_index, profile in enumerate(profiles):
        if not isinstance(profile, dict):
            continue
        bundle_id = profile.get("bundle_id")
        if isinstance(bundle_id, str):
            if bundle_id in first_profile:
                line, _ = report.positions.of_value(("profiles", first_profile[bundle_id]))
                report.at_value(("profiles", p_index, "bundle_id"), f"a second profile for bundle ID {bundle_id} "
                                f"(the first starts on line {line}); an app has one profile: merge their flows")
            else:
                first_profile[bundle_id] = p_index
        flow = _sequence(profile.get("flow"))
        for s_index, step in enumerate(flow):
            if isinstance(step, dict):
                _check_step(("profiles", p_index, "flow", s_index), step, api_keys, apple_ids, report)
                if base_dir is not None:
                    _check_text_files(("profiles", p_index, "flow", s_index), step, base_dir, report)


def _check_text_files(path: Path_, step: dict[str, Any], base_dir: Path, report: Reporter) -> None:
    """Release notes given as {file: path} must exist now, not halfway through a publish."""
    for key in ("what_to_test", "whats_new"):
        notes = step.get(key)
        if not isinstance(notes, dict):
            continue
        refs = [((key,), notes)] if "file" in notes else [((key, loc), v) for loc, v in notes.items()]
        for sub, ref in refs:
            if isinstance(ref, dict) and isinstance(ref.get("file"), str) and \
                    path + sub + ("file",) not in report.bad_paths:
                target = base_dir / ref["file"]
                problem = _text_file_problem(target)
                if problem is not None:
                    report.at_value(path + sub + ("file",), problem)


# Far above what App Store Connect takes for release notes (4000 bytes), so only a wrong file is refused here; the
# steps hold the exact limits. Reading this much at most keeps `validate` quick whatever the path names.
MAX_NOTES_FILE_BYTES = 1024 * 1024


def _text_file_problem(target: Path) -> str | None:
    """Why a release-notes file cannot be used, found now (the run would refuse it only after loading the IPA)."""
    if not target.exists():
        return f"file {target} does not exist (paths are relative to the flow file's directory)"
    if not target.is_file():
        return f"{target} is not a regular file (a directory, device or pipe); give the path of a text file"
    try:
        with open(target, "rb") as handle:
            data = handle.read(MAX_NOTES_FILE_BYTES + 1)
    except OSError as exc:
        return f"cannot read file {target}: {exc.strerror or exc}"
    if len(data) > MAX_NOTES_FILE_BYTES:
        return (f"file {target} is larger than {MAX_NOTES_FILE_BYTES} bytes: not release notes (App Store Connect "
                "takes 4000 bytes a locale); check the path")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"file {target} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
    return None


def _check_name(path: Path_, name: Any, defined: dict[str, Any], section: str, report: Reporter) -> None:
    if not isinstance(name, str) or name in defined:
        return
    if not defined:
        report.at_value(path, f"'{name}' refers to nothing: the flow has no `{section}:` section; define "
                        f"{section}: {{{name}: ...}} at the top level" +
                        (", or leave api_key out to use the conventional environment variables (fastlane "
                         "APP_STORE_CONNECT_API_KEY_*, Codemagic APP_STORE_CONNECT_*)" if section == "api_keys" else ""))
        return
    label = {"api_keys": "API key", "apple_ids": "Apple ID"}[section]
    report.at_value(path, f"unknown {label} '{name}'; {suggest(name, list(defined))}"
                    f"defined under {section}: {', '.join(defined)}")


def _check_step(path: Path_, step: dict[str, Any], api_keys: dict[str, Any], apple_ids: dict[str, Any],
                report: Reporter) -> None:
    _check_name(path + ("api_key",), step.get("api_key"), api_keys, "api_keys", report)
    _check_name(path + ("apple_id",), step.get("apple_id"), apple_ids, "apple_ids", report)
    _check_timeout(path + ("processing_timeout",), step.get("processing_timeout"), report)
    if step.get("step") != "send_to_app_store":
        return
    release_type = step.get("release_type")
    date = step.get("scheduled_release_date")
    if release_type == "scheduled" and date is None:
        report.at_value(path + ("release_type",), "release_type scheduled needs scheduled_release_date, e.g. "
                        "scheduled_release_date: \"2025-03-01T09:00:00Z\"")
    if date is not None and release_type != "scheduled":
        report.at_key(path + ("scheduled_release_date",), "scheduled_release_date is used only with "
                      "`release_type: scheduled`; set that, or remove the date")
    if isinstance(date, str):
        try:
            parsed = parse_release_date(date)
        except ValueError:
            report.at_value(path + ("scheduled_release_date",), f"{date!r} is not a valid date-time: use ISO 8601 "
                            "with a time zone, e.g. \"2025-03-01T09:00:00Z\"")
        else:
            if parsed.minute or parsed.second or parsed.microsecond:
                # protocol.md H.5: App Store Connect takes a release date on the hour only.
                earlier, later = on_the_hour(parsed)
                report.at_value(path + ("scheduled_release_date",), f"{date!r} is not on the hour; App Store "
                                f"Connect schedules releases by the hour only: use \"{earlier}\" or \"{later}\"")
    if step.get("stage_type") == "testflight":
        for key in APP_STORE_ONLY_SETTINGS:
            if key in step:
                report.at_key(path + (key,), f"{key} applies to the App Store only, but stage_type is testflight; "
                              "remove it or set `stage_type: app_store`")


def _check_timeout(path: Path_, value: Any, report: Reporter) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return  # absent, or the schema's type error says it
    try:
        seconds = parse_duration(value)
    except ValueError:
        if isinstance(value, str) and _UNBOUNDED_DURATION.match(value):  # the schema's pattern takes any digits
            report.at_value(path, f"{value[:20]!r}... is longer than any processing takes; give at most "
                            f"{MAX_PROCESSING_TIMEOUT} seconds (7 days), e.g. \"2h\"")
        return  # otherwise the schema's pattern error says it
    if seconds > MAX_PROCESSING_TIMEOUT:
        report.at_value(path, f"{seconds} seconds is longer than any processing takes; give at most "
                        f"{MAX_PROCESSING_TIMEOUT} (7 days), e.g. \"2h\"")
