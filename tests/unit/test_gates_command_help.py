"""Each command's help comes from the table in publish.commands (summary, description, examples): the parser a
command registers shows those words, and the table names no command that does not exist."""

from __future__ import annotations

import argparse

from publish.cli import build_parser
from publish.commands import COMMANDS, DESCRIPTIONS


def _command_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_description_belongs_to_a_command() -> None:
    assert set(DESCRIPTIONS) <= {c.name for c in COMMANDS}


def test_a_command_shows_the_description_of_the_table() -> None:
    parsers = _command_parsers()
    for name, description in DESCRIPTIONS.items():
        assert parsers[name].description == description, name


def test_every_command_has_a_description() -> None:
    parsers = _command_parsers()
    assert all(parsers[c.name].description for c in COMMANDS)
