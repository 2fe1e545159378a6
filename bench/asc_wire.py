"""CPU of one exchange through the client's real transport (`publish.asc.wire.RequestsTransport.send`), the part
of every App Store Connect call that is `requests` and urllib3, against a raw keep-alive server on loopback that
answers at once (its own CPU is on another thread and not counted).

    .venv/bin/python bench/asc_wire.py [--rounds 7] [--calls 600]

Three calls as the client makes them: a GET with a filter query, a plain GET, a POST with a JSON body; for a
simulator session (`trust_env` off) and one that reads the environment (proxies, netrc: Apple's). The figure is
the calling thread's CPU (time.thread_time) per exchange, the lowest of the rounds (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# bench/ holds scripts named like stdlib modules (inspect.py): it goes to the end of the path, the repository first.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path = [os.path.dirname(_BENCH), os.path.join(os.path.dirname(_BENCH), "tests"), *(p for p in sys.path if os.path.abspath(p or ".") != _BENCH), _BENCH]

from asc_wire_server import RecordingServer  # noqa: E402

from publish.asc.session import USER_AGENT, new_session  # noqa: E402
from publish.asc.wire import RequestsTransport, WireRequest  # noqa: E402

BODY = b'{"data":{"type":"apps","id":"1","attributes":{"bundleId":"com.example.app"}},"links":{"self":"x"}}'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args()
    server = RecordingServer(BODY, extra_headers=b"Date: Tue, 01 Dec 2026 17:00:00 GMT\r\n"
                                                 b"X-Rate-Limit: user-hour-lim:3600;user-hour-rem:3500;\r\n")
    base = f"http://127.0.0.1:{server.port}"
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "Authorization": "Bearer " + "e" * 280}
    calls = [
        WireRequest("GET", f"{base}/v1/apps", (("filter[bundleId]", "com.example.app"), ("limit", "200")), headers),
        WireRequest("GET", f"{base}/v1/builds/8d3a3ad6-4f1e-4c35-9a4b-9f1ad2b8e2c1", (), headers),
        WireRequest("POST", f"{base}/v1/buildUploads", (), {**headers, "Content-Type": "application/json"},
                    b'{"data":{"type":"buildUploads","attributes":{"cfBundleVersion":"42","platform":"IOS"}}}'),
    ]
    for label, loopback in (("simulator session (trust_env off)", True), ("session reading the environment", False)):
        transport = RequestsTransport(new_session(loopback=loopback))
        best = float("inf")
        for _ in range(max(1, args.rounds)):
            started = time.thread_time()
            for index in range(args.calls):
                transport.send(calls[index % len(calls)])
            best = min(best, (time.thread_time() - started) / args.calls)
        transport.close()
        server.requests.clear()
        print(f"{label}: {best * 1e6:.0f} us CPU an exchange (lowest of {args.rounds} rounds of {args.calls})")
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
