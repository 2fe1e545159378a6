"""The `world` fixture of the inputs tests: a FlowWorld (simulator, API key, flows and IPAs in a temporary folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_harness import FlowWorld


@pytest.fixture
def world(tmp_path: Path) -> Iterator[FlowWorld]:
    instance = FlowWorld(tmp_path)
    try:
        yield instance
    finally:
        instance.close()
