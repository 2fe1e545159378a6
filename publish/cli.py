"""The `appstore-publish` command line: parses flags and dispatches to publish.commands.

Each command lives in its own module under publish/commands/ and exposes
`register(subparsers) -> None`, which adds its parser and sets `handler` to a
function `(args: argparse.Namespace, ctx: CliContext) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from publish import __version__
from publish.errors import PublishError
from publish.redact import Redactor

# Order is the order of `--help`.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "plan",
    "run",
    "info",
    "check",
    "profiles",
    "versions",
    "show",
    "history",
    "mark_rc",
    "download",
    "delete",
    "schema",
    "sandbox",
    "demo",
)


@dataclass
class CliContext:
    """What a command needs from the process, injected so tests can capture it."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    redactor: Redactor = field(default_factory=Redactor)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)

    def print(self, text: str = "") -> None:
        self.stdout.write(self.redactor.redact(text) + "\n")

    def error(self, text: str) -> None:
        self.stderr.write(self.redactor.redact(text) + "\n")

    @property
    def in_github_actions(self) -> bool:
        return self.env.get("GITHUB_ACTIONS") == "true"

    def register_secret(self, secret: str | None) -> None:
        """Mask a secret in everything we print; under GitHub Actions ask the runner to mask it too."""
        for fragment in self.redactor.add(secret):
            if self.in_github_actions and "\n" not in fragment:
                # `::add-mask::` itself is never echoed by the runner.
                self.stdout.write(f"::add-mask::{fragment}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appstore-publish",
        description="Ship an iOS .ipa to TestFlight and the App Store through App Store Connect's Build Upload API.",
        epilog="Exit codes: 0 success, 1 remote or publish failure, 2 bad input or usage.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log HTTP calls and decisions")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"publish.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"publish.commands.{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


class _ExitParser(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def main(argv: Sequence[str] | None = None, ctx: CliContext | None = None) -> int:
    ctx = ctx or CliContext()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    handler = logging.StreamHandler(ctx.stderr)
    handler.addFilter(ctx.redactor.logging_filter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("publish")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    root.propagate = False
    try:
        return int(args.handler(args, ctx))
    except PublishError as exc:
        ctx.error(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.error("interrupted")
        return 130
    finally:
        root.removeHandler(handler)
