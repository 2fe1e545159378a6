"""`run --json`: the run result on stdout as JSON (valid against schemas/run-result.schema.json), everything else
(summary, logs, progress) on stderr; `--quiet` leaves the progress out. Against the simulator over loopback."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema

from flow_harness import INTERNAL, FlowWorld

SCHEMA = json.loads(resources.files("publish.schemas").joinpath("run-result.schema.json").read_text())
TESTFLIGHT = f"""
- step: send_to_testflight
  api_key: main
  groups: [{INTERNAL}]
"""


def _document(stdout: str) -> dict:
    document = json.loads(stdout)  # the whole of stdout: nothing else may be printed there
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return document


def test_run_json_prints_only_the_result_on_stdout(world: FlowWorld) -> None:
    out = world.run(world.flow(TESTFLIGHT), world.ipa("1"), "--json")
    assert out.code == 0, out.output
    document = _document(out.stdout)
    assert document["status"] == "succeeded" and document["ids"]["build_id"]
    assert document == out.result  # the same document as --result-json
    assert "Uploading App-1.0.0-1.ipa" in out.stderr and "send_to_testflight" in out.stderr


def test_run_json_reports_a_failed_step_as_json_too(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT.replace(INTERNAL, "No Such Group"))
    out = world.run(flow, world.ipa("1"), "--json")
    assert out.code != 0
    document = _document(out.stdout)
    assert document["status"] == "failed" and document["error"]["message"]
    assert "error:" in out.stderr


def test_run_json_reports_an_early_failure_as_json(world: FlowWorld) -> None:
    out = world.run(world.flow(TESTFLIGHT), world.directory / "missing.ipa", "--json")
    assert out.code == 2
    document = _document(out.stdout)
    assert document["status"] == "failed" and "does not exist" in document["error"]["message"]


def test_dry_run_json_keeps_the_call_listing_off_stdout(world: FlowWorld) -> None:
    out = world.run(world.flow(TESTFLIGHT), world.ipa("1"), "--json", "--dry-run")
    assert out.code == 0, out.output
    assert _document(out.stdout)["dry_run"] is True
    assert "would call: " in out.stderr


def test_quiet_run_has_no_progress_and_no_info_logs(world: FlowWorld) -> None:
    loud = world.run(world.flow(TESTFLIGHT), world.ipa("1"))
    quiet = world.run(world.flow(TESTFLIGHT), world.ipa("2"), "--quiet")
    assert loud.code == quiet.code == 0, quiet.output
    assert "Uploading App-1.0.0-1.ipa" in loud.stderr
    assert "Uploading" not in quiet.stderr and len(quiet.stderr) < len(loud.stderr)
    assert "succeeded" in quiet.stdout  # the result itself still prints
