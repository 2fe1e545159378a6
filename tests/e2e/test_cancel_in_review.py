"""`cancel_submission_in_review` (issue 13 part 5): withdraw a review submission WAITING_FOR_REVIEW, wait through
CANCELING (H11, on), then submit this build; without the setting, refuse with advice naming it; one IN_REVIEW is
never withdrawn. End to end through the CLI against the simulator with every realistic behaviour on."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from publish.sandbox import appstore
from publish.sandbox.model import Record
from flow_harness import FlowWorld, Outcome

SUBMIT = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  submit_for_review: true
"""
WITHDRAW = SUBMIT + "  cancel_submission_in_review: true\n"


def _submitted(world: FlowWorld, build: str = "1", version: str = "1.0.0") -> Record:
    """Version `version` with build `build`, submitted and WAITING_FOR_REVIEW (a run of the flow)."""
    out = world.run(world.flow(SUBMIT, name="first.yml"), world.ipa(build, version=version))
    assert out.code == 0, out.output
    [submission] = [s for s in world.records("reviewSubmissions") if s.attributes["state"] == "WAITING_FOR_REVIEW"]
    return submission


def _version(world: FlowWorld, version_string: str = "1.0.0") -> Record:
    return next(v for v in world.records("appStoreVersions") if v.attributes["versionString"] == version_string)


def _cancels(world: FlowWorld) -> list[Any]:
    return [e for e in world.server.exchanges if e.method == "PATCH" and e.path.startswith("/v1/reviewSubmissions/")
            and "canceled" in str(e.request)]


def _build_id(world: FlowWorld, number: str) -> str:
    return next(b.id for b in world.records("builds") if b.attributes["version"] == number)


def test_a_new_build_of_the_version_waiting_for_review_replaces_it(world: FlowWorld) -> None:
    old = _submitted(world, "1")
    out = world.run(world.flow(WITHDRAW), world.ipa("2"))
    assert out.code == 0, out.output
    assert old.attributes["state"] == "COMPLETE"
    assert len(_cancels(world)) == 1
    # Visible and bounded wait through CANCELING, then a confirmation naming the version.
    assert f"waiting for App Store Connect to finish withdrawing review submission {old.id} (CANCELING)" in out.stderr
    assert f"withdrew App Store version 1.0.0 from App Review: review submission {old.id} was WAITING_FOR_REVIEW, " \
           "now COMPLETE" in out.stderr
    version = _version(world)
    assert version.rels["build"] == _build_id(world, "2")
    assert version.attributes["appVersionState"] == "WAITING_FOR_REVIEW"
    [new] = [s for s in world.records("reviewSubmissions") if s.id != old.id]
    assert new.attributes["state"] == "WAITING_FOR_REVIEW"
    assert new.rels["appStoreVersionForReview"] == version.id


def test_without_the_setting_the_step_refuses_before_the_upload_naming_it(world: FlowWorld) -> None:
    old = _submitted(world, "1")
    uploads = len(world.records("buildUploads"))
    out = world.run(world.flow(SUBMIT), world.ipa("2"))
    assert out.code == 1, out.output
    assert "App Store version 1.0.0 is WAITING_FOR_REVIEW with another build" in out.stderr
    assert "set cancel_submission_in_review: true on this step (with submit_for_review)" in out.stderr
    assert "Traceback" not in out.output
    assert len(world.records("buildUploads")) == uploads  # refused before the upload
    assert old.attributes["state"] == "WAITING_FOR_REVIEW"
    assert _cancels(world) == []


def test_another_version_waiting_for_review_is_withdrawn_for_this_one(world: FlowWorld) -> None:
    old = _submitted(world, "1", "1.0.0")
    refused = world.run(world.flow(SUBMIT), world.ipa("1", version="1.1.0"))
    assert refused.code == 1, refused.output
    assert "App Store version 1.0.0 is WAITING_FOR_REVIEW; App Store Connect keeps one version per platform in " \
           "flight, so version 1.1.0 cannot be created now" in refused.stderr
    assert "cancel_submission_in_review: true" in refused.stderr
    assert not [u for u in world.records("buildUploads") if "1.1.0" in str(u.attributes)]  # before the upload
    assert old.attributes["state"] == "WAITING_FOR_REVIEW"

    out = world.run(world.flow(WITHDRAW), world.ipa("1", version="1.1.0"))
    assert out.code == 0, out.output
    assert "withdrew App Store version 1.0.0 from App Review" in out.stderr
    assert old.attributes["state"] == "COMPLETE"
    assert _version(world, "1.1.0").attributes["appVersionState"] == "WAITING_FOR_REVIEW"


