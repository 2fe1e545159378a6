"""What every step shares: the run context it is given, the per-run state later steps reuse, and its outcome.

A step is a class with a `name` and `run(ctx, settings) -> StepOutcome`. Its settings come typed and checked from
the plan (publish/plan/settings.py), built for every step before anything remote happens, so a typo in step 3 does
not leave steps 1-2 half-done and a step never checks a setting again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar


if TYPE_CHECKING:  # imported for type hints only: steps get these objects from the runner
    from publish.asc import AppStoreConnect
    from publish.ipa.binary import BinaryInfo
    from publish.plan import DeliverySettings
    from publish.state import StateStore



DRY_RUN_TAG = "[dry run] "


class DryRunLog(logging.LoggerAdapter[logging.Logger]):
    """A step's logger in a dry run. A step says what it did in a run's words ("created review submission ...",
    "added to group: ...", "submitted version 1.0.0 for App Store review"); in a dry run nothing was written, so each
    of its lines carries the tag and no reader of a CI log takes a simulated line for a change on App Store Connect.
    A line a step already words for the dry run ("dry run: would ...") keeps its own wording."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):  # logging reports a bad format when it emits; the tag goes on as usual
            text = str(msg)
        if not text.removeprefix("warning: ").startswith("dry run"):
            msg = DRY_RUN_TAG + str(msg)
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs  # the caller's own `extra` (step boundaries) passes as it is


def step_log(*, dry_run: bool) -> logging.Logger | DryRunLog:
    """The steps' logger: tagged in a dry run (DryRunLog)."""
    log = logging.getLogger("publish.steps")
    return DryRunLog(log, {}) if dry_run else log


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

    ipa: BinaryInfo  # the run's subject: an .ipa or a .pkg, read alike
    profile: Any  # publish.spec.ProfileSpec
    store: StateStore | None  # None only in a dry run without a state directory
    client_for: Callable[[str | None], AppStoreConnect]
    uploader_for: Callable[[AppStoreConnect, DeliverySettings], Any]  # -> publish.upload.BuildUploader
    flow_dir: Path
    run: RunState = field(default_factory=RunState)
    # (apple_id name, settings) -> upload(ipa_path, platform) through iTMSTransporter / altool
    transporter_for: Callable[[str, DeliverySettings], Callable[[str, str], Any]] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_interval: float = 10.0
    log: logging.Logger | DryRunLog = field(default_factory=lambda: step_log(dry_run=False))
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)  # where step secrets ({env: ...}) are read
    register_secret: Callable[[str], Any] | None = None  # masks a secret in every log line and output

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

    def run(self, ctx: StepContext, settings: Any) -> StepOutcome:
        """Do the step with its settings (the StepSettings subclass of its type, publish.plan.settings)."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------------- messages


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
