"""The read-only state commands given a state directory that is a file: they answered "No history yet." /
"No versions ... yet." with exit 0, hiding a mistyped path; now exit 2 naming the problem, as `run` does."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from publish.cli import CliContext, main


@pytest.mark.parametrize("command", [["history"], ["versions"], ["show", "1.0.0"], ["mark-rc", "1.0.0"],
                                     ["delete", "1.0.0", "--yes"]])
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_state_directory_that_is_a_file_is_bad_input(tmp_path: Path, command: list[str], how: str) -> None:
    not_a_dir = tmp_path / "App.ipa"
    not_a_dir.write_bytes(b"PK\x05\x06" + bytes(18))
    env = {"APPSTORE_PUBLISH_STATE_DIR": str(not_a_dir)} if how == "env" else {}
    argv = command + (["--state-dir", str(not_a_dir)] if how == "flag" else [])
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env)
    assert main(argv, ctx=ctx) == 2, ctx.stdout.getvalue() + ctx.stderr.getvalue()
    assert f"state directory {not_a_dir} is a file, not a directory" in ctx.stderr.getvalue()
    assert not_a_dir.read_bytes() == b"PK\x05\x06" + bytes(18)


def test_a_state_directory_not_made_yet_is_still_just_empty(tmp_path: Path) -> None:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["history", "--state-dir", str(tmp_path / "none")], ctx=ctx) == 0
    assert "No history yet." in ctx.stdout.getvalue() and not (tmp_path / "none").exists()
