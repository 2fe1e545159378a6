"""`runpytest_forked(pytester, *args)`: `pytester.runpytest_subprocess(*args)` in a fork of this process instead of a
new interpreter, for the tests whose subject is a whole pytest run (the forked runner, the suite's figures).

Why: such a run costs a fresh interpreter ~0.4 s of CPU before its first test (Python, then importing pytest and
its plugins, which a fork has already), about half of what each of those tests cost. What they check is what the
inner run's own conftest and helpers do, and those it still imports afresh, from its own directory.

What the child leaves behind of this process, so that the inner run is as a new `python -m pytest` there would be:
- every module imported from this suite's tests/ (its conftest and helpers: the inner run has its own copies of
  them, which must be the ones it imports) and this suite's tests/ folders on sys.path;
- this session's assertion-rewriting import hook (the inner session installs its own);
- the standard streams: stdin is /dev/null (pytester closes it), stdout and stderr go to the files pytester reads;
  under xdist this process's stdin and stdout are the channel to its controller, which the child must never touch;
- the warning filters of the test that runs this (its own, and this session's catch_warnings around it).
The working directory, PYTHONPATH and arguments are pytester's own (`popen`, `runpytest_subprocess`), and the
child leaves with os._exit, so nothing of this process (atexit, buffers, the worker's pipe) runs or is written twice.
The library modules stay imported, as they would be re-imported from the same files.

A child that does not end within `timeout` seconds is killed and the call raises pytester's TimeoutExpired."""

from __future__ import annotations

import gc
import io
import os
import sys
import time
import warnings
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook
from _pytest.pathlib import make_numbered_dir

TESTS = Path(__file__).resolve().parent
POLL = 0.005
# The warning filters a new interpreter starts with (CPython 3.11, release build), before -W and PYTHONWARNINGS.
_INTERPRETER_FILTERS = [("default", None, DeprecationWarning, "__main__", 0),
                        ("ignore", None, DeprecationWarning, None, 0),
                        ("ignore", None, PendingDeprecationWarning, None, 0),
                        ("ignore", None, ImportWarning, None, 0),
                        ("ignore", None, ResourceWarning, None, 0)]


def runpytest_forked(pytester: pytest.Pytester, *args: str, timeout: float = 300.0) -> pytest.RunResult:
    """As `pytester.runpytest_subprocess(*args)`: the same arguments, files, working directory and result."""
    basetemp = make_numbered_dir(root=pytester.path, prefix="runpytest-", mode=0o700)
    argv: list[str] = [f"--basetemp={basetemp}", *map(os.fspath, args)]
    for plugin in reversed(pytester.plugins):
        if not isinstance(plugin, str):
            raise ValueError(f"a forked run takes plugins by name, as a subprocess does, not {plugin!r}")
        argv[:0] = ["-p", plugin]
    out_path, err_path = pytester.path / "stdout", pytester.path / "stderr"
    cwd = os.getcwd()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or what this process has buffered is written again by the child
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(argv, cwd, out_path, err_path)  # never returns
    status = _wait(pid, timeout, argv)
    out = out_path.read_text(encoding="utf8").splitlines()
    err = err_path.read_text(encoding="utf8").splitlines()
    for lines, stream in ((out, sys.stdout), (err, sys.stderr)):  # what pytester shows of a failed test's run
        for line in lines:
            print(line, file=stream)
    code: int | pytest.ExitCode = os.waitstatus_to_exitcode(status)
    try:
        code = pytest.ExitCode(code)
    except ValueError:
        pass
    return pytest.RunResult(code, out, err, time.monotonic() - started)


def _wait(pid: int, timeout: float, argv: list[str]) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise pytest.Pytester.TimeoutExpired(f"{timeout} second timeout expired running pytest {argv}")
        time.sleep(POLL)


def _child(argv: list[str], cwd: str, out_path: Path, err_path: Path) -> None:
    code = 70
    try:
        _leave_this_session()
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf8", line_buffering=True)
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        os.chdir(cwd)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [cwd, os.environ.get("PYTHONPATH", "")]))
        sys.path.insert(0, cwd)
        sys.argv = [sys.executable, *argv]
        code = int(pytest.main(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _leave_this_session() -> None:
    inside = str(TESTS) + os.sep
    for name, module in list(sys.modules.items()):
        if name == "conftest" or (getattr(module, "__file__", None) or "").startswith(inside):
            del sys.modules[name]
    sys.path[:] = [entry for entry in sys.path if entry != str(TESTS) and not entry.startswith(inside)]
    gc.freeze()  # this process's objects live until the child leaves: its collections need not walk them again
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, AssertionRewritingHook)]
    warnings.resetwarnings()  # this session's filters (its catch_warnings of the test running) are not the run's
    warnings.filters.extend(_INTERPRETER_FILTERS)  # type: ignore[attr-defined]
    if sys.warnoptions:
        warnings._processoptions(sys.warnoptions)  # type: ignore[attr-defined]
