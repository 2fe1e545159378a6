"""Export compliance (protocol.md C, H.2): whether the app uses non-exempt encryption, from the step or the
binary's Info.plist, required before an upload when the build is to be distributed, and set on the build when
App Store Connect has no answer (Apple never changes one it has)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, Resource
from publish.errors import InputError
from publish.steps.base import StepContext
from publish.steps.testflight import label

if TYPE_CHECKING:
    from publish.plan import DeliverySettings

MISSING_COMPLIANCE_HINT = (
    "set `uses_non_exempt_encryption: false` (or true) in the step, or add the key ITSAppUsesNonExemptEncryption "
    "to the app's Info.plist; App Store Connect keeps a build without it at 'Missing Compliance'"
)


def export_compliance_value(ctx: StepContext, settings: DeliverySettings) -> bool | None:
    """The step's answer, else the binary's Info.plist's, else None (nothing says)."""
    if settings.uses_non_exempt_encryption is not None:
        return settings.uses_non_exempt_encryption
    return ctx.ipa.uses_non_exempt_encryption


def require_export_compliance(ctx: StepContext, settings: DeliverySettings, build: Resource | None) -> None:
    """Fail before an upload when nothing says whether the app uses non-exempt encryption."""
    if export_compliance_value(ctx, settings) is not None:
        return
    if build is not None and build.attributes.get("usesNonExemptEncryption") is not None:
        return
    where = f"build {label(ctx)} in App Store Connect" if build is not None else "this IPA"
    raise InputError(f"export compliance is not known for {where}: the step has no uses_non_exempt_encryption and "
                     "Info.plist has no ITSAppUsesNonExemptEncryption", hint=MISSING_COMPLIANCE_HINT)


def apply_export_compliance(ctx: StepContext, client: AppStoreConnect, build: Resource,
                            settings: DeliverySettings, *, required: bool) -> bool:
    """PATCH usesNonExemptEncryption when App Store Connect has none. Returns True when it was set now."""
    current = build.attributes.get("usesNonExemptEncryption")
    wanted = export_compliance_value(ctx, settings)
    if current is not None:
        if wanted is not None and wanted != current:
            ctx.warn(f"build {label(ctx)} already declares usesNonExemptEncryption={str(current).lower()} in App "
                     f"Store Connect; the flow's {str(wanted).lower()} was not applied (Apple does not change it)")
        return False
    if wanted is None:
        if required:
            require_export_compliance(ctx, settings, build)
        ctx.warn(f"build {label(ctx)} has no export compliance answer, so TestFlight shows 'Missing Compliance': "
                 + MISSING_COMPLIANCE_HINT)
        return False
    try:
        client.update_build(build.id, uses_non_exempt_encryption=wanted)
    except AscAmbiguousWriteError:
        reread = client.get_build(build.id)
        if reread is None or reread.attributes.get("usesNonExemptEncryption") is None:
            client.update_build(build.id, uses_non_exempt_encryption=wanted)
    build.attributes["usesNonExemptEncryption"] = wanted
    ctx.run.export_compliance_set_for = build.id  # H.2: TestFlight takes a moment to see it
    ctx.log.info("export compliance: usesNonExemptEncryption=%s", str(wanted).lower())
    return True
