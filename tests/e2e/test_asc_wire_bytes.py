"""What goes over the wire did not change when `RequestsTransport` stopped calling `Session.request` and began
preparing requests itself (publish/asc/wire.py `send_prepared`): a raw loopback server records every byte each request
arrives with, and the same calls are made both ways on twin sessions, the old way being the exact
`session.request(...)` call the transport made before. Request line, headers (names, values, order), body and
cookies sent back must be byte for byte the same, also when the environment steers the request: a proxy from
HTTP_PROXY (the absolute-form request line), NO_PROXY bypassing it. One difference is meant: a ~/.netrc entry
no longer replaces the API token (requests' own rule did)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from asc_wire_server import RecordingServer

from publish.asc.session import USER_AGENT, new_session
from publish.asc.wire import RequestsTransport, WireRequest

TIMEOUT = (10.0, 60.0)
ANSWER = b'{"data":{"type":"apps","id":"1"}}'


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer(ANSWER, cookie=True)
    yield recording
    recording.close()


def the_old_way(session: requests.Session, request: WireRequest) -> bytes:
    """The call `RequestsTransport.send` made before it prepared requests itself."""
    response = session.request(
        request.method, request.url, params=list(request.params) or None, data=request.body,
        headers=dict(request.headers), timeout=TIMEOUT, allow_redirects=False, stream=True,
    )
    try:
        return bytes(response.raw.read())
    finally:
        response.close()


def the_new_way(session: requests.Session, request: WireRequest) -> bytes:
    return RequestsTransport(session, timeout=TIMEOUT).send(request).body


def calls(base: str) -> list[WireRequest]:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "Authorization": "Bearer eyJ0.eyJ1.c2ln"}
    posted = {**headers, "Content-Type": "application/json"}
    return [
        WireRequest("GET", f"{base}/v1/apps", (("filter[bundleId]", "com.example.app"), ("limit", "200"))),
        WireRequest("GET", f"{base}/v1/builds", (("filter[processingState]", "PROCESSING,FAILED,INVALID,VALID"),
                                                 ("fields[builds]", "version,uploadedDate"),
                                                 ("filter[name]", "Grüße & more = 100% /a?b#c"),
                                                 ("sort", "-uploadedDate")), headers),
        # a links.next: the query is already in the URL
        WireRequest("GET", f"{base}/v1/builds?cursor=AB%3D%3D&limit=200&filter%5Bapp%5D=1", (), headers),
        WireRequest("GET", f"{base}/v1/apps/1", (), headers),
        WireRequest("POST", f"{base}/v1/buildUploads", (), posted,
                    '{"data":{"type":"buildUploads","attributes":{"name":"Grüße"}}}'.encode()),
        WireRequest("PATCH", f"{base}/v1/builds/B1", (), posted, b'{"data":{"type":"builds","id":"B1"}}'),
        WireRequest("DELETE", f"{base}/v1/betaTesters/T1", (), headers),
        WireRequest("POST", f"{base}/v1/builds/B1/relationships/betaGroups", (), posted, b""),
    ]


def received(server: RecordingServer, session: requests.Session,
             send: Callable[[requests.Session, WireRequest], bytes], base: str) -> list[bytes]:
    before = len(server.requests)
    for request in calls(base):
        assert send(session, request) == ANSWER
    session.close()
    return server.requests[before:]


def both_ways(server: RecordingServer, make_session: Callable[[], requests.Session], base: str) -> None:
    old = received(server, make_session(), the_old_way, base)
    new = received(server, make_session(), the_new_way, base)
    assert len(old) == len(calls(base))
    assert new == old
    assert b"session=abc0" in old[-1]  # the cookie jar was exercised


def test_the_simulator_session_sends_the_same_bytes(server: RecordingServer) -> None:
    both_ways(server, lambda: new_session(loopback=True), f"http://127.0.0.1:{server.port}")


def test_a_session_with_settings_of_its_own_sends_the_same_bytes(server: RecordingServer) -> None:
    hooked: list[int] = []

    def odd() -> requests.Session:
        session = new_session(loopback=True)
        session.headers["X-Team"] = "one"
        session.headers["Connection"] = None  # type: ignore[assignment]  # None drops a default header
        session.params = {"session": "param"}  # used by requests only for a call without a query
        session.cookies.set("preset", "1", domain="127.0.0.1", path="/")
        session.auth = ("user", "pass")
        session.hooks["response"].append(lambda response, **kwargs: hooked.append(response.status_code))
        return session

    both_ways(server, odd, f"http://127.0.0.1:{server.port}")
    assert hooked == [200] * 2 * len(calls(""))  # the session's response hook ran for every answer, both ways


def test_a_proxy_from_the_environment_gets_the_same_bytes(server: RecordingServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "NO_PROXY", "ALL_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    both_ways(server, lambda: new_session(loopback=False), "http://api.appstoreconnect.invalid")
    assert server.requests[-1].startswith(b"POST http://api.appstoreconnect.invalid/v1/builds/B1/relation")


def test_no_proxy_from_the_environment_acts_the_same(server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ALL_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_port = unused.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead_port}")  # would fail: the bypass must hold
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    both_ways(server, lambda: new_session(loopback=False), f"http://127.0.0.1:{server.port}")


def test_a_netrc_entry_for_the_host_does_not_replace_the_api_token(server: RecordingServer, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """requests fills an absent auth from ~/.netrc: its Basic credentials replaced the Bearer token (the old way
    did that), and App Store Connect answers 401 to a call without its token."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "ALL_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    base = f"http://127.0.0.1:{server.port}"
    signed = [call for call in calls(base) if "Authorization" in call.headers]
    assert signed
    the_old_way(new_session(loopback=False), signed[0])
    assert b"Authorization: Basic " in server.requests[-1]  # what requests does on its own
    for call in signed:
        the_new_way(new_session(loopback=False), call)
        sent = server.requests[-1]
        assert b"Authorization: Bearer eyJ0.eyJ1.c2ln\r\n" in sent and b"Basic" not in sent and b"secret" not in sent


def test_what_the_new_way_was_compared_with_is_what_main_sent(server: RecordingServer) -> None:
    """The reference itself, pinned: a GET as main's client sent it to the simulator."""
    session = new_session(loopback=True)
    request = calls(f"http://127.0.0.1:{server.port}")[0]
    the_new_way(session, request)
    expected = (b"GET /v1/apps?filter%5BbundleId%5D=com.example.app&limit=200 HTTP/1.1\r\n"
                b"Host: 127.0.0.1:" + str(server.port).encode() + b"\r\nUser-Agent: python-requests/")
    assert server.requests[-1].startswith(expected)
    assert server.requests[-1].endswith(b"\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")
