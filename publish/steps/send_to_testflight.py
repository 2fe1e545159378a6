"""`send_to_testflight`: upload (or reuse) the build, wait for processing, then export compliance, What to Test,
groups, testers, notifications and the external beta review (protocol.md C-D)."""

from __future__ import annotations

from typing import Any

from publish.env_key_names import env_offers_api_key
from publish.plan import SendToTestflightSettings
from publish.steps.base import Step, StepContext, StepOutcome
from publish.steps.expire_builds import expire_builds, plan_expiry
from publish.steps.export_compliance import apply_export_compliance, require_export_compliance
from publish.steps.testflight import ensure_app, ensure_build, label
from publish.steps.testflight_distribution import (
    TestFlightPlan,
    check_beta_review_before_upload,
    distribute,
    resolve_groups,
)


class SendToTestflight(Step):
    name = "send_to_testflight"

    def run(self, ctx: StepContext, settings: SendToTestflightSettings) -> StepOutcome:
        if settings.apple_id and not (settings.api_key or env_offers_api_key(ctx.env)):
            # no API key: the upload is all an Apple ID can do
            from publish.credentials_upload_only import upload_with_apple_id_only
            return upload_with_apple_id_only(ctx, settings)
        plan = TestFlightPlan(settings)
        client = ctx.client_for(settings.api_key)
        app_id = ensure_app(ctx, client)
        resolve_groups(ctx, client, app_id, plan)  # an unknown group fails here, before the upload
        expiry = settings.expire_previous_builds

        def before_upload(existing: Any) -> None:
            require_export_compliance(ctx, settings, existing)
            check_beta_review_before_upload(ctx, client, app_id, plan, existing)  # H.3, H.4
            if expiry is not None:  # a build in review would stop the step: say so before the upload
                plan_expiry(ctx, client, app_id, expiry, getattr(existing, "id", None))

        build = ensure_build(ctx, client, settings, before_upload=before_upload)
        if build is None:
            return StepOutcome(f"uploaded {label(ctx)}; App Store Connect is still processing it",
                               asc_ids=ctx.run.ids())
        outputs: dict[str, Any] = {"processing_state": build.attr("processingState")}
        if build.attr("processingState") != "VALID":
            return StepOutcome(f"build {label(ctx)} is {build.attr('processingState')}; TestFlight settings not "
                               "applied (wait_for_processing is false)", asc_ids=ctx.run.ids(), outputs=outputs)
        apply_export_compliance(ctx, client, build, settings, required=True)
        outputs.update(distribute(ctx, client, build, plan))
        if expiry is not None:
            outputs["expired_builds"] = expire_builds(ctx, client, plan_expiry(ctx, client, app_id, expiry, build.id),
                                                      expiry)
        parts = [f"build {label(ctx)} is on TestFlight"]
        if outputs.get("groups"):
            parts.append("groups: " + ", ".join(outputs["groups"]))
        if outputs.get("testers"):
            parts.append(f"{len(outputs['testers'])} tester(s)")
        if outputs.get("beta_review_state"):
            parts.append(f"beta review: {outputs['beta_review_state']}")
        if outputs.get("expired_builds"):
            parts.append(f"expired {len(outputs['expired_builds'])} earlier build(s)")
        return StepOutcome("; ".join(parts), asc_ids=ctx.run.ids(), outputs=outputs)
