"""The command line as a user meets it: examples in every --help, did-you-mean, -v/--quiet anywhere."""

from __future__ import annotations

import argparse
import io
import logging
import shlex
from collections.abc import Iterator

import pytest

from cli_parsers import PARSERS
from publish.cli import CliContext, build_parser, main, parse
from publish.commands import COMMANDS, EXAMPLES


def _ctx() -> CliContext:
    return CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


FULL = build_parser()
ALL_PARSERS = list(_parsers(FULL))


def _run(*argv: str) -> tuple[int, str, str]:
    ctx = _ctx()
    code = main(list(argv), ctx=ctx, build=PARSERS)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


@pytest.mark.parametrize("parser", ALL_PARSERS, ids=[p.prog for p in ALL_PARSERS])
def test_every_help_ends_with_examples(parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert "\nexamples:\n" in text, parser.prog
    block = text.split("\nexamples:\n", 1)[1]
    commands = [line.strip() for line in block.splitlines() if line.strip().startswith("appstore-publish")]
    assert commands and all(c.startswith(parser.prog) for c in commands), commands


def _example_lines() -> list[str]:
    return [line for examples in EXAMPLES.values() for line, _ in examples]


@pytest.mark.parametrize("line", _example_lines())
def test_every_example_parses(line: str) -> None:
    """An example that no longer parses (a renamed flag, a removed command) fails here."""
    words = shlex.split(line)
    if ">" in words:  # a shell redirection ends the command
        words = words[: words.index(">")]
    args = parse(words[1:])
    assert callable(args.handler)


def test_examples_are_kept_inside_80_columns_except_long_commands() -> None:
    text = FULL.format_help()
    block = text.split("examples:\n", 1)[1]
    assert all(len(line) <= 100 for line in block.splitlines())


def test_the_light_table_matches_the_modules() -> None:
    """`--help` lists commands from the table without importing them: its summaries must be the modules' own."""
    [action] = [a for a in FULL._actions if isinstance(a, argparse._SubParsersAction)]
    registered = {choice.dest: choice.help for choice in action._choices_actions}
    assert registered == {c.name: c.summary for c in COMMANDS}
    assert set(EXAMPLES) >= {c.name for c in COMMANDS}


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], ctx=_ctx()) == 0
    out = capsys.readouterr().out
    assert all(f"    {c.name}" in out for c in COMMANDS)
    assert "examples:" in out and "appstore-publish demo" in out


@pytest.mark.parametrize("argv, expected", [
    (["vaildate", "flow.yml"], "unknown command 'vaildate'; did you mean 'validate'?"),
    (["rnu"], "unknown command 'rnu'; did you mean 'run'?"),
    (["histroy"], "unknown command 'histroy'; did you mean 'history'?"),
    (["sandbox", "serv"], "unknown sandbox command 'serv'; did you mean 'serve'?"),
    (["completion", "bsh"], "invalid value 'bsh' for SHELL (choose from bash, zsh, fish); did you mean 'bash'?"),
    (["run", "f.yml", "--ipa", "a.ipa", "--poll-intervl", "3"],
     "unknown option '--poll-intervl' for 'run'; did you mean '--poll-interval'?"),
    (["run", "f.yml", "--ipa-path", "a.ipa"], "unknown option '--ipa-path' for 'run'; did you mean '--ipa'?"),
    (["validate", "f.yml", "--check-secerts"], "unknown option '--check-secerts' for 'validate'; did you mean '--check-secrets'?"),
    (["versions", "--remtoe"], "unknown option '--remtoe' for 'versions'; did you mean '--remote'?"),
    (["history", "--limit=5", "--jsn"], "unknown option '--jsn' for 'history'; did you mean '--json'?"),
    (["--verbsoe", "run"], "unknown option '--verbsoe'; did you mean '--verbose'?"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_misspellings_get_a_suggestion_and_exit_2(argv: list[str], expected: str) -> None:
    code, out, err = _run(*argv)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {expected}"), err
    assert err.count("error:") == 1 and "How to fix: see `appstore-publish" in err and "Traceback" not in err


def test_an_ambiguous_abbreviation_names_the_candidates() -> None:
    code, _, err = _run("run", "f.yml", "--ipa", "a.ipa", "--re")
    assert code == 2 and "--re could match --restart, --result-json" in err and err.count("error:") == 1


def test_a_word_far_from_every_command_gets_no_wild_guess() -> None:
    _, _, err = _run("frobnicate")
    assert "did you mean" not in err


def test_no_command_says_so() -> None:
    code, _, err = _run()
    assert code == 2 and err.startswith("error: no command given")


@pytest.mark.parametrize("argv", [
    ["-v", "schema", "--list"],
    ["schema", "-v", "--list"],
    ["schema", "--list", "-v"],
    ["schema", "--list", "--verbose"],
])
def test_verbose_anywhere_on_the_line(argv: list[str]) -> None:
    args = parse(argv)
    assert args.verbose is True and not getattr(args, "quiet", False)


@pytest.mark.parametrize("argv", [
    ["-q", "sandbox", "keygen", "--out", "x"],
    ["sandbox", "-q", "keygen", "--out", "x"],
    ["sandbox", "keygen", "--out", "x", "--quiet"],
])
def test_quiet_anywhere_on_the_line_even_after_a_subcommand(argv: list[str]) -> None:
    assert parse(argv).quiet is True


def test_verbose_and_quiet_contradict() -> None:
    code, _, err = _run("-v", "schema", "--list", "--quiet")
    assert code == 2 and "contradict" in err


def _log_levels(*argv: str) -> int:
    seen: list[int] = []

    def handler(args: argparse.Namespace, ctx: CliContext) -> int:
        seen.append(logging.getLogger("publish").getEffectiveLevel())
        return 0

    args_before = parse(list(argv))
    args_before.handler = handler
    from publish.cli import _run as run_handler

    run_handler(handler, args_before, _ctx())
    return seen[0]


def test_the_log_level_follows_the_flags() -> None:
    assert _log_levels("schema", "--list") == logging.INFO
    assert _log_levels("schema", "--list", "-v") == logging.DEBUG
    assert _log_levels("-q", "schema", "--list") == logging.WARNING


def test_version_prints_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from publish import __version__

    assert main(["--version"], ctx=_ctx()) == 0
    assert capsys.readouterr().out.strip() == f"appstore-publish {__version__}"
