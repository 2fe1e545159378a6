"""`appstore-publish help [COMMAND]` is the help, as in git or docker: it was "unknown command 'help'" although
the image's entrypoint hands `help` to the CLI."""

from __future__ import annotations

import io

import pytest

from publish.cli import CliContext, main


@pytest.mark.parametrize(("argv", "start"), [(["help"], "usage: appstore-publish [-h]"),
                                             (["help", "run"], "usage: appstore-publish run "),
                                             (["help", "sandbox", "keygen"], "usage: appstore-publish sandbox keygen")])
def test_help_prints_the_help_of_the_command_named(argv: list[str], start: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(argv, ctx=ctx) == 0
    assert capsys.readouterr().out.startswith(start)


def test_help_of_a_misspelt_command_gets_the_did_you_mean() -> None:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["help", "rnu"], ctx=ctx) == 2
    assert "unknown command 'rnu'; did you mean 'run'?" in ctx.stderr.getvalue()
