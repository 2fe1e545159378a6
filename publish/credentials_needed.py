"""Which steps and settings of a flow need an App Store Connect API key, decided offline before anything runs.

An Apple ID with an app-specific password signs in to Apple's upload tools (Transporter, altool) and nothing
else: the App Store Connect REST API accepts only tokens signed with an API key. So a step that only uploads can
run on the Apple ID alone, while finding builds, TestFlight groups and testers, What to Test, export compliance
answers, beta review, App Store versions, review submissions and releases all need a key. Finding that out after
the upload would leave a build uploaded and the flow half done; this module says, before the first step, which
steps and settings need a key and why, so a flow fails with the whole list or runs on the Apple ID alone.

A step has a key when it names one (`api_key:`) or the environment offers one (the action's inputs, fastlane's or
Codemagic's variables); a step cannot name both `api_key` and `apple_id` (the flow schema forbids it), so an
Apple-ID step gets its key from the environment. Profiles without any Apple ID are left to the usual key errors.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publish.env_key_names import env_offers_api_key
from publish.errors import InputError
from publish.spec import ProfileSpec, StepSpec
from publish.upload.transporter import UploadTool, find_asset_description, find_upload_tool

APPLE_ID_CAN = ("upload the binary through Apple's Transporter or altool, which sign in with the Apple ID; "
                "App Store Connect then processes the build on its own and e-mails the account when it is done")

# What a `send_to_testflight` step with an Apple ID may ask for beyond the upload, and why that is an API call.
_API = "an App Store Connect API call; an Apple ID login can only upload"
TESTFLIGHT_API_SETTINGS: dict[str, str] = {
    "wait_for_processing": "waiting for processing reads the build's state, " + _API + " (Transporter and altool "
                           "return once the upload is accepted)",
    "processing_timeout": "it bounds the wait for processing, which reads the build's state: " + _API,
    "what_to_test": "setting What to Test (betaBuildLocalizations) is " + _API,
    "groups": "adding a build to a TestFlight group is " + _API,
    "testers": "adding individual testers to a build is " + _API,
    "notify_testers": "notifying testers of a build (buildBetaNotifications) is " + _API,
    "submit_for_beta_review": "submitting a build for external beta review (betaAppReviewSubmissions) is " + _API,
    "test_information": "setting the beta test information (betaAppLocalizations, betaAppReviewDetails) is " + _API,
    "uses_non_exempt_encryption": "answering export compliance from the flow is a change of the build, " + _API
                                  + " (the key ITSAppUsesNonExemptEncryption in Info.plist needs none: Apple reads "
                                  "it while processing)",
    "expire_previous_builds": "expiring earlier builds is " + _API,
}
# Steps that need a key whatever their settings.
STEP_REASONS: dict[str, str] = {
    "send_to_testflight": "finding the build and distributing it in TestFlight are App Store Connect API calls",
    "send_to_app_store": "choosing or creating the App Store version, attaching the build and submitting it are "
                         "App Store Connect API calls; an Apple ID login can only upload",
    "submit_for_review": "submitting a version for App Review (reviewSubmissions) is an App Store Connect API call",
    "release": "releasing a version or changing its phased release is an App Store Connect API call",
}
STAGE_TESTFLIGHT_REASON = ("finding the build and waiting for it to be processed are App Store Connect API calls "
                           "(a send_to_testflight step with only apple_id uploads on the Apple ID alone)")
NO_CREDENTIAL_STEPS = ("mark_as_rc",)  # the state store only
UPLOAD_ONLY_STEPS = ("send_to_testflight",)  # what an Apple ID alone can run (its upload)
UPLOAD_STEPS = ("send_to_testflight", "send_to_app_store")  # the steps whose upload an apple_id hands to a tool


@dataclass(frozen=True)
class KeyNeed:
    """One thing in a profile that needs an API key: a whole step (setting None) or one setting of it."""

    index: int
    step: str
    setting: str | None
    reason: str

    def describe(self) -> str:
        where = f"step {self.index + 1} ({self.step})" + (f", {self.setting}" if self.setting else "")
        return f"{where}: {self.reason}"


def has_api_key(settings: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    return bool(settings.get("api_key")) or env_offers_api_key(env)


def uploads_with_apple_id_only(settings: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """A step with an Apple ID and no API key anywhere: it can do the upload and nothing else."""
    return bool(settings.get("apple_id")) and not has_api_key(settings, env)


def _asks_for(setting: str, settings: Mapping[str, Any]) -> bool:
    """Whether the step's value of `setting` makes it do something (false, 0 and empty lists ask for nothing)."""
    value = settings[setting]
    if setting == "uses_non_exempt_encryption":
        return value is not None  # false is an answer too, and answering is the API call
    if setting == "processing_timeout":
        return settings.get("wait_for_processing") is not False
    return value not in (None, False, 0, "", [], {})


