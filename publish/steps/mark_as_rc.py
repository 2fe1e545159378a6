"""`mark_as_rc`: mark this binary as a release candidate in the state store (no App Store Connect call), so a
later `send_to_app_store` with `require_rc: true` accepts it."""

from __future__ import annotations

from publish.errors import InputError
from publish.plan import MarkAsRcSettings
from publish.steps.base import Step, StepContext, StepOutcome


class MarkAsRc(Step):
    name = "mark_as_rc"

    def run(self, ctx: StepContext, settings: MarkAsRcSettings) -> StepOutcome:
        note = settings.note
        label = f"{ctx.ipa.version} ({ctx.ipa.build_number})"
        if ctx.dry_run:  # its one write is to the state store, which a dry run never writes (the runner's rule)
            return StepOutcome(f"dry run: would mark {label} as a release candidate")
        if ctx.store is None:
            raise InputError("mark_as_rc needs the state store", hint="run without --dry-run")
        ctx.store.set_rc(ctx.ipa.fingerprint, True, note)
        ctx.log.info("marked %s as a release candidate%s", label, f" ({note})" if note else "")
        return StepOutcome(f"{label} marked as release candidate", outputs={"rc": True, "note": note})
