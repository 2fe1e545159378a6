"""The values of a step's settings turned into what the steps use, once, before anything remote happens: durations
in seconds, release notes read from their files and held to Apple's limits, a release date on the hour in UTC,
testers and the expiry policy. Each function takes the value as the (schema-validated) flow gives it and raises an
InputError that says what is wrong and how to write it instead.

The schema and `publish.spec` already refuse wrong types, an unknown `stage_type`, App-Store-only settings on a
TestFlight stage and durations beyond a week; what is checked here is what they cannot know (a file's content, a
date in the past, a duration of zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from publish.errors import InputError
from publish.plan.schema_facts import default_processing_timeout
from publish.spec import parse_duration as duration_seconds

RELEASE_TYPES = {"manual": "MANUAL", "after_approval": "AFTER_APPROVAL", "scheduled": "SCHEDULED"}
# A plain-text whats_new without `locale:` goes to every locale the version has (protocol.md H12).
EVERY_LOCALE = "*"
NOTES_MAX_CHARACTERS = 4000
WHAT_TO_TEST_MAX_BYTES = 4000  # Apple counts UTF-8 bytes (protocol.md H.17)
MAX_KEEP = 10_000  # more builds than a version train ever holds; a larger number is a typo


def parse_duration(value: Any, *, setting: str = "processing_timeout") -> float:
    """Seconds from an int or a duration string like "45m", "2h", "90s", "1h30m" (spec's parser; more than 0).
    None is the schema's default."""
    if value is None:
        return default_processing_timeout()
    try:
        seconds: float = value if isinstance(value, float) else duration_seconds(value)
    except ValueError:
        raise InputError(
            f"{setting}: {value!r} is not a duration",
            hint='write seconds as a number (3600) or a duration such as "45m", "2h", "90s" or "1h30m"',
        ) from None
    if seconds <= 0:
        raise InputError(f"{setting}: {value!r} must be more than 0 seconds", hint='e.g. 3600 or "45m"')
    return float(seconds)


def _read_text_file(path_text: str, base_dir: Path, setting: str) -> str:
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{setting}: the file {path} does not exist",
            hint="file paths in a flow are relative to the flow file's directory; fix the path or create the file",
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{setting}: {path} is not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{setting}: cannot read {path}: {exc.strerror}", hint="check the path and permissions") \
            from None
    return text.strip()


def _text(value: Any, base_dir: Path, setting: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping) and set(value) == {"file"} and isinstance(value["file"], str):
        return _read_text_file(value["file"], base_dir, setting)
    raise InputError(f"{setting}: {value!r} is neither text nor {{file: path}}", hint="write a string or {file: path}")


def release_notes(value: Any, *, default_locale: str, base_dir: Path, setting: str) -> dict[str, str]:
    """Notes per locale from a string, {file: path}, or {<locale>: string | {file: path}}."""
    if value is None:
        return {}
    if isinstance(value, str) or (isinstance(value, Mapping) and set(value) == {"file"}):
        notes = {default_locale: _text(value, base_dir, setting)}
    elif isinstance(value, Mapping) and value:
        notes = {str(locale): _text(text, base_dir, f"{setting}.{locale}") for locale, text in value.items()}
    else:
        raise InputError(
            f"{setting}: {value!r} is not release notes",
            hint="write a string, {file: CHANGELOG.md}, or a mapping like {en-US: ..., de-DE: {file: notes.de.txt}}",
        )
    for locale, text in notes.items():
        if not text:
            raise InputError(f"{setting}: the notes for {locale} are empty", hint="write some text or leave it out")
        if len(text) > NOTES_MAX_CHARACTERS:
            raise InputError(
                f"{setting}: the notes for {locale} are {len(text)} characters; App Store Connect allows "
                f"{NOTES_MAX_CHARACTERS}",
                hint="shorten them",
            )
    return notes


def check_what_to_test(locale: str, text: str) -> None:
    """H.17, offline: Apple takes at most 4000 bytes of UTF-8 and refuses '<' and characters outside the Basic
    Multilingual Plane (emoji); say what and where."""
    size = len(text.encode("utf-8"))
    if size > WHAT_TO_TEST_MAX_BYTES:
        raise InputError(f"what_to_test ({locale}) is {size} bytes of UTF-8; App Store Connect takes at most "
                         f"{WHAT_TO_TEST_MAX_BYTES} bytes", hint="shorten it (accented letters take 2 bytes, most "
                         "other scripts 3)")
    for line_number, line in enumerate(text.splitlines(), 1):
        for column, char in enumerate(line, 1):
            if char == "<" or ord(char) > 0xFFFF:
                raise InputError(f"what_to_test ({locale}) line {line_number}, column {column}: App Store Connect "
                                 f"refuses the character {char!r} (U+{ord(char):04X})",
                                 hint="remove it (Apple refuses '<' and emoji in What to Test)")


def release_type(value: str | None) -> str | None:
    """Apple's releaseType for the flow's `release_type` (manual -> MANUAL ...)."""
    if value is None:
        return None
    if value not in RELEASE_TYPES:
        raise InputError(f"release_type: {value!r} is not one of {', '.join(RELEASE_TYPES)}",
                         hint="write release_type: manual, after_approval or scheduled")
    return RELEASE_TYPES[value]


def release_date(value: Any, apple_release_type: str | None) -> str | None:
    """The earliestReleaseDate (UTC, on the hour, in the future) of a scheduled release; None when not scheduled."""
    if apple_release_type == "SCHEDULED":
        if value is None:
            raise InputError("release_type: scheduled needs scheduled_release_date",
                             hint='add scheduled_release_date: "2026-07-01T16:00:00Z" (ISO 8601, UTC or with offset)')
        return _release_date(value)
    if value is not None:
        raise InputError("scheduled_release_date is set but release_type is not scheduled",
                         hint="add release_type: scheduled, or remove scheduled_release_date")
    return None


def _release_date(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"scheduled_release_date: {text!r} is not an ISO 8601 date-time",
                         hint='write it like "2026-07-01T16:00:00Z" or "2026-07-01T18:00:00+02:00"') from None
    if when.tzinfo is None:
        raise InputError(f"scheduled_release_date: {text!r} has no time zone",
                         hint='add Z (UTC) or an offset: "2026-07-01T16:00:00Z"')
    when = when.astimezone(timezone.utc)
    if when <= datetime.now(timezone.utc):
        raise InputError(f"scheduled_release_date: {text} is in the past", hint="choose a date in the future")
    require_on_the_hour(when, setting="scheduled_release_date")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def require_on_the_hour(when: datetime, *, setting: str) -> None:
    """App Store Connect schedules releases by the hour only (protocol.md H5): refuse a date with minutes or
    seconds, whatever path it came by, with the whole hours around it suggested."""
    if not (when.minute or when.second or when.microsecond):
        return
    earlier = when.replace(minute=0, second=0, microsecond=0)
    later = earlier + timedelta(hours=1)
    raise InputError(
        f"{setting}: {when.isoformat()} is not on the hour; App Store Connect schedules releases by the hour only",
        hint=f'use "{earlier.strftime("%Y-%m-%dT%H:%M:%SZ")}" or "{later.strftime("%Y-%m-%dT%H:%M:%SZ")}"',
    )


@dataclass(frozen=True)
class Tester:
    email: str
    first_name: str | None = None
    last_name: str | None = None

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in (("email", self.email), ("first_name", self.first_name),
                                  ("last_name", self.last_name)) if v is not None}


