"""Typed, frozen settings per step type, built once from the schema-validated flow: files read, durations in
seconds, dates checked, defaults taken from the schema (schema_facts.py) and nowhere else.

A step receives its settings object and uses it as it is: every check that can be made offline has been made here,
before anything remote happens, so a typo in step 3 cannot leave steps 1-2 done and the rest not. Field names are
the schema's property names (tests/test_plan_settings.py holds them equal); the few derived fields are marked.
`to_json()` is what `plan` shows and the run result records: the settings in effect, in the flow's vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from publish.errors import InputError
from publish.plan.beta_review_info import TestInformation, other_review_choice, read_test_information
from publish.plan.schema_facts import default, default_processing_timeout, given_or_default, has_default, \
    step_properties
from publish.plan.values import EVERY_LOCALE, ExpiryPolicy, Tester, check_what_to_test, group_names, parse_duration, \
    read_expiry, release_date, release_notes, release_type, tester
from publish.spec import APP_STORE_ONLY_SETTINGS, StepSpec

DERIVED = {"derived": True}  # a field computed from the settings, not one of the schema's properties
# Settings that make send_to_app_store distribute on TestFlight too (the rest of TestFlight is left alone).
TESTFLIGHT_SETTINGS = ("what_to_test", "groups", "testers", "notify_testers", "submit_for_beta_review",
                       "uses_non_exempt_encryption", "test_information", "if_another_build_in_review")
# Settings of both uploading steps whose defaults apply to send_to_app_store whatever its stage.
_DELIVERY_SETTINGS = ("api_key", "apple_id", "xcode_version", "wait_for_processing", "processing_timeout")


@dataclass(frozen=True, kw_only=True)
class StepSettings:
    """What every step's settings share: which settings the flow wrote (the others are defaults, or unset)."""

    step: ClassVar[str] = ""
    given: frozenset[str] = field(metadata=DERIVED)

    @property
    def wait_budget(self) -> float:
        """Seconds every wait of the step (Apple's rate limits included) must end within."""
        return default_processing_timeout()

    def applies(self, setting: str) -> bool:
        """Whether the schema's default of `setting` is in effect for this step (all of them, but for
        send_to_app_store)."""
        return True

    def to_json(self) -> dict[str, Any]:
        """The settings in effect (written in the flow, or defaulted by the schema where the default applies)."""
        shown: dict[str, Any] = {}
        for item in fields(self):
            if item.metadata.get("derived"):
                continue
            if item.name in self.given or (has_default(self.step, item.name) and self.applies(item.name)):
                shown[item.name] = _json(getattr(self, item.name))
        return shown


@dataclass(frozen=True, kw_only=True)
class DeliverySettings(StepSettings):
    """The settings both uploading steps have: credentials, processing, and what goes to TestFlight."""

    api_key: str | None
    apple_id: str | None
    xcode_version: str | None
    wait_for_processing: bool
    processing_timeout: float  # seconds
    what_to_test: Mapping[str, str]  # locale -> text, files read and held to Apple's limits (H.17)
    groups: tuple[str, ...]
    testers: tuple[Tester, ...]
    notify_testers: bool
    submit_for_beta_review: bool | None  # None: when an external group is given
    uses_non_exempt_encryption: bool | None  # None: the binary's Info.plist says (or nothing does)
    locale: str | None
    what_to_test_in_primary_locale: bool = field(metadata=DERIVED)  # a plain text: the app's primary locale

    @property
    def wait_budget(self) -> float:
        return self.processing_timeout

    @property
    def distributes(self) -> bool:
        return bool(self.groups or self.testers)


@dataclass(frozen=True, kw_only=True)
class SendToTestflightSettings(DeliverySettings):
    step: ClassVar[str] = "send_to_testflight"
    test_information: TestInformation
    if_another_build_in_review: str
    expire_previous_builds: ExpiryPolicy | None
    expire_builds_in_beta_review: bool


