"""The cyclic collector's thresholds while the suite is collected (tests/conftest.py, pytest_collection): the ones
the tests run at, from the start of collection, not Python's defaults (at which collecting cost each worker ~110 ms
of collections over a heap that holds no garbage yet)."""

from __future__ import annotations

import gc

# Read while this module is imported, which is while the suite is being collected.
_WHILE_COLLECTING = gc.get_threshold()


def test_collection_runs_at_the_thresholds_the_tests_run_at() -> None:
    assert _WHILE_COLLECTING == gc.get_threshold() != (700, 10, 10)
