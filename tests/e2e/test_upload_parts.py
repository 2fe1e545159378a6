"""Part uploads over real loopback HTTP (a tiny PUT server): exact headers, streamed ranges, retries, 403."""

from __future__ import annotations

import hashlib
import http.server
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from publish.errors import RemoteError
from publish.upload.parts import (
    FileRange,
    PartOperation,
    PartUploader,
    PartUploadError,
    PresignedUrlRejected,
    SourceFileChanged,
    configure_part_session,
    validate_operations,
)


class PartServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict] = []
        self.script: list[tuple] = []  # answers to give before succeeding: ("status", code, headers) | ("drop",)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        server: PartServer = self.server  # type: ignore[assignment]
        with server.lock:
            action = server.script.pop(0) if server.script else ("status", 200, {})
        length = int(self.headers.get("Content-Length", "0"))
        if action[0] == "drop":
            self.rfile.read(length // 2)
            self.connection.shutdown(2)
            self.close_connection = True
            return
        body = self.rfile.read(length)
        with server.lock:
            server.received.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        _, status, headers = action
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server() -> Iterator[PartServer]:
    srv = PartServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "App.ipa"
    path.write_bytes(random.Random(1).randbytes(300_000))
    return path


def _session(urls: list[str]) -> requests.Session:
    session = requests.Session()
    configure_part_session(session, pool_size=4, urls=urls)
    return session


def _op(url: str, offset: int, length: int, **kw: object) -> PartOperation:
    return PartOperation(offset=offset, length=length, url=url, **kw)  # type: ignore[arg-type]


def test_put_sends_exact_range_and_only_listed_headers(server: PartServer, data_file: Path) -> None:
    op = _op(f"{server.url}/blob/1?Signature=abc", 1000, 200_000, part_number=1,
             headers=(("Content-Type", "application/octet-stream"), ("x-amz-meta-x", "1")))
    seen: list[int] = []
    fd = os.open(data_file, os.O_RDONLY)
    try:
        result = PartUploader(_session([op.url])).put(fd, op, on_progress=seen.append)
    finally:
        os.close(fd)
    assert result.status == 200 and result.attempts == 1
    [got] = server.received
    assert got["body"] == data_file.read_bytes()[1000:201_000]
    names = {k.lower() for k in got["headers"]}
    assert names == {"host", "content-length", "content-type", "x-amz-meta-x"}
    assert got["headers"]["Content-Length"] == "200000"
    assert "authorization" not in names
    assert sum(seen) == 200_000


def test_retries_5xx_429_and_dropped_connections_then_succeeds(server: PartServer, data_file: Path) -> None:
    server.script = [("status", 503, {}), ("drop",), ("status", 429, {"Retry-After": "7"}), ("status", 500, {})]
    sleeps: list[float] = []
    progress: list[int] = []
    op = _op(f"{server.url}/blob/2", 0, 300_000)
    fd = os.open(data_file, os.O_RDONLY)
    try:
        result = PartUploader(_session([op.url]), sleep=sleeps.append, random=random.Random(0)).put(
            fd, op, on_progress=progress.append)
    finally:
        os.close(fd)
    assert result.attempts == 5
    assert len(sleeps) == 4 and sleeps[2] == 7.0  # Retry-After honoured
    assert server.received[-1]["body"] == data_file.read_bytes()
    assert sum(progress) == 300_000  # failed attempts are taken back


def test_gives_up_after_max_attempts_without_leaking_the_signature(server: PartServer, data_file: Path) -> None:
    server.script = [("status", 500, {})] * 3
    op = _op(f"{server.url}/blob/3?Signature=SECRET-SIG", 0, 10)
    fd = os.open(data_file, os.O_RDONLY)
    try:
        with pytest.raises(PartUploadError) as caught:
            PartUploader(_session([op.url]), sleep=lambda s: None, max_attempts=3).put(fd, op)
    finally:
        os.close(fd)
    assert "3 times" in str(caught.value) and "SECRET-SIG" not in str(caught.value)


def test_403_means_the_presigned_url_must_be_renewed(server: PartServer, data_file: Path) -> None:
    server.script = [("status", 403, {})]
    op = _op(f"{server.url}/blob/4", 0, 10)
    fd = os.open(data_file, os.O_RDONLY)
    try:
        with pytest.raises(PresignedUrlRejected) as caught:
            PartUploader(_session([op.url]), sleep=lambda s: None).put(fd, op)
    finally:
        os.close(fd)
    assert caught.value.operation == op


def test_other_4xx_is_fatal_at_once(server: PartServer, data_file: Path) -> None:
    server.script = [("status", 400, {})]
    op = _op(f"{server.url}/blob/5", 0, 10)
    fd = os.open(data_file, os.O_RDONLY)
    try:
        with pytest.raises(PartUploadError, match="HTTP 400"):
            PartUploader(_session([op.url]), sleep=lambda s: pytest.fail("no retry")).put(fd, op)
    finally:
        os.close(fd)


def test_file_range_reads_bounded_chunks(data_file: Path) -> None:
    fd = os.open(data_file, os.O_RDONLY)
    try:
        reader = FileRange(fd, 5, 250_000, chunk_size=64 * 1024)
        assert len(reader) == 250_000
        chunks = []
        while chunk := reader.read(1 << 30):
            assert len(chunk) <= 64 * 1024
            chunks.append(chunk)
    finally:
        os.close(fd)
    assert b"".join(chunks) == data_file.read_bytes()[5:250_005]


def test_file_range_notices_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "short.ipa"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = FileRange(fd, 50, 100)
        # the short pread itself is the sign (not a later empty read): nothing of a part that cannot be whole is sent
        with pytest.raises(SourceFileChanged, match="shrank while it was being uploaded"):
            reader.read()
        assert reader.bytes_read == 0
    finally:
        os.close(fd)


def _ops(*ranges: tuple[int, int], method: str = "PUT") -> list[dict]:
    return [{"method": method, "url": f"https://blob.example/p{i}?Expires=1", "offset": o, "length": n,
             "partNumber": i + 1} for i, (o, n) in enumerate(ranges)]


def test_validate_accepts_an_exact_cover_in_any_order() -> None:
    ops = validate_operations(_ops((50, 50), (0, 50)), 100)
    assert [op.offset for op in ops] == [0, 50]
    assert validate_operations([{"url": "https://b/x", "offset": 0, "length": 5, "method": ""}], 5)[0].method == "PUT"


@pytest.mark.parametrize(
    ("raw", "size", "message"),
    [
        ([], 10, "no upload operations"),
        (_ops((0, 40), (50, 50)), 100, "bytes 40-49"),
        (_ops((0, 60), (50, 50)), 100, "overlapping"),
        (_ops((0, 50)), 100, "covers 50 bytes but the file has 100"),
        (_ops((0, 0), (0, 10)), 10, "invalid length"),
        (_ops((0, 10), method="GET"), 10, "method 'GET'"),
        ([{"offset": 0, "length": 10}], 10, "no usable URL"),
    ],
)
def test_validate_rejects_reservations_that_do_not_cover_the_file(raw: list, size: int, message: str) -> None:
    with pytest.raises(RemoteError, match=message):
        validate_operations(raw, size)


def test_expiry_from_expiration_or_url() -> None:
    assert _op("https://b/x?Expires=1700000000", 0, 1).expires_at() == 1700000000
    op = _op("https://b/x", 0, 1, expiration="2026-06-01T12:00:00Z")
    assert op.expires_at() == 1780315200
    assert op.safe_url == "https://b/x" and _op("https://b/x?Signature=s", 0, 1).safe_url == "https://b/x"


def test_md5_of_streamed_parts_matches(server: PartServer, data_file: Path) -> None:
    raw = [{"url": f"{server.url}/blob/{i}", "offset": i * 100_000, "length": 100_000, "partNumber": i + 1}
           for i in range(3)]
    ops = validate_operations(raw, 300_000)
    session = _session([o.url for o in ops])
    fd = os.open(data_file, os.O_RDONLY)
    try:
        for op in reversed(ops):
            PartUploader(session).put(fd, op)
    finally:
        os.close(fd)
    body = b"".join(r["body"] for r in sorted(server.received, key=lambda r: r["path"]))
    assert hashlib.md5(body).hexdigest() == hashlib.md5(data_file.read_bytes()).hexdigest()


def test_waits_of_one_part_are_bounded_in_total(server: PartServer, data_file: Path) -> None:
    # each Retry-After is acceptable on its own (200 s <= 300 s), but eight of them would be 27 minutes
    server.script = [("status", 503, {"Retry-After": "200"})] * 8
    sleeps: list[float] = []
    op = _op(f"{server.url}/blob/9", 0, 1000)
    fd = os.open(data_file, os.O_RDONLY)
    try:
        with pytest.raises(PartUploadError, match="failed 5 times"):
            PartUploader(_session([op.url]), sleep=sleeps.append).put(fd, op)
    finally:
        os.close(fd)
    assert sleeps == [200.0] * 4 and sum(sleeps) <= PartUploader.MAX_TOTAL_WAIT
