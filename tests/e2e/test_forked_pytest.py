"""tests/forked_pytest.py: a pytest run in a fork of this process is the run a new interpreter makes of the same
files: its own conftest and helpers, not this session's modules of the same names; none of this session's warning
filters, streams or log capture; its exit status and output as `runpytest_subprocess` gives them (the
lines expected here are those a new interpreter printed for these files)."""

from __future__ import annotations

import pytest

from forked_pytest import runpytest_forked

pytest_plugins = ["pytester"]

# Named as helpers of this suite that this process has imported (tests/figures.py, tests/conftest.py).
HELPER = '''
WHO = "the inner run's own helper"
'''

INNER = '''
import logging
import os
import warnings

import conftest
import figures


def test_its_own_modules(request):
    assert figures.WHO == "the inner run's own helper", figures.__file__
    assert conftest.__file__ == str(request.config.rootpath / "conftest.py"), conftest.__file__


def test_stdin_is_empty():
    assert os.read(0, 1) == b""  # fd 0 itself: pytest's capture stands in for sys.stdin


def test_a_warning_is_recorded_not_raised():
    warnings.warn(UserWarning("said in the inner run"))


def test_logs_are_captured_by_the_inner_run(caplog):  # its log capture works as in a new process
    logging.getLogger("inner").warning("logged in the inner run")
    assert "logged in the inner run" in caplog.text


def test_fails():
    print("printed by the inner run")
    assert 1 == 2
'''


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_FORK_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(figures=HELPER, test_inner=INNER)
    pytester.makeconftest("")
    return pytester


@pytest.mark.filterwarnings("error")
def test_a_forked_run_is_what_a_new_interpreter_makes_of_the_same_files(inner: pytest.Pytester) -> None:
    result = runpytest_forked(inner, "-p", "no:cacheprovider", "-rA")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = "\n".join(result.outlines)
    assert "1 failed, 4 passed, 1 warning in" in output, output
    assert [line for line in result.outlines if line.startswith(("PASSED", "FAILED"))] == [
        "PASSED test_inner.py::test_its_own_modules",
        "PASSED test_inner.py::test_stdin_is_empty",
        "PASSED test_inner.py::test_a_warning_is_recorded_not_raised",
        "PASSED test_inner.py::test_logs_are_captured_by_the_inner_run",
        "FAILED test_inner.py::test_fails - assert 1 == 2",
    ], output
    assert "said in the inner run" in output and "printed by the inner run" in output, output


def test_a_run_that_does_not_end_is_killed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_slow="import time\n\n\ndef test_sleeps():\n    time.sleep(30)\n")
    with pytest.raises(pytest.Pytester.TimeoutExpired, match="0.5 second timeout expired"):
        runpytest_forked(pytester, "-p", "no:cacheprovider", timeout=0.5)


def test_a_plugin_given_as_an_object_is_refused_as_a_subprocess_refuses_it(pytester: pytest.Pytester) -> None:
    pytester.plugins.append(object())
    with pytest.raises(ValueError, match="takes plugins by name"):
        runpytest_forked(pytester)
