"""CPU of building the CLI's parser in-process, as the ~1050 in-process CLI calls of the suite do (issue 14), and
of `history --help` in a fresh interpreter (what the state commands import before they run).

    .venv/bin/python bench/cli_parse.py [--builds 500] [--starts 10]

Prints figures only; not a test.
"""

from __future__ import annotations

import sys

# Run as a script, bench/ is first on sys.path, and bench/inspect.py would stand in for the standard library's.
sys.path[:] = [entry for entry in sys.path if not entry.endswith("bench")]

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from publish import cli  # noqa: E402


def _build_cpu_ms(command: str, builds: int) -> float:
    cli.build_parser({command})  # the command's module imported outside the timing
    start = time.process_time()
    for _ in range(builds):
        cli.build_parser({command})
    return (time.process_time() - start) * 1000 / builds


def _start_cpu_ms(argv: list[str], starts: int) -> float:
    """Lowest CPU (user + sys) of a fresh `python -m publish.cli ARGV`, in ms."""
    best = float("inf")
    for _ in range(starts):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import sys; from publish.cli import main; sys.exit(main(sys.argv[1:]))",
                        *argv], stdout=subprocess.DEVNULL, check=True, env={**os.environ, "COLUMNS": "100"})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return best


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--builds", type=int, default=500)
    options.add_argument("--starts", type=int, default=10)
    given = options.parse_args()
    for command in ("run", "history", "sandbox", "validate"):
        print(f"build_parser({{{command!r}}}): {_build_cpu_ms(command, given.builds):.3f} ms CPU each "
              f"({given.builds} builds)")
    for argv in (["--help"], ["history", "--help"], ["versions", "--help"]):
        print(f"fresh `{' '.join(argv)}`: {_start_cpu_ms(argv, given.starts):.1f} ms CPU (lowest of {given.starts})")


if __name__ == "__main__":
    main()
