"""The one place where step unit tests meet the steps: `StepWorld.run(name, settings)` / `.check(name, settings)`.

Every test in this directory goes through these two methods: a test writes a step's settings as a flow does (a
mapping), and the adapter turns them into the typed, frozen settings the plan builds once (publish.plan.settings),
which is also where every offline check happens. When steps or settings change shape, only this file follows. The world holds what a run would hold: a scripted App Store Connect (steps_fake_asc.FakeAsc) behind
a real `AppStoreConnect`, a real state store in tmp_path, an IPA description, a clock that the injected sleep moves
(no real sleeps), and an uploader that records what it was asked to send (the upload engine has its own tests).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from publish.ipa.model import IpaInfo
from publish.plan.settings import StepSettings, settings_for
from publish.state import StateStore
from publish.steps import RunState, StepContext, StepOutcome, get_step
from steps_fake_asc import FakeAsc, many, one, res

APP_ID = "APP1"
BUNDLE_ID = "com.example.steps"
TRAIN_ID = "TRAIN1"
BUILD_ID = "BUILD1"


class FakeClock:
    """Seconds that pass only when the step sleeps: the time is the start plus every sleep so far."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.start = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.start + sum(self.sleeps)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@dataclass
class UploadAnswer:
    """What the upload engine reports (the attributes a step reads from its result)."""

    upload_id: str = "UPLOAD1"
    build_id: str | None = BUILD_ID
    processing_state: str | None = "PROCESSING"
    md5_hex: str = "0" * 32
    bytes_sent: int = 1234
    reused: bool = False


@dataclass
class RecordingUploader:
    answer: UploadAnswer = field(default_factory=UploadAnswer)
    uploads: list[dict[str, Any]] = field(default_factory=list)

    def upload(self, path: str, **kwargs: Any) -> UploadAnswer:
        self.uploads.append({"path": path, **kwargs})
        return self.answer


def make_ipa(**changes: Any) -> IpaInfo:
    ipa = IpaInfo(path="/builds/Steps.ipa", file_size=1234, fingerprint="f" * 64, bundle_id=BUNDLE_ID,
                  version="1.2.0", build_number="45", display_name="Steps", executable="Steps", minimum_os="16.0",
                  device_families=[1], platforms=["iPhoneOS"], platform="IOS", icon_names=[],
                  uses_non_exempt_encryption=False, extensions=[], profile=None, has_code_signature=True,
                  app_path="Payload/Steps.app")
    return dataclasses.replace(ipa, **changes)


class StepWorld:
    """One run's worth of context for the steps under test; `run`/`check` are the adapter."""

    def __init__(self, tmp_path: Path) -> None:
        self.asc = FakeAsc()
        self.clock = FakeClock()
        self.ipa = make_ipa()
        self.flow_dir = tmp_path / "flow"
        self.flow_dir.mkdir()
        self.store: StateStore | None = StateStore.open(tmp_path / "state")
        self.run_state = RunState()
        self.warnings: list[str] = []
        self.uploader = RecordingUploader()
        self.transporter_for: Callable[[str, Mapping[str, Any]], Callable[[str, str], Any]] | None = None
        self.dry_run = False
        self.poll_interval = 10.0
        self.env: dict[str, str] = {}
        self.secrets: list[str] = []
        self.api_keys: list[str | None] = []  # the api_key names the steps asked clients for
        self._client: Any = None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------------ the adapter

    def run(self, name: str, settings: Mapping[str, Any] | None = None) -> StepOutcome:
        """Build the step's settings (the offline checks), then run it, as the runner does: the binary recorded
        first."""
        step, typed = get_step(name), self.check(name, settings)
        if self.store is not None and not self.dry_run:
            self.store.record_binary(self.ipa.to_json())
        return step.run(self.context(), typed)

    def check(self, name: str, settings: Mapping[str, Any] | None = None) -> StepSettings:
        """Only the offline checks of the settings (what fails before anything remote happens)."""
        return settings_for(name, dict(settings or {}), self.flow_dir)

    @property
    def client(self) -> Any:
        """The run's client, made at first use (in a dry run, one whose dry-run transport answers)."""
        if self._client is None:
            self._client = self.asc.client(clock=self.clock, sleep=self.clock.sleep, dry_run=self.dry_run)
        return self._client

    def context(self) -> StepContext:
        def client_for(api_key: str | None) -> Any:
            self.api_keys.append(api_key)
            return self.client

        return StepContext(
            ipa=self.ipa, profile=None, store=self.store, client_for=client_for,
            uploader_for=lambda client, settings: self.uploader, flow_dir=self.flow_dir, run=self.run_state,
            transporter_for=self.transporter_for, clock=self.clock, sleep=self.clock.sleep,
            poll_interval=self.poll_interval, log=logging.getLogger("publish.steps"), dry_run=self.dry_run,
            warnings=self.warnings, env=self.env, register_secret=self.secrets.append,
        )

    # ------------------------------------------------------------------ App Store Connect as the tests set it up

    def app(self, *, primary_locale: str = "en-US", name: str = "Steps") -> None:
        self.asc.on("GET", "/v1/apps", many(res("apps", APP_ID, bundleId=BUNDLE_ID, name=name,
                                                 primaryLocale=primary_locale)))
        self.asc.on("GET", f"/v1/apps/{APP_ID}", one(res("apps", APP_ID, bundleId=BUNDLE_ID, name=name,
                                                          primaryLocale=primary_locale)))

    def builds(self, *builds: dict[str, Any]) -> None:
        """The IPA's version train with these builds (none: the version has no train yet)."""
        trains = [res("preReleaseVersions", TRAIN_ID, version=self.ipa.version, platform=self.ipa.platform)] \
            if builds else []
        self.asc.on("GET", "/v1/preReleaseVersions", many(*trains))
        self.asc.on("GET", "/v1/builds", many(*builds), where={"filter[preReleaseVersion]": TRAIN_ID})

    def build_reads(self, *answers: Any, build_id: str = BUILD_ID) -> None:
        """Answers to GET /v1/builds/{id} (the step's read with includes and the processing polls alike)."""
        self.asc.on("GET", f"/v1/builds/{build_id}", *answers)

    def ready_build(self, build_id: str = BUILD_ID, **attributes: Any) -> dict[str, Any]:
        """A processed build with no TestFlight state yet, as one GET with includes returns it."""
        values = {"version": self.ipa.build_number, "processingState": "VALID", "usesNonExemptEncryption": False,
                  "expired": False, **attributes}
        build = res("builds", build_id, {"betaGroups": [], "individualTesters": [], "betaBuildLocalizations": [],
                                         "buildBetaDetail": f"BBD-{build_id}", "betaAppReviewSubmission": None},
                    **values)
        detail = res("buildBetaDetails", f"BBD-{build_id}", autoNotifyEnabled=True, internalBuildState="IN_BETA_TESTING",
                     externalBuildState="READY_FOR_BETA_SUBMISSION")
        return one(build, included=[detail])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[StepWorld]:
    with contextlib.closing(StepWorld(tmp_path)) as made:
        yield made
