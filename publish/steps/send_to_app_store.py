"""`send_to_app_store`: deliver the build (upload or reuse, processing) and, with `stage_type: app_store`, put it
on the App Store version: version found/renamed/created, build attached, What's New, release type, phased
release, and with `submit_for_review: true` the review submission (protocol.md C-E)."""

from __future__ import annotations

from typing import Any

from publish.asc import AppStoreConnect, Resource
from publish.errors import InputError
from publish.plan import SendToAppStoreSettings
from publish.steps.app_store_review import (
    IN_REVIEW_HINT,
    WITHDRAW_HINT,
    submit_for_review,
    withdraw_version_from_review,
)
from publish.steps.app_store_waits import IN_MOTION_BUDGET, patience
from publish.steps.app_store_whats_new import upsert_whats_new
from publish.steps.appstore import (
    apply_phased_release,
    apply_release_type,
    attach_build,
    check_version,
    ensure_version,
    find_version,
    SubmissionConflict,
    VersionLookup,
    version_state,
)
from publish.steps.base import Step, StepContext, StepOutcome
from publish.steps.export_compliance import apply_export_compliance, require_export_compliance
from publish.steps.testflight import ensure_app, ensure_build, label
from publish.steps.testflight_distribution import TestFlightPlan, distribute, resolve_groups


class SendToAppStore(Step):
    name = "send_to_app_store"

    def run(self, ctx: StepContext, settings: SendToAppStoreSettings) -> StepOutcome:
        stage = settings.stage_type
        # The App Store waits (H1, H11, H16) stay within the step's timeout, counted from its start.
        deadline = ctx.clock() + settings.processing_timeout
        self._require_rc(ctx, settings)
        testflight = TestFlightPlan.of(settings)
        client = ctx.client_for(settings.api_key)
        app_id = ensure_app(ctx, client)
        if testflight is not None:
            resolve_groups(ctx, client, app_id, testflight)
        compliance_required = (testflight is not None and testflight.distributes) or settings.submit_for_review
        withdraw = settings.cancel_submission_in_review
        looked_up: dict[str, Any] = {}

        def before_upload(existing: Any) -> None:
            if compliance_required:
                require_export_compliance(ctx, settings, existing)
            if stage == "app_store":
                _check_version_before_upload(ctx, client, app_id, existing, withdraw, looked_up)

        build = ensure_build(ctx, client, settings, before_upload=before_upload)
        if build is None:
            return StepOutcome(f"uploaded {label(ctx)}; App Store Connect is still processing it",
                               asc_ids=ctx.run.ids())
        outputs: dict[str, Any] = {"processing_state": build.attr("processingState"), "stage_type": stage}
        apply_export_compliance(ctx, client, build, settings, required=compliance_required)
        if testflight is not None:
            outputs.update(distribute(ctx, client, build, testflight))
        if stage == "testflight":
            return StepOutcome(f"build {label(ctx)} delivered to App Store Connect (TestFlight)",
                               asc_ids=ctx.run.ids(), outputs=outputs)

        # The early read is still good when no upload happened in between; after an upload, read again.
        fresh = looked_up.get("version") if looked_up.get("for_build") == build.id else None
        if withdraw:
            fresh = self._withdraw_other_build(ctx, client, app_id, build.id, fresh, deadline)
        version, under_review, attached = ensure_version(ctx, client, app_id, settings, build.id, fresh)
        ctx.run.app_store_version_id = version.id
        ctx.remember(app_store_version_id=version.id)
        whats_new = None
        if not under_review:
            attach_build(ctx, client, version, build.id, attached)
            # releaseType before the localizations: written after them, Apple may refuse it for a while (H16).
            apply_release_type(ctx, client, version, settings, deadline)
            whats_new = upsert_whats_new(ctx, client, app_id, version.id, settings.whats_new,
                                         first_release=attached.first_release,
                                         add_missing_locales=settings.add_missing_locales,
                                         for_review=settings.submit_for_review,
                                         listing_version_id=attached.listing_version_id)
            apply_phased_release(ctx, client, version.id, settings, attached)
        message = f"build {label(ctx)} is on App Store version {ctx.ipa.version}"
        if settings.submit_for_review:
            submission = submit_for_review(ctx, client, app_id, version,
                                           cancel_previous=settings.cancel_previous_submission,
                                           first_release=attached.first_release, whats_new=whats_new,
                                           deadline=deadline, cancel_in_review=withdraw)
            ctx.remember(review_submission_id=submission.id)
            outputs["review_state"] = submission.attr("state")
            message += f"; submitted for review ({submission.attr('state') or 'WAITING_FOR_REVIEW'})"
        return StepOutcome(message, asc_ids=ctx.run.ids(), outputs=outputs)

    @staticmethod
    def _withdraw_other_build(ctx: StepContext, client: AppStoreConnect, app_id: str, build_id: str,
                              found: VersionLookup | None, deadline: float) -> VersionLookup:
        """With cancel_submission_in_review: when the version is WAITING_FOR_REVIEW with another build, withdraw
        it from review (it becomes editable) and return a fresh lookup; else the lookup as it was."""
        found = found or find_version(ctx, client, app_id)
        version, _, attached = found
        if version is None:
            version = _other_version_in_review(found)  # it stands in the way of creating ours
        elif version_state(version) == "WAITING_FOR_REVIEW":
            attached_id = attached.build_id if attached.build_known else \
                getattr(client.get_app_store_version_build(version.id), "id", None)
            if attached_id == build_id:
                return found
        if version is None or version_state(version) != "WAITING_FOR_REVIEW":
            return found
        if withdraw_version_from_review(ctx, client, app_id, version, patience(ctx, IN_MOTION_BUDGET, deadline)):
            return find_version(ctx, client, app_id)
        return found

    @staticmethod
    def _require_rc(ctx: StepContext, settings: SendToAppStoreSettings) -> None:
        if not settings.require_rc:
            return
        label_text = f"{ctx.ipa.version} ({ctx.ipa.build_number})"
        if ctx.store is None:
            ctx.log.info("dry run: would require %s to be marked as a release candidate", label_text)
            return
        if not ctx.store.is_rc(ctx.ipa.fingerprint):
            raise InputError(
                f"{label_text} is not marked as a release candidate, and this step has require_rc: true",
                hint=f"mark it with `appstore-publish mark-rc '{label_text}'` (or add a mark_as_rc step before this "
                "one) and run the flow again",
            )


