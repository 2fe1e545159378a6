"""A dry run reads App Store Connect (issue 14), so one that cannot reach it fails - exit 1, with the cause and the
offline checks to run instead - rather than pretending it checked anything."""

from __future__ import annotations

import io
import json
import socket

import pytest

from flow_harness import BUNDLE_ID, INTERNAL, FlowWorld
from publish.asc.errors import AscTransportError
from publish.cli import CliContext
from publish.commands.run import run_command

FLOW = f"""
- step: send_to_testflight
  api_key: main
  groups: [{INTERNAL}]
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_a_dry_run_that_cannot_reach_app_store_connect_fails_and_names_the_offline_checks(world: FlowWorld) -> None:
    stdout, stderr, waits = io.StringIO(), io.StringIO(), []
    result_path = world.directory / "result.json"
    code = run_command(CliContext(stdout=stdout, stderr=stderr, env={}), flow_path=world.flow(FLOW),
                       ipa_path=world.ipa("1"), api_base_url=f"http://127.0.0.1:{_closed_port()}",
                       state_dir=world.state_dir, dry_run=True, sleep=waits.append, result_json=result_path)
    assert code == 1, stderr.getvalue()
    error = json.loads(result_path.read_text())["error"]
    assert "Could not reach App Store Connect" in error["message"]
    assert "a dry run reads App Store Connect" in error["hint"]
    assert all(f"`{command}`" in error["hint"] for command in ("validate", "plan", "check"))
    assert "the steps already done are skipped" not in stderr.getvalue()  # a dry run records nothing to skip
    assert not (world.state_dir / "state.sqlite3").exists()



def test_a_dry_run_promote_that_cannot_reach_app_store_connect_names_the_offline_checks_too(world: FlowWorld) -> None:
    """A promote reads App Store Connect before step 1 (the build, its state): the same hint as a step's failure."""
    result_path = world.directory / "result.json"
    with pytest.raises(AscTransportError) as caught:  # an early failure: the CLI's main prints it, exit 1
        run_command(CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={}), flow_path=world.flow(FLOW),
                    ipa_path=None, build="1.0.0 (1)", profile=BUNDLE_ID,
                    api_base_url=f"http://127.0.0.1:{_closed_port()}", state_dir=world.state_dir, dry_run=True,
                    sleep=lambda _: None, result_json=result_path)
    assert caught.value.exit_code == 1
    assert "Could not reach App Store Connect" in caught.value.message
    assert "a dry run reads App Store Connect" in (caught.value.hint or "")
    error = json.loads(result_path.read_text())["error"]
    assert "a dry run reads App Store Connect" in error["hint"], error
    assert not (world.state_dir / "state.sqlite3").exists()
