"""An --ipa that is a FIFO, a device or a directory: `info` and `check` hung forever on a FIFO with no writer
(open() blocks) and `run` said a device "does not exist". Each is now refused at once, exit 2, saying what it is."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from publish.cli import CliContext, main


@pytest.mark.parametrize("name", ["App.ipa", "App.pkg"])
@pytest.mark.parametrize("command", ["info", "check"])
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path, command: str, name: str) -> None:
    """In process, in a thread that a regression cannot hang the suite with: should the command block on the
    FIFO (open() waits for a writer), a writer that opens and leaves at once releases it and the test fails."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(main([command, str(fifo)], ctx=ctx)), daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the reader is waiting, so this open succeeds
        worker.join(30)
        pytest.fail(f"{command} waited on the FIFO instead of refusing it")
    output = ctx.stdout.getvalue() + ctx.stderr.getvalue()
    assert codes == [2], output  # an exception escaping main (a traceback in a process) leaves no code
    # `check` reports its findings on stdout, `info` its error on stderr
    kind = ".pkg" if name.endswith(".pkg") else ".ipa"
    assert f"is not a regular file (a pipe, device or socket), so it is not a{'n' if kind == '.ipa' else ''} {kind}" \
        in output
    assert "Traceback" not in output


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
