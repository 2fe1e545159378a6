"""What a part PUT sends did not change when `PartUploader.put` stopped calling `Session.request` and began going
out through `publish.asc.wire.send_prepared` (the one way the client's calls go too): a raw loopback server records
every byte each PUT arrives with, and the same parts are sent both ways on twin sessions, the old way being the
exact `session.request(...)` call `put` made before. Request line, headers (names, values, order) and the streamed
body (one part within a chunk, one of several 1 MiB chunks) must be byte for byte the same, also when the
environment steers the PUT: a proxy from HTTP_PROXY (the absolute-form request line), NO_PROXY bypassing it. One
difference is meant: a ~/.netrc entry for the storage's host no longer adds Basic credentials (requests' own rule
did), because a presigned URL's signature is the only credential a part carries."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
from asc_wire_server import RecordingServer

from publish.upload.parts import CHUNK_SIZE, FileRange, PartOperation, PartUploader, configure_part_session

TIMEOUT = (10.0, 300.0)
SIGNED = ("?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261201%2Fus-east-1%2Fs3%2Faws4_request"
          "&X-Amz-Date=20261201T180000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=0a1b2c3d")
ENVIRONMENT = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY",
               "HTTPS_PROXY")


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer(b"")
    yield recording
    recording.close()


@pytest.fixture
def fd(tmp_path: Path) -> Iterator[int]:
    path = tmp_path / "App.ipa"
    path.write_bytes(random.Random(3).randbytes(CHUNK_SIZE * 2 + 70_000))
    descriptor = os.open(path, os.O_RDONLY)
    yield descriptor
    os.close(descriptor)


def parts(base: str) -> list[PartOperation]:
    return [
        PartOperation(offset=0, length=65_536, part_number=1, url=f"{base}/blob/tok/1{SIGNED}",
                      headers=(("Content-Type", "application/octet-stream"),)),
        # several 1 MiB chunks, and headers of every kind the reservation may list (a User-Agent of its own too)
        PartOperation(offset=65_536, length=CHUNK_SIZE * 2 + 4_464, part_number=2,
                      url=f"{base}/blob/tok/2?Expires=1800000000&Signature=abc%2Bdef",
                      headers=(("Content-Type", "application/octet-stream"), ("x-amz-meta-part", "2"),
                               ("User-Agent", "storage-asked/1"), ("Content-Length", str(CHUNK_SIZE * 2 + 4_464)))),
        PartOperation(offset=CHUNK_SIZE * 2 + 70_000 - 1, length=1, part_number=3, url=f"{base}/blob/tok/3"),
    ]


def the_old_way(uploader: PartUploader, session: requests.Session, fd: int, op: PartOperation) -> int:
    """The call `PartUploader.put` made before it went out through `send_prepared`."""
    body = FileRange(fd, op.offset, op.length, buffer=bytearray(CHUNK_SIZE))
    response = session.request(op.method, op.url, data=body,  # type: ignore[arg-type]
                               headers=uploader.headers_for(op), timeout=TIMEOUT, allow_redirects=False, stream=True)
    try:
        response.raw.read()
        return response.status_code
    finally:
        response.close()


def the_new_way(uploader: PartUploader, session: requests.Session, fd: int, op: PartOperation) -> int:
    return uploader.put(fd, op).status


def received(server: RecordingServer, session: requests.Session, fd: int, base: str,
             send: Callable[[PartUploader, requests.Session, int, PartOperation], int]) -> list[bytes]:
    before = len(server.requests)
    uploader = PartUploader(session, timeout=TIMEOUT, sleep=lambda seconds: pytest.fail("a part was refused"))
    for op in parts(base):
        assert send(uploader, session, fd, op) == 200
    session.close()
    return server.requests[before:]


def both_ways(server: RecordingServer, fd: int, make_session: Callable[[], requests.Session], base: str) -> list[bytes]:
    old = received(server, make_session(), fd, base, the_old_way)
    new = received(server, make_session(), fd, base, the_new_way)
    assert len(old) == len(parts(base))
    assert new == old
    return new


def environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Only `variables` of the proxy settings, whatever the machine running the tests has."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def part_session(urls: list[str] | None = None) -> requests.Session:
    session = requests.Session()
    configure_part_session(session, pool_size=2, urls=urls or ())
    return session


def test_a_part_to_the_simulator_sends_the_same_bytes(server: RecordingServer, fd: int) -> None:
    base = f"http://127.0.0.1:{server.port}"
    sent = both_ways(server, fd, lambda: part_session([op.url for op in parts(base)]), base)
    with open(f"/proc/self/fd/{fd}", "rb") as file:
        content = file.read()
    head, _, body = sent[1].partition(b"\r\n\r\n")
    assert body == content[65_536:65_536 + CHUNK_SIZE * 2 + 4_464]  # the range, streamed whole
    assert head.startswith(b"PUT /blob/tok/2?Expires=1800000000&Signature=abc%2Bdef HTTP/1.1\r\n")
    assert b"Transfer-Encoding" not in head and b"\r\nContent-Length: %d" % (CHUNK_SIZE * 2 + 4_464) in head


def test_a_part_through_a_proxy_from_the_environment_gets_the_same_bytes(server: RecordingServer, fd: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    environment(monkeypatch, HTTP_PROXY=f"http://127.0.0.1:{server.port}")
    base = "http://storage.example.invalid"
    both_ways(server, fd, lambda: part_session([op.url for op in parts(base)]), base)
    assert server.requests[-1].startswith(b"PUT http://storage.example.invalid/blob/tok/3 HTTP/1.1\r\n")


def test_no_proxy_from_the_environment_acts_the_same_for_a_part(server: RecordingServer, fd: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy nobody listens on: the PUT fails unless NO_PROXY's bypass holds
    environment(monkeypatch, HTTP_PROXY=f"http://127.0.0.1:{unused_port()}", NO_PROXY="127.0.0.1")

    def trusting() -> requests.Session:
        session = part_session()  # no URLs given: the environment stays trusted
        assert session.trust_env
        return session

    both_ways(server, fd, trusting, f"http://127.0.0.1:{server.port}")


def test_a_netrc_entry_for_the_storage_adds_no_credential_to_a_presigned_part(
        server: RecordingServer, fd: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests fills an absent auth from ~/.netrc (the old way did that): a presigned URL's signature is the only
    credential a part may carry, so the new way sends no Authorization header whatever the machine's netrc says."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    environment(monkeypatch, NETRC=str(netrc))
    base = f"http://127.0.0.1:{server.port}"
    [op, *_] = parts(base)
    uploader = PartUploader(part_session(), timeout=TIMEOUT)
    the_old_way(uploader, part_session(), fd, op)
    assert b"\r\nAuthorization: Basic " in server.requests[-1]  # what requests does on its own
    the_new_way(uploader, part_session(), fd, op)
    sent = server.requests[-1]
    assert b"X-Amz-Signature=0a1b2c3d" in sent.split(b"\r\n", 1)[0]
    assert b"Authorization" not in sent and b"secret" not in sent


def test_a_part_does_not_go_through_session_request(server: RecordingServer, fd: int) -> None:
    base = f"http://127.0.0.1:{server.port}"
    session = part_session([f"{base}/"])

    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("Session.request was called")

    session.request = refused  # type: ignore[method-assign]
    [op, *_] = parts(base)
    assert PartUploader(session).put(fd, op).status == 200
    assert server.requests[-1].startswith(b"PUT /blob/tok/1?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