def tester(value: Any) -> Tester:
    if isinstance(value, str) and "@" in value:
        return Tester(value.strip())
    if isinstance(value, Mapping) and isinstance(value.get("email"), str) and "@" in value["email"]:
        return Tester(value["email"].strip(), value.get("first_name"), value.get("last_name"))
    raise InputError(f"testers: {value!r} is not an e-mail address or {{email, first_name, last_name}}",
                     hint="write testers: [ann@example.com, {email: bob@example.com, first_name: Bob}]")


def group_names(value: Any) -> tuple[str, ...]:
    groups = value or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise InputError(f"groups: {groups!r} is not a list of group names", hint="write groups: [Internal, Beta]")
    return tuple(dict.fromkeys(groups))


@dataclass(frozen=True)
class ExpiryPolicy:
    keep: int | None  # None: expire every lower build number; N: keep the newest N, counting the one shipped
    in_beta_review: bool = False

    def describe(self) -> str:
        return "every earlier build of the version" if self.keep is None else \
            f"all but the newest {self.keep} build(s) of the version"

    def to_json(self) -> bool | int:
        """As the flow writes it: true (every earlier build) or the number of builds kept."""
        return True if self.keep is None else self.keep


def read_expiry(settings: Mapping[str, Any]) -> ExpiryPolicy | None:
    """The step's expiry setting, checked offline (None: nothing to expire)."""
    value = settings.get("expire_previous_builds", False)
    in_beta = settings.get("expire_builds_in_beta_review", False)
    if not isinstance(in_beta, bool):
        raise InputError(f"expire_builds_in_beta_review: {in_beta!r} is not true or false",
                         hint="write `expire_builds_in_beta_review: true` or `expire_builds_in_beta_review: false`")
    if value is None or value is False:
        if in_beta:
            raise InputError("send_to_testflight: expire_builds_in_beta_review is set, but expire_previous_builds "
                             "is not", hint="add expire_previous_builds: true (or a number of builds to keep), or "
                             "remove expire_builds_in_beta_review")
        return None
    if value is True:
        return ExpiryPolicy(keep=None, in_beta_review=in_beta)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_KEEP:
        return ExpiryPolicy(keep=value, in_beta_review=in_beta)
    shown = repr(value) if isinstance(value, (int, float, bool)) or value is None else type(value).__name__
    raise InputError(
        f"send_to_testflight: expire_previous_builds must be true or a number of builds to keep (1 or more), "
        f"not {shown}",
        hint="write expire_previous_builds: true (expire every earlier build of the version) or, e.g., "
        "expire_previous_builds: 3 (keep the newest 3 builds of the version, this one included)",
    )
