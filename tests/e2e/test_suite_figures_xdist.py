"""The suite's session-wide checks hold under pytest-xdist as they do in one process: the figure lines count every
worker's tests, and an OpenAPI violation seen by any worker fails the whole run (tests/figures.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forked_pytest import runpytest_forked

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
import time
import pytest
from figures import Tally, report

TALLY = Tally("demo", "checks held")
STARTED = os.path.join(os.path.dirname(__file__), "workers-started")
MET = []


def _meet_the_other_worker(worker):
    # Each worker's first test waits (30 s at most) until the other has started one. The counts of both workers are
    # summed only if both ran some, and under load a worker that starts first took all twelve (the fork pool hands
    # out tests as they are claimed): the test then failed with nothing wrong in the figures.
    if worker == "main" or MET:
        return
    MET.append(worker)
    os.makedirs(STARTED, exist_ok=True)
    open(os.path.join(STARTED, worker), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(STARTED)) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.fixture(scope="module", autouse=True)
def _figure(request):
    yield
    report(request.config, TALLY)


@pytest.mark.parametrize("n", range(12))
def test_counted(n):
    TALLY.record(True)
    worker = os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("PYTEST_FORK_WORKER", "main")
    _meet_the_other_worker(worker)
    TALLY.counts[f"on {worker}"] = TALLY.counts.get(f"on {worker}", 0) + 1
'''

VIOLATING = '''
from publish.sandbox.server import SandboxServer


def test_a_passing_test_whose_simulator_saw_an_exchange_outside_the_description():
    with SandboxServer() as server:
        server.exchanges.append({"method": "GET", "path": "/v1/noSuchResources", "query": "", "request": None,
                                 "status": 200, "response": {"data": []}})
'''


# The inner runs check their one exchange against a real cut of Apple's description, the simulator's packaged one
# (publish/sandbox/openapi-subset.json, held equal to a fresh extraction from ../shared by the simulator's tests),
# not the whole 4.8 MB file: reading and converting that is ~0.13 s of CPU and its share of GC in each inner process
# that checks. What these runs prove is the plumbing around the check (counted, summed across workers, failing the
# run), not the description's content, which the contract tests hold against the whole file; the violation is a
# path Apple's file does not have at all, refused by the cut in the same words as by the whole.
CUT_DESCRIPTION = TESTS.parent / "publish" / "sandbox" / "openapi-subset.json"


@pytest.fixture(scope="module")
def shared_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """../shared as the inner runs see it: every entry linked, but the OpenAPI description is the cut one."""
    description = SHARED / "reference" / "asc" / "app-store-connect-openapi.json"
    if not description.is_file():
        pytest.skip(f"{SHARED} is absent: the contract check has no OpenAPI description to check against")
    shared = tmp_path_factory.mktemp("shared")
    for entry in SHARED.iterdir():
        if entry.name != "reference":
            (shared / entry.name).symlink_to(entry)
    asc = shared / "reference" / "asc"
    asc.mkdir(parents=True)
    for entry in (SHARED / "reference").iterdir():
        if entry.name != "asc":
            (shared / "reference" / entry.name).symlink_to(entry)
    for entry in description.parent.iterdir():
        (asc / entry.name).symlink_to(CUT_DESCRIPTION if entry == description else entry)
    return shared


@pytest.fixture
def suite(pytester: pytest.Pytester, shared_copy: Path) -> pytest.Pytester:
    """A copy of the suite's conftest and helpers beside ../shared, as the real tests/ directory sits."""
    tests = pytester.path / "checkout" / "tests"
    tests.mkdir(parents=True)
    for helper in ("conftest.py", "figures.py", "contract.py", "suite_paths.py", "suite_tmp.py", "suite_bytecode.py",
                   "fork_pool.py", "fork_shares.py"):
        shutil.copy(TESTS / helper, tests / helper)
    (pytester.path / "shared").symlink_to(shared_copy)
    (tests / "test_tallied.py").write_text(TALLIED)
    (tests / "test_violating.py").write_text(VIOLATING)
    return pytester


@pytest.mark.parametrize("workers", [["-n", "2", "-p", "xdist.plugin"], ["--forks", "2", "-p", "no:xdist"],
                                     ["-p", "no:xdist"]], ids=["xdist", "forks", "one-process"])
def test_figures_add_up_across_workers_and_a_violation_fails_the_run(suite: pytest.Pytester, workers: list[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    for outer in ("PYTEST_XDIST_WORKER", "PYTEST_FORK_WORKER"):  # the worker running this test is not the inner run's
        monkeypatch.delenv(outer, raising=False)
    result = runpytest_forked(suite, *workers, *QUIET_PLUGINS, "checkout/tests")
    output = result.stdout.str()
    assert "13 passed" in output and "failed" not in output.split("13 passed")[-1], output
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output  # every test passed: the contract failed the run
    assert "demo: 12 of 12 checks held" in output, output
    assert "contract: 1 exchanges with 1 simulators checked against the OpenAPI description, 1 violations" in output
    assert "GET /v1/noSuchResources is not an operation of the OpenAPI description" in output
    if workers[0] == "-n":
        assert "on gw0" in output and "on gw1" in output, output  # both workers ran some: their counts were summed
    if workers[0] == "--forks":
        assert "on fork0" in output and "on fork1" in output, output
