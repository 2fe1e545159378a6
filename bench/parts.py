"""CPU of one part PUT on the client's side (prints figures; not a test).

`PartUploader.put` of a 64 KiB part (the size the tests' simulator reserves) to a raw loopback server that records
the request and answers 200 at once (tests/asc_wire_server.py), so nearly all the CPU measured is the client's
pipeline: preparing the request, streaming the FileRange, reading the answer. The figure is the CPU of the thread
that sends (`time.thread_time`, so the server's threads do not count), lowest of `--rounds`, per part. Two
sessions: the simulator's (loopback, `trust_env` off) and one that trusts the environment (a non-loopback URL
reached through HTTP_PROXY pointing at the same server, so requests' environment lookups are paid as for Apple's).

Usage: .venv/bin/python bench/parts.py [--parts 400] [--rounds 5] [--size 65536]
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

REPO = _HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from asc_wire_server import RecordingServer  # noqa: E402

from publish.upload.parts import PartOperation, PartUploader, configure_part_session  # noqa: E402


def per_part(base: str, fd: int, size: int, parts: int, rounds: int) -> float:
    ops = [PartOperation(offset=0, length=size, part_number=n + 1,
                         url=f"{base}/blob/tok/{n + 1}?Expires=1800000000&Signature=abcdef0123456789",
                         headers=(("Content-Type", "application/octet-stream"),)) for n in range(parts)]
    best = float("inf")
    for _ in range(rounds):
        session = requests.Session()
        configure_part_session(session, pool_size=1, urls=[op.url for op in ops])
        uploader = PartUploader(session)
        uploader.put(fd, ops[0])  # the connection is opened outside the measure
        started = time.thread_time()
        for op in ops:
            uploader.put(fd, op)
        best = min(best, (time.thread_time() - started) / parts)
        session.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=64 * 1024)
    args = parser.parse_args()
    server = RecordingServer(b"")
    with tempfile.TemporaryFile() as file:
        file.write(os.urandom(args.size))
        file.flush()
        fd = file.fileno()
        loopback = per_part(f"http://127.0.0.1:{server.port}", fd, args.size, args.parts, args.rounds)
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "NO_PROXY", "ALL_PROXY", "HTTPS_PROXY"):
            os.environ.pop(name, None)
        os.environ["HTTP_PROXY"] = f"http://127.0.0.1:{server.port}"
        proxied = per_part("http://storage.example.invalid", fd, args.size, args.parts, args.rounds)
    server.close()
    print(f"part PUT of {args.size} bytes, client thread CPU per part (lowest of {args.rounds} x {args.parts}):")
    print(f"  loopback (trust_env off):  {loopback * 1e6:7.1f} us")
    print(f"  through HTTP_PROXY (env):  {proxied * 1e6:7.1f} us")


if __name__ == "__main__":
    main()
