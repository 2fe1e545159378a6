"""A step's waits on App Store Connect (a 429's Retry-After included) stay inside its processing_timeout: the runner
gives every client the step's deadline, so a rate limit asking for longer fails at once, naming the wait, instead of
sleeping through it (protocol.md H.13)."""

from __future__ import annotations

import io
from pathlib import Path

from flow_harness import INTERNAL, FlowWorld
from publish.cli import CliContext
from publish.commands.run import run_command
from publish.sandbox.faults import Faults

FLOW = f"""
- step: send_to_testflight
  api_key: main
  groups: ["{INTERNAL}"]
  processing_timeout: {{timeout}}
"""


def _run(tmp_path: Path, timeout: str, retry_after: int) -> tuple[int, str, list[float]]:
    world = FlowWorld(tmp_path)
    try:
        world.server.faults = Faults(rate_limit_after=6, retry_after_seconds=retry_after)
        stdout, stderr = io.StringIO(), io.StringIO()
        waits: list[float] = []
        code = run_command(CliContext(stdout=stdout, stderr=stderr, env={}),
                           flow_path=world.flow(FLOW.replace("{timeout}", timeout)), ipa_path=world.ipa("1"),
                           api_base_url=world.server.url, state_dir=world.state_dir, poll_interval=0.001,
                           sleep=waits.append)
        return code, stdout.getvalue() + stderr.getvalue(), waits
    finally:
        world.close()


def test_a_rate_limit_wait_past_the_steps_timeout_fails_at_once(tmp_path: Path) -> None:
    code, output, waits = _run(tmp_path, "5m", retry_after=600)  # 10 min asked; the step has 5
    assert code == 1, output
    assert "deadline" in output
    assert not any(wait >= 300 for wait in waits), waits  # never slept through it


def test_a_rate_limit_wait_inside_the_steps_timeout_is_waited_out(tmp_path: Path) -> None:
    code, output, waits = _run(tmp_path, "30m", retry_after=600)
    assert code == 0, output
    assert 600 in waits
