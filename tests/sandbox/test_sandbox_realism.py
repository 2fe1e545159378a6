"""The simulator's switches for Apple's undocumented behaviours (protocol.md H): all on by default, each one
switchable from the data file, and the data file's schema lists exactly the switches the simulator has."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from publish.sandbox.data import SandboxDataError, load_into
from publish.sandbox.realism import Realism
from publish.sandbox.server import SandboxServer

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "sandbox-data.schema.json"


def test_every_behaviour_is_on_by_default() -> None:
    realism = Realism()
    switches = [f.name for f in fields(Realism) if f.type == "bool"]
    assert len(switches) >= 17
    assert all(getattr(realism, name) is True for name in switches)
    assert not any(getattr(Realism.off(), name) for name in switches)


def test_schema_lists_exactly_the_simulators_switches() -> None:
    schema = json.loads(SCHEMA.read_text())
    listed = set(schema["properties"]["realism"]["properties"]) - {"all"}
    assert listed == {f.name for f in fields(Realism)}


def test_data_file_switches_one_off() -> None:
    server = SandboxServer()
    try:
        load_into(server, {"realism": {"submit_waits_for_ready_for_review": False}})
        assert server.realism.submit_waits_for_ready_for_review is False
        assert server.realism.beta_state_lags_valid is True
        load_into(server, {"realism": {"all": False, "version_forms": True}})
        assert server.realism.version_forms is True
        assert server.realism.beta_state_lags_valid is False
    finally:
        server.stop()


def test_data_file_refuses_an_unknown_switch() -> None:
    server = SandboxServer()
    try:
        with pytest.raises(SandboxDataError, match="realism"):
            load_into(server, {"realism": {"submit_too_early": False}})
    finally:
        server.stop()
