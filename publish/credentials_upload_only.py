"""A `send_to_testflight` step that has an Apple ID and no App Store Connect API key: the upload, and nothing else.

Without a key nothing can be read from App Store Connect, so this path does not look for an existing build
before uploading (Transporter and altool refuse a build number that is already used, and a re-run of the same
flow skips the step once it has succeeded) and does not wait for processing (that reads the build's state).
publish.credentials_needed has already refused, before the first step, any setting that would need the API.
"""

from __future__ import annotations

from publish.errors import InputError
from publish.plan import DeliverySettings
from publish.steps.base import StepContext, StepOutcome


def upload_with_apple_id_only(ctx: StepContext, settings: DeliverySettings) -> StepOutcome:
    ipa = ctx.ipa
    name = str(settings.apple_id)
    label = f"{ipa.version} ({ipa.build_number})"
    if ipa.uses_non_exempt_encryption is None:
        ctx.warn(f"build {label}: Info.plist has no ITSAppUsesNonExemptEncryption, so TestFlight will show 'Missing "
                 "Compliance' until the question is answered in App Store Connect (answering it from the flow needs "
                 "an API key); add the key to Info.plist to avoid that")
    if ctx.dry_run:
        ctx.log.info("dry run: would upload %s with Transporter/altool as Apple ID '%s' (no API key: nothing else "
                     "is done)", ipa.path, name)
        return StepOutcome(f"dry run: would upload {label} with Apple ID '{name}'",
                           outputs={"uploaded_with": "apple_id"})
    if ctx.transporter_for is None:
        raise InputError("uploads with an Apple ID are not available here", hint="use an api_key instead")
    ctx.log.info("uploading %s with Apple ID '%s' only (no App Store Connect API key): the upload is all this step "
                 "does; it does not wait for processing", ipa.path, name)
    result = ctx.transporter_for(name, settings)(ipa.path, ipa.platform)
    tool = getattr(result, "tool", None) or "Transporter"
    return StepOutcome(
        f"uploaded {label} with {tool} as Apple ID '{name}'; App Store Connect is processing it (with an Apple ID "
        "alone nothing more is done: add an API key for TestFlight groups, testers and waiting)",
        outputs={"uploaded_with": "apple_id", "tool": tool},
    )
