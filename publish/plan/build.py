"""The plan of a run, built by one function: which profile the binary belongs to, its steps with their typed
settings and settings hash, which of them a run would skip (done before for this binary with the same settings),
the credentials each one uses, and the binary's pre-flight findings.

`plan` renders it (text and `--json`) and `run` executes it (publish/runner.py), so what `plan` shows is what a run
does. Building it touches nothing remote and writes nothing: the state store, when given, is only read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from publish.errors import InputError
from publish.ipa.binary import BinaryInfo, binary_kind, binary_preflight
from publish.ipa.preflight import Finding
from publish.plan.profile import choose_profile
from publish.plan.settings import DeliverySettings, StepSettings, build_settings
from publish.spec import FlowSpec, ProfileSpec, StepSpec

PLAN_FORMAT_VERSION = 1
UPLOADING_STEPS = ("send_to_testflight", "send_to_app_store")


class CompletedSteps(Protocol):
    """The part of the state store the plan reads: the last successful run of a step on a binary."""

    def find_completed_step(self, *, fingerprint: str, step_index: int, step_name: str,
                            settings_hash: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class StepCredentials:
    """What a step signs in with: an API key (by name; None: the one in the environment), an Apple ID to upload."""

    uses_api: bool  # False: the step makes no App Store Connect call (mark_as_rc)
    api_key: str | None
    apple_id: str | None

    def describe(self) -> str:
        if self.apple_id is not None:
            return f"apple_id {self.apple_id}"
        if not self.uses_api:
            return "none"
        return f"api_key {self.api_key}" if self.api_key is not None else "API key from the environment"

    def to_json(self) -> dict[str, Any]:
        return {"api_key": self.api_key if self.uses_api else None, "api_key_from_environment":
                self.uses_api and self.api_key is None, "apple_id": self.apple_id}


@dataclass(frozen=True)
class PlannedStep:
    spec: StepSpec
    settings: StepSettings
    credentials: StepCredentials
    done: dict[str, Any] | None  # the earlier successful run that makes this one skippable, else None
    export_compliance: bool | None  # usesNonExemptEncryption the step would declare (uploading steps)
    export_compliance_from: str | None  # "step", "Info.plist", or None when nothing says

    @property
    def would_skip(self) -> bool:
        return self.done is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.spec.index,
            "step": self.spec.step,
            "line": self.spec.line,
            "credentials": self.credentials.describe(),
            "uses": self.credentials.to_json(),
            "settings": self.settings.to_json(),
            "settings_hash": self.spec.settings_hash,
            "would_skip": self.would_skip,
            "done_at": self.done.get("finished_at") if self.done else None,
            "export_compliance": None if self.spec.step not in UPLOADING_STEPS else {
                "uses_non_exempt_encryption": self.export_compliance, "from": self.export_compliance_from},
        }


@dataclass(frozen=True)
class Plan:
    flow: FlowSpec
    binary: BinaryInfo
    profile: ProfileSpec
    matched_by: str  # "bundle_id" or "override" (--profile)
    steps: tuple[PlannedStep, ...]
    findings: tuple[Finding, ...]  # pre-flight, errors and warnings
    flow_hash: str
    restart: bool

    @property
    def kind(self) -> str:
        return binary_kind(self.binary)

    @property
    def preflight_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def preflight_warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.severity != "error"]

    @property
    def notes(self) -> list[str]:
        """What `plan` warns about without stopping: a profile chosen for another bundle ID, pre-flight errors (a
        run stops at them), and steps that cannot know the export compliance answer."""
        notes = []
        if self.profile.bundle_id != self.binary.bundle_id:
            notes.append(f"the {self.kind}'s bundle ID is {self.binary.bundle_id}, but the chosen profile is for "
                         f"{self.profile.bundle_id}")
        notes += [f"pre-flight: {f.message}" for f in self.preflight_errors]
        for step in self.steps:
            if step.spec.step in UPLOADING_STEPS and step.export_compliance is None:
                notes.append(f"step {step.spec.index + 1} ({step.spec.step}): uses_non_exempt_encryption is neither set in "
                             "the step nor in the IPA's Info.plist (ITSAppUsesNonExemptEncryption): add "
                             "`uses_non_exempt_encryption: false` (or true) to the step")
        return notes

    def require_preflight(self, path: Path | str) -> None:
        """Stop before anything remote happens when App Store Connect would refuse the binary."""
        errors = self.preflight_errors
        if not errors:
            return
        listing = "\n".join(f"  - [{f.id}] {f.message}" for f in errors)
        raise InputError(
            f"the {self.kind} {path} would be refused by App Store Connect ({len(errors)} problem"
            f"{'s' if len(errors) > 1 else ''}); nothing was sent:\n{listing}",
            hint="fix the build (see each problem above), then run again; `appstore-publish check IPA` re-checks it",
        )

    def api_key_names(self) -> list[str | None]:
        """The API keys the steps sign App Store Connect calls with (None: the one in the environment)."""
        return [s.credentials.api_key for s in self.steps if s.credentials.uses_api and s.credentials.apple_id is None]

    def to_json(self, flow_path: str | None = None, credentials: list[str] | None = None) -> dict[str, Any]:
        """What `plan --json` prints (schemas/plan.schema.json); `credentials`: what --check-secrets found."""
        b = self.binary
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "flow": flow_path if flow_path is not None else self.flow.path,
            "ipa": {"path": b.path, "bundle_id": b.bundle_id, "version": b.version, "build_number": b.build_number,
                    "display_name": b.display_name, "platform": b.platform, "file_size": b.file_size,
                    "fingerprint": b.fingerprint, "kind": self.kind},
            "profile": {"bundle_id": self.profile.bundle_id, "name": self.profile.name,
                        "keep_binaries": self.profile.keep_binaries, "matched_by": self.matched_by},
            "flow_hash": self.flow_hash,
            "restart": self.restart,
            "steps": [s.to_json() for s in self.steps],
            "preflight": [f.to_json() for f in self.findings],
            "credentials": list(credentials or []),
            "warnings": self.notes,
        }


def flow_hash(profile: ProfileSpec) -> str:
    """sha256 of the profile's bundle ID and its steps with their settings as written."""
    canonical = json.dumps({"bundle_id": profile.bundle_id, "flow": [[s.step, s.settings] for s in profile.flow]},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_plan(flow: FlowSpec, binary: BinaryInfo, *, profile: str | None = None,
               store: CompletedSteps | None = None, restart: bool = False) -> Plan:
    """The plan for `binary` under `flow`: `profile` overrides the choice by bundle ID; `store` (None: nothing was
    recorded yet) tells which steps are done, unless `restart` says to run them all again. Raises InputError for a
    profile that does not exist or settings that cannot be used (a notes file missing, a date in the past ...)."""
    chosen = choose_profile(flow, binary.bundle_id, profile)
    # A Mac package without a provisioning profile uploads, but cannot be used in TestFlight: an error only then.
    # promote hook: a promoted build (publish.promote) has no file here; it was checked before its upload.
    findings = [] if getattr(binary, "is_promote", False) else \
        binary_preflight(binary, expected_bundle_id=chosen.bundle_id,
                         for_testflight=any(s.step == "send_to_testflight" for s in chosen.flow))
    steps = tuple(_planned(spec, build_settings(spec, flow.base_dir), binary, store, restart)
                  for spec in chosen.flow)
    return Plan(flow=flow, binary=binary, profile=chosen, matched_by="override" if profile else "bundle_id",
                steps=steps, findings=tuple(findings), flow_hash=flow_hash(chosen), restart=restart)


def _planned(spec: StepSpec, settings: StepSettings, binary: BinaryInfo, store: CompletedSteps | None,
             restart: bool) -> PlannedStep:
    done = None
    if store is not None and not restart:
        done = store.find_completed_step(fingerprint=binary.fingerprint, step_index=spec.index, step_name=spec.step,
                                         settings_hash=spec.settings_hash)
    api_key = getattr(settings, "api_key", None)
    apple_id = getattr(settings, "apple_id", None)
    credentials = StepCredentials(uses_api=spec.step != "mark_as_rc", api_key=api_key, apple_id=apple_id)
    compliance, source = None, None
    if isinstance(settings, DeliverySettings):
        if settings.uses_non_exempt_encryption is not None:
            compliance, source = settings.uses_non_exempt_encryption, "step"
        elif binary.uses_non_exempt_encryption is not None:
            compliance, source = binary.uses_non_exempt_encryption, "Info.plist"
    return PlannedStep(spec=spec, settings=settings, credentials=credentials, done=done,
                       export_compliance=compliance, export_compliance_from=source)
