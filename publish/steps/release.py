"""`release`: put an approved App Store version on sale, or steer its phased release (protocol.md E4, E5).

One job, shared by the flow step and the `release` command: look at where the version stands, decide whether the
asked action is allowed there, and only then make the single write it takes:

* `release`: `POST /v1/appStoreVersionReleaseRequests`, accepted by Apple only in PENDING_DEVELOPER_RELEASE (a
  MANUAL version that App Review approved);
* `pause` / `resume` / `complete`: `PATCH /v1/appStoreVersionPhasedReleases/{id}` to PAUSED / ACTIVE / COMPLETE,
  possible only once the version is released and has a phased release.

Every refusal is decided from what was read, before any write, and says what to do in App Store Connect's words.
An action already done (released, paused, ...) is reported as such and writes nothing, so a rerun of a flow is
safe. The release request is not idempotent; when its answer is lost, the version is read back and a release that
went through is recognised rather than repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from publish.asc import AppStoreConnect, AscApiError
from publish.asc.errors import AscAmbiguousWriteError
from publish.asc.resources import Resource
from publish.errors import InputError, RemoteError
from publish.plan import ReleaseSettings
from publish.steps.appstore import same_version, version_state
from publish.steps.base import Step, StepContext, StepOutcome

ACTIONS = ("release", "pause", "resume", "complete")
# What each phased-release action moves to, and the states it may start from.
PHASED_TARGET = {"pause": "PAUSED", "resume": "ACTIVE", "complete": "COMPLETE"}
PHASED_FROM = {"pause": {"ACTIVE"}, "resume": {"PAUSED"}, "complete": {"ACTIVE", "PAUSED"}}
RELEASED = {"READY_FOR_DISTRIBUTION", "PROCESSING_FOR_DISTRIBUTION", "REPLACED_WITH_NEW_VERSION"}
# Why a version is not waiting for its developer, and what to do about it.
NOT_YET_APPROVED = {"PREPARE_FOR_SUBMISSION", "READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW",
                    "WAITING_FOR_EXPORT_COMPLIANCE", "ACCEPTED"}
REJECTED = {"REJECTED", "METADATA_REJECTED", "DEVELOPER_REJECTED", "INVALID_BINARY"}


class ReleaseRefused(RemoteError):
    """The version's state in App Store Connect does not allow the action (nothing was written)."""


@dataclass(frozen=True)
class ReleaseResult:
    action: str
    version_id: str
    version_state: str  # after the action
    phased_release_state: str | None
    changed: bool  # False: it was already so, nothing written
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "app_store_version_id": self.version_id, "version_state": self.version_state,
                "phased_release_state": self.phased_release_state, "changed": self.changed, "message": self.message}


def find_store_version(client: AppStoreConnect, app_id: str, version: str, platform: str) -> Resource:
    """The App Store version with this version string in any of its forms (H8: 1.0 is 1.0.0)."""
    versions = client.list_app_store_versions(app_id, platform=platform)
    for candidate in versions:
        if same_version(candidate.attr("versionString"), version):
            return candidate
    known = ", ".join(f"{v.attr('versionString')} ({version_state(v)})" for v in versions[:5]) or "none"
    raise InputError(f"App Store Connect has no {platform} App Store version {version} (versions: {known})",
                     hint="check the version string; a version gets onto the App Store with a send_to_app_store step "
                     "(stage_type: app_store)")


def _refuse_release(label: str, state: str) -> ReleaseRefused:
    if state in NOT_YET_APPROVED:
        hint = (f"it has not been approved yet; wait for App Review (`appstore-publish status ... {label} "
                "--wait-until PENDING_DEVELOPER_RELEASE`), then release it")
    elif state in REJECTED:
        hint = "App Review rejected it; fix what Resolution Center says, submit again, and release once approved"
    elif state == "PENDING_APPLE_RELEASE":
        hint = ("its release type is SCHEDULED: Apple releases it at its earliestReleaseDate; to release it by hand "
                "set release_type: manual before submitting")
    else:
        hint = "only an approved version with release type MANUAL waits for its developer's release"
    return ReleaseRefused(f"version {label} is {state}; only a version in PENDING_DEVELOPER_RELEASE can be released",
                          hint=hint)


