"""Lost answers in a row, scripted call by call, where the seeded fault runs (tests/test_faults_flows.py) found the
flow giving up: the last of a few ambiguous creates (or submits) was the one applied, and nobody looked; and a
commit applied but unanswered when the process died, which the rerun could not tell from someone else's build.

Each scripted call is answered as the seeded faults would answer it: `refused` is a 5xx before anything changes,
`lost` is applied and then answered 500. Every test runs the real flow over loopback HTTP with realism on."""

from __future__ import annotations

import io
from typing import Any

import pytest

from flow_faults import FLOWS, duplicates, script
from flow_harness import FlowWorld
from publish.cli import CliContext
from publish.commands.run import run_command
from publish.sandbox.faults import Faults
from publish.upload.journal import CommittedDigest, UploadJournal, UploadKey



class Crash(KeyboardInterrupt):
    """The process being stopped (SIGINT, a CI cancel) right after a call."""


def run(world: FlowWorld, flow: str, on_call: Any = None) -> tuple[int, str]:
    out = io.StringIO()
    ipa = world.directory / "App-1.0.0-1.ipa"
    code = run_command(CliContext(stdout=out, stderr=out, env={}), flow_path=world.flow(FLOWS[flow]),
                       ipa_path=ipa if ipa.exists() else world.ipa("1"), api_base_url=world.server.url, state_dir=world.state_dir,
                       poll_interval=0.001, sleep=lambda s: None, on_call=on_call)
    return code, out.getvalue()


def assert_done_once(world: FlowWorld, flow: str) -> None:
    assert not duplicates(world)
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1
    if "app_store" in flow:
        [submission] = world.records("reviewSubmissions")
        assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
        assert len(world.records("reviewSubmissionItems")) == 1


@pytest.mark.parametrize(("method", "path", "outcomes", "flow", "type_", "count"), [
    # create_once (steps/testflight.py): three tries; the third applied - found by looking, not given up on
    ("POST", "/v1/reviewSubmissionItems", ["refused", "refused", "lost"], "testflight+app_store",
     "reviewSubmissionItems", 1),
    ("POST", "/v1/betaTesters", ["refused", "refused", "lost"], "testflight", "betaTesters", 2),
    # the upload engine's own creates: three tries for the build upload, two for the file reservation
    ("POST", "/v1/buildUploads", ["refused", "refused", "lost"], "testflight", "buildUploads", 1),
    ("POST", "/v1/buildUploadFiles", ["refused", "lost"], "testflight", "buildUploadFiles", 1),
    # the state transitions, the file commit and the review submit: read back after the repeat too
    ("PATCH", "/v1/buildUploadFiles/[^/]+", ["refused", "refused", "lost"], "testflight", "buildUploadFiles", 1),
    ("PATCH", "/v1/reviewSubmissions/[^/]+", ["refused", "lost"], "testflight+app_store", "reviewSubmissions", 1),
], ids=["item-add", "tester", "build-upload", "reservation", "commit", "submit"])
def test_the_last_lost_answer_of_a_few_is_looked_up(world: FlowWorld, method: str, path: str, outcomes: list[str],
                                                    flow: str, type_: str, count: int) -> None:
    pending = script(world, method, path, outcomes)
    code, output = run(world, flow)
    assert not pending, "the script did not bite: the flow sent fewer such calls"
    assert code == 0, output[-2000:]
    assert_done_once(world, flow)
    assert len(world.records(type_)) == count


def test_a_commit_applied_but_unanswered_when_the_process_died_is_resumed(world: FlowWorld) -> None:
    """The commit PATCH is applied, its answer lost, and the process stops before it can record anything. The
    rerun finds the upload PROCESSING/COMPLETE; the journal says every part of this IPA went into it, so the
    commit was ours: it goes on from there instead of refusing a build it "cannot tell" is this IPA."""
    at_commit: list[UploadJournal] = []
    commits = [0]

    def on_call(method: str, url: str, body: Any) -> None:
        if commits[0] == 1:
            world.server.faults = Faults()
            raise Crash("stopped right after the commit")
        if method == "PATCH" and "/v1/buildUploadFiles/" in url:
            commits[0] = 1
            world.server.faults = Faults(lost_response_rate=1.0)
            key = UploadKey(world.app_id, "1.0.0", "1", "IOS")
            at_commit.append(UploadJournal.open(world.state_dir, key))

    with pytest.raises(Crash):
        run(world, "testflight+app_store", on_call)
    [journal] = at_commit
    # On disk before the commit went out, so a SIGKILL right after it leaves the same evidence.
    assert journal.operations and len(journal.acknowledged) == len(journal.operations)
    key = UploadKey(world.app_id, "1.0.0", "1", "IOS")
    assert CommittedDigest.load(world.state_dir, key) is None  # the lost answer left no record of the commit

    code, output = run(world, "testflight+app_store")
    assert code == 0, output[-2000:]
    assert_done_once(world, "testflight+app_store")
    assert CommittedDigest.load(world.state_dir, key) is not None  # a later run can tell it is this IPA
    assert len([e for e in world.server.exchanges if e.method == "PATCH" and "/v1/buildUploadFiles/" in e.path]) == 1
