"""The plan layer (spec -> plan -> steps -> client): what a run of a flow on a binary will do, decided before
anything remote happens.

Along its seams: `profile` (which profile a binary belongs to), `values` and `beta_review_info` (a setting's value
turned into what the steps use), `schema_facts` (names and defaults from the flow's schema), `settings` (the typed
settings per step type) and `build` (the `Plan`: profile, steps, skip decisions, credentials, pre-flight).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publish.plan.build import CompletedSteps, Plan, PlannedStep, StepCredentials, build_plan, flow_hash
from publish.plan.profile import choose_profile
from publish.plan.settings import (
    DeliverySettings,
    SETTINGS_TYPES,
    MarkAsRcSettings,
    ReleaseSettings,
    SendToAppStoreSettings,
    SendToTestflightSettings,
    StepSettings,
    SubmitForReviewSettings,
    build_settings,
    settings_for,
)
from publish.spec import StepSpec


def effective_settings(step: StepSpec, base_dir: Path = Path(".")) -> dict[str, Any]:
    """The step's settings in effect: those written in the flow, and the schema's defaults that apply."""
    return build_settings(step, base_dir).to_json()


__all__ = [
    "SETTINGS_TYPES", "CompletedSteps", "DeliverySettings", "MarkAsRcSettings", "Plan", "PlannedStep", "ReleaseSettings",
    "SendToAppStoreSettings", "SendToTestflightSettings", "StepCredentials", "StepSettings",
    "SubmitForReviewSettings", "build_plan", "build_settings", "choose_profile", "effective_settings", "flow_hash",
    "settings_for",
]
