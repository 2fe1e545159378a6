"""Upload benchmark against the App Store Connect simulator on loopback (prints figures; not a test).

  1. Uncapped: the engine's upload-phase throughput (first part PUT sent -> last part answered) vs `curl -T` PUTting
     the same bytes to a fresh reservation's part URLs of the same simulator, with the same concurrency and the
     same headers, in the same run. Target: ratio >= 0.8.
  2. Per-connection cap of 20 MiB/s in the simulator: default concurrency vs concurrency 1. Target: >= 5x.
  3. Peak RSS of a child process that does only the upload, for a 256 MiB and a 1 GiB IPA (os.wait4 gives the
     child's own rusage). Target: < 100 MB and within 10 % of each other.

Usage: .venv/bin/python bench/upload.py [--size 1GiB] [--capped-size 256MiB] [--rounds 2] [--tmp DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Running `python bench/upload.py` puts bench/ first on sys.path, where bench/inspect.py would shadow the standard
# library's inspect module: take it off before importing anything else.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Only what the upload child needs is imported here; the simulator, the IPA generator and key generation are
# imported by the parent alone, so the child's peak RSS is the upload's.
from publish.asc import ApiKey, AppStoreConnect  # noqa: E402
from publish.upload.engine import BuildUploader  # noqa: E402
from publish.upload.parts import validate_operations  # noqa: E402

BUNDLE_ID = "com.example.bench"
KEY_ID = "BENCHKEY01"
ISSUER_ID = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"
MiB = 1024 * 1024


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]i?B?)?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 1GiB, 256MiB, 1000000)")
    number = float(match.group(1))
    unit = (match.group(2) or "").upper()[:1]
    return int(number * {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}[unit])


class TimingSession(requests.Session):
    """Times the upload phase: from the first part request to the commit (PATCH buildUploadFiles), which is sent as
    soon as every part is acknowledged and the whole-file MD5 is ready."""

    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None
        self.last: float | None = None
        self.committed: float | None = None
        self.lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Every part goes out through `send` (publish/asc/wire.py `send_prepared` prepares it), not `request`.
        with self.lock:
            if self.first is None:
                self.first = time.perf_counter()
        response = super().send(request, **kwargs)
        with self.lock:
            self.last = time.perf_counter()
        return response

    def on_call(self, method: str, url: str, body: Any) -> None:
        if method == "PATCH" and "/v1/buildUploadFiles/" in url and self.committed is None:
            self.committed = time.perf_counter()

    @property
    def phase(self) -> float:
        assert self.first is not None and self.committed is not None
        return self.committed - self.first

    @property
    def parts_phase(self) -> float:
        """First part sent -> last part answered (without waiting for the checksum)."""
        assert self.first is not None and self.last is not None
        return self.last - self.first


class Bench:
    def __init__(self, tmp: Path, *, part_size: int, cap: int | None = None) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from publish.sandbox.faults import Faults
        from publish.sandbox.server import SandboxServer

        self.tmp = tmp
        private = ec.generate_private_key(ec.SECP256R1())
        self.private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode()
        public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.server = SandboxServer(processing_polls=1, part_size=part_size,
                                    faults=Faults(bandwidth_bytes_per_sec=cap) if cap else None)
        self.server.start()
        self.server.register_key(KEY_ID, ISSUER_ID, public)
        self.app_id = self.server.add_app(BUNDLE_ID, "Bench App", sku="BENCH")
        self.key = ApiKey(key_id=KEY_ID, issuer_id=ISSUER_ID, private_key_pem=self.private_pem)
        self.next_build = 1
        self.last_parts = 0.0
        self.timing: TimingSession | None = None
        self.client = AppStoreConnect(self.key, base_url=self.server.url,
                                      on_call=lambda *call: self.timing.on_call(*call) if self.timing else None)

    def close(self) -> None:
        self.client.close()
        self.server.stop()

    def ipa(self, size: int) -> tuple[Path, str]:
        from publish.sandbox.sample_ipa import build_ipa

        number = str(self.next_build)
        self.next_build += 1
        path = self.tmp / f"Bench-{number}.ipa"
        build_ipa(path, bundle_id=BUNDLE_ID, version="1.0.0", build_number=number, display_name="Bench",
                  pad_to=size)
        return path, number

    def upload(self, path: Path, number: str, *, concurrency: int = 6) -> tuple[float, float, Any]:
        """(upload-phase seconds, whole upload() seconds, result); the parts-only time is kept in last_parts."""
        session = self.timing = TimingSession()
        uploader = BuildUploader(self.client, state_dir=self.tmp / "state", concurrency=concurrency,
                                 part_session_factory=lambda: session, poll_interval=0.05)
        started = time.perf_counter()
        result = uploader.upload(path, app_id=self.app_id, bundle_id=BUNDLE_ID, version="1.0.0",
                                 build_number=number, wait_for_processing=False)
        whole = time.perf_counter() - started
        self.timing = None
        self.last_parts = session.parts_phase
        return session.phase, whole, result

    def curl(self, path: Path, *, concurrency: int = 6) -> float:
        """PUT the file's parts with curl to a fresh reservation; returns the upload-phase seconds."""
        size = path.stat().st_size
        upload = self.client.create_build_upload(self.app_id, version="9.9.9", build_number=str(self.next_build))
        self.next_build += 1
        item = self.client.create_build_upload_file(upload.id, file_name=path.name, file_size=size)
        operations = validate_operations(item.attr("uploadOperations"), size)
        part_dir = self.tmp / "curl-parts"
        part_dir.mkdir(exist_ok=True)
        files = []
        with path.open("rb") as source:  # split beforehand (not timed): curl -T sends whole files
            for op in operations:
                part = part_dir / f"part-{op.offset}"
                source.seek(op.offset)
                with part.open("wb") as out:
                    remaining = op.length
                    while remaining:
                        chunk = source.read(min(MiB, remaining))
                        out.write(chunk)
                        remaining -= len(chunk)
                files.append((op, part))

        def put(entry: tuple[Any, Path]) -> str:
            op, part = entry
            argv = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*",
                    "-X", op.method, "-T", str(part), "-H", "Expect:"]
            for name, value in op.headers:
                argv += ["-H", f"{name}: {value}"]
            argv.append(op.url)
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            codes = list(pool.map(put, files))
        elapsed = time.perf_counter() - started
        assert all(code == "200" for code in codes), codes
        shutil.rmtree(part_dir)
        self.client.delete_build_upload(upload.id)
        return elapsed


