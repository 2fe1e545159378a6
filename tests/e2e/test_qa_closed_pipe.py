"""A reader that goes away (`appstore-publish run ... | head -1`) must not fail a publish half-done: the first
print after the pipe closed raised BrokenPipeError inside a step (recorded as that step's failure, after the
upload), and a traceback followed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from publish.cli import CliContext, main

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_publishes_everything_with_its_stdout_a_closed_pipe(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every write to stdout is EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "publish", "demo", "--keep", str(tmp_path / "demo")],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    # What the demo left is read in process: the closed pipe was the demo's, the history is only its record.
    history = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["history", "--json", "--state-dir", str(tmp_path / "demo" / "state")], ctx=history) == 0
    steps = [e for e in json.loads(history.stdout.getvalue())["history"] if e["kind"] == "step"]
    assert sorted((e["step_name"], e["status"]) for e in steps) == [
        ("send_to_app_store", "succeeded"), ("send_to_testflight", "succeeded")]


class _Pipe(io.StringIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, text: str) -> int:
        if self.fail_after <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.fail_after -= 1
        return super().write(text)

    def flush(self) -> None:
        if self.fail_after <= 0:
            raise BrokenPipeError(32, "Broken pipe")


def test_after_the_first_broken_pipe_writes_are_dropped_not_raised() -> None:
    from publish.cli import ClosedPipeTolerantStream

    pipe = _Pipe(fail_after=1)
    stream = ClosedPipeTolerantStream(pipe)
    assert stream.write("kept\n") == 5
    assert stream.write("lost\n") == 5 and stream.closed_pipe
    stream.write("also lost\n")
    stream.flush()
    assert pipe.getvalue() == "kept\n"
