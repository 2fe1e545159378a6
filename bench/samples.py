"""CPU time of the sample builders (publish.sandbox.sample_ipa / sample_pkg) for the arguments tests use most.

Run: .venv/bin/python bench/samples.py [--runs N]
Prints, in CPU milliseconds of this process (time.process_time: what a test worker pays): the first build of a
process (keys loaded, identities made) and the median of `runs` later builds, each with a different build number
so that nothing caches a whole sample. Writes into a temporary directory it deletes afterwards.
"""

from __future__ import annotations

import os
import sys

# bench/inspect.py is named like the stdlib module `inspect`; keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from publish.sandbox.sample_ipa import build_ipa  # noqa: E402
from publish.sandbox.sample_pkg import build_pkg  # noqa: E402

CASES: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
    ("build_ipa()", build_ipa, {}),
    ("build_ipa(watch_app=True)", build_ipa, {"watch_app": True}),
    ("build_ipa(pad_to=1 MiB)", build_ipa, {"pad_to": 1 << 20}),
    ("build_pkg()", build_pkg, {}),
    ("build_pkg(payload_format='pbzx')", build_pkg, {"payload_format": "pbzx"}),
    ("build_pkg(payload_format='xz')", build_pkg, {"payload_format": "xz"}),
    ("build_pkg(installer_certificate=None)", build_pkg, {"installer_certificate": None}),
    ("build_pkg(payload_padding=1 MiB)", build_pkg, {"payload_padding": 1 << 20}),
]


def cpu_ms(action: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    started = time.process_time()
    action(*args, **kwargs)
    return (time.process_time() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-samples-") as scratch:
        folder = Path(scratch)
        first = cpu_ms(build_ipa, folder / "first.ipa") + cpu_ms(build_pkg, folder / "first.pkg")
        print(f"first build_ipa() + build_pkg() of a process: {first:7.1f} ms CPU")
        total = 0.0
        for label, build, arguments in CASES:
            times = [cpu_ms(build, folder / f"{n}.out", build_number=str(n + 2), **arguments) for n in range(args.runs)]
            total += statistics.median(times)
            print(f"{label:40s} median {statistics.median(times):6.2f} ms CPU  (min {min(times):6.2f})")
        print(f"{'sum of medians':40s}        {total:6.2f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
