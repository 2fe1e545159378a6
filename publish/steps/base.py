"""What every step shares: the run context it is given, the per-run state later steps reuse, its outcome,
and small settings helpers (durations, release notes from text or files).

A step is a class with a `name`, an offline `check(ctx, settings)` (run for every step before anything remote
happens, so a typo in step 3 does not leave steps 1-2 half-done) and `run(ctx, settings) -> StepOutcome`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from publish.errors import InputError

if TYPE_CHECKING:  # imported for type hints only: steps get these objects from the runner
    from publish.asc import AppStoreConnect
    from publish.ipa import IpaInfo
    from publish.state import StateStore

DEFAULT_LOCALE = "en-US"
DEFAULT_PROCESSING_TIMEOUT = 3600.0
_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


@dataclass
class RunState:
    """App Store Connect ids found or made by earlier steps of this run (or by earlier runs of a skipped step)."""

    app_id: str | None = None
    app_name: str | None = None
    app_primary_locale: str | None = None  # the app's primaryLocale, as read with the app
    export_compliance_set_for: str | None = None  # the build whose usesNonExemptEncryption this run PATCHed
    build_id: str | None = None
    upload_id: str | None = None
    processing_state: str | None = None
    app_store_version_id: str | None = None
    review_submission_id: str | None = None
    beta_review_submission_id: str | None = None
    # The build as last read (attributes kept up to date by our own writes), so a later step need not read it again.
    build: Any = None
    # The build's TestFlight state read together with it (one GET with includes); used once, before any change.
    testflight_state: Any = None

    ID_FIELDS: ClassVar[tuple[str, ...]] = (
        "app_id",
        "build_id",
        "upload_id",
        "app_store_version_id",
        "review_submission_id",
        "beta_review_submission_id",
    )

    def ids(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.ID_FIELDS if getattr(self, name)}

    def merge(self, ids: Mapping[str, Any]) -> None:
        for name in self.ID_FIELDS:
            value = ids.get(name)
            if value and not str(value).startswith("dry-run-"):
                setattr(self, name, str(value))


@dataclass
class StepOutcome:
    """What a step did: a one-line message, the App Store Connect ids it touched, and outputs for the history."""

    message: str
    asc_ids: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepContext:
    """Everything a step may use. Built by the runner; tests build it the same way."""

    ipa: IpaInfo
    profile: Any  # publish.spec.ProfileSpec
    store: StateStore | None  # None only in a dry run without a state directory
    client_for: Callable[[str | None], AppStoreConnect]
    uploader_for: Callable[[AppStoreConnect, Mapping[str, Any]], Any]  # -> publish.upload.BuildUploader
    flow_dir: Path
    run: RunState = field(default_factory=RunState)
    # (apple_id name, settings) -> upload(ipa_path, platform) through iTMSTransporter / altool
    transporter_for: Callable[[str, Mapping[str, Any]], Callable[[str, str], Any]] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_interval: float = 10.0
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("publish.steps"))
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)  # where step secrets ({env: ...}) are read
    register_secret: Callable[[str], None] | None = None  # masks a secret in every log line and output

    def warn(self, message: str) -> None:
        self.log.warning("warning: %s", message)
        self.warnings.append(message)

    def remember(self, **fields: Any) -> None:
        """Record App Store Connect ids/states of this binary in the state store (not in a dry run)."""
        if self.store is not None and not self.dry_run:
            self.store.update_remote(self.ipa.fingerprint, **{k: v for k, v in fields.items() if v is not None})


class Step:
    """Base of the flow steps. Subclasses set `name` and implement `run`."""

    name: ClassVar[str] = ""

    def check(self, ctx: StepContext, settings: Mapping[str, Any]) -> None:
        """Offline checks of the settings (files readable, dates valid); raise InputError. Default: none."""

    def run(self, ctx: StepContext, settings: Mapping[str, Any]) -> StepOutcome:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------- settings helpers


def parse_duration(value: Any, *, setting: str = "processing_timeout") -> float:
    """Seconds from an int or a duration string like "45m", "2h", "90s", "1h30m"."""
    if value is None:
        return DEFAULT_PROCESSING_TIMEOUT
    if isinstance(value, bool):
        raise InputError(f"{setting}: {value!r} is not a duration", hint='use seconds (3600) or a string like "45m"')
    if isinstance(value, (int, float)):
        if value <= 0:
            raise InputError(f"{setting}: {value} must be more than 0 seconds", hint='e.g. 3600 or "1h"')
        return float(value)
    match = _DURATION.match(str(value))
    if not match or not any(match.groups()):
        raise InputError(
            f"{setting}: {value!r} is not a duration",
            hint='write seconds as a number (3600) or a duration such as "45m", "2h", "90s" or "1h30m"',
        )
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise InputError(f"{setting}: {value!r} must be more than 0 seconds", hint='e.g. "45m"')
    return float(total)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


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
        if len(text) > 4000:
            raise InputError(
                f"{setting}: the notes for {locale} are {len(text)} characters; App Store Connect allows 4000",
                hint="shorten them",
            )
    return notes


def setting_bool(settings: Mapping[str, Any], name: str, default: bool) -> bool:
    value = settings.get(name, default)
    if not isinstance(value, bool):
        raise InputError(f"{name}: {value!r} is not true or false", hint=f"write `{name}: true` or `{name}: false`")
    return value


def setting_str(settings: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = settings.get(name, default)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{name}: {value!r} is not a string", hint=f"quote the value of {name}")
    return value
