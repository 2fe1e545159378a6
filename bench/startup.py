"""Start-up time of `appstore-publish --help` and `--version`: the median of several cold runs of each.

Run: .venv/bin/python bench/startup.py [--runs N]
Each run is a fresh interpreter (`python -c "from publish.cli import main; ..."`, the same import the
console script does), so the figure is what a user waits for, interpreter start included. Wall time
moves with the machine's load, so the CPU time the process used (user + system) is printed beside it;
the target (issue 14) is a wall-time median under 100 ms.

Bytecode: an installed package has its .pyc files (pip writes them), so the children run without
PYTHONDONTWRITEBYTECODE (set on this machine) and the warm-up run writes any that are missing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_MS = 100.0
ROOT = Path(__file__).resolve().parent.parent
# What the console script does (see the generated .venv/bin/appstore-publish).
ENTRY = "import sys; from publish.cli import main; sys.exit(main())"


def time_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, cpu ms) of one fresh `appstore-publish ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"appstore-publish {' '.join(args)} exited {completed.returncode}: "
                         f"{completed.stderr.decode(errors='replace')[-500:]}")
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (at least 5; default 9)")
    options = parser.parse_args()
    runs = max(5, options.runs)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    time_once(["--version"], env)  # warm the file cache and write any missing bytecode first
    worst = 0.0
    for args in (["--help"], ["--version"]):
        samples = [time_once(args, env) for _ in range(runs)]
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        worst = max(worst, wall)
        print(f"appstore-publish {args[0]:<9}  median {wall:6.1f} ms wall, {cpu:6.1f} ms cpu  "
              f"(min {min(s[0] for s in samples):.1f} ms, {runs} runs)")
    print(f"target: median under {TARGET_MS:.0f} ms -> {'met' if worst < TARGET_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
