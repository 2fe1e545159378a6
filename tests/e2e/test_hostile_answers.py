"""Hostile answers: a loopback server answering what no App Store Connect would (HTML pages, truncated, empty,
huge or deeply nested JSON, wrong JSON:API shapes, trickling bodies, redirects to other hosts, 401 on every call,
Retry-After of hours, endless pagination, a skewed clock, bad TLS). Each must end in one clear error with exit 1,
no traceback, in bounded time and memory; nothing is created. Prints `hostile answers: N of N handled`."""

from __future__ import annotations

import email.utils
import io
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from figures import Tally, report
from hostile_server import HostileHandler, HostileServer, self_signed_tls
from publish.asc import ApiKey, AppStoreConnect, AscTransportError
from publish.asc.client import AppStoreConnect as ClientClass
from publish.cli import CliContext, main
from publish.sandbox.demo import make_api_key
from publish.sandbox.sample_ipa import build_ipa

BUNDLE_ID = "com.example.hostile"
KEY_ID = "HOSTILE123"
ISSUER = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"
TALLY = Tally("hostile answers", "handled (clear error, exit 1, no traceback, bounded time and memory)")


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report(request.config, TALLY)


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without real waiting, a short per-request deadline and page cap, so bounds are reached quickly."""
    monkeypatch.setattr(ClientClass, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(ClientClass, "BACKOFF_CAP", 0.005)
    monkeypatch.setattr(ClientClass, "REQUEST_DEADLINE", 0.15)
    monkeypatch.setattr(ClientClass, "MAX_PAGES", 30)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp_path = tmp_path_factory.mktemp("hostile")
    private_pem, _ = make_api_key()
    (tmp_path / "AuthKey.p8").write_text(private_pem)
    flow = tmp_path / "flow.yml"
    flow.write_text(
        "version: 1\napi_keys:\n  main:\n"
        f"    key_id: {KEY_ID}\n    issuer_id: {ISSUER}\n    private_key: {{file: AuthKey.p8}}\n"
        f"profiles:\n  - bundle_id: {BUNDLE_ID}\n    name: Hostile\n    flow:\n"
        "      - step: send_to_testflight\n        api_key: main\n        groups: [QA]\n"
    )
    ipa = Path(build_ipa(tmp_path / "App.ipa", bundle_id=BUNDLE_ID, version="1.0.0", build_number="1",
                         display_name="Hostile"))
    return {"flow": flow, "ipa": ipa, "state": tmp_path / "state", "dir": tmp_path}


def run_cli(files: dict[str, Path], server: HostileServer) -> tuple[int, str, float]:
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(["run", str(files["flow"]), "--ipa", str(files["ipa"]), "--api-base-url", server.url,
                 "--state-dir", str(files["state"]), "--poll-interval", "0.01"],
                ctx=CliContext(stdout=stdout, stderr=stderr, env={}))
    return code, stdout.getvalue() + stderr.getvalue(), time.monotonic() - started


def app_list(server: HostileServer, **extra: object) -> bytes:
    return json.dumps({"data": [{"type": "apps", "id": "1", "attributes": {"bundleId": BUNDLE_ID}}],
                       "links": {"self": f"{server.url}/v1/apps"}, **extra}).encode()


def _chunked_forever(size: int) -> Callable[[HostileHandler], None]:
    def scenario(h: HostileHandler) -> None:
        h.start_chunked()
        block = b" " * (1 << 20)
        for _ in range(size >> 20):
            h.chunk(block)
    return scenario


def _trickle(h: HostileHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(200):  # 2 s of a body that never completes: without a deadline the error would be "broke off"
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.01)


def _endless_pages(h: HostileHandler) -> None:
    page = len(h.server.requests)
    host = h.headers.get("Host")
    h.reply(200, json.dumps({"data": [], "links": {"next": f"http://{host}/v1/apps?cursor={page}"}}).encode())


def _truncated(h: HostileHandler) -> None:
    h.reply(200, b'{"data": [{"type": "apps", "id": "1", "attri', length=5000)


# scenario name -> (what the server does, words the error must contain)
CLI_CASES: dict[str, tuple[Callable[[HostileHandler], None], str]] = {
    "html 502 page": (lambda h: h.reply(502, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
                                        content_type="text/html"), "502 Bad Gateway"),
    "html 200 portal": (lambda h: h.reply(200, b"<html><title>Wi-Fi login</title></html>",
                                          content_type="text/html"), "not valid JSON"),
    "empty 200": (lambda h: h.reply(200, b""), "empty body"),
    "errors body on 200": (lambda h: h.reply(200, json.dumps({"errors": [{"status": "500", "code": "UNEXPECTED",
                                                                          "title": "Oops", "detail": "x"}]}).encode()),
                           "error body"),
    "invalid utf-8": (lambda h: h.reply(200, b'{"data": [], "n": "\xc3\x28"}'), "not UTF-8"),
    "truncated json": (_truncated, "broke off"),
    "deeply nested json": (lambda h: h.reply(200, b"[" * 200_000), "nested deeper"),
    "data is a string": (lambda h: h.reply(200, b'{"data": "apps"}'), "not a JSON:API document"),
    "data of numbers": (lambda h: h.reply(200, b'{"data": [1, 2, 3]}'), "not a JSON:API document"),
    "huge announced body": (lambda h: h.reply(200, b"", length=300 << 20), "more than the 32 MiB"),
    "huge chunked body": (_chunked_forever(300 << 20), "longer than the 32 MiB"),
    "trickling body": (_trickle, "did not arrive within"),
    "redirect to another host": (lambda h: h.reply(302, b"", Location="https://attacker.example.net/v1/apps"),
                                 "attacker.example.net"),
    "401 on every call": (lambda h: h.reply(401, json.dumps({"errors": [{"status": "401", "code": "NOT_AUTHORIZED",
                                                                         "title": "No", "detail": "No"}]}).encode()),
                          "revoked"),
    "retry-after of hours": (lambda h: h.reply(429, json.dumps({"errors": [{"status": "429",
                                                                            "code": "RATE_LIMIT_EXCEEDED",
                                                                            "title": "Slow", "detail": "down"}]}
                                                               ).encode(), Retry_After="36000"), "Waiting 10.0 h"),
    "endless pagination": (_endless_pages, "after 30 pages"),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_hostile_answer_to_the_app_lookup_is_one_clear_error(name: str, files: dict[str, Path], fast: None,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, said = CLI_CASES[name]
    if name.startswith("huge"):  # 32 MiB traced by tracemalloc on a loaded machine: the size cap must speak first
        monkeypatch.setattr(ClientClass, "REQUEST_DEADLINE", 30.0)
    if name == "trickling body":  # six tries, each stopped at the deadline while a byte still comes every 10 ms
        monkeypatch.setattr(ClientClass, "REQUEST_DEADLINE", 0.06)
    ok = False
    try:
        measure = name.startswith("huge")  # tracing every allocation is slow: only where memory is the point
        if measure:
            tracemalloc.start()
        with HostileServer(scenario) as server:
            code, output, seconds = run_cli(files, server)
        peak = tracemalloc.get_traced_memory()[1] if measure else 0
        tracemalloc.stop()
        assert code == 1, output
        assert "Traceback" not in output and said in output, output
        assert "no app with bundle ID" not in output.lower() and "no app" not in output.lower()
        assert seconds < 10, f"{name} took {seconds:.1f} s"
        assert peak < 120 << 20, f"{name} peaked at {peak >> 20} MiB"
        assert all(method == "GET" for method, _, _ in server.requests), "nothing may be written"
        ok = True
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        TALLY.record(ok)


# ---------------------------------------------------------------- client-level: clock, TLS, the build upload poll

def _key() -> ApiKey:
    return ApiKey(KEY_ID, ISSUER, make_api_key()[0])


def test_a_skewed_server_clock_is_noted(caplog: pytest.LogCaptureFixture) -> None:
    ok = False
    try:
        skewed = email.utils.formatdate(time.time() - 2 * 3600, usegmt=True)
        with HostileServer(lambda h: h.reply(200, app_list(h.server))) as server:
            server.date = skewed
            client = AppStoreConnect(_key(), base_url=server.url)
            with caplog.at_level("WARNING", logger="publish.asc"):
                assert client.find_app(BUNDLE_ID) is not None
        assert client.clock_skew == pytest.approx(-7200, abs=5)
        assert "2.0 h behind this machine's" in caplog.text
        ok = True
    finally:
        TALLY.record(ok)


def test_a_tls_certificate_failure_fails_at_once_with_what_to_check() -> None:
    ok = False
    try:
        sleeps: list[float] = []
        with HostileServer(lambda h: h.reply(200, b"{}"), tls=self_signed_tls()) as server:
            client = AppStoreConnect(_key(), base_url=server.url, sleep=sleeps.append)
            started = time.monotonic()
            with pytest.raises(AscTransportError) as caught:
                client.find_app(BUNDLE_ID)
            assert time.monotonic() - started < 5
        assert sleeps == [] and client.call_count == 1
        assert "certificate" in str(caught.value).lower() and "REQUESTS_CA_BUNDLE" in str(caught.value)
        ok = True
    finally:
        TALLY.record(ok)


def test_an_empty_answer_while_polling_the_build_upload_is_an_error_not_a_wait(fast: None) -> None:
    ok = False
    try:
        with HostileServer(lambda h: h.reply(200, b'{"data": null}')) as server:
            client = AppStoreConnect(_key(), base_url=server.url, sleep=lambda s: None)
            started = time.monotonic()
            with pytest.raises(AscTransportError, match="not the build upload"):
                client.get_build_upload("U1")
            assert time.monotonic() - started < 5
        ok = True
    finally:
        TALLY.record(ok)
