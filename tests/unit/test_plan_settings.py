"""The typed settings of every step type against the flow's schema: one field per schema property (same name), the
schema's default taken when the flow leaves a setting out, and the checks made once, when the settings are built."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from publish.errors import InputError
from publish.plan import SETTINGS_TYPES, settings_for
from publish.plan.schema_facts import STEP_DEFINITIONS, step_properties
from publish.spec import step_types

# The least a step of each type needs to be valid.
MINIMAL: dict[str, dict[str, Any]] = {"send_to_app_store": {"stage_type": "app_store"}}


def _schema_fields(cls: type) -> set[str]:
    return {f.name for f in fields(cls) if not f.metadata.get("derived")}


def test_every_step_type_of_the_schema_has_typed_settings() -> None:
    assert set(SETTINGS_TYPES) == set(step_types()) == set(STEP_DEFINITIONS)


@pytest.mark.parametrize("step", sorted(SETTINGS_TYPES))
def test_settings_fields_are_the_schema_properties(step: str) -> None:
    assert _schema_fields(SETTINGS_TYPES[step]) == set(step_properties(step))


@pytest.mark.parametrize("step", sorted(SETTINGS_TYPES))
def test_a_setting_left_out_takes_the_schema_default_or_is_unset(step: str) -> None:
    settings = settings_for(step, MINIMAL.get(step, {}), Path("."))
    shown = settings.to_json()
    for name, prop in step_properties(step).items():
        value = getattr(settings, name)
        if "default" in prop:
            # the typed value is the schema's default (a duration as seconds), and plan shows it where it applies
            assert value == prop["default"], (step, name, value, prop["default"])
            if settings.applies(name):
                assert shown[name] == prop["default"], (step, name)
        elif name not in MINIMAL.get(step, {}):
            assert value in (None, False, (), {}) or getattr(value, "given", True) is False, (step, name, value)
            assert name not in shown, (step, name)


def test_the_schema_defaults_are_the_settings_defaults_not_a_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    # Change the schema's default: the typed settings follow it (a copy of the default elsewhere would not).
    from publish.plan import schema_facts

    patched = {name: dict(prop) for name, prop in step_properties("send_to_testflight").items()}
    patched["processing_timeout"]["default"] = "2h"
    patched["notify_testers"]["default"] = False
    monkeypatch.setattr(schema_facts, "step_properties", lambda step: patched if step == "send_to_testflight"
                        else step_properties(step))
    settings = settings_for("send_to_testflight", {}, Path("."))
    assert settings.processing_timeout == 7200.0  # type: ignore[attr-defined]
    assert settings.notify_testers is False  # type: ignore[attr-defined]


def test_values_are_parsed_once_files_read_durations_in_seconds(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("  Try the new login.\n", encoding="utf-8")
    settings = settings_for("send_to_testflight", {
        "processing_timeout": "1h30m", "what_to_test": {"file": "notes.txt"}, "groups": ["QA", "QA", "Beta"],
        "testers": ["ann@example.com", {"email": "bob@example.com", "first_name": "Bob"}],
        "expire_previous_builds": 3}, tmp_path)
    assert settings.processing_timeout == 5400.0  # type: ignore[attr-defined]
    assert settings.what_to_test == {"en-US": "Try the new login."}  # type: ignore[attr-defined]
    assert settings.what_to_test_in_primary_locale is True  # type: ignore[attr-defined]
    assert settings.groups == ("QA", "Beta")  # type: ignore[attr-defined]
    shown = settings.to_json()
    assert shown["processing_timeout"] == 5400 and shown["expire_previous_builds"] == 3
    assert shown["testers"] == [{"email": "ann@example.com"}, {"email": "bob@example.com", "first_name": "Bob"}]
    with pytest.raises(AttributeError):
        settings.processing_timeout = 1  # type: ignore[misc]  # frozen


def test_app_store_settings_in_apples_terms() -> None:
    settings = settings_for("send_to_app_store", {"stage_type": "app_store", "release_type": "scheduled",
                                                  "scheduled_release_date": "2999-07-01T18:00:00+02:00",
                                                  "whats_new": "Fixes"}, Path("."))
    assert settings.release_type == "SCHEDULED"  # type: ignore[attr-defined]
    assert settings.scheduled_release_date == "2999-07-01T16:00:00Z"  # type: ignore[attr-defined]
    assert settings.whats_new == {"*": "Fixes"}  # type: ignore[attr-defined]  # every locale (H12)
    assert settings.testflight_given is False  # type: ignore[attr-defined]
    assert settings_for("send_to_app_store", {"stage_type": "testflight", "groups": ["QA"]},
                        Path(".")).testflight_given is True  # type: ignore[attr-defined]


@pytest.mark.parametrize("step,raw,message", [
    ("send_to_testflight", {"wait_for_processing": False, "groups": ["QA"]}, "groups and testers can only"),
    ("send_to_testflight", {"wait_for_processing": False, "expire_previous_builds": True}, "expire_previous_builds"),
    ("send_to_testflight", {"expire_builds_in_beta_review": True}, "expire_previous_builds is not"),
    ("send_to_testflight", {"processing_timeout": "0m"}, "more than 0 seconds"),
    ("send_to_testflight", {"what_to_test": "a < b"}, "refuses the character '<'"),
    ("send_to_testflight", {"what_to_test": {"file": "missing.txt"}}, "does not exist"),
    ("send_to_testflight", {"if_another_build_in_review": "ignore"}, "is not one of fail, wait, expire_other"),
    ("send_to_app_store", {"stage_type": "app_store", "wait_for_processing": False}, "needs the processed build"),
    ("send_to_app_store", {"stage_type": "app_store", "cancel_submission_in_review": True},
     "submit_for_review is not true"),
    ("send_to_app_store", {"stage_type": "app_store", "release_type": "scheduled"}, "needs scheduled_release_date"),
    ("send_to_app_store", {"stage_type": "app_store", "release_type": "scheduled",
                           "scheduled_release_date": "2001-01-01T00:00:00Z"}, "in the past"),
    ("release", {"action": "rewind"}, "is not one of release, pause, resume, complete"),
    ("mark_as_rc", {"note": 3}, "is not a string"),
])
def test_settings_that_cannot_be_used_are_refused_when_built(tmp_path: Path, step: str, raw: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(InputError) as caught:
        settings_for(step, raw, tmp_path)
    assert message in str(caught.value)
    assert caught.value.hint


def test_a_step_runs_with_the_settings_object_it_is_given() -> None:
    # Steps no longer check settings: the registry has no `check`, and `run` takes the typed object.
    from publish.steps import STEPS

    for step in STEPS.values():
        assert not hasattr(step, "check"), step.name
