"""`PARSERS`: the CLI's parsers built once a test process and handed again to each in-process `publish.cli.main`
call of the flow tests (`main(argv, ctx=..., build=PARSERS)`).

Why: building a command's parser costs ~1.4 ms of CPU (argparse looks up translations of its headings on disk for
each of the three parsers a call builds, and registers every flag), and the suite calls the CLI in-process ~1000
times, each one a process of its own in real life but the same few parsers here. A parser is safe to hand again:
parsing reads it and writes only the Namespace it returns (no command has a mutable default), and what its build
depends on is in the key: which commands are real (`load`), the terminal's size (the help's width) and the locale
variables gettext reads. tests/unit/test_cli_parsers.py holds a reused parser to a fresh one's answers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection

from publish.cli import CliParser, build_parser

# What gettext reads to pick the language of argparse's headings ("usage:", "options:").
_LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


class ParserCache:
    """`build_parser`, remembered by everything a parser's build depends on; call it as `build_parser`."""

    def __init__(self) -> None:
        self._parsers: dict[tuple[object, ...], CliParser] = {}
        self.builds = 0  # parsers actually built, for the test that holds the reuse

    def __call__(self, load: Collection[str] | None = None) -> CliParser:
        key = (None if load is None else frozenset(load), tuple(shutil.get_terminal_size()),
               *(os.environ.get(name) for name in _LOCALE_VARIABLES))
        parser = self._parsers.get(key)
        if parser is None:
            parser = self._parsers[key] = build_parser(load)
            self.builds += 1
        return parser


PARSERS = ParserCache()
