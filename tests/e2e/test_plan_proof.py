"""`plan` and `run` share one plan: for a flow of several steps, one of them already done, `plan --json` and the run
result agree on every setting and every skip decision (end to end, against the simulator)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema

from flow_harness import INTERNAL, FlowWorld

TESTFLIGHT = f"""\
- step: send_to_testflight
  api_key: main
  groups: [{INTERNAL}]
  what_to_test: {{file: notes.txt}}
  processing_timeout: 45m
"""
LATER = """\
- step: mark_as_rc
  note: approved by QA
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  release_type: manual
  require_rc: true
"""


def _schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("publish.schemas").joinpath(name).read_text(encoding="utf-8"))


def _plan(world: FlowWorld, flow: Any, ipa: Any, *extra: str) -> dict[str, Any]:
    out = world.cli(["plan", str(flow), "--ipa", str(ipa), "--state-dir", str(world.state_dir), "--json", *extra])
    assert out.code == 0, out.output
    plan = json.loads(out.stdout)
    jsonschema.validate(plan, _schema("plan.schema.json"))
    return plan


def test_plan_json_and_the_run_result_agree_on_every_setting_and_skip(world: FlowWorld) -> None:
    (world.directory / "notes.txt").write_text("Try the new login.\n", encoding="utf-8")
    ipa = world.ipa("7")
    first = world.run(world.flow(TESTFLIGHT, name="first.yml"), ipa)
    assert first.code == 0, first.output  # step 1 is now done for this binary, with these settings

    flow = world.flow(TESTFLIGHT + LATER)
    plan = _plan(world, flow, ipa)
    assert [s["would_skip"] for s in plan["steps"]] == [True, False, False]
    # The settings shown are the ones in effect, parsed: not an echo of the file.
    testflight = plan["steps"][0]["settings"]
    assert testflight["processing_timeout"] == 2700 and testflight["what_to_test"] == {"en-US": "Try the new login."}
    assert testflight["notify_testers"] is True  # the schema's default
    assert plan["steps"][2]["settings"]["release_type"] == "MANUAL"
    assert plan["steps"][2]["settings"]["submit_for_review"] is False

    out = world.run(flow, ipa)
    assert out.code == 0, out.output
    result = out.result
    assert result is not None
    jsonschema.validate(result, _schema("run-result.schema.json"))
    assert result["flow_hash"] == plan["flow_hash"]
    assert [s["index"] for s in result["steps"]] == [s["index"] for s in plan["steps"]]
    for planned, ran in zip(plan["steps"], result["steps"], strict=True):
        assert ran["name"] == planned["step"]
        assert ran["settings"] == planned["settings"], planned["step"]
        assert ran["settings_hash"] == planned["settings_hash"], planned["step"]
        assert (ran["status"] == "skipped") == planned["would_skip"], (planned["step"], ran["status"])
    assert [s["status"] for s in result["steps"]] == ["skipped", "succeeded", "succeeded"]

    # With --restart nothing is skipped, in the plan as in the run.
    again = _plan(world, flow, ipa, "--restart")
    assert again["restart"] is True and not any(s["would_skip"] for s in again["steps"])


def test_the_run_uses_the_plans_skip_decisions(world: FlowWorld) -> None:
    # A step whose settings changed since it was done is not skipped, by plan or by run (the hash differs).
    ipa = world.ipa("8")
    assert world.run(world.flow("- step: mark_as_rc\n  note: one\n", name="one.yml"), ipa).code == 0
    changed = world.flow("- step: mark_as_rc\n  note: two\n", name="two.yml")
    plan = _plan(world, changed, ipa)
    assert [s["would_skip"] for s in plan["steps"]] == [False]
    out = world.run(changed, ipa)
    assert [s["status"] for s in out.result["steps"]] == ["succeeded"]  # type: ignore[index]
    same = _plan(world, changed, ipa)
    assert [s["would_skip"] for s in same["steps"]] == [True]
    out = world.run(changed, ipa)
    assert [s["status"] for s in out.result["steps"]] == ["skipped"]  # type: ignore[index]
    assert out.result["steps"][0]["settings"] == same["steps"][0]["settings"] == {"note": "two"}  # type: ignore[index]
