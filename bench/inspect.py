"""Inspection time of a 2 GiB IPA next to a 2 MB one: it depends on the entry count, not the file size.

Run: .venv/bin/python bench/inspect.py [--big-size BYTES] [--runs N]
Generates the IPAs (publish.sandbox.sample_ipa) into a temporary directory, deletes them afterwards,
and prints measured figures. Needs ~2 GiB of free disk space.
"""

from __future__ import annotations

import os
import sys

# This file is named like the stdlib module `inspect`; keep its folder off the import path so that
# `import inspect` (done by dataclasses, among others) finds the real one.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from publish.ipa import inspect_ipa, run_preflight  # noqa: E402
from publish.sandbox.sample_ipa import build_ipa  # noqa: E402

TARGET_SECONDS = 0.5


def measure(path: Path, runs: int) -> tuple[float, float]:
    """Median seconds of inspect_ipa and of run_preflight over `runs` runs."""
    inspect_times, preflight_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        inspect_ipa(path)
        inspect_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        run_preflight(path)
        preflight_times.append(time.perf_counter() - started)
    return statistics.median(inspect_times), statistics.median(preflight_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-size", type=int, default=2 * 1024**3, help="size of the big IPA in bytes (2 GiB)")
    parser.add_argument("--small-size", type=int, default=2 * 1000**2, help="size of the small IPA in bytes (2 MB)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        for label, size in (("small", args.small_size), ("big", args.big_size)):
            path = Path(tmp) / f"{label}.ipa"
            started = time.perf_counter()
            build_ipa(path, bundle_id="com.example.bench", extensions=("Widgets", "Share"), watch_app=True,
                      pad_to=size)
            generated = time.perf_counter() - started
            inspect_s, preflight_s = measure(path, args.runs)
            rows.append((label, path.stat().st_size, generated, inspect_s, preflight_s))
            path.unlink()
    print(f"{'IPA':<6} {'size':>16} {'generate':>10} {'inspect':>10} {'preflight':>10}   (median of {args.runs} runs)")
    for label, size, generated, inspect_s, preflight_s in rows:
        print(f"{label:<6} {size:>10} bytes {generated:>9.2f}s {inspect_s * 1000:>8.1f}ms {preflight_s * 1000:>8.1f}ms")
    slowest = max(r[3] for r in rows)
    ratio = rows[1][3] / rows[0][3] if rows[0][3] else float("inf")
    print(f"big/small inspection time ratio: {ratio:.2f}; slowest {slowest * 1000:.1f} ms "
          f"({'within' if slowest < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS}s target)")
    return 0 if slowest < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
