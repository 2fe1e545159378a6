"""What the flow's JSON Schema says about each step type's settings: their names and their defaults. The schema is
the one source of the defaults; the typed settings (settings.py) take them from here, never from a literal."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from publish.spec import flow_schema
from publish.spec.schema import resolve

STEP_DEFINITIONS = {"send_to_testflight": "SendToTestflight", "send_to_app_store": "SendToAppStore",
                    "submit_for_review": "SubmitForReview", "mark_as_rc": "MarkAsRc", "release": "Release"}


@cache
def step_properties(step: str) -> dict[str, dict[str, Any]]:
    """The settings (schema properties, `step` left out) of a step type, each with its schema resolved."""
    definition = flow_schema()["$defs"][STEP_DEFINITIONS[step]]
    return {name: resolve(prop) | ({"default": prop["default"]} if "default" in prop else {})
            for name, prop in definition["properties"].items() if name != "step"}


def has_default(step: str, setting: str) -> bool:
    return "default" in step_properties(step).get(setting, {})


def default(step: str, setting: str) -> Any:
    """The schema's default of the setting, None when it has none."""
    return step_properties(step).get(setting, {}).get("default")


def given_or_default(step: str, raw: Mapping[str, Any], setting: str) -> Any:
    """The flow's value of the setting, else the schema's default, else None."""
    return raw[setting] if setting in raw else default(step, setting)


def default_processing_timeout() -> float:
    """The waiting budget of a step that has no processing_timeout of its own (the uploading steps' default)."""
    return float(default("send_to_testflight", "processing_timeout"))
