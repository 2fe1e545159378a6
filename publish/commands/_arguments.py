"""Argument types shared by every command: numbers within bounds, and paths a file system can take.

argparse calls these while parsing, so a bad value stops the command before it does anything (issue 15: a
`--poll-interval nan` used to be accepted, the build upload created, and the run crashed later). Every number
is finite and bounded, because `inf`, `nan` and `1e308` parse as floats and break sleeps and timers far from
the flag; every path is checked by publish.local_paths. Each refusal says what was given and what fits.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from publish.commands import DESCRIPTIONS, summary_of
from publish.local_paths import output_file_problem, path_problem

Handler = Callable[[argparse.Namespace, Any], int]


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler,
                *, description: str | None = None) -> argparse.ArgumentParser:
    """The parser of the command `name`, run by `handler`. Its one-line help is its summary in publish.commands,
    so the list `--help` prints without importing the command and the command's own help cannot disagree; its
    description is the one there too, unless the command words its own."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=summary_of(name), description=description or DESCRIPTIONS[name])
    parser.set_defaults(handler=handler)
    return parser


def add_api_arguments(parser: argparse.ArgumentParser, *, flow_help: str) -> None:
    """--flow, --api-key and --api-base-url: how a command that talks to App Store Connect finds its API key."""
    parser.add_argument("--flow", metavar="FLOW", type=local_path, help=flow_help)
    parser.add_argument("--api-key", metavar="NAME", help="the flow's api_keys entry to use (default: the "
                        "profile's; without a flow: fastlane's or Codemagic's APP_STORE_CONNECT_* variables)")
    parser.add_argument("--api-base-url", metavar="URL", help="App Store Connect API base URL (the simulator's)")


def bounded_int(low: int, high: int, *, example: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high]."""
    def parse(text: str) -> int:
        digits = text.strip().lstrip("+-")
        if len(digits) > 30 and digits.isdigit():  # past any bound here, and int() refuses > 4300 digits
            raise argparse.ArgumentTypeError(_fits(f"{_shown(text, quoted=False)} is out of range", low, high,
                                                   example))
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(_fits(f"{_shown(text)} is not a whole number", low, high,
                                                   example)) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(_fits(f"{_shown(str(value), quoted=False)} is out of range", low, high,
                                                   example))
        return value
    return parse


def bounded_float(low: float, high: float, *, low_open: bool = False,
                  example: float | None = None) -> Callable[[str], float]:
    """A finite number in [low, high] (or (low, high] when `low_open`)."""
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(_fits(f"{_shown(text)} is not a number", low, high, example,
                                                   low_open=low_open)) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(_fits(f"{_shown(text)} is not a finite number", low, high, example,
                                                   low_open=low_open))
        if value > high or value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(_fits(f"{_shown(text, quoted=False)} is out of range", low, high, example,
                                                   low_open=low_open))
        return value
    return parse


def _fits(problem: str, low: float, high: float, example: float | None, *, low_open: bool = False) -> str:
    bounds = f"more than {_number(low)} and at most {_number(high)}" if low_open else \
        f"from {_number(low)} to {_number(high)}"
    return problem + f"; give a number {bounds}" + (f", e.g. {_number(example)}" if example is not None else "")


def _shown(text: str, *, quoted: bool = True, limit: int = 40) -> str:
    """`text` for a message, cut short: a 5000-digit argument is not echoed back whole."""
    cut = text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
    return repr(cut) if quoted else cut


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def local_path(text: str) -> str:
    """A path to read (or a directory): checked for form only; whether it exists is the command's business."""
    problem = path_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{problem}; give a real, shorter path")
    return text


def output_path(text: str) -> str:
    """A file the command will write: well formed, not a directory, and under a directory that can be written."""
    local_path(text)
    problem = output_file_problem(Path(text))
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{problem}; give the path of a file in a directory you can write to")
    return text

