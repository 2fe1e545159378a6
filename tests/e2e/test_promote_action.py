"""Promote through the GitHub Action (issue 13 part 1): the `build` input runs the flow on a build App Store
Connect already has - instead of `ipa`, with a flow file or with the one-step flow made for `profile` - against
the simulator through entrypoint.py, with errors that name inputs rather than CLI flags."""

from __future__ import annotations

import functools
import io
import re
import runpy
from collections.abc import Callable
from pathlib import Path

from flow_harness import BUNDLE_ID, INTERNAL, ISSUER_ID, KEY_ID, FlowWorld

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def run_action_entrypoint() -> Callable[..., int]:
    """entrypoint.py sits beside the package, not in it: its `run`, as the container's `python entrypoint.py` has
    it; loaded when a test first runs it, not in every xdist worker that collects this module."""
    return runpy.run_path(str(REPO / "entrypoint.py"), run_name="promote_action_entrypoint")["run"]


APP_STORE = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  submit_for_review: true
"""


def action(world: FlowWorld, **inputs: str) -> tuple[int, str, dict[str, str]]:
    files = world.directory / "gh"
    files.mkdir(exist_ok=True)
    (files / "output").write_text("")
    (files / "summary").write_text("")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(files / "output"),
           "GITHUB_STEP_SUMMARY": str(files / "summary"), "GITHUB_WORKSPACE": str(world.directory)}
    defaults = {"api-base-url": world.server.url, "state-dir": str(world.state_dir), "poll-interval": "0.01"}
    for name, value in {**defaults, **inputs}.items():
        env[f"INPUT_{name.upper()}"] = value
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_action_entrypoint()(env, stdout=stdout, stderr=stderr)
    outputs = {m.group(1): m.group(3) for m in re.finditer(r"^([a-z-]+)<<(\S+)\n(.*?)\n?\2$",
                                                             (files / "output").read_text(), re.S | re.M)}
    return code, stdout.getvalue() + stderr.getvalue(), outputs


def test_the_build_input_promotes_the_uploaded_build_to_the_app_store(world: FlowWorld) -> None:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{INTERNAL}]\n", name="tf.yml")
    code, log, first = action(world, ipa=str(world.ipa("45", version="1.2.3")), flow=str(flow))
    assert code == 0, log
    code, log, outputs = action(world, build="1.2.3 (45)", flow=str(world.flow(APP_STORE, name="release.yml")))
    assert code == 0, log
    assert outputs["status"] == "succeeded" and outputs["build-id"] == first["build-id"]
    assert outputs["review-submission-id"]
    assert len(world.records("buildUploads")) == 1  # the promote uploaded nothing
    assert "nothing is uploaded" in log
    summary = (world.directory / "gh" / "summary").read_text()
    assert "_Promoted build 1.2.3 (45), already in App Store Connect: nothing was uploaded._" in summary


def test_without_a_flow_the_one_step_flow_is_made_for_the_profile_input(world: FlowWorld) -> None:
    build_id = world.server.add_build(world.app_id, "2.0", "7")
    code, log, outputs = action(world, build="2.0(7)", profile=BUNDLE_ID, groups=INTERNAL,
                                **{"api-key-id": KEY_ID, "api-issuer-id": ISSUER_ID,
                                   "api-private-key": world.private_pem})
    assert code == 0, log
    assert outputs["build-id"] == build_id
    build = next(b for b in world.records("builds") if b.id == build_id)
    assert build.rels["betaGroups"] == [world.groups[INTERNAL]]
    shown = [line for line in log.splitlines() if not line.startswith("::add-mask::")]  # masks go to the runner
    assert all(world.private_pem.splitlines()[1] not in line for line in shown)


def test_build_input_mistakes_are_named_as_inputs(world: FlowWorld) -> None:
    flow = str(world.flow(APP_STORE))
    code, log, outputs = action(world, build="1.2.3 (45)", ipa=str(world.ipa("45")), flow=flow)
    assert code == 2 and "inputs build and ipa are both set" in log
    code, log, _ = action(world, build="1.2.3 (45)")
    assert code == 2 and "input build without a flow needs profile" in log
    code, log, outputs = action(world, build="1.2.3", flow=flow)
    assert code == 2 and "the input `build` '1.2.3' is not a build" in log and "--build" not in log
    assert outputs["status"] == "failed"
    assert [e for e in world.server.exchanges if e.method != "GET"] == []
