"""Which publish profile a binary belongs to, and what its flow would do (nothing remote is touched)."""

from __future__ import annotations

from typing import Any

from publish.errors import InputError
from publish.spec import APP_STORE_ONLY_SETTINGS, FlowSpec, ProfileSpec, StepSpec, flow_schema, step_settings


def choose_profile(flow: FlowSpec, bundle_id: str, override: str | None) -> ProfileSpec:
    """The profile for `bundle_id`, or the one `override` names (by bundle ID or by profile name)."""
    available = ", ".join(_label(p) for p in flow.profiles)
    if override:
        for profile in flow.profiles:
            if override in (profile.bundle_id, profile.name):
                return profile
        raise InputError(f"--profile {override}: the flow {flow.path} has no such profile (profiles: {available})",
                         hint="give the bundle ID or the name of one of the profiles above")
    for profile in flow.profiles:
        if profile.bundle_id == bundle_id:
            return profile
    raise InputError(f"the flow {flow.path} has no profile for bundle ID {bundle_id} (profiles: {available})",
                     hint=f"add a profile with `bundle_id: {bundle_id}`, or pick one with --profile BUNDLE_ID if "
                     "the IPA is meant for it")


def _label(profile: ProfileSpec) -> str:
    return f"{profile.bundle_id} ({profile.name})" if profile.name else profile.bundle_id


def effective_settings(step: StepSpec) -> dict[str, Any]:
    """The step's settings with the schema's defaults filled in for those not given."""
    schema = flow_schema()["$defs"]
    definition = {"send_to_testflight": "SendToTestflight", "send_to_app_store": "SendToAppStore",
                  "submit_for_review": "SubmitForReview", "mark_as_rc": "MarkAsRc", "release": "Release"}.get(step.step)
    properties = schema[definition]["properties"] if definition else {}
    settings: dict[str, Any] = {}
    for key in step_settings(step.step):
        if key == "step":
            continue
        if key in step.settings:
            settings[key] = step.settings[key]
        elif "default" in properties.get(key, {}) and _default_applies(step, key):
            settings[key] = properties[key]["default"]
    return settings


def _default_applies(step: StepSpec, key: str) -> bool:
    """send_to_app_store applies TestFlight settings only when given, and App Store ones only for the App Store."""
    if step.step != "send_to_app_store" or key == "locale":
        return True
    if key in step_settings("send_to_testflight"):
        return key in _COMMON_SETTINGS
    if step.settings.get("stage_type") == "testflight":
        return key not in APP_STORE_ONLY_SETTINGS
    return True


_COMMON_SETTINGS = ("api_key", "apple_id", "xcode_version", "wait_for_processing", "processing_timeout")
