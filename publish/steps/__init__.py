"""Flow steps, registered by name. Each step is one module; `STEPS` maps the flow's `step:` value to its class."""

from __future__ import annotations

from publish.errors import InputError
from publish.steps.base import RunState, Step, StepContext, StepOutcome, step_log
from publish.steps.mark_as_rc import MarkAsRc
from publish.steps.release import ReleaseStep
from publish.steps.send_to_app_store import SendToAppStore
from publish.steps.send_to_testflight import SendToTestflight
from publish.steps.submit_for_review import SubmitForReview

STEPS: dict[str, type[Step]] = {
    step.name: step for step in (SendToTestflight, SendToAppStore, SubmitForReview, MarkAsRc, ReleaseStep)
}


def get_step(name: str) -> Step:
    try:
        return STEPS[name]()
    except KeyError:
        raise InputError(f"unknown step {name!r}", hint=f"use one of: {', '.join(STEPS)}") from None


__all__ = ["STEPS", "RunState", "Step", "StepContext", "StepOutcome", "get_step", "step_log"]