def test_the_submit_for_review_step_withdraws_another_submission_waiting_for_review(world: FlowWorld) -> None:
    staged = world.run(world.flow("""
- step: send_to_app_store
  api_key: main
  stage_type: app_store
""", name="stage.yml"), world.ipa("1"))
    assert staged.code == 0, staged.output
    # Someone else's submission, waiting for review with another version (as App Store Connect may hold it).
    with world.server.store.lock:
        other = appstore.create_version(world.server.sim, world.app_id, "0.9.0", "IOS", state="WAITING_FOR_REVIEW")
        old = world.server.store.add("reviewSubmissions", {"platform": "IOS", "state": "WAITING_FOR_REVIEW",
                                                           "submittedDate": None},
                                     {"app": world.app_id, "appStoreVersionForReview": other.id})
        world.server.store.add("reviewSubmissionItems", {"state": "ACCEPTED"},
                               {"reviewSubmission": old.id, "appStoreVersion": other.id})
    submit = """
- step: submit_for_review
  api_key: main
"""
    refused = world.run(world.flow(submit, name="submit.yml"), world.ipa("1"))
    assert refused.code == 1, refused.output
    assert f"review submission {old.id} is waiting for review" in refused.stderr
    assert "set cancel_submission_in_review: true" in refused.stderr
    out = world.run(world.flow(submit + "  cancel_submission_in_review: true\n", name="submit.yml"), world.ipa("1"))
    assert out.code == 0, out.output
    assert f"withdrew App Store version 0.9.0 from App Review: review submission {old.id}" in out.stderr
    assert old.attributes["state"] == "COMPLETE"
    assert _version(world).attributes["appVersionState"] == "WAITING_FOR_REVIEW"


def test_a_submission_in_review_is_never_withdrawn(world: FlowWorld) -> None:
    old = _submitted(world, "1")
    with world.server.store.lock:
        old.attributes["state"] = "IN_REVIEW"
        _version(world).attributes["appVersionState"] = "IN_REVIEW"
    out = world.run(world.flow(WITHDRAW), world.ipa("2"))
    assert out.code == 1, out.output
    assert "IN_REVIEW with another build" in out.stderr
    assert "not withdrawn by this tool" in out.stderr
    assert _cancels(world) == []
    assert old.attributes["state"] == "IN_REVIEW"


class _StepTime:
    """A run's clock that only its pauses move on, each taken in full and none of them slept: a wait's bound is
    proven in the run's own seconds, however long (or short) the work between the looks takes on this machine."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.pauses += 1


def _run_in_step_time(world: FlowWorld, flow: Path, ipa: Path, step_time: _StepTime, poll_interval: float) -> Outcome:
    """`world.run`'s run (same flow, IPA, simulator and state) through `run_command`, on `step_time`."""
    from publish.cli import CliContext
    from publish.commands.run import run_command

    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_command(CliContext(stdout=stdout, stderr=stderr, env={}), flow_path=flow, ipa_path=ipa,
                       api_base_url=world.server.url, state_dir=world.state_dir, poll_interval=poll_interval,
                       sleep=step_time.sleep, clock=step_time.clock)
    return Outcome(code, stdout.getvalue(), stderr.getvalue(), None)


def test_the_wait_through_canceling_is_bounded(world: FlowWorld) -> None:
    old = _submitted(world, "1")
    world.server.realism = replace(world.server.realism, in_motion_reads=10**6)  # Apple never lets it go
    # CANCELING never ends, so the step waits out its whole budget, 2 s of the run's clock. That clock moves only
    # when the run pauses (_StepTime): the bound is the step's own, with no real second waited and no room needed
    # for a slow upload on a loaded machine; looks 0.2 s apart make it a wait of a few looks, not a loop of reads.
    step_time = _StepTime()
    out = _run_in_step_time(world, world.flow(WITHDRAW + "  processing_timeout: 2s\n"), world.ipa("2"), step_time,
                            poll_interval=0.2)
    assert out.code == 1, out.output
    assert "was withdrawn from App Review (review submission " + old.id + "), but App Store Connect is still " \
           "cancelling it after waiting" in out.stderr
    assert "How to fix: run the flow again in a few minutes" in out.stderr
    assert old.attributes["state"] == "CANCELING"
    # The step paused for at most its budget, and looked at the submission no more often than that budget allows.
    looks = [e for e in world.server.exchanges if e.method == "GET" and old.id in e.path]
    assert 0 < step_time.now <= 2.0
    assert 1 <= len(looks) <= 2.0 / 0.2 + 1


@pytest.mark.parametrize("extra, message", [
    ("  cancel_submission_in_review: yes please\n", "cancel_submission_in_review"),
])
def test_bad_values_are_refused_offline(world: FlowWorld, extra: str, message: str) -> None:
    out = world.run(world.flow(SUBMIT + extra), world.ipa("1"))
    assert out.code == 2, out.output
    assert message in out.stderr
    assert not [e for e in world.server.exchanges if e.method != "GET"]


def test_the_setting_needs_submit_for_review(world: FlowWorld) -> None:
    out = world.run(world.flow("""
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  cancel_submission_in_review: true
"""), world.ipa("1"))
    assert out.code == 2, out.output
    assert "submit_for_review is not true" in out.stderr


def test_the_setting_is_refused_on_a_testflight_stage(world: FlowWorld) -> None:
    out = world.run(world.flow("""
- step: send_to_app_store
  api_key: main
  stage_type: testflight
  cancel_submission_in_review: true
"""), world.ipa("1"))
    assert out.code == 2, out.output
    assert "cancel_submission_in_review applies to the App Store only" in out.stderr
