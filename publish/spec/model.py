"""What a publish-flow file means once it is read: secret references, API keys, Apple IDs, profiles and their steps,
and the located problems (`Diagnostic`, `FlowError`) a flow that cannot be read is reported with.

Plain frozen data: nothing here reads a file or knows YAML, so every other layer (plan, steps, secrets) can depend
on it without pulling the loader in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from publish.errors import InputError

FORMAT_VERSION = 1
# Values under these keys are secrets: never quoted back in an error message.
SECRET_FIELDS = frozenset({"private_key", "app_specific_password", "fastlane_json", "password"})
# Settings of send_to_app_store that mean nothing when it distributes through TestFlight.
APP_STORE_ONLY_SETTINGS = ("whats_new", "release_type", "scheduled_release_date", "phased_release",
                           "submit_for_review", "cancel_previous_submission", "cancel_submission_in_review",
                           "add_missing_locales")

Path_ = tuple[Union[str, int], ...]


@dataclass(frozen=True)
class SecretRef:
    """Where a value comes from: an environment variable or a file (relative to the flow file's directory)."""

    env: str | None = None
    file: str | None = None
    encoding: str | None = None  # None or "base64"

    def describe(self) -> str:
        where = f"environment variable {self.env}" if self.env else f"file {self.file}"
        return f"{where} (base64)" if self.encoding == "base64" else where


Value = Union[str, SecretRef]


@dataclass(frozen=True)
class ApiKeySpec:
    name: str
    key_id: Value | None = None
    issuer_id: Value | None = None
    private_key: SecretRef | None = None
    fastlane_json: SecretRef | None = None


@dataclass(frozen=True)
class AppleIdSpec:
    name: str
    apple_id: Value
    app_specific_password: SecretRef


@dataclass(frozen=True)
class StepSpec:
    step: str
    settings: dict[str, Any]  # the step mapping minus "step"; defaults are not filled in
    index: int
    line: int

    @property
    def settings_hash(self) -> str:
        """Stable across runs and key order: sha256 of the canonical JSON of the settings."""
        canonical = json.dumps(self.settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ProfileSpec:
    bundle_id: str
    name: str | None
    keep_binaries: bool
    flow: list[StepSpec]
    line: int = 0


@dataclass(frozen=True)
class FlowSpec:
    path: str
    version: int
    api_keys: dict[str, ApiKeySpec]
    apple_ids: dict[str, AppleIdSpec]
    profiles: list[ProfileSpec]
    raw: dict[str, Any]
    state_dir: str | None = None

    @property
    def base_dir(self) -> Path:
        """The directory relative file references are resolved against."""
        return Path(self.path).resolve().parent

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, order=True)
class Diagnostic:
    line: int
    column: int
    path: str
    message: str
    source: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.path}: {self.message}"


class FlowError(InputError):
    """The flow file has problems; `diagnostics` lists every one of them."""

    def __init__(self, source: str, diagnostics: list[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = diagnostics
        count = len(diagnostics)
        lines = "\n".join(f"  {d}" for d in diagnostics)
        super().__init__(
            f"{source} is not a valid publish flow ({count} problem{'s' if count != 1 else ''}):\n{lines}",
            hint="fix the lines above; `appstore-publish schema` prints the JSON Schema (editors can use it to "
            "complete and check the file).",
        )