@dataclass(frozen=True, kw_only=True)
class SendToAppStoreSettings(DeliverySettings):
    step: ClassVar[str] = "send_to_app_store"
    stage_type: str
    whats_new: Mapping[str, str]  # locale (or EVERY_LOCALE) -> text
    add_missing_locales: bool
    release_type: str | None  # Apple's value: MANUAL, AFTER_APPROVAL, SCHEDULED
    scheduled_release_date: str | None  # UTC, on the hour, in the future
    phased_release: bool | None  # None: left as it is
    submit_for_review: bool
    cancel_previous_submission: bool
    cancel_submission_in_review: bool
    require_rc: bool
    testflight_given: bool = field(metadata=DERIVED)  # some TestFlight setting is written: it distributes too

    # Not settings of this step: a beta review it starts uses what App Store Connect holds, and stops at another
    # build in review (send_to_testflight's defaults).
    @property
    def test_information(self) -> TestInformation:
        return TestInformation()

    @property
    def if_another_build_in_review(self) -> str:
        return str(default("send_to_testflight", "if_another_build_in_review"))

    def applies(self, setting: str) -> bool:
        """TestFlight defaults apply only to the settings given; App Store ones only to the App Store stage."""
        if setting == "locale":
            return True
        if setting in step_properties("send_to_testflight"):
            return setting in _DELIVERY_SETTINGS
        if self.stage_type == "testflight":
            return setting not in APP_STORE_ONLY_SETTINGS
        return True


@dataclass(frozen=True, kw_only=True)
class SubmitForReviewSettings(StepSettings):
    step: ClassVar[str] = "submit_for_review"
    api_key: str | None
    cancel_previous_submission: bool
    cancel_submission_in_review: bool


@dataclass(frozen=True, kw_only=True)
class MarkAsRcSettings(StepSettings):
    step: ClassVar[str] = "mark_as_rc"
    note: str | None


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings(StepSettings):
    step: ClassVar[str] = "release"
    api_key: str | None
    action: str  # release, pause, resume or complete


SETTINGS_TYPES: dict[str, type[StepSettings]] = {
    cls.step: cls for cls in (SendToTestflightSettings, SendToAppStoreSettings, SubmitForReviewSettings,
                              MarkAsRcSettings, ReleaseSettings)
}


# ------------------------------------------------------------------------------------------------ building them


def build_settings(step: StepSpec, base_dir: Path) -> StepSettings:
    """The typed settings of one step of a loaded flow (files relative to `base_dir`, the flow's directory)."""
    return settings_for(step.step, step.settings, base_dir)


def settings_for(step: str, raw: Mapping[str, Any], base_dir: Path) -> StepSettings:
    """The typed settings of a `step` whose (schema-valid) settings mapping is `raw`."""
    try:
        builder = _BUILDERS[step]
    except KeyError:
        raise InputError(f"unknown step {step!r}", hint=f"use one of: {', '.join(_BUILDERS)}") from None
    return builder({k: v for k, v in raw.items() if k != "step"}, base_dir)


def _flag(step: str, raw: Mapping[str, Any], name: str) -> bool:
    value = given_or_default(step, raw, name)
    if value is None:
        return False  # a flag the flow leaves out, without a default in the schema, is off
    if not isinstance(value, bool):
        raise InputError(f"{name}: {value!r} is not true or false", hint=f"write `{name}: true` or `{name}: false`")
    return value


def _optional_flag(raw: Mapping[str, Any], name: str) -> bool | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, bool):
        raise InputError(f"{name}: {value!r} is not true or false", hint=f"write `{name}: true` or `{name}: false`")
    return value


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{name}: {value!r} is not a string", hint=f"quote the value of {name}")
    return value


