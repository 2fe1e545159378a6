"""CPU of what a run does outside HTTP, piece by piece (median of N rounds, in ms a call):

    .venv/bin/python bench/runpath.py [--rounds N]

- parse: publish.cli.parse of a `run` command line (the parser of the one command, its checks);
- load_flow: the TestFlight + App Store flow of bench/run_cpu.py (YAML, schema, checks, model);
- inspect+plan: inspect_binary of the sample IPA, then build_plan (its pre-flight included);
- state open+close: StateStore.open of a new state directory and of an existing one, then close;
- journal: an upload journal's start, reservation, two part flushes and commit (its atomic writes, fsyncs).

Figures are process CPU (time.process_time), so a shared machine's load does not count; the first call of each
is a warm-up (imports, caches of pure functions) and is not counted.
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
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from api_calls import APP_STORE, SUBMIT, TESTFLIGHT  # noqa: E402
from flow_harness import flow_document  # noqa: E402

from publish.cli import parse  # noqa: E402
from publish.ipa.binary import inspect_binary  # noqa: E402
from publish.plan import build_plan  # noqa: E402
from publish.sandbox.sample_ipa import build_ipa  # noqa: E402
from publish.spec import load_flow  # noqa: E402
from publish.state import StateStore  # noqa: E402
from publish.upload.journal import FileIdentity, UploadJournal, UploadKey  # noqa: E402


def _median_ms(call: Callable[[], object], rounds: int, repeat: int) -> float:
    call()
    figures = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            call()
        figures.append((time.process_time() - start) / repeat)
    return statistics.median(figures) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=40, help="calls a round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runpath-") as tmp:
        root = Path(tmp)
        (root / "AuthKey.p8").write_text("not read here\n")
        flow_path = root / "flow.yml"
        flow_path.write_text(flow_document(TESTFLIGHT + APP_STORE + SUBMIT))
        ipa = Path(build_ipa(root / "App.ipa", bundle_id="com.example.flow", version="1.0.0", build_number="1",
                             display_name="Flow App", uses_non_exempt_encryption=False))
        argv = ["run", str(flow_path), "--ipa", str(ipa), "--api-base-url", "http://127.0.0.1:9", "--state-dir",
                str(root / "state"), "--poll-interval", "0.001", "--result-json", str(root / "result.json")]
        flow = load_flow(flow_path)
        counter = iter(range(10**9))

        def fresh_state() -> None:
            StateStore.open(root / f"state-{next(counter)}").close()

        identity = FileIdentity.of(ipa)
        key = UploadKey(app_id="app-1", version="1.0.0", build_number="1", platform="IOS")
        operations = [{"method": "PUT", "url": f"https://storage.example/part-{n}", "offset": n, "length": 1}
                      for n in range(4)]

        def journal() -> None:
            upload = UploadJournal.open(root / f"journal-{next(counter)}", key)
            upload.start("bu-1", identity)
            upload.record_reservation("file-1", operations)
            upload.acknowledge("1")
            upload.flush()
            upload.mark_committed("0" * 32)
            upload.delete()

        existing = root / "state-existing"
        StateStore.open(existing).close()
        pieces: list[tuple[str, Callable[[], object]]] = [
            ("parse", lambda: parse(argv)),
            ("load_flow", lambda: load_flow(flow_path)),
            ("inspect+plan", lambda: build_plan(flow, inspect_binary(ipa))),
            ("state open+close (new)", fresh_state),
            ("state open+close (existing)", lambda: StateStore.open(existing).close()),
            ("journal", journal),
        ]
        for name, call in pieces:
            print(f"{name:28} {_median_ms(call, args.rounds, args.repeat):7.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
