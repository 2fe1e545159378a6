"""Start-up time of `appstore-publish --help` and `--version`, and of the offline commands a user (and the test
suite) starts most: `validate FLOW`, `plan FLOW --ipa IPA`, `info IPA`, `check IPA`, and the container's
`entrypoint.py --version`: the median of several cold runs of each.

Run: .venv/bin/python bench/startup.py [--runs N]
Each run is a fresh interpreter (`python -c "from publish.cli import main; ..."`, the same import the
console script does), so the figure is what a user waits for, interpreter start included. Wall time
moves with the machine's load, so the CPU time the process used (user + system) is printed beside it;
the target (issue 14) is a wall-time median under 100 ms for `--help` and `--version`. The other commands
have no target: their figure is what each of their imports (YAML, JSON Schema, the IPA readers) costs, start to
exit, on examples/testflight.yaml and a sample IPA the bench builds (publish.sandbox.sample_ipa).

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
import tempfile
import time
from pathlib import Path

TARGET_MS = 100.0
ROOT = Path(__file__).resolve().parent.parent
# What the console script does (see the generated .venv/bin/appstore-publish).
ENTRY = "import sys; from publish.cli import main; sys.exit(main())"


def time_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, cpu ms) of one fresh `appstore-publish ARGS` (or `entrypoint.py ARGS[1:]` for ARGS[0] ==
    "entrypoint.py")."""
    command = [sys.executable, str(ROOT / "entrypoint.py"), *args[1:]] if args[0] == "entrypoint.py" else \
        [sys.executable, "-c", ENTRY, *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"appstore-publish {' '.join(args)} exited {completed.returncode}: "
                         f"{completed.stderr.decode(errors='replace')[-500:]}")
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    return wall, cpu


def measure(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """(median wall ms, median cpu ms, fastest wall ms) of `runs` fresh runs."""
    samples = [time_once(args, env) for _ in range(runs)]
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
            min(s[0] for s in samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (at least 5; default 9)")
    options = parser.parse_args()
    runs = max(5, options.runs)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    time_once(["--version"], env)  # warm the file cache and write any missing bytecode first
    worst = 0.0
    for args in (["--help"], ["--version"]):
        wall, cpu, fastest = measure(args, env, runs)
        worst = max(worst, wall)
        print(f"appstore-publish {args[0]:<9}  median {wall:6.1f} ms wall, {cpu:6.1f} ms cpu  "
              f"(min {fastest:.1f} ms, {runs} runs)")
    print(f"target: median under {TARGET_MS:.0f} ms -> {'met' if worst < TARGET_MS else 'NOT met'}")
    flow = str(ROOT / "examples" / "testflight.yaml")
    with tempfile.TemporaryDirectory() as scratch:
        ipa = str(Path(scratch) / "App.ipa")
        # In a child: this script's folder (bench/, first on sys.path) holds an inspect.py that shadows the stdlib's.
        subprocess.run([sys.executable, "-c", "import sys; from publish.sandbox.sample_ipa import build_ipa; "
                        "build_ipa(sys.argv[1], bundle_id='com.example.app')", ipa], cwd=ROOT, check=True, env=env)
        commands = (["validate", flow], ["plan", flow, "--ipa", ipa], ["info", ipa], ["check", ipa],
                    ["entrypoint.py", "--version"])
        for args in commands:
            time_once(args, env)
            wall, cpu, fastest = measure(args, env, runs)
            label = " ".join(a if a not in (flow, ipa) else ("FLOW" if a == flow else "IPA") for a in args)
            print(f"{label:<28}  median {wall:6.1f} ms wall, {cpu:6.1f} ms cpu  (min {fastest:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
