"""An --ipa that is a FIFO, a device or a directory: `info` and `check` hung forever on a FIFO with no writer
(open() blocks) and `run` said a device "does not exist". Each is now refused at once, exit 2, saying what it is."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from publish.cli import CliContext, main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["App.ipa", "App.pkg"])
@pytest.mark.parametrize("command", ["info", "check"])
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path, command: str, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "publish", command, str(fifo)], capture_output=True, text=True,
                          cwd=REPO, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2, done.stderr
    # `check` reports its findings on stdout, `info` its error on stderr
    kind = ".pkg" if name.endswith(".pkg") else ".ipa"
    assert f"is not a regular file (a pipe, device or socket), so it is not a{'n' if kind == '.ipa' else ''} {kind}" \
        in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(("path", "message"), [("/dev/zero", "is not a regular file"),
                                               ("/dev/null", "is not a regular file")])
def test_a_device_is_named_as_what_it_is(path: str, message: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent on this system")
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["info", path], ctx=ctx) == 2
    assert message in ctx.stderr.getvalue()


def test_run_names_a_device_ipa_as_not_a_regular_file(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text("version: 1\nprofiles:\n  - bundle_id: com.example.app\n    flow:\n"
                    "      - step: send_to_testflight\n")
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["run", str(flow), "--ipa", "/dev/null", "--state-dir", str(tmp_path / "s")], ctx=ctx) == 2
    assert "the IPA /dev/null is not a regular file" in ctx.stderr.getvalue()
