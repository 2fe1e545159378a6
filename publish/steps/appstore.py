"""App Store pieces shared by send_to_app_store and submit_for_review (protocol.md E): the editable version,
the build attached to it, What's New, release type, phased release, and the review submission."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, AscApiError, Resource
from publish.errors import InputError, PublishError
from publish.steps.base import DEFAULT_LOCALE, StepContext, release_notes, setting_bool, setting_str
from publish.steps.testflight import create_once, label, set_values

# Versions whose build and metadata can still be changed (fastlane's "editable" list, less WAITING_FOR_REVIEW,
# plus READY_FOR_REVIEW: added to a draft submission but not yet submitted).
EDITABLE_STATES = ("PREPARE_FOR_SUBMISSION", "DEVELOPER_REJECTED", "REJECTED", "METADATA_REJECTED", "INVALID_BINARY",
                   "READY_FOR_REVIEW")
UNDER_REVIEW_STATES = ("WAITING_FOR_REVIEW", "IN_REVIEW")
OPEN_SUBMISSION_STATES = ("READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES")
RELEASE_TYPES = {"manual": "MANUAL", "after_approval": "AFTER_APPROVAL", "scheduled": "SCHEDULED"}
_ANOTHER_SUBMISSION = re.compile(r"already added to another reviewSubmission with id\s+([\w-]+)", re.IGNORECASE)
_STILL_IN_PROGRESS = re.compile(r"still in progress", re.IGNORECASE)
_ITEM_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)


class SubmissionConflict(PublishError):
    """Another review submission stands in the way (exit 1: the store's state, not the flow, must change)."""


def version_state(version: Resource) -> str:
    return str(version.attr("appVersionState") or version.attr("appStoreState") or "UNKNOWN")


@dataclass
class AppStorePlan:
    whats_new: dict[str, str] = field(default_factory=dict)
    release_type: str | None = None
    earliest_release_date: str | None = None
    phased_release: bool | None = None
    submit: bool = False
    cancel_previous: bool = False


def read_app_store_settings(ctx: StepContext, settings: Mapping[str, Any]) -> AppStorePlan:
    locale = setting_str(settings, "locale", DEFAULT_LOCALE) or DEFAULT_LOCALE
    plan = AppStorePlan(
        whats_new=release_notes(settings.get("whats_new"), default_locale=locale, base_dir=ctx.flow_dir,
                                setting="whats_new"),
        submit=setting_bool(settings, "submit_for_review", False),
        cancel_previous=setting_bool(settings, "cancel_previous_submission", False),
    )
    release_type = setting_str(settings, "release_type")
    if release_type is not None:
        if release_type not in RELEASE_TYPES:
            raise InputError(f"release_type: {release_type!r} is not one of {', '.join(RELEASE_TYPES)}",
                             hint="write release_type: manual, after_approval or scheduled")
        plan.release_type = RELEASE_TYPES[release_type]
    date = settings.get("scheduled_release_date")
    if plan.release_type == "SCHEDULED":
        if date is None:
            raise InputError("release_type: scheduled needs scheduled_release_date",
                             hint='add scheduled_release_date: "2026-07-01T16:00:00Z" (ISO 8601, UTC or with offset)')
        plan.earliest_release_date = _release_date(date)
    elif date is not None:
        raise InputError("scheduled_release_date is set but release_type is not scheduled",
                         hint="add release_type: scheduled, or remove scheduled_release_date")
    if "phased_release" in settings:
        plan.phased_release = setting_bool(settings, "phased_release", False)
    return plan


def _release_date(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"scheduled_release_date: {text!r} is not an ISO 8601 date-time",
                         hint='write it like "2026-07-01T16:00:00Z" or "2026-07-01T18:00:00+02:00"') from None
    if when.tzinfo is None:
        raise InputError(f"scheduled_release_date: {text!r} has no time zone",
                         hint='add Z (UTC) or an offset: "2026-07-01T16:00:00Z"')
    when = when.astimezone(timezone.utc)
    if when <= datetime.now(timezone.utc):
        raise InputError(f"scheduled_release_date: {text} is in the past", hint="choose a date in the future")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------ the version


@dataclass
class VersionState:
    """What one list call says about a version: its attached build and phased release (None: not said)."""

    build_id: str | None = None
    build_known: bool = False
    phased_release: Resource | None = None
    phased_known: bool = False


def find_version(ctx: StepContext, client: AppStoreConnect, app_id: str) \
        -> tuple[Resource | None, list[Resource], VersionState]:
    """(the App Store version with the IPA's version string or None, every version of the platform, what is
    attached to the first), from one paged call with `include=build,appStoreVersionPhasedRelease` (as asc does)."""
    params = {"filter[platform]": ctx.ipa.platform, "include": ["build", "appStoreVersionPhasedRelease"],
              "limit": 200}
    versions: list[Resource] = []
    included: list[Resource] = []
    for document in client.paginate_documents(f"/v1/apps/{app_id}/appStoreVersions", params):
        versions += document.resources
        included += document.included
    exact = next((v for v in versions if v.attr("versionString") == ctx.ipa.version), None)
    state = VersionState()
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


def ensure_version(ctx: StepContext, client: AppStoreConnect, app_id: str, plan: AppStorePlan,
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
            ctx.log.info("App Store version %s (id %s, %s)", ipa.version, version.id, version_state(version))
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
        return version, False, VersionState()
    version = create_once(
        ctx, f"App Store version {ipa.version}",
        lambda: client.create_app_store_version(app_id, platform=ipa.platform, version_string=ipa.version,
                                                release_type=plan.release_type,
                                                earliest_release_date=plan.earliest_release_date),
        lambda: find_version(ctx, client, app_id)[0],
    )
    ctx.log.info("created App Store version %s (id %s)", ipa.version, version.id)
    # A version made just now has no build and no phased release: nothing to read back.
    return version, False, VersionState(build_known=True, phased_known=True)


def attach_build(ctx: StepContext, client: AppStoreConnect, version: Resource, build_id: str,
                 known: VersionState | None = None) -> bool:
    if known is not None and known.build_known:
        current_id = known.build_id
    else:
        current_id = None if ctx.dry_run else getattr(client.get_app_store_version_build(version.id), "id", None)
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


def upsert_whats_new(ctx: StepContext, client: AppStoreConnect, version_id: str, notes: Mapping[str, str]) -> int:
    if not notes:
        return 0
    by_locale = {str(loc.attr("locale")): loc for loc in client.list_app_store_version_localizations(version_id)}
    writes = 0
    for locale, text in notes.items():
        current = by_locale.get(locale)
        if current is not None and (current.attr("whatsNew") or "").strip() == text:
            continue
        if current is not None:
            set_values(ctx, f"What's New ({locale})", lambda current=current, text=text:
                       client.update_app_store_version_localization(current.id, whats_new=text))
        else:
            create_once(
                ctx, f"What's New ({locale})",
                lambda locale=locale, text=text: client.create_app_store_version_localization(
                    version_id, locale, whats_new=text),
                lambda locale=locale: next((loc for loc in client.list_app_store_version_localizations(
                    version_id, locale=locale) if loc.attr("locale") == locale), None),
            )
        writes += 1
    ctx.log.info("What's New: %s", ", ".join(notes) + (" (already up to date)" if not writes else ""))
    return writes


def apply_release_type(ctx: StepContext, client: AppStoreConnect, version: Resource, plan: AppStorePlan) -> bool:
    if plan.release_type is None:
        return False
    same_type = version.attr("releaseType") == plan.release_type
    same_date = plan.release_type != "SCHEDULED" or _same_instant(version.attr("earliestReleaseDate"),
                                                                   plan.earliest_release_date)
    if same_type and same_date:
        return False
    attributes: dict[str, Any] = {"release_type": plan.release_type}
    if plan.release_type == "SCHEDULED":
        attributes["earliest_release_date"] = plan.earliest_release_date
    set_values(ctx, "release type", lambda: client.update_app_store_version(version.id, **attributes))
    ctx.log.info("release type: %s%s", plan.release_type,
                 f" on {plan.earliest_release_date}" if plan.release_type == "SCHEDULED" else "")
    return True


def _same_instant(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return a == b
    try:
        return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))
    except ValueError:
        return a == b


def apply_phased_release(ctx: StepContext, client: AppStoreConnect, version_id: str, plan: AppStorePlan,
                         known: VersionState | None = None) -> bool:
    if plan.phased_release is None:
        return False
    if known is not None and known.phased_known:
        current = known.phased_release
    else:
        current = None if ctx.dry_run else client.get_phased_release(version_id)
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


# ------------------------------------------------------------------------------------------------ review submission


def submit_for_review(ctx: StepContext, client: AppStoreConnect, app_id: str, version: Resource, *,
                      cancel_previous: bool) -> Resource:
    """Put the version in a review submission and submit it (E.6): reuse our or an empty draft, refuse (or with
    cancel_previous cancel) drafts holding other items, and stop on a submission already under review."""
    platform = ctx.ipa.platform
    submissions = client.list_review_submissions(app_id, platform=platform, states=list(OPEN_SUBMISSION_STATES))
    draft: Resource | None = None
    for submission in submissions:
        state = submission.attr("state")
        holds_ours = submission.related_id("appStoreVersionForReview") == version.id
        if state in ("WAITING_FOR_REVIEW", "IN_REVIEW") and holds_ours:
            ctx.log.info("version %s is already submitted for review (submission %s, %s)", ctx.ipa.version,
                         submission.id, state)
            ctx.run.review_submission_id = submission.id
            return submission
        if state in ("WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES"):
            what = {"UNRESOLVED_ISSUES": "has unresolved issues (Apple is waiting for your reply)",
                    "IN_REVIEW": "is in review", "WAITING_FOR_REVIEW": "is waiting for review"}[state]
            raise SubmissionConflict(
                f"review submission {submission.id} {what}; App Store Connect allows one submission per platform "
                "at a time",
                hint="wait until Apple finishes it, or resolve or cancel it in App Store Connect > App Review, "
                "then run the flow again",
            )
        if state != "READY_FOR_REVIEW":
            continue
        if holds_ours:
            draft = submission
        elif not submission.related_ids("items") and draft is None:
            draft = submission
        elif submission.related_ids("items"):
            if not cancel_previous:
                raise SubmissionConflict(
                    f"draft review submission {submission.id} already holds other items "
                    f"({len(submission.related_ids('items'))}); submitting would send them to review too",
                    hint="remove them in App Store Connect > App Review, or set cancel_previous_submission: true "
                    "to cancel that draft",
                )
            set_values(ctx, "cancel the previous draft",
                       lambda submission=submission: client.update_review_submission(submission.id, canceled=True))
            ctx.log.info("cancelled the previous draft review submission %s", submission.id)
    if draft is None:
        draft = create_once(
            ctx, "review submission",
            lambda: client.create_review_submission(app_id, platform=platform),
            lambda: next((s for s in client.list_review_submissions(app_id, platform=platform,
                                                                     states=["READY_FOR_REVIEW"])
                          if not s.related_ids("items")), None),
        )
        ctx.log.info("created review submission %s", draft.id)
    else:
        ctx.log.info("reusing draft review submission %s", draft.id)
    ctx.run.review_submission_id = draft.id
    if draft.related_id("appStoreVersionForReview") != version.id:
        draft = _add_item(ctx, client, draft, version.id, platform)
    ctx.run.review_submission_id = draft.id
    try:
        submitted = client.update_review_submission(draft.id, submitted=True)
    except AscAmbiguousWriteError:
        reread = client.get_review_submission(draft.id)
        submitted = reread if reread is not None and reread.attr("state") != "READY_FOR_REVIEW" else \
            client.update_review_submission(draft.id, submitted=True)
    ctx.log.info("submitted version %s for App Store review (submission %s, %s)", ctx.ipa.version, draft.id,
                 submitted.attr("state") or "WAITING_FOR_REVIEW")
    return submitted


def _add_item(ctx: StepContext, client: AppStoreConnect, draft: Resource, version_id: str, platform: str) -> Resource:
    def find_item() -> Resource | None:
        return next((item for item in client.list_review_submission_items(draft.id)
                     if item.related_id("appStoreVersion") == version_id), None)

    for attempt, delay in enumerate((*_ITEM_RETRY_DELAYS, None)):
        try:
            create_once(ctx, "review submission item",
                        lambda: client.create_review_submission_item(draft.id, version_id), find_item)
            return draft
        except AscApiError as exc:
            if exc.status != 409:
                raise
            text = exc.detail_text()
            other = _ANOTHER_SUBMISSION.search(text)
            if other:
                # The version already sits in another draft: submit that one instead.
                ctx.log.info("version is already in review submission %s; using it", other.group(1))
                return client.get_review_submission(other.group(1))
            if _STILL_IN_PROGRESS.search(text) and delay is not None:
                ctx.sleep(delay)  # a cancelled submission is still winding down
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover
