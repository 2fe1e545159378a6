"""CPU of preparing one App Store Connect call (`publish.asc.wire.send_prepared` up to `Session.send`, which is
stubbed here so no socket is involved): the client's own share of an exchange, apart from requests' adapter and
urllib3 (bench/asc_wire.py measures the whole exchange).

    .venv/bin/python bench/asc_wire_prepare.py [--rounds 15] [--calls 3000]

The three calls of bench/asc_wire.py (a GET with a filter query, a plain GET, a POST with a JSON body) on a
simulator session (`trust_env` off). The figure is the calling thread's CPU (time.thread_time) per call, the
lowest of the rounds (the machine is shared). Run it on two checkouts to compare them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

# bench/ holds scripts named like stdlib modules (inspect.py): it goes to the end of the path, the repository first.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path = [os.path.dirname(_BENCH), *(p for p in sys.path if os.path.abspath(p or ".") != _BENCH), _BENCH]

from publish.asc.session import USER_AGENT, new_session  # noqa: E402
from publish.asc.wire import send_prepared  # noqa: E402

BASE = "http://127.0.0.1:49152"
HEADERS = {"Accept": "application/json", "User-Agent": USER_AGENT, "Authorization": "Bearer " + "e" * 280}
CALLS: list[tuple[str, str, tuple[tuple[str, str], ...], dict[str, str], bytes | None]] = [
    ("GET", f"{BASE}/v1/apps", (("filter[bundleId]", "com.example.app"), ("limit", "200")), HEADERS, None),
    ("GET", f"{BASE}/v1/builds/8d3a3ad6-4f1e-4c35-9a4b-9f1ad2b8e2c1", (), HEADERS, None),
    ("POST", f"{BASE}/v1/buildUploads", (), {**HEADERS, "Content-Type": "application/json"},
     b'{"data":{"type":"buildUploads","attributes":{"cfBundleVersion":"42","platform":"IOS"}}}'),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    session = new_session(loopback=True)

    def prepared_only(prepared: Any, **kwargs: Any) -> Any:
        return prepared

    session.send = prepared_only  # type: ignore[method-assign]
    best = float("inf")
    for _ in range(max(1, args.rounds)):
        started = time.thread_time()
        for index in range(args.calls):
            method, url, params, headers, body = CALLS[index % len(CALLS)]
            send_prepared(session, method, url, params=params, headers=headers, body=body, timeout=(10, 60))
        best = min(best, (time.thread_time() - started) / args.calls)
    print(f"preparing a call (simulator session): {best * 1e6:.1f} us CPU (lowest of {args.rounds} rounds of "
          f"{args.calls})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