def _check_version_before_upload(ctx: StepContext, client: AppStoreConnect, app_id: str, existing: Any,
                                 withdraw: bool, looked_up: dict[str, Any]) -> None:
    """Refuse now, not after an hour of upload and processing, when the version cannot take the build. What was
    read is left in `looked_up` (the version, and the build it was read for)."""
    looked_up["version"] = find_version(ctx, client, app_id)
    looked_up["for_build"] = existing.id if existing is not None else None
    try:
        check_version(ctx, client, looked_up["version"], looked_up["for_build"])
    except SubmissionConflict as exc:
        # Withdrawn only once the new build is there (nothing changes before the upload succeeds).
        state = version_state(looked_up["version"][0])
        if state != "WAITING_FOR_REVIEW":
            raise SubmissionConflict(exc.message, hint=IN_REVIEW_HINT) from None
        if not withdraw:
            raise SubmissionConflict(exc.message, hint=WITHDRAW_HINT) from None
        ctx.log.info("App Store version %s is WAITING_FOR_REVIEW with another build: it is withdrawn "
                     "once this build is ready (cancel_submission_in_review: true)", ctx.ipa.version)
    blocking = _other_version_in_review(looked_up["version"])
    if blocking is not None:
        state = version_state(blocking)
        if state != "WAITING_FOR_REVIEW" or not withdraw:
            raise SubmissionConflict(
                f"App Store version {blocking.attr('versionString')} is {state}; App Store Connect "
                f"keeps one version per platform in flight, so version {ctx.ipa.version} cannot be "
                "created now", hint=WITHDRAW_HINT if state == "WAITING_FOR_REVIEW" else IN_REVIEW_HINT)
        ctx.log.info("App Store version %s is WAITING_FOR_REVIEW: it is withdrawn once this build is "
                     "ready (cancel_submission_in_review: true)", blocking.attr("versionString"))


def _other_version_in_review(found: VersionLookup) -> Resource | None:
    """When the IPA's version does not exist yet: another version of the platform waiting for or in review, which
    App Store Connect lets no new version past (one version in flight per platform)."""
    version, versions, _ = found
    if version is not None:
        return None
    return next((v for v in versions if version_state(v) in ("WAITING_FOR_REVIEW", "IN_REVIEW")), None)
