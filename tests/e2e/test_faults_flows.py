"""Seeded full flows against a misbehaving simulator: API 5xx, dropped part connections, 429 with Retry-After,
tokens refused as expired in flight, latency, and lost answers (the write applied, its answer replaced by a 500).
Every run must complete with exactly one build upload and one build, and nothing created twice.

A fast subset runs by default; `FAULT_SEEDS=50` runs 50 seeds of each flow. Prints
`faults: N of N seeded runs completed, 0 duplicates`. The assertions are outcomes only (completed, one upload, one
build, no doubles), so they hold whatever realism switches the simulator has on."""

from __future__ import annotations

import io
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from figures import Tally, report
from flow_faults import FLOWS, duplicates
from flow_harness import FlowWorld
from publish.cli import CliContext
from publish.commands.run import run_command
from publish.sandbox.faults import Faults

SEEDS = int(os.environ.get("FAULT_SEEDS") or 0)
CASES = ([(seed, flow) for seed in range(1, SEEDS + 1) for flow in FLOWS] if SEEDS
         else [(11, "testflight"), (12, "testflight+app_store")])
TALLY = Tally("faults", "seeded runs completed")
DUPLICATES: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    TALLY.counts["duplicates"] = len(DUPLICATES)
    TALLY.notes = [f"  {d}" for d in DUPLICATES[:5]]
    report(request.config, TALLY)


def seeded_faults(seed: int) -> Faults:
    rng = random.Random(seed)
    return Faults(
        seed=seed,
        error_rate_5xx=rng.choice([0.03, 0.06, 0.1]),
        lost_response_rate=rng.choice([0.1, 0.15, 0.25]),
        rate_limit_after=rng.choice([None, 12, 25, 40]),
        retry_after_seconds=rng.choice([1, 5, 60]),
        drop_part_rate=rng.choice([0.0, 0.2, 0.4]),
        expired_token_rate=rng.choice([0.0, 0.05]),
        latency_ms=rng.choice([0, 1]),
    )


@pytest.mark.parametrize(("seed", "flow"), CASES, ids=[f"seed{s}-{f}" for s, f in CASES])
def test_seeded_faulty_flow_completes_once(seed: int, flow: str, tmp_path: Path) -> None:
    world = FlowWorld(tmp_path)
    completed = False
    try:
        world.server.faults = seeded_faults(seed)
        stdout, stderr = io.StringIO(), io.StringIO()
        waits: list[float] = []
        code = run_command(CliContext(stdout=stdout, stderr=stderr, env={}), flow_path=world.flow(FLOWS[flow]),
                           ipa_path=world.ipa("1"), api_base_url=world.server.url, state_dir=world.state_dir,
                           poll_interval=0.001, sleep=waits.append)
        world.server.faults = Faults()
        output = stdout.getvalue() + stderr.getvalue()
        assert code == 0, f"seed {seed} ({world.server.faults}):\n{output[-3000:]}"
        doubled = duplicates(world)
        DUPLICATES.extend(f"seed {seed} {flow}: {d}" for d in doubled)
        assert not doubled
        assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1
        if "app_store" in flow:
            [submission] = world.records("reviewSubmissions")
            assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
        completed = True
    finally:
        TALLY.record(completed)
        world.close()