def rate(size: int, seconds: float) -> str:
    return f"{size / MiB / seconds:7.1f} MiB/s"


def bench_uncapped(tmp: Path, size: int, rounds: int, part_size: int, concurrency: int) -> None:
    print(f"1. Uncapped: {size / MiB:.0f} MiB IPA, simulator part size {part_size / MiB:.0f} MiB, "
          f"concurrency {concurrency}, {rounds} round(s)")
    bench = Bench(tmp, part_size=part_size)
    try:
        ours: list[float] = []
        ours_parts: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            path, number = bench.ipa(size)
            phase, whole, result = bench.upload(path, number, concurrency=concurrency)
            assert result.bytes_sent == size
            ours.append(phase)
            ours_parts.append(bench.last_parts)
            print(f"   engine: upload phase {phase:6.2f} s = {rate(size, phase)} (first PUT to commit, MD5 included; "
                  f"parts alone {bench.last_parts:.2f} s; whole upload() with API calls and simulated processing "
                  f"{whole:.2f} s)")
            seconds = bench.curl(path, concurrency=concurrency)
            theirs.append(seconds)
            print(f"   curl  : upload phase {seconds:6.2f} s = {rate(size, seconds)}")
            path.unlink()
        best_ours, best_curl = min(ours), min(theirs)
        print(f"   => engine/curl throughput ratio (best of each): {best_curl / best_ours:.2f} (target >= 0.8); "
              f"parts alone, without waiting for the MD5: {best_curl / min(ours_parts):.2f}")
    finally:
        bench.close()


def bench_capped(tmp: Path, size: int, part_size: int, concurrency: int, cap: int) -> None:
    print(f"2. Capped at {cap / MiB:.0f} MiB/s per connection: {size / MiB:.0f} MiB IPA, part size "
          f"{part_size / MiB:.0f} MiB")
    bench = Bench(tmp, part_size=part_size, cap=cap)
    try:
        times = {}
        for workers in (concurrency, 1):
            path, number = bench.ipa(size)
            phase, _, _ = bench.upload(path, number, concurrency=workers)
            times[workers] = phase
            print(f"   concurrency {workers}: {phase:6.2f} s = {rate(size, phase)}")
            path.unlink()
        print(f"   => concurrency {concurrency} vs 1: {times[1] / times[concurrency]:.2f}x (target >= 5x)")
    finally:
        bench.close()


