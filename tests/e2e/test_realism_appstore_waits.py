"""The App Store waits (publish/steps/app_store_waits.py) are bounded, paced by the poll interval, stop at the step's
deadline and say what they wait for; and a wait that runs out ends the run with advice, and the next run goes on."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from publish.asc import AscConflictError, AscErrorItem
from publish.errors import RemoteError
from publish.steps.app_store_waits import MIN_ATTEMPTS, Patience, patience, retry_refused, wait_until
from flow_harness import FlowWorld


class FakeTime:
    """The step's clock and sleep: sleeping moves the clock on, nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Ctx:
    def __init__(self, time: FakeTime, poll_interval: float = 15.0) -> None:
        self.clock, self.sleep, self.poll_interval = time.clock, time.sleep, poll_interval
        self.stream = io.StringIO()
        self.log = logging.getLogger(f"test.waits.{id(self)}")
        self.log.addHandler(logging.StreamHandler(self.stream))
        self.log.setLevel(logging.INFO)
        self.log.propagate = False


def _refusal(detail: str) -> AscConflictError:
    return AscConflictError(409, [AscErrorItem("409", "STATE_ERROR.ENTITY_STATE_INVALID", "", detail)],
                            method="PATCH", path="/v1/reviewSubmissions/RS1")


def test_patience_follows_the_poll_interval_within_bounds() -> None:
    time = FakeTime()
    assert patience(Ctx(time, 15.0), 150.0).attempts == 10  # fastlane's 10 x 15 s
    assert patience(Ctx(time, 10.0), 150.0).attempts == 15
    assert patience(Ctx(time, 60.0), 150.0).attempts == MIN_ATTEMPTS
    assert patience(Ctx(time, 0.01), 150.0).attempts == 15000  # the budget holds in time, whatever the interval


def test_a_short_poll_interval_does_not_flood_the_log() -> None:
    time = FakeTime()
    ctx = Ctx(time, 0.01)
    assert wait_until(ctx, "x", lambda: (None, None), patience(ctx, 20.0)) is None  # type: ignore[arg-type]
    lines = ctx.stream.getvalue().splitlines()
    assert len(time.sleeps) == 2000 and 4 <= len(lines) <= 6  # one line per 5 s, and the last look
    assert lines[0].startswith("waiting for App Store Connect to x (1/2000, at most 20.0 s)")


def test_wait_until_looks_again_each_interval_says_so_and_stops() -> None:
    time = FakeTime()
    ctx = Ctx(time)
    answers = iter([(None, "it is PREPARE_FOR_SUBMISSION")] * 2 + [("ready", None)])
    assert wait_until(ctx, "make version 1.2.3 ready for review", lambda: next(answers),  # type: ignore[arg-type]
                      patience(ctx, 150.0)) == "ready"
    assert time.sleeps == [15.0, 15.0]
    lines = ctx.stream.getvalue().splitlines()
    assert lines == ["waiting for App Store Connect to make version 1.2.3 ready for review (1/10, at most "
                     "2 min 30 s): it is PREPARE_FOR_SUBMISSION",
                     "waiting for App Store Connect to make version 1.2.3 ready for review (2/10, at most "
                     "2 min 30 s): it is PREPARE_FOR_SUBMISSION"]


def test_wait_until_gives_up_after_its_attempts_and_at_the_step_deadline() -> None:
    time = FakeTime()
    ctx = Ctx(time)
    looks = []
    never = lambda: (looks.append(1), (None, None))[1]  # noqa: E731
    assert wait_until(ctx, "x", never, patience(ctx, 150.0)) is None  # type: ignore[arg-type]
    assert len(looks) == 11 and sum(time.sleeps) == 150.0
    time.sleeps.clear()
    looks.clear()
    until_deadline = Patience(attempts=10, interval=15.0, deadline=time.now + 40)
    assert wait_until(ctx, "x", never, until_deadline) is None  # type: ignore[arg-type]
    assert time.sleeps == [15.0, 15.0] and len(looks) == 3  # a third sleep would pass the deadline


