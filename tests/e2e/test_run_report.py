"""The run report (calls, bytes and throughput, waiting for Apple) of real runs against the simulator: each figure
equals what the simulator saw or what the injected sleep was asked, in the result JSON and the job summary."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flow_harness import INTERNAL, FlowWorld
from publish.cli import CliContext
from publish.commands.run import run_command
from publish.run_report import POLLS, RETRIES, RunMeter
from publish.sandbox.faults import Faults
from publish.summary import render_markdown, render_text
import speed_schemas

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "run-result.schema.json").read_text())
FLOW = f"""
- step: send_to_testflight
  api_key: main
  groups: ["{INTERNAL}"]
"""


@pytest.fixture
def world(make_world: Callable[..., FlowWorld]) -> FlowWorld:
    return make_world(part_size=16 * 1024)


def _run(world: FlowWorld, ipa: Path, *, restart: bool = False) -> tuple[int, dict[str, Any], list[float], list]:
    waits: list[float] = []
    result_path = world.directory / "result.json"
    result_path.unlink(missing_ok=True)
    calls: list = []
    before = len(world.server.exchanges)
    code = run_command(CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                       flow_path=world.flow(FLOW), ipa_path=ipa, api_base_url=world.server.url,
                       state_dir=world.state_dir, poll_interval=0.25, sleep=waits.append, restart=restart,
                       result_json=result_path, on_call=lambda *call: calls.append(call))
    result = json.loads(result_path.read_text())
    speed_schemas.validate(result, SCHEMA)
    api_exchanges = [e for e in world.server.exchanges[before:] if e.path.startswith("/v1/")]
    assert len(calls) == len(api_exchanges)  # what the simulator saw, call for call
    return code, result, waits, api_exchanges


def test_a_run_reports_its_calls_bytes_throughput_and_waits(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    code, result, waits, exchanges = _run(world, ipa)
    assert code == 0, result
    report = result["report"]
    assert report["api_calls"] == result["api_calls"] == len(exchanges) > 10
    assert report["uploads"] == 1 and report["bytes_sent"] == ipa.stat().st_size  # a fresh upload sends all
    assert report["transfer_s"] > 0
    assert report["throughput_bytes_per_s"] == pytest.approx(report["bytes_sent"] / report["transfer_s"], rel=0.01)
    # Every wait the run asked for, and only those: processing polls at the poll interval.
    assert waits and report["waiting"]["count"] == len(waits)
    assert report["waiting_s"] == pytest.approx(sum(waits))
    assert report["waiting"]["polls_s"] == pytest.approx(sum(waits))
    assert report["waiting"]["rate_limits_and_retries_s"] == 0
    summary = render_markdown(result)
    line = next(line for line in summary.splitlines() if line.startswith("**Run report:**"))
    assert f"{report['api_calls']} App Store Connect API calls" in line and "sent in" in line and "/s)" in line
    assert "waiting for Apple (status polls" in line
    assert f"{report['api_calls']} App Store Connect API calls" in render_text(result)


def test_a_rate_limit_wait_is_counted_apart_from_the_polls(world: FlowWorld) -> None:
    world.server.faults = Faults(rate_limit_after=6, retry_after_seconds=7)
    code, result, waits, exchanges = _run(world, world.ipa("1"))
    assert code == 0, result
    limited = sum(1 for e in exchanges if e.status == 429)
    assert limited >= 1
    waiting = result["report"]["waiting"]
    assert waiting["rate_limits_and_retries_s"] == pytest.approx(7 * limited)
    assert waiting["rate_limits_and_retries_s"] + waiting["polls_s"] == pytest.approx(sum(waits))
    assert result["report"]["api_calls"] == len(exchanges)  # the refused calls were made too
    assert f"rate limits and retries {7.0 * limited:.1f} s" in render_markdown(result)


def test_a_second_run_that_finds_the_build_sends_nothing(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    assert _run(world, ipa)[0] == 0
    code, result, _, _ = _run(world, ipa, restart=True)
    assert code == 0, result
    report = result["report"]
    # The state store knows the build: no upload is even started.
    assert report["uploads"] == 0 and report["bytes_sent"] == 0 and report["transfer_s"] == 0
    assert report["throughput_bytes_per_s"] is None and 0 < report["api_calls"] < 5
    line = next(line for line in render_markdown(result).splitlines() if line.startswith("**Run report:**"))
    assert "sent" not in line and "0.0 s waiting for Apple" in line


def test_a_failed_run_carries_its_report(world: FlowWorld) -> None:
    flow = FLOW.replace(f'["{INTERNAL}"]', '["No Such Group"]')
    waits: list[float] = []
    result_path = world.directory / "result.json"
    code = run_command(CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                       flow_path=world.flow(flow), ipa_path=world.ipa("1"), api_base_url=world.server.url,
                       state_dir=world.state_dir, poll_interval=0.25, sleep=waits.append, result_json=result_path)
    result = json.loads(result_path.read_text())
    speed_schemas.validate(result, SCHEMA)
    assert code != 0 and result["status"] == "failed"
    assert result["report"]["api_calls"] == result["api_calls"] > 0
    assert "**Run report:**" in render_markdown(result)


def test_a_dry_run_reports_its_reads_nothing_uploaded_and_no_wait(world: FlowWorld) -> None:
    """A dry run reads App Store Connect (issue 14): its calls are those reads, and no byte is uploaded."""
    result_path = world.directory / "result.json"
    code = run_command(CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={}),
                       flow_path=world.flow(FLOW), ipa_path=world.ipa("1"), api_base_url=world.server.url,
                       state_dir=world.state_dir, dry_run=True, sleep=lambda s: None, result_json=result_path)
    assert code == 0
    report = json.loads(result_path.read_text())["report"]
    sent = world.server.exchanges
    assert [e.method for e in sent if e.method != "GET"] == []
    assert report["api_calls"] == len(sent) > 0 and report["bytes_sent"] == 0 and report["waiting_s"] == 0


# ------------------------------------------------------------------------------------------- the meter alone


def test_the_meter_sorts_waits_by_kind_and_still_sleeps() -> None:
    meter = RunMeter()
    slept: list[float] = []
    meter.sleep(slept.append, RETRIES)(3)
    meter.sleep(slept.append, POLLS)(0.5)
    meter.sleep(slept.append, POLLS)(-1)  # a negative wait is no wait
    assert slept == [3, 0.5, -1]
    report = meter.report(api_calls=4)
    assert report["waiting"] == {"rate_limits_and_retries_s": 3.0, "polls_s": 0.5, "count": 3}
    assert report["waiting_s"] == 3.5 and report["api_calls"] == 4
    with pytest.raises(ValueError):
        meter.sleep(slept.append, "coffee")


def test_the_meter_counts_waits_from_many_threads() -> None:
    meter = RunMeter()
    sleep = meter.sleep(lambda s: None, POLLS)
    threads = [threading.Thread(target=lambda: [sleep(0.001) for _ in range(500)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.report(api_calls=0)["waiting"]["count"] == 4000


def test_an_upload_that_fails_counts_the_parts_the_storage_acknowledged() -> None:
    now = [10.0]
    meter = RunMeter(clock=lambda: now[0])

    class Failing:
        def upload(self, *args: Any, **kwargs: Any) -> Any:
            progress = meter.progress(io.StringIO())
            progress._use_ticker = False
            progress.start(1000)
            now[0] += 2.0
            progress.acknowledge(400)
            progress.finish(ok=False)
            raise RuntimeError("storage went away")

    with pytest.raises(RuntimeError):
        meter.uploader(Failing()).upload("App.ipa")
    report = meter.report(api_calls=0)
    assert report["bytes_sent"] == 400 and report["transfer_s"] == 2.0 and report["throughput_bytes_per_s"] == 200.0
