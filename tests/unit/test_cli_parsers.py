"""tests/cli_parsers.py: the flow tests' in-process CLI calls share each parser, and a shared parser answers every
command line as a freshly built one does (what it was given before leaves no trace)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cli_parsers import ParserCache
from publish import cli
from publish.cli import CliContext, UsageError, build_parser, parse

# Valid and refused lines of several commands, given in turn to one shared parser per command.
LINES: tuple[tuple[str, ...], ...] = (
    ("run", "flow.yml", "--ipa", "App.ipa", "--poll-interval", "0.5", "--restart", "-v"),
    ("run", "flow.yml", "--build", "1.2.3 (45)", "--json"),
    ("run", "flow.yml", "--ipa", "App.ipa", "--poll-interval", "nan"),
    ("run", "flow.yml", "--ipa", "App.ipa", "--no-such-flag"),
    ("run", "flow.yml", "--ipa", "App.ipa"),
    ("history", "1.0", "--limit", "0", "--json"),
    ("history", "--limit", "-1"),
    ("history",),
    ("status", "com.example.app", "1.2.3", "--platform", "MAC_OS", "--wait-until", "READY_FOR_SALE"),
    ("status", "com.example.app", "--platform", "WINDOWS"),
    ("status", "com.example.app"),
    ("versions", "--remote", "--flow", "publish.yml", "-q"),
    ("versions", "-v", "-q"),
    ("nonsense", "--json"),
    (),
)


def _answer(argv: tuple[str, ...], build: object) -> object:
    try:
        return sorted(vars(parse(argv, build)).items())  # type: ignore[arg-type]  # a builder like build_parser
    except UsageError as refused:
        return ("refused", refused.message, refused.hint)


def test_a_shared_parser_answers_each_line_as_a_fresh_parser_does() -> None:
    cache = ParserCache()
    for _ in range(2):  # the second round reuses parsers that have parsed every line once
        for argv in LINES:
            assert _answer(argv, cache) == _answer(argv, build_parser), argv
    assert cache.builds == len({argv[0] if argv and argv[0] in {c.name for c in cli.COMMANDS} else None
                                for argv in LINES})


def test_help_from_a_shared_parser_is_the_fresh_help(capsys: pytest.CaptureFixture[str]) -> None:
    cache = ParserCache()
    parse(("run", "flow.yml", "--ipa", "App.ipa"), cache)
    for build in (cache, build_parser):
        with pytest.raises(SystemExit):
            parse(("run", "--help"), build)  # type: ignore[arg-type]
    shared, fresh = capsys.readouterr().out.split("usage: ")[1:]
    assert shared == fresh and "--poll-interval" in shared


def test_in_process_calls_build_each_commands_parser_once(tmp_path: Path) -> None:
    cache = ParserCache()
    for argv in (["history", "--state-dir", str(tmp_path)], ["history", "--json", "--state-dir", str(tmp_path)],
                 ["versions", "--state-dir", str(tmp_path)], ["history", "--limit", "3", "--state-dir",
                                                              str(tmp_path)]):
        ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
        assert cli.main(argv, ctx=ctx, build=cache) == 0, ctx.stderr.getvalue()
    assert cache.builds == 2  # history, then versions
    assert cache(load={"history"}) is cache(load={"history"})


def test_another_terminal_width_gets_its_own_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ParserCache()
    monkeypatch.setenv("COLUMNS", "60")
    narrow = cache(load={"run"})
    monkeypatch.setenv("COLUMNS", "140")
    wide = cache(load={"run"})
    assert narrow is not wide and cache.builds == 2
    assert wide.format_help() == build_parser(load={"run"}).format_help() != narrow.format_help()
