"""The GitHub Action's entrypoint driven as the runner drives it: entrypoint.py loaded from the repository, inputs as
INPUT_* variables, $GITHUB_OUTPUT parsed back, and the check that a secret shows nowhere but in `::add-mask::`."""

from __future__ import annotations

import base64
import importlib.util
import io
import os
import re
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

from suite_paths import REPO


def load_entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("action_entrypoint", REPO / "entrypoint.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = load_entrypoint()


def secret_forms(secret: str) -> list[str]:
    """The key, its base64, its escaped form, each body line, and the body on one line."""
    body = [line for line in secret.splitlines() if line and not line.startswith("-----")]
    return [secret.strip(), base64.b64encode(secret.encode()).decode(), secret.strip().replace("\n", "\\n"),
            "".join(body), *body]


def assert_no_leak(text: str, secret: str, where: str) -> None:
    for line in text.splitlines():
        if line.startswith("::add-mask::"):
            continue  # consumed by the runner, never shown
        for form in secret_forms(secret):
            assert form not in line, f"secret leaked into {where}: {line[:80]}"


def parse_outputs(text: str) -> dict[str, str]:
    values = {}
    for match in re.finditer(r"^([a-z-]+)<<(\S+)\n(.*?)\n?\2$", text, re.S | re.M):
        values[match.group(1)] = match.group(3)
    return values


def github_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    (tmp_path / "output").write_text("")
    (tmp_path / "summary").write_text("")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "output"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_WORKSPACE": str(tmp_path)}
    for name, value in inputs.items():
        env[f"INPUT_{name.upper()}"] = value  # as the runner does: hyphens kept
    return env


def run_action(env: dict[str, str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = entrypoint.run(env, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def run_entrypoint_forked(args: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python entrypoint.py ARGS` as the container starts it (entrypoint.py run as __main__, its exit code the
    process's, a program it hands over to exec'd in its place), in a fork of this process instead of a fresh
    interpreter: the test process has imported the project and its libraries already, which a fresh interpreter
    spends ~0.25 s of CPU doing again for each `validate`. The child gets its own working directory, environment,
    argv and stdout/stderr (files read back here), as the subprocess did."""
    path = str(REPO / "entrypoint.py")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: never returns into the test process
            code = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.chdir(cwd)
                os.environ.clear()
                os.environ.update(env)
                sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                              line_buffering=True)
                sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                              errors="backslashreplace", line_buffering=True)
                sys.argv = [path, *args]
                try:
                    runpy.run_path(path, run_name="__main__")
                    code = 0
                except SystemExit as exc:  # as the interpreter ends on one: its int, None is 0, else printed, 1
                    if exc.code is None or isinstance(exc.code, int):
                        code = exc.code or 0
                    else:
                        print(exc.code, file=sys.stderr)
                except BaseException:  # noqa: BLE001 - what the interpreter would print before exiting 1
                    traceback.print_exc()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
        deadline = time.monotonic() + timeout
        while not (done := os.waitpid(pid, os.WNOHANG))[0]:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired([path, *args], timeout)
            time.sleep(0.002)
        status = done[1]
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess([sys.executable, path, *args], os.waitstatus_to_exitcode(status),
                                           out.read().decode(), err.read().decode())
