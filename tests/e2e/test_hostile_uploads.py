"""Hostile upload operations and part storage: parts outside the file or overlapping, part URLs over plain http to
other hosts (the IPA would travel in clear text, or to a cloud metadata service), a 503 asking to wait ten hours,
a storage with a bad certificate, an IPA that shrinks while it uploads. Each is refused before a byte is sent, or
fails at once with the cause named - never retried for minutes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from figures import Tally, report
from hostile_server import HostileServer, self_signed_tls
from publish.errors import InputError, RemoteError
from publish.upload.parts import PartOperation, PartUploader, PartUploadError, SourceFileChanged, validate_operations

TALLY = Tally("hostile uploads", "refused or failed at once with the cause named")
SIZE = 1000


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report(request.config, TALLY)


def ops(*parts: tuple[int, int], url: str = "https://storage.example.com/p") -> list[dict]:
    return [{"method": "PUT", "url": f"{url}{i}?Expires=1", "offset": o, "length": n, "partNumber": i + 1}
            for i, (o, n) in enumerate(parts)]


# Each case's operations are listed when its test runs (a callable): made here, "too many" built its 10001
# operations in every xdist worker while the tests were collected.
REFUSED: dict[str, tuple[Callable[[], list[dict]], str]] = {
    "plain http to a named host": (lambda: ops((0, SIZE), url="http://uploads.example.com/p"), "plain http:// to "
                                   "uploads.example.com"),
    "plain http to a private address": (lambda: ops((0, SIZE), url="http://10.1.2.3/p"), "plain http:// to 10.1.2.3"),
    "plain http to the metadata service": (lambda: ops((0, SIZE), url="http://169.254.169.254/latest/meta-data"),
                                           "plain http:// to 169.254.169.254"),
    "credentials in the url": (lambda: ops((0, SIZE), url="https://user:pw@storage.example.com/p"),
                               "user name or password"),
    "ftp": (lambda: ops((0, SIZE), url="ftp://storage.example.com/p"), "must be https://"),
    "outside the file": (lambda: ops((0, 600), (600, 600)), "outside the 1000-byte file"),
    "overlapping": (lambda: ops((0, 600), (500, 500)), "bytes 500-599 are named twice"),
    "a gap": (lambda: ops((0, 400), (500, 500)), "bytes 400-499"),
    "too many": (lambda: ops(*[(i, 1) for i in range(10_001)]), "more than the 10000"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_bad_upload_operations_are_refused_before_sending(name: str) -> None:
    operations, said = REFUSED[name]
    raw = operations()
    ok = False
    try:
        with pytest.raises(RemoteError) as caught:
            validate_operations(raw, SIZE)
        assert said in str(caught.value), str(caught.value)
        ok = True
    finally:
        TALLY.record(ok)


def test_https_and_loopback_http_are_accepted() -> None:
    assert len(validate_operations(ops((0, SIZE)), SIZE)) == 1
    assert len(validate_operations(ops((0, SIZE), url="http://127.0.0.1:8080/p"), SIZE)) == 1
    assert len(validate_operations(ops((0, SIZE), url="http://localhost:8080/p"), SIZE)) == 1


@pytest.fixture
def ipa(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "App.ipa"
    path.write_bytes(os.urandom(SIZE))
    fd = os.open(path, os.O_RDONLY)
    try:
        yield path, fd
    finally:
        os.close(fd)


def _op(url: str) -> PartOperation:
    return PartOperation(offset=0, length=SIZE, url=f"{url}/part1?Expires=9999999999", part_number=1)


def test_a_503_asking_for_ten_hours_fails_at_once_naming_the_wait(ipa: tuple[Path, int]) -> None:
    ok = False
    try:
        sleeps: list[float] = []
        with HostileServer(lambda h: h.reply(503, b"busy", Retry_After="36000")) as server:
            uploader = PartUploader(requests.Session(), sleep=sleeps.append)
            with pytest.raises(PartUploadError) as caught:
                uploader.put(ipa[1], _op(server.url))
        assert sleeps == [] and len(server.requests) == 1
        assert "36000 s" in str(caught.value) and "run again later" in str(caught.value)
        ok = True
    finally:
        TALLY.record(ok)


def test_a_storage_with_a_bad_certificate_is_not_retried(ipa: tuple[Path, int]) -> None:
    ok = False
    try:
        sleeps: list[float] = []
        with HostileServer(lambda h: h.reply(200), tls=self_signed_tls()) as server:
            uploader = PartUploader(requests.Session(), sleep=sleeps.append)
            started = time.monotonic()
            with pytest.raises(PartUploadError) as caught:
                uploader.put(ipa[1], _op(server.url))
            assert time.monotonic() - started < 5
        assert sleeps == [] and "certificate" in str(caught.value).lower()
        assert "?Expires" not in str(caught.value)  # the presigned query is a credential
        ok = True
    finally:
        TALLY.record(ok)


def test_an_ipa_that_shrinks_while_it_uploads_is_named_at_once(ipa: tuple[Path, int]) -> None:
    ok = False
    try:
        path, fd = ipa
        sleeps: list[float] = []
        with HostileServer(lambda h: h.reply(200)) as server:
            uploader = PartUploader(requests.Session(), sleep=sleeps.append)
            os.truncate(path, SIZE // 2)  # a rebuild writing the same path
            with pytest.raises(SourceFileChanged) as caught:
                uploader.put(fd, _op(server.url))
        assert sleeps == [] and server.requests == []
        assert isinstance(caught.value, InputError) and "shrank while it was being uploaded" in str(caught.value)
        ok = True
    finally:
        TALLY.record(ok)


def test_a_file_shrinking_in_the_middle_of_a_part_is_not_retried(ipa: tuple[Path, int]) -> None:
    path, fd = ipa
    sleeps: list[float] = []
    reads: list[int] = []

    def shrink_after_first_chunk(count: int) -> None:
        reads.append(count)
        if len(reads) == 1:
            os.truncate(path, 300)

    with HostileServer(lambda h: h.reply(200)) as server:
        uploader = PartUploader(requests.Session(), sleep=sleeps.append)
        op = PartOperation(offset=0, length=SIZE, url=f"{server.url}/p?Expires=9999999999")
        uploader._buffers.buffer = bytearray(256)  # small chunks, so the file can shrink between two of them
        with pytest.raises(SourceFileChanged):
            uploader.put(fd, op, on_progress=shrink_after_first_chunk)
    assert sleeps == [] and reads == [256, -256]  # one chunk sent, taken back, no second attempt


def test_a_gigantic_error_page_from_the_storage_is_not_read_whole(ipa: tuple[Path, int]) -> None:
    import tracemalloc

    def gigantic(h: object) -> None:
        h.start_chunked(500)  # type: ignore[attr-defined]
        block = b"<p>error</p>" * 80_000
        for _ in range(300):  # ~290 MB if anyone read it all
            h.chunk(block)  # type: ignore[attr-defined]

    ok = False
    try:
        tracemalloc.start()
        started = time.monotonic()
        with HostileServer(gigantic) as server:
            uploader = PartUploader(requests.Session(), sleep=lambda s: None, max_attempts=2)
            with pytest.raises(PartUploadError, match="HTTP 500"):
                uploader.put(ipa[1], _op(server.url))
        _, peak = tracemalloc.get_traced_memory()
        assert peak < 50 << 20 and time.monotonic() - started < 10
        ok = True
    finally:
        tracemalloc.stop()
        TALLY.record(ok)
