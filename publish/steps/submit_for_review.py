"""`submit_for_review`: submit the App Store version that holds this binary's build (for flows that stage the
version first and submit after an approval step)."""

from __future__ import annotations

from publish.errors import InputError
from publish.plan import SubmitForReviewSettings
from publish.steps.app_store_review import submit_for_review
from publish.steps.appstore import find_version
from publish.steps.base import Step, StepContext, StepOutcome
from publish.steps.testflight import ensure_app, find_existing_build, label


class SubmitForReview(Step):
    name = "submit_for_review"

    def run(self, ctx: StepContext, settings: SubmitForReviewSettings) -> StepOutcome:
        client = ctx.client_for(settings.api_key)
        app_id = ensure_app(ctx, client)
        known = (ctx.store.get_binary(ctx.ipa.fingerprint) or {}).get("remote", {}) if ctx.store else {}
        build_id = ctx.run.build_id or known.get("build_id")
        if not build_id:
            build = find_existing_build(ctx, client, app_id)
            build_id = build.id if build is not None else None
        if not build_id:
            raise InputError(
                f"build {label(ctx)} is not in App Store Connect, so there is nothing to submit",
                hint="add a send_to_app_store step (stage_type: app_store) before submit_for_review",
            )
        version, _, known = find_version(ctx, client, app_id)
        attached_id = None
        if version is not None:
            attached_id = known.build_id if known.build_known else \
                getattr(client.get_app_store_version_build(version.id), "id", None)
        if version is None or attached_id != build_id:
            holder = f"holds build id {attached_id}" if attached_id else "has no build"
            raise InputError(
                f"App Store version {ctx.ipa.version} "
                + ("does not exist" if version is None else f"{holder}, not {label(ctx)}"),
                hint="run send_to_app_store with stage_type: app_store for this IPA first; it creates the version "
                "and attaches the build",
            )
        ctx.run.app_store_version_id = version.id
        submission = submit_for_review(ctx, client, app_id, version,
                                       cancel_previous=settings.cancel_previous_submission,
                                       first_release=known.first_release,
                                       cancel_in_review=settings.cancel_submission_in_review)
        ctx.remember(review_submission_id=submission.id, app_store_version_id=version.id)
        return StepOutcome(f"version {ctx.ipa.version} submitted for review ({submission.attr('state')})",
                           asc_ids=ctx.run.ids(), outputs={"review_state": submission.attr("state")})
