"""Unit tests of the flow's offline pieces: settings helpers, outputs, the Markdown summary, links."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from publish.errors import InputError
from publish.runner import links
from publish.plan import settings_for
from publish.plan.values import parse_duration, release_notes
from publish.steps import STEPS, get_step
from publish.summary import OUTPUT_NAMES, outputs, render_markdown

RESULT = {
    "format_version": 1, "status": "failed", "dry_run": False, "app_name": "Demo | App", "bundle_id": "com.example.demo",
    "version": "1.0.0", "build_number": "7", "platform": "IOS", "fingerprint": "ab" * 32, "profile": "Demo",
    "flow_hash": "cd" * 32, "state_dir": "/tmp/state",
    "steps": [
        {"index": 0, "name": "send_to_testflight", "status": "succeeded", "duration_s": 12.5, "message": "on TestFlight",
         "asc_ids": {"build_id": "B1"}, "error": None},
        {"index": 1, "name": "send_to_app_store", "status": "failed", "duration_s": 75.2, "message": "refused",
         "asc_ids": {}, "error": "App Store Connect refused PATCH (HTTP 409)"},
        {"index": 2, "name": "submit_for_review", "status": "not_run", "duration_s": 0.0,
         "message": "not run: an earlier step failed", "asc_ids": {}, "error": None},
    ],
    "ids": {"app_id": "A1", "build_id": "B1", "upload_id": "U1", "app_store_version_id": None,
            "review_submission_id": None, "beta_review_submission_id": None},
    "warnings": ["icon has alpha"],
    "links": links({"app_id": "A1", "build_id": "B1"}),
    "error": {"step": "send_to_app_store", "index": 1, "message": "refused", "hint": "bump the version"},
    "api_calls": 12, "duration_s": 90.0,
}


def test_result_example_matches_schema() -> None:
    schema = json.loads(resources.files("publish.schemas").joinpath("run-result.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(RESULT)


def test_outputs_are_strings_with_empty_for_unknown() -> None:
    out = outputs(RESULT)
    assert tuple(out) == OUTPUT_NAMES
    assert out["build-id"] == "B1" and out["build-number"] == "7" and out["version"] == "1.0.0"
    assert out["app-store-version-id"] == "" and out["status"] == "failed"


def test_markdown_summary_has_steps_durations_warnings_and_links() -> None:
    text = render_markdown(RESULT)
    assert "Demo \\| App" in text  # table cells are escaped
    assert "`com.example.demo`" in text
    assert "| 2 | `send_to_app_store` | ❌ failed | 1 min 15 s | App Store Connect refused PATCH (HTTP 409) |" in text
    assert "| 1 | `send_to_testflight` | ✅ succeeded | 12.5 s |" in text
    assert "not_run" in text and "- icon has alpha" in text
    assert "https://appstoreconnect.apple.com/apps/A1/testflight/ios/B1" in text
    assert "How to fix: bump the version" in text


def test_links_per_platform() -> None:
    found = links({"app_id": "1", "build_id": "2", "app_store_version_id": "3"}, "TV_OS")
    assert found["build"] == "https://appstoreconnect.apple.com/apps/1/testflight/tvos/2"
    assert found["app_store_version"].startswith("https://appstoreconnect.apple.com/apps/1/distribution/tvos/")
    assert links({}) == {}


@pytest.mark.parametrize("value,seconds", [(90, 90.0), ("45m", 2700.0), ("1h30m", 5400.0), ("90s", 90.0),
                                           (None, 3600.0)])
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "0m", 0, True, "m"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(InputError):
        parse_duration(value)


def test_release_notes_forms(tmp_path: Path) -> None:
    (tmp_path / "notes.de.txt").write_text("Neu\n", encoding="utf-8")
    assert release_notes("Fixes", default_locale="en-US", base_dir=tmp_path, setting="x") == {"en-US": "Fixes"}
    assert release_notes({"file": "notes.de.txt"}, default_locale="de-DE", base_dir=tmp_path, setting="x") == \
        {"de-DE": "Neu"}
    assert release_notes({"en-US": "New", "de-DE": {"file": "notes.de.txt"}}, default_locale="en-US",
                         base_dir=tmp_path, setting="x") == {"en-US": "New", "de-DE": "Neu"}
    with pytest.raises(InputError, match="does not exist"):
        release_notes({"file": "missing.md"}, default_locale="en-US", base_dir=tmp_path, setting="what_to_test")
    with pytest.raises(InputError, match="4000"):
        release_notes("x" * 4001, default_locale="en-US", base_dir=tmp_path, setting="whats_new")


def read_app_store_settings(settings: dict) -> Any:
    return settings_for("send_to_app_store", {"stage_type": "app_store", **settings}, Path("."))


def test_scheduled_release_needs_future_date_with_zone() -> None:
    plan = read_app_store_settings({"release_type": "scheduled",
                                    "scheduled_release_date": "2999-07-01T18:00:00+02:00"})
    assert plan.release_type == "SCHEDULED" and plan.scheduled_release_date == "2999-07-01T16:00:00Z"
    for date, message in (("2001-01-01T00:00:00Z", "past"), ("2999-07-01T18:00:00", "time zone"),
                          ("next week", "ISO 8601")):
        with pytest.raises(InputError, match=message):
            read_app_store_settings({"release_type": "scheduled", "scheduled_release_date": date})
    with pytest.raises(InputError, match="needs scheduled_release_date"):
        read_app_store_settings({"release_type": "scheduled"})


def test_registry_names_every_step() -> None:
    assert set(STEPS) == {"send_to_testflight", "send_to_app_store", "submit_for_review", "mark_as_rc", "release"}
    with pytest.raises(InputError, match="send_to_testflight"):
        get_step("send_to_play_store")