def bench_rss(tmp: Path, sizes: list[int], part_size: int, concurrency: int) -> None:
    print(f"3. Peak RSS of a child process doing only the upload (part size {part_size / MiB:.0f} MiB, "
          f"concurrency {concurrency})")
    bench = Bench(tmp, part_size=part_size)
    key_file = tmp / "AuthKey.p8"
    key_file.write_text(bench.private_pem)
    try:
        baseline = _child_rss([sys.executable, __file__, "--child-baseline"])[0]
        print(f"   baseline (interpreter + imports, no upload): {baseline / 1024:6.1f} MB")
        peaks = []
        for size in sizes:
            path, number = bench.ipa(size)
            rss, output = _child_rss([sys.executable, __file__, "--child-upload", "--url", bench.server.url,
                                      "--key-file", str(key_file), "--app-id", bench.app_id, "--ipa", str(path),
                                      "--build", number, "--state-dir", str(tmp / "state"),
                                      "--concurrency", str(concurrency)])
            result = json.loads(output)
            assert result["bytes_sent"] == size, result
            peaks.append(rss)
            print(f"   {size / MiB:6.0f} MiB IPA: peak RSS {rss / 1024:6.1f} MB (upload phase "
                  f"{result['phase_s']:.2f} s)")
            path.unlink()
        spread = (max(peaks) - min(peaks)) / min(peaks) * 100
        print(f"   => max {max(peaks) / 1024:.1f} MB (target < 100 MB); spread {spread:.1f} % (target <= 10 %)")
    finally:
        bench.close()


# A process's peak RSS (ru_maxrss) includes the image it was forked from until it calls exec, so a child forked
# straight from this (large) process would report at least this process's size. The child is therefore started
# by a minimal launcher (no imports beyond os/subprocess) that reports its own child's rusage from os.wait4.
_LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def _child_rss(argv: list[str]) -> tuple[int, str]:
    """Run a child; return its own peak RSS in KiB and its stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        completed = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, report.name, *argv], stdout=subprocess.PIPE,
                                   text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
        maxrss, code = (int(v) for v in report.read().split())
    if code != 0:
        raise SystemExit(f"child {argv[2]} failed with exit code {code}")
    return maxrss, completed.stdout


def child_upload(args: argparse.Namespace) -> None:
    key = ApiKey(key_id=KEY_ID, issuer_id=ISSUER_ID, private_key_pem=Path(args.key_file).read_text())
    session = TimingSession()
    with AppStoreConnect(key, base_url=args.url, on_call=session.on_call) as client:
        uploader = BuildUploader(client, state_dir=Path(args.state_dir), concurrency=args.concurrency,
                                 part_session_factory=lambda: session, poll_interval=0.05)
        result = uploader.upload(args.ipa, app_id=args.app_id, bundle_id=BUNDLE_ID, version="1.0.0",
                                 build_number=args.build, wait_for_processing=False)
    print(json.dumps({"bytes_sent": result.bytes_sent, "phase_s": session.phase}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=1024 * MiB, help="IPA size for 1 and 3 (default 1GiB)")
    parser.add_argument("--capped-size", type=parse_size, default=256 * MiB, help="IPA size for 2 (256MiB)")
    parser.add_argument("--rss-small", type=parse_size, default=256 * MiB, help="smaller IPA for 3 (256MiB)")
    parser.add_argument("--part-size", type=parse_size, default=64 * MiB,
                        help="simulator part size for 1 and 3 (64MiB, the simulator's default)")
    parser.add_argument("--capped-part-size", type=parse_size, default=4 * MiB,
                        help="simulator part size for 2 (4MiB: enough parts to keep every connection busy)")
    parser.add_argument("--cap", type=parse_size, default=20 * MiB, help="per-connection cap for 2 (20MiB)")
    parser.add_argument("--concurrency", type=int, default=6, help="the engine's default: 6")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 1 (best of each is compared)")
    parser.add_argument("--only", choices=("1", "2", "3"), action="append", help="run only these parts")
    parser.add_argument("--tmp", type=Path, default=None, help="directory for the generated IPAs")
    parser.add_argument("--child-upload", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--key-file", "--app-id", "--ipa", "--build", "--state-dir"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_baseline:
        return
    if args.child_upload:
        args.concurrency = int(args.concurrency)
        child_upload(args)
        return
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for figure 1")
    only = set(args.only or ("1", "2", "3"))
    with tempfile.TemporaryDirectory(prefix="bench-upload-", dir=args.tmp) as directory:
        tmp = Path(directory)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, curl "
              f"{subprocess.run(['curl', '--version'], capture_output=True, text=True).stdout.split()[1]}")
        if "1" in only:
            bench_uncapped(tmp, args.size, args.rounds, args.part_size, args.concurrency)
        if "2" in only:
            bench_capped(tmp, args.capped_size, args.capped_part_size, args.concurrency, args.cap)
        if "3" in only:
            bench_rss(tmp, [args.rss_small, args.size], args.part_size, args.concurrency)


if __name__ == "__main__":
    main()
