"""Inspection time of a small and a large macOS .pkg: the large one costs what streaming its Payload costs.

Run: .venv/bin/python bench/inspect_pkg.py [--large-padding BYTES] [--runs N] [--format gzip|pbzx|xz]
Generates the packages (publish.sandbox.sample_pkg) into a temporary directory, deletes them afterwards, and
prints measured figures: inspect_pkg and run_pkg_preflight medians, throughput over the Payload, and the peak
Python heap of one inspection (tracemalloc). Needs free disk space of about the large padding.
"""

from __future__ import annotations

import os
import sys

# bench/inspect.py is named like the stdlib module `inspect`; keep this folder off the import path so that
# `import inspect` (done by dataclasses, among others) finds the real one.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

from publish.ipa.pkg import inspect_pkg  # noqa: E402
from publish.ipa.pkg_preflight import run_pkg_preflight  # noqa: E402
from publish.sandbox.sample_pkg import build_pkg  # noqa: E402


def measure(path: Path, runs: int) -> tuple[float, float, int]:
    """Median seconds of inspect_pkg and of run_pkg_preflight over `runs` runs, and one run's peak heap bytes."""
    inspect_times, preflight_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        inspect_pkg(path)
        inspect_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        findings = run_pkg_preflight(path)
        preflight_times.append(time.perf_counter() - started)
        assert not [f for f in findings if f.severity == "error"], findings
    tracemalloc.start()
    inspect_pkg(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(inspect_times), statistics.median(preflight_times), peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-padding", type=int, default=1024**3, help="incompressible bytes in the large app (1 GiB)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--format", default="gzip", choices=("gzip", "pbzx", "xz"), help="Payload compression")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-inspect-pkg-") as tmp:
        for label, padding in (("small", 0), ("large", args.large_padding)):
            path = Path(tmp) / f"{label}.pkg"
            started = time.perf_counter()
            build_pkg(path, bundle_id="com.example.bench", payload_format=args.format, payload_padding=padding,
                      payload_compression=0)  # stored deflate: what zlib emits for incompressible data anyway
            generated = time.perf_counter() - started
            inspect_s, preflight_s, peak = measure(path, args.runs)
            rows.append((label, path.stat().st_size, generated, inspect_s, preflight_s, peak))
            path.unlink()
    print(f"{'pkg':<6} {'size':>14} {'generate':>9} {'inspect':>9} {'preflight':>10} {'MB/s':>7} {'peak heap':>10}"
          f"   ({args.format} payload, median of {args.runs} runs)")
    for label, size, generated, inspect_s, preflight_s, peak in rows:
        print(f"{label:<6} {size:>14,} {generated:>8.2f}s {inspect_s:>8.3f}s {preflight_s:>9.3f}s "
              f"{size / inspect_s / 1e6:>7.0f} {peak / 1024**2:>8.1f}MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