def _delivery(step: str, raw: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """The fields of DeliverySettings. What to Test without `locale` goes to send_to_testflight's default locale
    (the app's primary locale once it is known)."""
    locale = _text(raw, "locale") if "locale" in raw else default(step, "locale")
    raw_notes = raw.get("what_to_test")
    notes = release_notes(raw_notes, default_locale=locale or str(default("send_to_testflight", "locale")),
                          base_dir=base_dir, setting="what_to_test")
    for note_locale, text in notes.items():
        check_what_to_test(note_locale, text)
    return {
        "given": frozenset(raw),
        "api_key": _text(raw, "api_key"),
        "apple_id": _text(raw, "apple_id"),
        "xcode_version": _text(raw, "xcode_version"),
        "wait_for_processing": _flag(step, raw, "wait_for_processing"),
        "processing_timeout": parse_duration(given_or_default(step, raw, "processing_timeout")),
        "what_to_test": notes,
        "groups": group_names(raw.get("groups")),
        "testers": tuple(tester(t) for t in raw.get("testers") or []),
        "notify_testers": _flag(step, raw, "notify_testers"),
        "submit_for_beta_review": _optional_flag(raw, "submit_for_beta_review"),
        "uses_non_exempt_encryption": _optional_flag(raw, "uses_non_exempt_encryption"),
        "locale": locale,
        "what_to_test_in_primary_locale": "locale" not in raw and (
            isinstance(raw_notes, str) or (isinstance(raw_notes, Mapping) and "file" in raw_notes)),
    }


def _send_to_testflight(raw: Mapping[str, Any], base_dir: Path) -> SendToTestflightSettings:
    step = SendToTestflightSettings.step
    settings = SendToTestflightSettings(
        **_delivery(step, raw, base_dir),
        test_information=read_test_information(raw),
        if_another_build_in_review=other_review_choice(given_or_default(step, raw,
                                                                        "if_another_build_in_review")),
        expire_previous_builds=read_expiry(raw),
        expire_builds_in_beta_review=_flag(step, raw, "expire_builds_in_beta_review"),
    )
    if settings.expire_previous_builds is not None and not settings.wait_for_processing:
        raise InputError(
            "send_to_testflight: expire_previous_builds expires the older builds once this one is on TestFlight, "
            "but wait_for_processing is false",
            hint="remove `wait_for_processing: false`, or remove expire_previous_builds",
        )
    if settings.distributes and not settings.wait_for_processing:
        raise InputError(
            "send_to_testflight: groups and testers can only get the build once it is processed, but "
            "wait_for_processing is false",
            hint="remove `wait_for_processing: false`, or move groups/testers to a later run",
        )
    return settings


def _send_to_app_store(raw: Mapping[str, Any], base_dir: Path) -> SendToAppStoreSettings:
    """The stage_type and the App-Store-only settings on a TestFlight stage are the schema's and publish.spec's to
    refuse (with the line); what is left here is what needs the settings together."""
    step = SendToAppStoreSettings.step
    stage = str(raw.get("stage_type"))
    apple_type = release_type(_text(raw, "release_type"))
    settings = SendToAppStoreSettings(
        **_delivery(step, raw, base_dir),
        stage_type=stage,
        whats_new=release_notes(raw.get("whats_new"), default_locale=_text(raw, "locale") or EVERY_LOCALE,
                                base_dir=base_dir, setting="whats_new"),
        add_missing_locales=_flag(step, raw, "add_missing_locales"),
        release_type=apple_type,
        scheduled_release_date=release_date(raw.get("scheduled_release_date"), apple_type),
        phased_release=_optional_flag(raw, "phased_release"),
        submit_for_review=_flag(step, raw, "submit_for_review"),
        cancel_previous_submission=_flag(step, raw, "cancel_previous_submission"),
        cancel_submission_in_review=_flag(step, raw, "cancel_submission_in_review"),
        require_rc=_flag(step, raw, "require_rc"),
        testflight_given=any(name in raw for name in TESTFLIGHT_SETTINGS),
    )
    if stage == "app_store" and not settings.wait_for_processing:
        raise InputError("send_to_app_store with stage_type: app_store needs the processed build, but "
                         "wait_for_processing is false", hint="remove `wait_for_processing: false`")
    if settings.cancel_submission_in_review and stage == "app_store" and not settings.submit_for_review:
        raise InputError("send_to_app_store: cancel_submission_in_review withdraws a submission so that this "
                         "one can take its place, but submit_for_review is not true",
                         hint="add submit_for_review: true, or remove cancel_submission_in_review")
    return settings


def _submit_for_review(raw: Mapping[str, Any], base_dir: Path) -> SubmitForReviewSettings:
    step = SubmitForReviewSettings.step
    return SubmitForReviewSettings(given=frozenset(raw), api_key=_text(raw, "api_key"),
                                   cancel_previous_submission=_flag(step, raw, "cancel_previous_submission"),
                                   cancel_submission_in_review=_flag(step, raw, "cancel_submission_in_review"))


def _mark_as_rc(raw: Mapping[str, Any], base_dir: Path) -> MarkAsRcSettings:
    return MarkAsRcSettings(given=frozenset(raw), note=_text(raw, "note"))


def _release(raw: Mapping[str, Any], base_dir: Path) -> ReleaseSettings:
    step = ReleaseSettings.step
    action = given_or_default(step, raw, "action")
    actions = step_properties(step)["action"]["enum"]
    if action not in actions:
        raise InputError(f"release: action {action!r} is not one of {', '.join(actions)}",
                         hint="use action: release (put an approved MANUAL version on sale), pause, resume or "
                         "complete (its phased release)")
    return ReleaseSettings(given=frozenset(raw), api_key=_text(raw, "api_key"), action=str(action))


_BUILDERS: dict[str, Callable[[Mapping[str, Any], Path], StepSettings]] = {
    "send_to_testflight": _send_to_testflight, "send_to_app_store": _send_to_app_store,
    "submit_for_review": _submit_for_review, "mark_as_rc": _mark_as_rc, "release": _release,
}


def _json(value: Any) -> Any:
    """A typed value in the flow's vocabulary (seconds as a whole number when they are one)."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, frozenset)):
        return [_json(v) for v in value]
    return value
