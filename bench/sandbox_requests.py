"""CPU one simulator exchange costs (client and server in this one process, as in the test suite), for a few
representative calls, over a raw http.client keep-alive connection with one bearer token (as a client reuses it).

    .venv/bin/python bench/sandbox_requests.py [rounds]

Figures are process CPU (user+sys, every thread) per request, the lowest of three runs of `rounds` requests each;
then the CPU of reading one request head (request line and headers, as requests sends them) in memory, by
http.server's parse_request and by the simulator's (publish/sandbox/request_head.py).
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (inspect.py): take it off the path before importing anything.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import http.client  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from http.server import BaseHTTPRequestHandler  # noqa: E402

from publish.sandbox.request_head import PlainRequestHead  # noqa: E402
from publish.sandbox.server import SandboxServer  # noqa: E402

KEY_ID = "BENCH1"
ISSUER = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"


def _token(private_key: ec.EllipticCurvePrivateKey) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "iat": now, "exp": now + 900, "aud": "appstoreconnect-v1"}, private_key,
                      algorithm="ES256", headers={"kid": KEY_ID, "typ": "JWT"})


class _Client:
    def __init__(self, server: SandboxServer, bearer: str) -> None:
        host, _, port = server.url.removeprefix("http://").rpartition(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        self.headers = {"Authorization": f"Bearer {bearer}"}

    def call(self, method: str, path: str, body: Any = None) -> int:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        response.read()
        return response.status


def _cpu() -> float:
    return time.process_time()


def measure(name: str, call: Callable[[int], int], expected: int, rounds: int) -> None:
    best = float("inf")
    counter = 0
    for _ in range(3):
        start = _cpu()
        for _ in range(rounds):
            counter += 1
            status = call(counter)
            if status != expected:
                raise SystemExit(f"{name}: status {status}, expected {expected}")
        best = min(best, (_cpu() - start) / rounds)
    print(f"{name:<44} {best * 1000:6.3f} ms CPU per request")


def measure_head(name: str, handler_class: type[BaseHTTPRequestHandler], rounds: int) -> None:
    head = (b"Host: 127.0.0.1:40000\r\nUser-Agent: python-requests/2.32\r\nAccept-Encoding: gzip, deflate\r\n"
            b"Accept: application/json\r\nConnection: keep-alive\r\nAuthorization: Bearer " + b"x" * 260 + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 120\r\n\r\n")
    best = float("inf")
    for _ in range(3):
        start = _cpu()
        for _ in range(rounds):
            handler: Any = handler_class.__new__(handler_class)
            handler.rfile, handler.raw_requestline = io.BytesIO(head), b"GET /v1/builds?limit=200 HTTP/1.1\r\n"
            if not handler.parse_request() or len(handler.headers) != 8:
                raise SystemExit(f"{name}: the head did not parse")
        best = min(best, (_cpu() - start) / rounds)
    print(f"{name:<44} {best * 1_000_000:6.1f} us CPU per head")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with SandboxServer(rate_limit_per_hour=10**9) as server:
        server.register_key(KEY_ID, ISSUER, public_pem)
        app_id = server.add_app("com.example.bench", "Bench")
        build_id = ""
        for number in range(1, 6):
            build_id = server.add_build(app_id, "1.0.0", str(number))
        client = _Client(server, _token(private_key))
        measure("GET /v1/apps/{id}", lambda _: client.call("GET", f"/v1/apps/{app_id}"), 200, rounds)
        measure("GET /v1/builds?filter[app]&include=preRelease",
                lambda _: client.call("GET", f"/v1/builds?filter[app]={app_id}&include=preReleaseVersion"),
                200, rounds)

        def post_upload(counter: int) -> int:
            return client.call("POST", "/v1/buildUploads", {"data": {
                "type": "buildUploads",
                "attributes": {"cfBundleShortVersionString": "2.0.0", "cfBundleVersion": str(counter),
                               "platform": "IOS"},
                "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})

        measure("POST /v1/buildUploads", post_upload, 201, max(1, rounds // 3))

        def patch_build(counter: int) -> int:
            return client.call("PATCH", f"/v1/builds/{build_id}", {"data": {
                "type": "builds", "id": build_id, "attributes": {"usesNonExemptEncryption": counter % 2 == 0}}})

        measure("PATCH /v1/builds/{id}", patch_build, 200, rounds)
        print(f"exchanges recorded: {len(server.exchanges)}")
    measure_head("request head: http.server's parse_request", BaseHTTPRequestHandler, rounds * 10)
    measure_head("request head: the simulator's", PlainRequestHead, rounds * 10)


if __name__ == "__main__":
    main()
