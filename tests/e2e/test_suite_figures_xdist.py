"""The suite's session-wide checks hold under pytest-xdist as they do in one process: the figure lines count every
worker's tests, and an OpenAPI violation seen by any worker fails the whole run (tests/figures.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SHARED = TESTS.parent.parent / "shared"

pytest_plugins = ["pytester"]
# The inner runs load no installed plugin but xdist's (PYTEST_DISABLE_PLUGIN_AUTOLOAD): Hypothesis's and coverage's
# have no part in the figures. Nor has the unraisable-exception check, whose gc.collect() twice at the end of every
# process is ~0.1 s each beside the parsed OpenAPI description. Measured on the four processes of the two runs
# (the two inner runs alone, lower of six each): 3.67 s of CPU with the plugins only blocked, 3.21 s so.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:unraisableexception")

TALLIED = '''
import os
import pytest
from figures import Tally, report

TALLY = Tally("demo", "checks held")


@pytest.fixture(scope="module", autouse=True)
def _figure(request):
    yield
    report(request.config, TALLY)


@pytest.mark.parametrize("n", range(12))
def test_counted(n):
    TALLY.record(True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    TALLY.counts[f"on {worker}"] = TALLY.counts.get(f"on {worker}", 0) + 1
'''

VIOLATING = '''
from publish.sandbox.server import SandboxServer


def test_a_passing_test_whose_simulator_saw_an_exchange_outside_the_description():
    with SandboxServer() as server:
        server.exchanges.append({"method": "GET", "path": "/v1/noSuchResources", "query": "", "request": None,
                                 "status": 200, "response": {"data": []}})
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A copy of the suite's conftest and helpers beside ../shared, as the real tests/ directory sits."""
    if not (SHARED / "reference" / "asc" / "app-store-connect-openapi.json").is_file():
        pytest.skip(f"{SHARED} is absent: the contract check has no OpenAPI description to check against")
    tests = pytester.path / "checkout" / "tests"
    tests.mkdir(parents=True)
    for helper in ("conftest.py", "figures.py", "contract.py", "suite_paths.py", "suite_tmp.py"):
        shutil.copy(TESTS / helper, tests / helper)
    (pytester.path / "shared").symlink_to(SHARED)
    (tests / "test_tallied.py").write_text(TALLIED)
    (tests / "test_violating.py").write_text(VIOLATING)
    return pytester


@pytest.mark.parametrize("workers", [["-n", "2", "-p", "xdist.plugin"], ["-p", "no:xdist"]],
                         ids=["xdist", "one-process"])
def test_figures_add_up_across_workers_and_a_violation_fails_the_run(suite: pytest.Pytester, workers: list[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = suite.runpytest_subprocess(*workers, *QUIET_PLUGINS, "checkout/tests")
    output = result.stdout.str()
    assert "13 passed" in output and "failed" not in output.split("13 passed")[-1], output
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output  # every test passed: the contract failed the run
    assert "demo: 12 of 12 checks held" in output, output
    assert "contract: 1 exchanges with 1 simulators checked against the OpenAPI description, 1 violations" in output
    assert "GET /v1/noSuchResources is not an operation of the OpenAPI description" in output
    if workers[0] == "-n":
        assert "on gw0" in output and "on gw1" in output, output  # both workers ran some: their counts were summed
