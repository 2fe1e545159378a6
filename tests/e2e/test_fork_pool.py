"""The suite's forked runner (tests/fork_pool.py) in real runs of pytest: whatever a child sees reaches the terminal
and the exit status as it would in one process, and a child that dies costs the test it ran, never a test unseen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forked_pytest import runpytest_forked

TESTS = Path(__file__).resolve().parents[1]

pytest_plugins = ["pytester"]

CONFTEST = '''
import fork_pool


def pytest_addoption(parser):
    fork_pool.add_option(parser)


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(fork_pool.ForkPoolHooks)


def pytest_configure(config):
    children = fork_pool.workers_wanted(config)
    if children:
        config.pluginmanager.register(fork_pool.ForkPool(config, children), fork_pool.PLUGIN_NAME)
'''

MIXED = '''
import os
import warnings
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(6))
def test_passes(n):
    Path(os.environ["PYTEST_FORK_WORKER"]).touch()


def test_fails_with_its_output():
    print("said by a forked child")
    assert [1, 2] == [1, 3]


def test_warns():
    warnings.warn(UserWarning("a warning raised in a forked child"))


def test_dies():
    os._exit(9)
'''


@pytest.fixture
def runner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    for outer in ("PYTEST_XDIST_WORKER", "PYTEST_FORK_WORKER"):  # the worker running this test is not the inner run's
        monkeypatch.delenv(outer, raising=False)
    shutil.copy(TESTS / "fork_pool.py", pytester.path / "fork_pool.py")
    shutil.copy(TESTS / "fork_shares.py", pytester.path / "fork_shares.py")
    pytester.makeconftest(CONFTEST)
    return pytester


def run(runner: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    result = runpytest_forked(runner, "-p", "no:cacheprovider", "-p", "no:xdist", "-rA", *args)
    return result, result.stdout.str()


def test_reports_output_warnings_and_a_death_reach_the_parent(runner: pytest.Pytester) -> None:
    runner.makepyfile(test_mixed=MIXED)
    result, output = run(runner, "--forks", "2")
    assert "forks: the tests run in 2 processes forked after collection" in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "2 failed, 7 passed" in output, output
    assert "assert [1, 2] == [1, 3]" in output and "said by a forked child" in output, output
    assert "a warning raised in a forked child" in output, output
    assert "FAILED test_mixed.py::test_dies" in output, output
    assert "the forked process running this test exited with status 9" in output, output
    assert (runner.path / "fork0").exists() and (runner.path / "fork1").exists()  # both ran some


def test_children_that_keep_dying_are_replaced_then_the_run_stops_and_says_so(runner: pytest.Pytester) -> None:
    runner.makepyfile(test_dying="""
import os
import pytest


@pytest.mark.parametrize("n", range(8))
def test_dies(n):
    os._exit(3)
""")
    result, output = run(runner, "--forks", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    dead = [line for line in output.splitlines() if line.startswith("FAILED test_dying.py::test_dies")]
    assert len(dead) == 5 and all("exited with status 3" in line or line.endswith("...") for line in dead), output
    assert "5 failed" in output and "5 forked test processes died; 3 tests were not run" in output, output


def test_what_a_dead_child_took_next_runs_though_the_other_had_already_stopped_taking(
        runner: pytest.Pytester) -> None:
    # Five items: the first child owns 0-2, the second 3-4. The second, out of work, steals item 2 as the next of
    # its last test, which dies while the first child, with nothing left to take, is still tearing down.
    runner.makepyfile(test_taken_back="""
import os
import time
import pytest


@pytest.fixture(scope="session")
def slow_goodbye():
    yield
    time.sleep(0.5)


def test_first_slow(slow_goodbye):
    time.sleep(0.3)


def test_first_last(slow_goodbye):
    pass


def test_given_back():
    pass


def test_second_first():
    pass


def test_second_dies():
    time.sleep(0.55)
    os._exit(7)
""")
    result, output = run(runner, "--forks", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "1 failed, 4 passed" in output and "PASSED test_taken_back.py::test_given_back" in output, output


def test_the_first_failure_stops_every_child_under_x(runner: pytest.Pytester) -> None:
    runner.makepyfile(test_stopping="""
import time
import pytest


def test_fails_first():
    assert False


@pytest.mark.parametrize("n", range(40))
def test_slow(n):
    time.sleep(0.05)
""")
    result, output = run(runner, "--forks", "2", "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "stopping after 1 failures" in output, output
    passed = [line for line in output.splitlines() if line.startswith("PASSED")]
    assert len(passed) < 20, output  # 40 would have run without -x; the second child stopped within a few


RECORDING = CONFTEST + '''
import json
import os


def pytest_runtest_logreport(report):
    if "PYTEST_FORK_WORKER" in os.environ:
        return  # a child's own hooks: only what the parent replays (or the one process of --forks 0) is recorded
    with open(os.environ["REPORTS_FILE"], "a") as out:
        out.write(json.dumps([report.nodeid, list(report.location), report.when, report.outcome,
                              sorted(report.keywords), report.sections, report.user_properties,
                              getattr(report, "wasxfail", None), str(report.longrepr)]) + "\\n")
'''

KINDS = '''
import pytest


def test_plain():
    pass


def test_prints():
    print("said while passing")


def test_marked_while_running(request):
    request.node.add_marker("added_at_run_time")


def test_with_a_property(record_property):
    record_property("figure", 7)


@pytest.mark.xfail(reason="known")
def test_expected_to_fail():
    assert False


@pytest.mark.skip(reason="not here")
def test_skipped():
    pass


def test_failing():
    assert 2 + 2 == 5
'''


def test_the_parent_replays_every_kind_of_report_as_one_process_makes_it(runner: pytest.Pytester,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    runner.makeconftest(RECORDING)
    runner.makepyfile(test_kinds=KINDS)
    seen = {}
    for forks in ("0", "3"):
        monkeypatch.setenv("REPORTS_FILE", str(runner.path / f"reports-{forks}"))
        result, output = run(runner, "--forks", forks)
        assert result.ret == pytest.ExitCode.TESTS_FAILED, output
        seen[forks] = sorted((runner.path / f"reports-{forks}").read_text().splitlines())
    assert len(seen["0"]) == 20  # seven tests, three phases each but the skipped one (no call)
    assert seen["3"] == seen["0"]
