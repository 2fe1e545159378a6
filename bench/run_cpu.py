"""CPU of one in-process `appstore-publish run` of a TestFlight + App Store flow (with submission for review):
the median over N runs, per run and per App Store Connect exchange.

    .venv/bin/python bench/run_cpu.py [--runs N] [--profile out.prof]

Each run is `publish.cli.main(["run", ...])` (what the e2e flow tests call) against a fresh simulator world in this
same process, over loopback HTTP. The simulator serves from its own threads, so the *client* figure is the CPU of
the calling (main) thread alone (time.thread_time); the *process* figure (resource.getrusage) adds the simulator's
side. Exchanges are the simulator's count for the run (API calls and part uploads). The first run is a warm-up
(imports, the sample IPA built once) and is not counted.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (inspect.py): it goes to the end of the path, behind the standard
# library, and the tests' helpers to the front.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path = [os.path.join(os.path.dirname(_BENCH), "tests"),
            *(p for p in sys.path if os.path.abspath(p or ".") != _BENCH), _BENCH]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from api_calls import APP_STORE, SUBMIT, TESTFLIGHT  # noqa: E402
from flow_harness import FlowWorld  # noqa: E402

# The flow of api_calls' "TestFlight then App Store with submission".
FLOW = TESTFLIGHT + APP_STORE + SUBMIT


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(profiler: cProfile.Profile | None = None) -> tuple[float, float, int]:
    """(client CPU s, process CPU s, exchanges) of one run in a fresh world."""
    with tempfile.TemporaryDirectory(prefix="run-cpu-") as tmp:
        world = FlowWorld(Path(tmp))
        try:
            flow, ipa = world.flow(FLOW), world.ipa("1")
            before = len(world.server.exchanges)
            thread0, process0 = time.thread_time(), _process_cpu()
            if profiler is not None:
                profiler.enable()
            outcome = world.run(flow, ipa)
            if profiler is not None:
                profiler.disable()
            thread1, process1 = time.thread_time(), _process_cpu()
            exchanges = len(world.server.exchanges) - before
        finally:
            world.close()
    if outcome.code != 0:
        raise SystemExit(f"the run failed ({outcome.code}):\n{outcome.output}")
    return thread1 - thread0, process1 - process0, exchanges


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the main thread's runs here")
    args = parser.parse_args()
    logging.getLogger("publish").addHandler(logging.NullHandler())  # the runs' own log lines are not the figures
    logging.getLogger("publish").propagate = False
    run_once()
    profiler = cProfile.Profile(time.thread_time) if args.profile else None  # CPU, not waiting
    figures = [run_once(profiler) for _ in range(max(1, args.runs))]
    if profiler is not None:
        profiler.dump_stats(args.profile)
    client = statistics.median(f[0] for f in figures) * 1000
    process = statistics.median(f[1] for f in figures) * 1000
    exchanges = statistics.median(f[2] for f in figures)
    print(f"runs: {len(figures)}  exchanges per run: {exchanges:g}")
    print(f"client (main thread) CPU: {client:.1f} ms per run, {client / exchanges:.2f} ms per exchange")
    print(f"process CPU (client + simulator): {process:.1f} ms per run, {process / exchanges:.2f} ms per exchange")
    return 0


if __name__ == "__main__":
    sys.exit(main())