def key_needs(profile: ProfileSpec, env: Mapping[str, str]) -> list[KeyNeed]:
    """Everything in the profile that needs an API key it does not have, in flow order (empty: none)."""
    needs: list[KeyNeed] = []
    for step in profile.flow:
        if step.step in NO_CREDENTIAL_STEPS or has_api_key(step.settings, env):
            continue
        if step.settings.get("apple_id") and step.step in UPLOAD_ONLY_STEPS:
            needs += [KeyNeed(step.index, step.step, name, reason) for name, reason in TESTFLIGHT_API_SETTINGS.items()
                      if name in step.settings and _asks_for(name, step.settings)]
        elif step.step == "send_to_app_store" and step.settings.get("stage_type") == "testflight":
            needs.append(KeyNeed(step.index, step.step, None, STAGE_TESTFLIGHT_REASON))
        else:
            needs.append(KeyNeed(step.index, step.step, None,
                                 STEP_REASONS.get(step.step, "it calls the App Store Connect API")))
    return needs


def apple_id_only_steps(profile: ProfileSpec, env: Mapping[str, str]) -> list[StepSpec]:
    return [s for s in profile.flow if uploads_with_apple_id_only(s.settings, env)]


def check_profile_credentials(profile: ProfileSpec, env: Mapping[str, str], *, binary: Path | None = None,
                              skipped: Collection[int] = (),
                              find_tool: Callable[..., UploadTool] = find_upload_tool) -> list[StepSpec]:
    """Before any step runs: the steps that will upload on the Apple ID alone; InputError (exit 2) listing every
    step and setting that needs an API key when the profile uses an Apple ID without one. With `binary` (a real
    run), every Apple-ID step's upload tool is found and, off macOS, Transporter's asset description too: a
    missing one must not surface after earlier steps or lookups have run. A step the run will skip as done
    (`skipped`: step indexes) uploads nothing, so its tool is not asked for: re-running a finished flow on a
    machine without Transporter skips it, as the run's own message promises."""
    apple_only = apple_id_only_steps(profile, env)
    needs = key_needs(profile, env) if apple_only else []  # no Apple ID without a key: the usual key errors apply
    if needs:
        raise key_needed_error(profile, needs, apple_only)
    if binary is not None:
        for step in profile.flow:
            if step.settings.get("apple_id") and step.step in UPLOAD_STEPS and step.index not in skipped:
                tool = find_tool(env=env, xcode_version=step.settings.get("xcode_version"))
                if tool.needs_asset_description:
                    find_asset_description(binary, env)
    return apple_only


def key_needed_error(profile: ProfileSpec, needs: Sequence[KeyNeed], apple_only: Sequence[StepSpec]) -> InputError:
    names = ", ".join(sorted({f"'{s.settings['apple_id']}'" for s in apple_only}))
    listing = "\n".join(f"  - {need.describe()}" for need in needs)
    own_steps = sorted({n.index + 1 for n in needs if not any(s.index == n.index for s in apple_only)})
    apple_steps = sorted({n.index + 1 for n in needs if any(s.index == n.index for s in apple_only)})
    fixes = []
    if apple_steps:
        fixes.append(f"for step{'s' if len(apple_steps) > 1 else ''} {', '.join(map(str, apple_steps))} (apple_id), "
                     "provide an API key in the environment (the action inputs api-key-id, api-issuer-id, "
                     "api-private-key; fastlane's APP_STORE_CONNECT_API_KEY_*; Codemagic's APP_STORE_CONNECT_*), "
                     "or replace `apple_id:` with `api_key: NAME` (the upload then goes through the Build Upload "
                     "API, no Transporter needed), or remove the settings listed")
    if own_steps:
        fixes.append(f"for step{'s' if len(own_steps) > 1 else ''} {', '.join(map(str, own_steps))}, add "
                     "`api_key: NAME` (a key under api_keys) or provide one in the environment")
    return InputError(
        f"profile {profile.bundle_id} signs in with Apple ID {names} and has no App Store Connect API key (no step "
        "names an api_key for these and no API key variables are set), and an Apple ID login can only "
        f"{APPLE_ID_CAN.split(', which')[0]}. These need an API key:\n{listing}\nNothing was uploaded.",
        hint="; ".join(fixes) + ". A send_to_testflight step with only apple_id (and wait_for_processing: false "
        "or absent) runs on the Apple ID alone: it uploads, and App Store Connect processes the build.",
    )


def describe_apple_id_only(profile: ProfileSpec, env: Mapping[str, str]) -> list[str]:
    """One line per step that would upload on the Apple ID alone (for `validate` and the run log)."""
    return [f"step {s.index + 1} ({s.step}) uploads with Apple ID '{s.settings['apple_id']}' only (no API key): it "
            f"can {APPLE_ID_CAN}; nothing else is done" for s in apple_id_only_steps(profile, env)]
