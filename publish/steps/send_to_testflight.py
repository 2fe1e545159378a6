"""`send_to_testflight`: upload (or reuse) the build, wait for processing, then export compliance, What to Test,
groups, testers, notifications and the external beta review (protocol.md C-D)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from publish.credentials_needed import uploads_with_apple_id_only
from publish.errors import InputError
from publish.steps.base import Step, StepContext, StepOutcome, setting_bool
from publish.steps.expire_builds import expire_builds, plan_expiry, read_expiry
from publish.steps.testflight import (
    apply_export_compliance,
    check_beta_review_before_upload,
    distribute,
    ensure_app,
    ensure_build,
    label,
    processing_timeout,
    read_testflight_settings,
    require_export_compliance,
    resolve_groups,
)


class SendToTestflight(Step):
    name = "send_to_testflight"

    def check(self, ctx: StepContext, settings: Mapping[str, Any]) -> None:
        plan = read_testflight_settings(ctx, settings)
        processing_timeout(settings)
        if read_expiry(settings) is not None and not setting_bool(settings, "wait_for_processing", True):
            raise InputError(
                "send_to_testflight: expire_previous_builds expires the older builds once this one is on TestFlight, "
                "but wait_for_processing is false",
                hint="remove `wait_for_processing: false`, or remove expire_previous_builds",
            )
        if plan is not None and plan.distributes and not setting_bool(settings, "wait_for_processing", True):
            raise InputError(
                "send_to_testflight: groups and testers can only get the build once it is processed, but "
                "wait_for_processing is false",
                hint="remove `wait_for_processing: false`, or move groups/testers to a later run",
            )

    def run(self, ctx: StepContext, settings: Mapping[str, Any]) -> StepOutcome:
        if uploads_with_apple_id_only(settings, ctx.env):  # no API key: the upload is all an Apple ID can do
            from publish.credentials_upload_only import upload_with_apple_id_only  # noqa: PLC0415
            return upload_with_apple_id_only(ctx, settings)
        plan = read_testflight_settings(ctx, settings)
        assert plan is not None
        client = ctx.client_for(settings.get("api_key"))
        app_id = ensure_app(ctx, client)
        resolve_groups(ctx, client, app_id, plan)  # an unknown group fails here, before the upload
        expiry = read_expiry(settings)

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
