"""The CLI's parsers ask the terminal's width once each, not once per argument (issue 14: argparse makes a
HelpFormatter in every add_argument, and each asked the terminal: ~14 look-ups a build, ~1000 builds a suite).
The help stays what argparse's own formatter writes for the same width."""

from __future__ import annotations

import argparse
import shutil

import pytest

from publish import cli


def test_a_build_asks_the_terminal_once_a_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def counted(*args: object, **kwargs: object) -> object:
        asked.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    real = shutil.get_terminal_size
    monkeypatch.setattr(shutil, "get_terminal_size", counted)
    parser = cli.build_parser({"run"})
    assert len(asked) == 2  # the top level and `run`; the stand-ins of the other commands are never formatted
    parser.format_help()
    cli.parser_chain(parser, ["run"])[-1].format_help()
    assert len(asked) == 2


@pytest.mark.parametrize("columns", ["40", "80", "157"])
def test_the_help_is_argparses_own_for_the_width(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    for command in ("run", "sandbox"):
        top = cli.build_parser({command})
        for parser in cli.parser_chain(top, [command, "serve"]):
            # argparse's own _get_formatter asks the terminal for each formatter it makes
            assert parser.format_help() == _help_by_argparse(parser), (command, parser.prog)
            assert parser.format_usage() == _usage_by_argparse(parser)


def test_the_width_is_the_one_when_the_parser_was_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def run_help() -> str:
        return cli.parser_chain(cli.build_parser({"run"}), ["run"])[-1].format_help()

    monkeypatch.setenv("COLUMNS", "200")
    wide = run_help()
    monkeypatch.setenv("COLUMNS", "60")
    narrow = run_help()
    run = cli.parser_chain(cli.build_parser({"run"}), ["run"])[-1]
    monkeypatch.setenv("COLUMNS", "200")
    assert run.format_help() == narrow != wide


def _help_by_argparse(parser: argparse.ArgumentParser) -> str:
    return _with_argparses_formatter(parser, parser.format_help)


def _usage_by_argparse(parser: argparse.ArgumentParser) -> str:
    return _with_argparses_formatter(parser, parser.format_usage)


def _with_argparses_formatter(parser: argparse.ArgumentParser, produce: object) -> str:
    """What `produce` writes when the parser makes its formatters as argparse does (the instance attribute
    shadows the class's method for this call only)."""
    parser._get_formatter = lambda: argparse.ArgumentParser._get_formatter(parser)  # type: ignore[method-assign]
    try:
        return produce()  # type: ignore[operator]
    finally:
        del parser._get_formatter  # type: ignore[attr-defined]
