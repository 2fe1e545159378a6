"""App Store pieces shared by send_to_app_store and submit_for_review (protocol.md E): the editable version, the build attached to it, release type and phased release. What's New lives in app_store_whats_new.py,
the review submission in app_store_review.py, the waits both need in app_store_waits.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, AscApiError, Resource
from publish.errors import InputError, PublishError, RemoteError
from publish.steps.app_store_waits import RELEASE_TYPE_BUDGET, patience, retry_refused
from publish.plan import SendToAppStoreSettings
from publish.plan.values import EVERY_LOCALE as EVERY_LOCALE  # app_store_whats_new.py reads it from here
from publish.steps.base import StepContext
from publish.steps.safe_writes import create_once, set_values
from publish.steps.testflight import label
from publish.upload.numbers import build_number_key

# Versions whose build and metadata can still be changed (fastlane's "editable" list, less WAITING_FOR_REVIEW,
# plus READY_FOR_REVIEW: added to a draft submission but not yet submitted).
EDITABLE_STATES = ("PREPARE_FOR_SUBMISSION", "DEVELOPER_REJECTED", "REJECTED", "METADATA_REJECTED", "INVALID_BINARY",
                   "READY_FOR_REVIEW")
UNDER_REVIEW_STATES = ("WAITING_FOR_REVIEW", "IN_REVIEW")
# A version in one of these has been on the store (appVersionState, and the older appStoreState names): an app
# with none of them is on its first release, which takes no What's New (protocol.md H6).
RELEASED_STATES = ("READY_FOR_DISTRIBUTION", "PROCESSING_FOR_DISTRIBUTION", "REPLACED_WITH_NEW_VERSION",
                   "REMOVED_FROM_SALE", "DEVELOPER_REMOVED_FROM_SALE", "READY_FOR_SALE", "PROCESSING_FOR_APP_STORE")


class SubmissionConflict(PublishError):
    """Another review submission stands in the way (exit 1: the store's state, not the flow, must change)."""


def version_state(version: Resource) -> str:
    return str(version.attr("appVersionState") or version.attr("appStoreState") or "UNKNOWN")


def same_version(held: Any, wanted: str) -> bool:
    """Whether App Store Connect's versionString `held` is the version `wanted`: Apple treats 3.4 and 3.4.0 (and
    03.4) as one version and keeps the form first given (protocol.md H8), so compare numerically."""
    if held is None:
        return False
    held_key, wanted_key = build_number_key(str(held)), build_number_key(wanted)
    if held_key is None or wanted_key is None:
        return str(held) == wanted
    return held_key == wanted_key


def _released(versions: list[Resource], version_id: str | None) -> list[Resource]:
    return [v for v in versions if v.id != version_id and (v.attr("appVersionState") in RELEASED_STATES or
                                                            v.attr("appStoreState") in RELEASED_STATES)]


def is_first_release(versions: list[Resource], version_id: str | None) -> bool:
    """True when no other version of the platform has ever been on the store (H6: no What's New then)."""
    return not _released(versions, version_id)


def listing_version_id(versions: list[Resource], version_id: str | None) -> str | None:
    """The latest version that was on the store: its localizations are the languages of the store page."""
    released = _released(versions, version_id)
    latest = max(released, key=lambda v: build_number_key(str(v.attr("versionString"))) or (0,), default=None)
    return latest.id if latest is not None else None


# ------------------------------------------------------------------------------------------------ the version


@dataclass
class VersionState:
    """What one list call says about a version: its attached build and phased release (None: not said)."""

    build_id: str | None = None
    build_known: bool = False
    phased_release: Resource | None = None
    phased_known: bool = False
    first_release: bool = False  # no other version of the platform was ever on the store (H6)
    listing_version_id: str | None = None  # the latest version that was on the store (its languages: H12)


def find_version(ctx: StepContext, client: AppStoreConnect, app_id: str) \
        -> tuple[Resource | None, list[Resource], VersionState]:
    """(the App Store version with the IPA's version string or None, every version of the platform, what is
    attached to the first), from one paged call with `include=build,appStoreVersionPhasedRelease` (as asc does)."""
    params = {"filter[platform]": ctx.ipa.platform, "include": ["build", "appStoreVersionPhasedRelease"],
              "limit": 200}
    versions: list[Resource] = []
    included: list[Resource] = []
    for document in client.app_store_version_pages(app_id, params):
        versions += document.resources
        included += document.included
    exact = next((v for v in versions if v.attr("versionString") == ctx.ipa.version), None) or \
        next((v for v in versions if same_version(v.attr("versionString"), ctx.ipa.version)), None)
    exact_id = exact.id if exact is not None else None
    state = VersionState(first_release=is_first_release(versions, exact_id),
                         listing_version_id=listing_version_id(versions, exact_id))
    if exact is not None:
        build_rel = exact.relationships.get("build")
        if isinstance(build_rel, Mapping) and "data" in build_rel:
            state.build_id, state.build_known = exact.related_id("build"), True
        phased_rel = exact.relationships.get("appStoreVersionPhasedRelease")
        if isinstance(phased_rel, Mapping) and "data" in phased_rel:
            phased_id = exact.related_id("appStoreVersionPhasedRelease")
            found = next((r for r in included if r.type == "appStoreVersionPhasedReleases" and r.id == phased_id),
                         None)
            state.phased_release, state.phased_known = found, phased_id is None or found is not None
    return exact, versions, state


VersionLookup = tuple[Resource | None, list[Resource], VersionState]


def check_version(ctx: StepContext, client: AppStoreConnect, found: VersionLookup, build_id: str | None) \
        -> tuple[Resource | None, bool]:
    """Whether the App Store version of the IPA's version string can take this build (build_id None: a build yet
    to be uploaded). Raises when it cannot (in review with another build, already released), so that is known
    before an upload. Returns (the version or None, already in review with this build)."""
    ipa = ctx.ipa
    version, _, attached_state = found
    if version is None:
        return None, False
    state = version_state(version)
    if state in EDITABLE_STATES:
        return version, False
    if state in UNDER_REVIEW_STATES:
        attached_id = attached_state.build_id if attached_state.build_known else \
            getattr(client.get_app_store_version_build(version.id), "id", None)
        if build_id is not None and attached_id == build_id:
            return version, True
        raise SubmissionConflict(
            f"App Store version {ipa.version} is {state} with another build (id {attached_id or 'unknown'}); it "
            "cannot take this one now",
            hint="wait for the review to finish, or cancel the submission in App Store Connect > App Review, then "
            "run again; or ship this build as a new version (increase CFBundleShortVersionString)",
        )
    raise InputError(
        f"App Store version {ipa.version} is already {state}; a released or approved version cannot take "
        "another build",
        hint="increase CFBundleShortVersionString (the version), rebuild and run again",
    )


def ensure_version(ctx: StepContext, client: AppStoreConnect, app_id: str, plan: SendToAppStoreSettings,
                   build_id: str, found: VersionLookup | None = None) -> tuple[Resource, bool, VersionState]:
    """The editable App Store version for the IPA's version string (found, renamed or created).

    `found` is a `find_version` answer read moments ago (else it is read now). Returns (version, under_review,
    what is attached to it): under_review is True when that version is already waiting for or in review with
    this very build, so there is nothing left to change.
    """
    ipa = ctx.ipa
    found = found or find_version(ctx, client, app_id)
    version, under_review = check_version(ctx, client, found, build_id)
    _, versions, attached_state = found
    if version is not None:
        if under_review:
            ctx.log.info("App Store version %s is already %s with this build; nothing to change", ipa.version,
                         version_state(version))
        else:
            held = version.attr("versionString")
            ctx.log.info("App Store version %s (id %s, %s)%s", ipa.version, version.id, version_state(version),
                         f"; App Store Connect holds it as {held}" if held != ipa.version else "")
        return version, under_review, attached_state
    editable = [v for v in versions if version_state(v) in EDITABLE_STATES]
    if editable:
        # Apple keeps one open version per platform: rename it rather than create a second one.
        old = editable[0]
        old_string = old.attr("versionString")
        try:
            version = client.update_app_store_version(old.id, version_string=ipa.version)
        except AscAmbiguousWriteError:
            reread = client.get_app_store_version(old.id)
            version = reread if reread is not None and reread.attr("versionString") == ipa.version else \
                client.update_app_store_version(old.id, version_string=ipa.version)
        ctx.log.info("renamed the open App Store version %s to %s (id %s)", old_string, ipa.version, old.id)
        version.attributes.setdefault("appVersionState", version_state(old))
        return version, False, VersionState(first_release=is_first_release(versions, old.id),
                                            listing_version_id=listing_version_id(versions, old.id))
    version = create_once(
        ctx, f"App Store version {ipa.version}",
        lambda: client.create_app_store_version(app_id, platform=ipa.platform, version_string=ipa.version,
                                                release_type=plan.release_type,
                                                earliest_release_date=plan.scheduled_release_date),
        lambda: find_version(ctx, client, app_id)[0],
    )
    ctx.log.info("created App Store version %s (id %s)", ipa.version, version.id)
    # A version made just now has no build and no phased release: nothing to read back.
    return version, False, VersionState(build_known=True, phased_known=True,
                                        first_release=is_first_release(versions, version.id),
                                        listing_version_id=listing_version_id(versions, version.id))


def attach_build(ctx: StepContext, client: AppStoreConnect, version: Resource, build_id: str,
                 known: VersionState | None = None) -> bool:
    if known is not None and known.build_known:
        current_id = known.build_id
    else:
        current_id = getattr(client.get_app_store_version_build(version.id), "id", None)
    if current_id == build_id:
        ctx.log.info("build %s is already attached to version %s", label(ctx), ctx.ipa.version)
        return False
    try:
        client.attach_build(version.id, build_id)
    except AscAmbiguousWriteError:
        reread = client.get_app_store_version_build(version.id)
        if reread is None or reread.id != build_id:
            client.attach_build(version.id, build_id)
    ctx.log.info("attached build %s to App Store version %s%s", label(ctx), ctx.ipa.version,
                 f" (replacing build id {current_id})" if current_id else "")
    return True


def apply_release_type(ctx: StepContext, client: AppStoreConnect, version: Resource, plan: SendToAppStoreSettings,
                       deadline: float | None = None) -> bool:
    """Set releaseType (and earliestReleaseDate) - before the localizations, as fastlane does (protocol.md H16):
    a version whose localizations were just written can refuse it for a while ("releaseType can't be modified"),
    which is waited out here, bounded."""
    if plan.release_type is None:
        return False
    if _release_type_is(version, plan):
        return False
    attributes: dict[str, Any] = {"release_type": plan.release_type}
    if plan.release_type == "SCHEDULED":
        attributes["earliest_release_date"] = plan.scheduled_release_date

    def already_set() -> Resource | None:
        current = client.get_app_store_version(version.id)
        return current if current is not None and _release_type_is(current, plan) else None

    def gave_up(exc: AscApiError) -> PublishError:
        return RemoteError(
            f"App Store Connect still refuses to change the release type of version {ctx.ipa.version}: "
            f"{' '.join(exc.detail_text().split())}",
            hint="run the flow again in a few minutes (the steps already done are kept), or set the release type in "
            "App Store Connect > App Store > Version Release",
        )

    retry_refused(ctx, f"let the release type of version {ctx.ipa.version} be changed",
                  lambda: set_values(ctx, "release type",
                                     lambda: client.update_app_store_version(version.id, **attributes)),
                  transient=release_type_locked, bound=patience(ctx, RELEASE_TYPE_BUDGET, deadline),
                  gave_up=gave_up, between=already_set)
    ctx.log.info("release type: %s%s", plan.release_type,
                 f" on {plan.scheduled_release_date}" if plan.release_type == "SCHEDULED" else "")
    return True


def release_type_locked(exc: AscApiError) -> bool:
    """Apple's "not now" for releaseType / earliestReleaseDate (H16), as opposed to a value it refuses."""
    text = exc.detail_text().lower()
    return exc.status == 409 and ("releasetype" in text or "earliestreleasedate" in text) and any(
        words in text for words in ("at this time", "can't be modified", "cannot be modified", "can not be modified",
                                    "try again later"))


def _release_type_is(version: Resource, plan: SendToAppStoreSettings) -> bool:
    same_type = version.attr("releaseType") == plan.release_type
    same_date = plan.release_type != "SCHEDULED" or _same_instant(version.attr("earliestReleaseDate"),
                                                                   plan.scheduled_release_date)
    return same_type and same_date


def _same_instant(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return a == b
    try:
        return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))
    except ValueError:
        return a == b


def apply_phased_release(ctx: StepContext, client: AppStoreConnect, version_id: str, plan: SendToAppStoreSettings,
                         known: VersionState | None = None) -> bool:
    if plan.phased_release is None:
        return False
    if known is not None and known.phased_known:
        current = known.phased_release
    else:
        current = client.get_phased_release(version_id)
    if plan.phased_release and current is None:
        create_once(ctx, "phased release", lambda: client.create_phased_release(version_id, "INACTIVE"),
                    lambda: client.get_phased_release(version_id))
        ctx.log.info("phased release: on (starts when the version is released)")
        return True
    if not plan.phased_release and current is not None:
        state = current.attr("phasedReleaseState")
        if state not in (None, "INACTIVE"):
            raise InputError(f"phased release of version {ctx.ipa.version} is already {state} and cannot be removed",
                             hint="pause or complete it in App Store Connect, or set phased_release: true")
        client.delete_phased_release(current.id)
        ctx.log.info("phased release: off")
        return True
    return False
