"""CPU of one in-process CLI call (`history` on an empty state directory) with a freshly built parser, as
`publish.cli.main` builds by default, and with the parser the flow tests share (tests/cli_parsers.py, `build=`).

    .venv/bin/python bench/cli_reuse.py [--calls 300] [--rounds 3]

Prints figures only; not a test.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (inspect.py): it goes to the end of the path, the tests' helpers
# to the front.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path = [os.path.join(os.path.dirname(_BENCH), "tests"),
            *(p for p in sys.path if os.path.abspath(p or ".") != _BENCH), _BENCH]

import argparse  # noqa: E402
import io  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from cli_parsers import ParserCache  # noqa: E402
from publish.cli import CliContext, main  # noqa: E402


def _call_cpu_ms(state_dir: str, build: Callable[..., Any] | None, calls: int) -> float:
    def call() -> None:
        ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
        assert main(["history", "--state-dir", state_dir], ctx=ctx, build=build) == 0

    call()  # the command's module imported and the store created outside the timing
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) * 1000 / calls


def main_() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--calls", type=int, default=300)
    options.add_argument("--rounds", type=int, default=3)
    given = options.parse_args()
    with tempfile.TemporaryDirectory(prefix="cli-reuse-") as state_dir:
        fresh = min(_call_cpu_ms(state_dir, None, given.calls) for _ in range(given.rounds))
        shared = min(_call_cpu_ms(state_dir, ParserCache(), given.calls) for _ in range(given.rounds))
    print(f"`history` in-process: {fresh:.3f} ms CPU a call with a fresh parser, {shared:.3f} ms with a shared one "
          f"(lowest of {given.rounds} rounds of {given.calls} calls)")


if __name__ == "__main__":
    main_()
