"""`validate` said "valid" for a What to Test / What's New file that `run` then refused (binary, huge) and for a
device or FIFO; each is now a located problem of the flow file, found without reading past 1 MiB."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from publish.cli import CliContext, main

FLOW = """version: 1
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testflight
        uses_non_exempt_encryption: false
        what_to_test: {{file: {notes}}}
"""


def _validate(tmp_path: Path, notes: str) -> tuple[int, str]:
    flow = tmp_path / "flow.yml"
    flow.write_text(FLOW.format(notes=notes))
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    return main(["validate", str(flow)], ctx=ctx), ctx.stdout.getvalue() + ctx.stderr.getvalue()


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"\xff\xfe\x00binary"), "is not UTF-8 text (byte 0); save it as UTF-8"),
    (lambda p: p.write_bytes(b"a" * (1024 * 1024 + 1)), "is larger than 1048576 bytes: not release notes"),
    (lambda p: os.mkfifo(p), "is not a regular file (a directory, device or pipe)"),
    (lambda p: p.mkdir(), "is not a regular file (a directory, device or pipe)"),
])
def test_a_notes_file_run_would_refuse_is_refused_by_validate(tmp_path: Path, make: Callable[[Path], object],
                                                              message: str) -> None:
    make(tmp_path / "notes.md")
    code, output = _validate(tmp_path, "notes.md")
    assert code == 2, output
    assert "flow.yml:7:" in output and "what_to_test.file" in output and message in output


def test_good_notes_and_missing_notes_are_as_before(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Bug fixes \u2014 and more\n", encoding="utf-8")
    assert _validate(tmp_path, "notes.md")[0] == 0
    code, output = _validate(tmp_path, "gone.md")
    assert code == 2 and "gone.md does not exist (paths are relative to the flow file's directory)" in output
