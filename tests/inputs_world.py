"""The `world` fixture of the inputs tests, for a module that imports it: conftest's own (a FlowWorld: simulator,
API key, flows and IPAs in a temporary folder, its exchanges checked against the OpenAPI description)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flow_harness import FlowWorld


@pytest.fixture
def world(make_world: Callable[..., FlowWorld]) -> FlowWorld:
    return make_world()
