"""Crash and resume: a TestFlight + App Store flow is stopped at many points and run again. Every rerun must
finish with one build upload, one build and nothing created twice, and `history` must show the interruption.

Points, over the calls of a clean run (found by running it once): before each write goes out; after each write
was applied but its answer was lost (the simulator replaces it with a 500 and the process dies before it can act
on it); after each write was answered; and at each read (between steps, during processing waits). The stop is a
KeyboardInterrupt raised at that moment - what SIGINT or a CI cancel raises - plus a few real SIGKILLs of a
subprocess, which leave no chance to record anything. A fast subset runs by default; `CRASH_POINTS=all` runs
every point. Prints `crash and resume: N of N crash points survived`."""

from __future__ import annotations

import io
import json
import os
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from figures import Tally, report
from flow_harness import FlowWorld
from publish.cli import CliContext, main
from publish.commands.run import run_command
from publish.sandbox.faults import Faults
from flow_faults import FLOWS, duplicates

FLOW = FLOWS["testflight+app_store"]
TALLY = Tally("crash and resume", "crash points survived (rerun completed, no duplicate, history shows it)")
WRITES = ("POST", "PATCH", "DELETE")


class Crash(KeyboardInterrupt):
    """The process being stopped at a chosen moment."""


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report(request.config, TALLY)


def _run(world: FlowWorld, flow: Path, ipa: Path, on_call: Callable[[str, str, Any], None] | None = None) -> int:
    out = io.StringIO()
    return run_command(CliContext(stdout=out, stderr=out, env={}), flow_path=flow, ipa_path=ipa,
                       api_base_url=world.server.url, state_dir=world.state_dir, poll_interval=0.001,
                       sleep=lambda s: None, on_call=on_call)


@pytest.fixture(scope="module")
def clean_calls(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The methods of a clean run's calls, in order."""
    world = FlowWorld(tmp_path_factory.mktemp("clean"))
    try:
        calls: list[str] = []
        assert _run(world, world.flow(FLOW), world.ipa("1"), lambda m, u, b: calls.append(m)) == 0
        return calls
    finally:
        world.close()


def points(calls: list[str]) -> list[tuple[int, str]]:
    every = [(k, how) for k, method in enumerate(calls)
             for how in (("before", "lost", "after") if method in WRITES else ("before",))]
    if os.environ.get("CRASH_POINTS") == "all":
        return every
    writes = [k for k, m in enumerate(calls) if m in WRITES]
    reads = [k for k, m in enumerate(calls) if m not in WRITES]
    chosen = {(writes[0], "lost"), (writes[len(writes) // 2], "lost"), (writes[-2], "after"),
              (reads[len(reads) // 2], "before")}
    return sorted(chosen)


def crasher(world: FlowWorld, at: int, how: str) -> Callable[[str, str, Any], None]:
    seen = [0]

    def on_call(method: str, url: str, body: Any) -> None:
        k = seen[0]
        seen[0] += 1
        if how == "before" and k == at:
            raise Crash(f"stopped before call {k}")
        if how == "lost" and k == at:
            world.server.faults = Faults(lost_response_rate=1.0)  # applied, answered with a 500
        if how in ("lost", "after") and k == at + 1:
            world.server.faults = Faults()
            raise Crash(f"stopped after call {at}")
    return on_call


def history(world: FlowWorld) -> list[dict[str, Any]]:
    out = world.cli(["history", "--json", "--state-dir", str(world.state_dir), "--limit", "0"])
    assert out.code == 0, out.output
    return [e for e in json.loads(out.stdout)["history"] if e["kind"] == "step"]


def check_resumed(world: FlowWorld, flow: Path, ipa: Path, *, killed: bool = False, stopped: bool = True) -> None:
    assert _run(world, flow, ipa) == 0
    assert not duplicates(world)
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1
    [submission] = world.records("reviewSubmissions")
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
    entries = history(world)  # newest first
    for index in (0, 1):  # each step's newest entry says done (succeeded now, or skipped as done before)
        newest = next(e for e in entries if e["step_index"] == index)
        assert newest["status"] in ("succeeded", "skipped"), entries
    if not stopped:
        return
    interrupted = [e for e in entries if e["status"] not in ("succeeded", "skipped")]
    assert interrupted, f"history does not show the interruption: {entries}"
    if not killed:
        assert any("interrupted" in (e["error"] or "") for e in interrupted), interrupted


def test_crash_points(clean_calls: list[str], tmp_path: Path) -> None:
    failures: list[str] = []
    for index, (at, how) in enumerate(points(clean_calls)):
        (tmp_path / f"p{index}").mkdir()
        world = FlowWorld(tmp_path / f"p{index}")
        ok = False
        try:
            flow, ipa = world.flow(FLOW), world.ipa("1")
            try:
                code = _run(world, flow, ipa, crasher(world, at, how))
            except KeyboardInterrupt:
                code = None
            world.server.faults = Faults()
            if code is not None:  # the point was past the last call: the flow finished, nothing to resume
                assert code == 0
            check_resumed(world, flow, ipa, stopped=code is None)
            ok = True
        except AssertionError as error:
            failures.append(f"call {at} ({clean_calls[at]}) {how}: {str(error)[:300]}")
        finally:
            TALLY.record(ok)
            world.close()
    assert not failures, "\n".join(failures)


def _run_until_killed(argv: list[str]) -> None:
    """The forked child: `appstore-publish run ...` as its own process runs it, output to /dev/null."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    sys.exit(main(argv, ctx=CliContext(stdout=io.StringIO(), stderr=io.StringIO())))


@pytest.mark.parametrize("after_exchanges", [12] if os.environ.get("CRASH_POINTS") != "all" else [3, 8, 12, 20])
def test_a_real_kill_then_rerun(after_exchanges: int, tmp_path: Path) -> None:
    """SIGKILL a `run` in another process once the simulator has answered that many calls; run again in-process.
    The process is a fork of this one, which has imported the CLI already: a fresh interpreter would spend ~0.4 s
    of CPU importing it for the same kill (nothing the kill proves depends on how the process began: it has its
    own memory, file descriptors and sqlite connection, and SIGKILL leaves it no chance to record anything)."""
    world = FlowWorld(tmp_path)
    ok = False
    try:
        flow, ipa = world.flow(FLOW), world.ipa("1")
        argv = ["run", str(flow), "--ipa", str(ipa), "--api-base-url", world.server.url, "--state-dir",
                str(world.state_dir), "--poll-interval", "0.05"]
        process = multiprocessing.get_context("fork").Process(target=_run_until_killed, args=(argv,))
        process.start()
        try:
            deadline = time.monotonic() + 30
            while len(world.server.exchanges) < after_exchanges and process.exitcode is None:
                assert time.monotonic() < deadline, "the process made no progress"
                time.sleep(0.005)
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.join(10)
        assert process.exitcode == -signal.SIGKILL, process.exitcode  # killed mid-run, not finished on its own
        check_resumed(world, flow, ipa, killed=True)
        ok = True
    finally:
        TALLY.record(ok)
        world.close()