def _release(client: AppStoreConnect, version: Resource, label: str, log: Any) -> ReleaseResult:
    state = version_state(version)
    if state in RELEASED:
        return ReleaseResult("release", version.id, state, None, False, f"version {label} is already released "
                             f"({state}); nothing to do")
    if state != "PENDING_DEVELOPER_RELEASE":
        raise _refuse_release(label, state)
    try:
        client.create_release_request(version.id)
    except AscAmbiguousWriteError:
        # The answer was lost: the version says whether the request went through.
        if version_state(client.get_app_store_version(version.id)) not in RELEASED:
            raise
        log.info("the release request's answer was lost; version %s reads as released", label)
    after = version_state(client.get_app_store_version(version.id))
    log.info("released version %s: it is %s", label, after)
    return ReleaseResult("release", version.id, after, None, True, f"version {label} released ({after})")


def _steer_phased(client: AppStoreConnect, version: Resource, label: str, action: str, log: Any) -> ReleaseResult:
    state = version_state(version)
    phased = client.get_phased_release(version.id)
    if phased is None:
        raise ReleaseRefused(f"version {label} has no phased release, so there is nothing to {action}",
                             hint="a version released without phased release is already available to everyone; "
                             "set phased_release: true on send_to_app_store for the next version")
    current = str(phased.attr("phasedReleaseState") or "")
    target = PHASED_TARGET[action]
    if state not in RELEASED:
        raise ReleaseRefused(f"version {label} is {state}; its phased release ({current}) can only be changed once "
                             "the version is released", hint="release the version first (`appstore-publish release "
                             f"... {label}`); the phased release then starts by itself")
    if current == target:
        return ReleaseResult(action, version.id, state, current, False,
                             f"the phased release of version {label} is already {current}; nothing to do")
    if current not in PHASED_FROM[action]:
        raise ReleaseRefused(f"the phased release of version {label} is {current}; it cannot be {action}d "
                             f"(only from {' or '.join(sorted(PHASED_FROM[action]))})",
                             hint="a COMPLETE phased release is over: the version is available to everyone"
                             if current == "COMPLETE" else "see its state with `appstore-publish status`")
    updated = client.update_phased_release(phased.id, target)
    after = str(updated.attr("phasedReleaseState") or target)
    day = updated.attr("currentDayNumber")
    log.info("phased release of version %s: %s -> %s%s", label, current, after, f" (day {day} of 7)" if day else "")
    return ReleaseResult(action, version.id, state, after, True,
                         f"phased release of version {label}: {current} -> {after}")


def perform(client: AppStoreConnect, app_id: str, version: str, platform: str, action: str, log: Any) \
        -> ReleaseResult:
    """Do `action` on the App Store version, or refuse it before any write."""
    found = find_store_version(client, app_id, version, platform)
    label = str(found.attr("versionString") or version)
    if action == "release":
        return _release(client, found, label, log)
    try:
        return _steer_phased(client, found, label, action, log)
    except AscApiError as exc:
        raise ReleaseRefused(f"App Store Connect refused to {action} the phased release of version {label}: "
                             f"{' '.join(exc.detail_text().split())}",
                             hint="see where it stands with `appstore-publish status`") from exc


class ReleaseStep(Step):
    name = "release"

    def run(self, ctx: StepContext, settings: ReleaseSettings) -> StepOutcome:
        from publish.steps.testflight import ensure_app  # noqa: PLC0415 - only a run needs the app

        action = settings.action
        client = ctx.client_for(settings.api_key)
        app_id = ensure_app(ctx, client)
        result = perform(client, app_id, ctx.ipa.version, ctx.ipa.platform, action, ctx.log)
        ctx.run.app_store_version_id = result.version_id
        ctx.remember(app_store_version_id=result.version_id)
        return StepOutcome(result.message, asc_ids=ctx.run.ids(), outputs=result.to_json())