def test_retry_refused_retries_only_what_means_not_yet_and_then_explains() -> None:
    time = FakeTime()
    ctx = Ctx(time)
    tries = []

    def submit() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise _refusal("Version is not ready to be submitted yet, please try again later")
        return "submitted"

    not_ready = lambda exc: "not ready" in exc.detail_text()  # noqa: E731
    gave_up = lambda exc: RemoteError("still not ready", hint="run again")  # noqa: E731
    assert retry_refused(ctx, "make it ready", submit, transient=not_ready, bound=patience(ctx, 150.0),
                         gave_up=gave_up) == "submitted"
    assert len(tries) == 3 and "please try again later" in ctx.stream.getvalue()

    with pytest.raises(AscConflictError):  # another refusal is not waited on
        retry_refused(ctx, "x", lambda: (_ for _ in ()).throw(_refusal("Version 1.0 is IN_REVIEW")),
                      transient=not_ready, bound=patience(ctx, 150.0), gave_up=gave_up)

    def always() -> str:
        raise _refusal("Version is not ready to be submitted yet, please try again later")

    time.sleeps.clear()
    with pytest.raises(RemoteError, match="still not ready"):
        retry_refused(ctx, "x", always, transient=not_ready, bound=Patience(3, 15.0), gave_up=gave_up)
    assert time.sleeps == [15.0] * 3


def test_retry_refused_stops_when_a_reread_shows_the_write_is_done() -> None:
    ctx = Ctx(FakeTime())
    tries = []

    def patch() -> str:
        tries.append(1)
        raise _refusal("Attribute 'releaseType' cannot be edited at this time; try again later.")

    assert retry_refused(ctx, "x", patch, transient=lambda exc: True, bound=patience(ctx, 120.0),
                         gave_up=lambda exc: RemoteError("no"), between=lambda: "already set") == "already set"
    assert len(tries) == 1


def test_a_version_that_never_gets_ready_ends_the_run_with_advice_and_the_next_run_submits(tmp_path: Path) -> None:
    from publish.cli import CliContext
    from publish.commands.run import run_command

    world = FlowWorld(tmp_path)
    try:
        world.server.realism = type(world.server.realism)(ready_for_review_after_reads=10**6)
        flow = world.flow("- step: send_to_app_store\n  api_key: main\n  stage_type: app_store\n"
                          "  submit_for_review: true\n")
        ipa = world.ipa("1")
        stderr = io.StringIO()
        calls: list[str] = []
        code = run_command(CliContext(stdout=io.StringIO(), stderr=stderr, env={}), flow_path=flow, ipa_path=ipa,
                           api_base_url=world.server.url, state_dir=world.state_dir, poll_interval=15.0,
                           sleep=lambda seconds: None, on_call=lambda method, url, body: calls.append(url))
        assert code == 1, stderr.getvalue()
        assert "did not become ready for review" in stderr.getvalue() and "run the flow again" in stderr.getvalue()
        assert "not ready to be submitted yet" in stderr.getvalue()  # Apple's own words, after trying anyway
        version_reads = [url for url in calls if "/v1/appStoreVersions/" in url and url.count("/") == 5]
        assert len(version_reads) == 11  # the first look and 10 more, 15 s apart: bounded
        submits = [e for e in world.server.exchanges if e.method == "PATCH" and "/reviewSubmissions/" in e.path]
        assert len(submits) == 11 and all(e.status == 409 for e in submits)  # tried, then 10 retries: bounded
        world.server.realism = type(world.server.realism)()
        [version] = world.records("appStoreVersions")
        version.internal["ready_at"] = 0  # a while later, App Store Connect has it ready
        again = world.run(flow, ipa)
        assert again.code == 0, again.output
        [submission] = world.records("reviewSubmissions")  # the draft of the first run, submitted now
        assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
    finally:
        world.close()


@pytest.mark.parametrize("detail, advice", [
    ("Version is not ready to be submitted yet, please try again later", "still preparing the version"),
    ("reviewSubmission with id RS9 still in progress", "cancel_previous_submission"),
    ("Attribute 'whatsNew' cannot be edited at this time.", "first App Store version"),
    ("This resource cannot be reviewed. appStoreVersions 'V1' is not in valid state.", "What's New in every locale"),
    ("earliestReleaseDate '2031-01-01T10:30:00Z' is not valid: only hour precision is allowed", "by the hour"),
    ("Attribute 'releaseType' cannot be edited at this time; try again later.", "locks the release type"),
])
def test_app_store_refusals_get_advice_in_apples_words_and_ours(detail: str, advice: str) -> None:
    error = _refusal(detail)
    assert advice in (error.hint or "")
