"""The App Store Connect client's transport: auth refresh, retries, pagination, rate limits, base URL, dry run."""

from __future__ import annotations

import email.utils
import json
import logging
import random
from typing import Any

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from responses import matchers

from publish.asc import (
    ApiKey,
    AppStoreConnect,
    AscAmbiguousWriteError,
    AscAuthError,
    AscNotFoundError,
    AscRateLimitError,
    AscServerError,
    AscTransportError,
)
from publish.errors import InputError

BASE = "https://api.appstoreconnect.apple.com"
ISSUER = "57246542-96fe-1a63-e053-0824d011072a"
NOW = 1_700_000_000.0

_PRIVATE = ec.generate_private_key(ec.SECP256R1())
PEM = _PRIVATE.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
PUBLIC = _PRIVATE.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
KEY = ApiKey("2X9R4HXF34", ISSUER, PEM)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(**kwargs: Any) -> AppStoreConnect:
    kwargs.setdefault("clock", Clock())
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("random", random.Random(7))
    return AppStoreConnect(KEY, **kwargs)


def app(id_: str, bundle_id: str) -> dict[str, Any]:
    return {"type": "apps", "id": id_, "attributes": {"bundleId": bundle_id, "name": bundle_id},
            "links": {"self": f"{BASE}/v1/apps/{id_}"}}


def error_body(status: int, code: str, title: str = "Title.", detail: str = "Detail.", **extra: Any) -> dict:
    item = {"status": str(status), "code": code, "title": title, "detail": detail, **extra}
    return {"errors": [item]}


def bearer(call: responses.Call) -> dict[str, Any]:
    token = call.request.headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, PUBLIC, algorithms=["ES256"], audience="appstoreconnect-v1",
                      options={"verify_exp": False, "verify_iat": False})


# ---------------------------------------------------------------- basics


@responses.activate
def test_get_sends_bearer_token_and_json_accept_and_parses_the_document() -> None:
    responses.get(f"{BASE}/v1/apps/1", json={"data": app("1", "com.example.app"), "links": {}},
                  headers={"X-Rate-Limit": "user-hour-lim:3500;user-hour-rem:3400;"})
    c = client()
    resource = c.get_app("1")
    assert resource.id == "1" and resource.attr("bundleId") == "com.example.app"
    call = responses.calls[0]
    assert call.request.headers["Accept"] == "application/json"
    assert bearer(call)["iss"] == ISSUER
    assert c.call_count == 1
    assert c.rate_limit_remaining == 3400 and c.rate_limit_limit == 3500


@responses.activate
def test_post_sends_json_api_body_with_content_type() -> None:
    responses.post(f"{BASE}/v1/buildUploads", status=201,
                   json={"data": {"type": "buildUploads", "id": "U1",
                                  "attributes": {"state": {"state": "AWAITING_UPLOAD"}}}})
    upload = client().create_build_upload("A1", version="1.2.3", build_number="45")
    assert upload.id == "U1" and upload.attr("state") == {"state": "AWAITING_UPLOAD"}
    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"data": {
        "type": "buildUploads",
        "attributes": {"cfBundleShortVersionString": "1.2.3", "cfBundleVersion": "45", "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": "A1"}}}}}


@responses.activate
def test_find_app_compares_bundle_id_exactly() -> None:
    responses.get(f"{BASE}/v1/apps", json={"data": [app("1", "com.example.app.beta"), app("2", "com.example.app")],
                                           "links": {"self": f"{BASE}/v1/apps"}},
                  match=[matchers.query_param_matcher({"filter[bundleId]": "com.example.app", "limit": "200"})])
    responses.get(f"{BASE}/v1/apps", json={"data": [app("2", "com.example.app")], "links": {"self": "x"}},
                  match=[matchers.query_param_matcher({"filter[bundleId]": "com.example", "limit": "200"})])
    c = client()
    assert c.find_app("com.example.app").id == "2"
    assert c.find_app("com.example") is None


@responses.activate
def test_list_builds_filters_through_v1_builds_with_all_processing_states() -> None:
    responses.get(f"{BASE}/v1/builds", json={"data": [], "links": {"self": "x"}}, match=[matchers.query_param_matcher({
        "filter[app]": "A1", "filter[preReleaseVersion.version]": "1.2.3", "filter[version]": "45",
        "filter[processingState]": "PROCESSING,FAILED,INVALID,VALID", "sort": "-uploadedDate", "limit": "200"})])
    assert client().list_builds("A1", version="1.2.3", build_number="45") == []


# ---------------------------------------------------------------- auth refresh


@responses.activate
def test_401_refreshes_the_token_once_then_succeeds() -> None:
    responses.get(f"{BASE}/v1/apps/1", status=401, json=error_body(401, "NOT_AUTHORIZED"))
    responses.get(f"{BASE}/v1/apps/1", json={"data": app("1", "com.example.app")})
    clock = Clock()
    c = client(clock=clock)
    c.get_app("1")  # warm the cache, then make the same token be refused
    clock.now += 5
    assert c.get_app("1").id == "1"
    first, second = responses.calls[0], responses.calls[1]
    assert first.request.headers["Authorization"] != second.request.headers["Authorization"]
    assert c.tokens.tokens_issued == 2


@responses.activate
def test_401_on_a_post_is_also_retried_once_because_nothing_was_done() -> None:
    responses.post(f"{BASE}/v1/reviewSubmissions", status=401, json=error_body(401, "NOT_AUTHORIZED"))
    responses.post(f"{BASE}/v1/reviewSubmissions", status=201,
                   json={"data": {"type": "reviewSubmissions", "id": "RS1"}})
    assert client().create_review_submission("A1").id == "RS1"
    assert len(responses.calls) == 2


@responses.activate
def test_401_twice_is_an_auth_error_telling_to_check_key_or_revocation() -> None:
    responses.get(f"{BASE}/v1/apps/1", status=401,
                  json=error_body(401, "NOT_AUTHORIZED", "Authentication credentials are missing or invalid.",
                                  "Provide a properly configured and signed bearer token."))
    with pytest.raises(AscAuthError) as caught:
        client().get_app("1")
    assert len(responses.calls) == 2
    text = str(caught.value)
    assert "401" in text and "NOT_AUTHORIZED" in text and "GET /v1/apps/1" in text
    assert "revoked" in text and "key ID" in text and "issuer ID" in text
    assert caught.value.exit_code == 1


@responses.activate
def test_expired_token_is_refreshed_during_a_long_wait() -> None:
    responses.get(f"{BASE}/v1/buildUploads/U1", json={"data": {"type": "buildUploads", "id": "U1"}})
    clock = Clock()
    c = client(clock=clock)
    expiries = []
    for _ in range(9):  # 40 minutes of polling every 5 minutes
        c.get_build_upload("U1")
        claims = bearer(responses.calls[-1])
        assert claims["exp"] > clock.now + 60
        expiries.append(claims["exp"])
        clock.now += 300
    assert len(set(expiries)) >= 3


# ---------------------------------------------------------------- retries


@responses.activate
def test_get_is_retried_on_503_and_429_honouring_retry_after() -> None:
    url = f"{BASE}/v1/builds/B1"
    responses.get(url, status=503, body="busy", headers={"Retry-After": "7"})
    responses.get(url, status=429, json=error_body(429, "RATE_LIMIT_EXCEEDED"),
                  headers={"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)})
    responses.get(url, status=500, json=error_body(500, "UNEXPECTED_ERROR"))
    responses.get(url, json={"data": {"type": "builds", "id": "B1"}})
    sleeps = Sleeps()
    c = client(sleep=sleeps)
    assert c.get_build("B1").id == "B1"
    assert len(responses.calls) == 4
    assert sleeps[0] == 7.0
    assert sleeps[1] == pytest.approx(12.0, abs=1.0)
    # no Retry-After: full jitter within the exponential bound for the third attempt (base 1 s * 2**2)
    assert 0.0 <= sleeps[2] <= 4.0
    assert c.call_count == 4


@responses.activate
def test_backoff_is_exponential_with_full_jitter_and_capped_attempts() -> None:
    url = f"{BASE}/v1/builds/B1"
    responses.get(url, status=502, body="<html><body><h1>502 Bad Gateway</h1></body></html>",
                  content_type="text/html")
    sleeps = Sleeps()
    c = client(sleep=sleeps, max_retries=4, random=random.Random(1))
    with pytest.raises(AscServerError) as caught:
        c.get_build("B1")
    assert len(responses.calls) == 5
    assert len(sleeps) == 4
    expected_rng = random.Random(1)
    assert sleeps == [expected_rng.uniform(0, min(30.0, 2.0**n)) for n in range(4)]
    text = str(caught.value)
    assert "502 Bad Gateway" in text and "not App Store Connect's JSON" in text and "system-status" in text


@responses.activate
def test_connection_errors_on_get_are_retried() -> None:
    url = f"{BASE}/v1/buildUploads/U1"
    responses.get(url, body=requests.exceptions.ConnectionError("reset by peer"))
    responses.get(url, body=requests.exceptions.ReadTimeout("slow"))
    responses.get(url, json={"data": {"type": "buildUploads", "id": "U1"}})
    sleeps = Sleeps()
    document = client(sleep=sleeps).get_build_upload("U1")
    assert document.resource.id == "U1"
    assert len(responses.calls) == 3 and len(sleeps) == 2


@responses.activate
def test_connection_errors_after_retries_are_a_transport_error() -> None:
    responses.get(f"{BASE}/v1/apps/1", body=requests.exceptions.ConnectionError("unreachable"))
    with pytest.raises(AscTransportError) as caught:
        client(max_retries=2).get_app("1")
    assert not isinstance(caught.value, AscAmbiguousWriteError)
    assert len(responses.calls) == 3
    assert "after 3 attempts" in str(caught.value) and "network" in caught.value.hint


@responses.activate
def test_post_is_never_retried_on_5xx_and_says_the_write_is_ambiguous() -> None:
    responses.post(f"{BASE}/v1/buildUploads", status=503, json=error_body(503, "SERVICE_UNAVAILABLE"))
    sleeps = Sleeps()
    with pytest.raises(AscAmbiguousWriteError) as caught:
        client(sleep=sleeps).create_build_upload("A1", version="1.0", build_number="1")
    assert len(responses.calls) == 1 and sleeps == []
    assert isinstance(caught.value, AscTransportError)
    assert isinstance(caught.value.cause, AscServerError)
    assert "may or may not" in str(caught.value)


@responses.activate
def test_post_is_never_retried_on_a_broken_connection() -> None:
    responses.post(f"{BASE}/v1/appStoreVersions", body=requests.exceptions.ConnectionError("reset"))
    responses.patch(f"{BASE}/v1/reviewSubmissions/RS1", body=requests.exceptions.ReadTimeout("slow"))
    c = client()
    with pytest.raises(AscAmbiguousWriteError):
        c.create_app_store_version("A1", platform="IOS", version_string="1.2.3")
    with pytest.raises(AscAmbiguousWriteError):
        c.update_review_submission("RS1", submitted=True)
    assert len(responses.calls) == 2


@responses.activate
def test_post_refused_before_sending_is_retried() -> None:
    from urllib3.exceptions import NewConnectionError

    refused = requests.exceptions.ConnectionError(NewConnectionError(None, "Connection refused"))
    responses.post(f"{BASE}/v1/betaAppReviewSubmissions", body=refused)
    responses.post(f"{BASE}/v1/betaAppReviewSubmissions", status=201,
                   json={"data": {"type": "betaAppReviewSubmissions", "id": "S1"}})
    assert client().create_beta_app_review_submission("B1").id == "S1"
    assert len(responses.calls) == 2


@responses.activate
def test_long_retry_after_is_not_slept_through() -> None:
    responses.get(f"{BASE}/v1/apps/1", status=429, json=error_body(429, "RATE_LIMIT_EXCEEDED"),
                  headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(AscRateLimitError) as caught:
        client(sleep=sleeps).get_app("1")
    assert sleeps == [] and len(responses.calls) == 1
    assert "3600 s" in caught.value.hint and "hourly" in caught.value.hint


@responses.activate
def test_delete_is_retried_and_a_lost_success_is_not_an_error() -> None:
    url = f"{BASE}/v1/buildUploads/U1"
    responses.delete(url, body=requests.exceptions.ReadTimeout("slow"))
    responses.delete(url, status=404, json=error_body(404, "NOT_FOUND"))
    client().delete_build_upload("U1")
    assert len(responses.calls) == 2


@responses.activate
def test_delete_of_a_missing_resource_on_first_try_is_not_found() -> None:
    responses.delete(f"{BASE}/v1/buildUploads/U1", status=404, json=error_body(404, "NOT_FOUND"))
    with pytest.raises(AscNotFoundError):
        client().delete_build_upload("U1")


# ---------------------------------------------------------------- pagination


@responses.activate
def test_paginate_follows_links_next_over_three_pages() -> None:
    page = f"{BASE}/v1/betaGroups"
    responses.get(page, match=[matchers.query_param_matcher({"filter[app]": "A1", "limit": "200"})],
                  json={"data": [{"type": "betaGroups", "id": "G1"}],
                        "links": {"self": page, "next": f"{page}?cursor=AQ&limit=200&filter%5Bapp%5D=A1"}})
    responses.get(page, match=[matchers.query_param_matcher({"cursor": "AQ", "filter[app]": "A1", "limit": "200"})],
                  json={"data": [{"type": "betaGroups", "id": "G2"}, {"type": "betaGroups", "id": "G3"}],
                        "links": {"self": page, "next": f"{page}?cursor=Ag&limit=200&filter%5Bapp%5D=A1"}})
    responses.get(page, match=[matchers.query_param_matcher({"cursor": "Ag", "filter[app]": "A1", "limit": "200"})],
                  json={"data": [{"type": "betaGroups", "id": "G4"}], "links": {"self": page},
                        "meta": {"paging": {"total": 4, "limit": 200}}})
    groups = client().list_beta_groups("A1")
    assert [g.id for g in groups] == ["G1", "G2", "G3", "G4"]
    assert len(responses.calls) == 3


@responses.activate
def test_paginate_accepts_a_relative_next_link_and_stops_on_a_loop() -> None:
    page = f"{BASE}/v1/betaGroups"
    responses.get(page, json={"data": [{"type": "betaGroups", "id": "G1"}],
                              "links": {"self": page, "next": "/v1/betaGroups?cursor=AQ"}})
    ids = [r.id for r in client().paginate("/v1/betaGroups")]
    # the second page points at itself: the loop guard stops after it
    assert ids == ["G1", "G1"]
    assert len(responses.calls) == 2


@responses.activate
def test_paginate_refuses_a_next_link_to_another_host() -> None:
    responses.get(f"{BASE}/v1/builds", json={"data": [], "links": {
        "self": "x", "next": "https://evil.example.com/v1/builds?cursor=AQ"}})
    with pytest.raises(AscTransportError, match="another host"):
        list(client().paginate("/v1/builds"))
    assert len(responses.calls) == 1


# ---------------------------------------------------------------- rate limit


@responses.activate
def test_rate_limit_is_parsed_and_a_low_remainder_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    url = f"{BASE}/v1/apps/1"
    for remaining in (500, 90, 85, 40):
        responses.get(url, json={"data": app("1", "x")},
                      headers={"X-Rate-Limit": f"user-hour-lim:3500;user-hour-rem:{remaining};"})
    c = client()
    with caplog.at_level(logging.WARNING, logger="publish.asc"):
        c.get_app("1")
        assert c.rate_limit_remaining == 500 and not caplog.records
        c.get_app("1")
        assert c.rate_limit_remaining == 90
        c.get_app("1")
        c.get_app("1")
    warnings = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert warnings[0].startswith("App Store Connect rate limit is low: 90 of 3500")
    assert len(warnings) == 2  # 90 and 40 warn; 85 is within 10% of the last warning


def test_rate_limit_header_parsing() -> None:
    from publish.asc.transport import parse_rate_limit

    assert parse_rate_limit("user-hour-lim:3500;user-hour-rem:500;") == {"user-hour-lim": 3500, "user-hour-rem": 500}
    assert parse_rate_limit("user-hour-lim: 3500 ; junk; x:y;user-hour-rem:0") == {"user-hour-lim": 3500,
                                                                                  "user-hour-rem": 0}
    assert parse_rate_limit(None) == {}


# ---------------------------------------------------------------- base URL


@pytest.mark.parametrize("url", [
    "https://api.appstoreconnect.apple.com", "https://asc.proxy.example.com/prefix/",
    "http://127.0.0.1:8080", "http://127.3.4.5", "http://localhost:9", "http://[::1]:8080",
])
def test_base_url_accepted(url: str) -> None:
    assert client(base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize("url, fragment", [
    ("http://api.appstoreconnect.apple.com", "plain http://"),
    ("http://10.0.0.5:8080", "plain http://"),
    ("http://localhost.evil.com", "plain http://"),
    ("ftp://127.0.0.1", "must start with https://"),
    ("api.appstoreconnect.apple.com", "must start with https://"),
    ("https://user:pw@asc.example.com", "user name or password"),
    ("https://asc.example.com/?x=1", "query"),
    ("https://asc.example.com:notaport", "not a valid URL"),
])
def test_base_url_refused(url: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        client(base_url=url)
    assert fragment in str(caught.value)
    assert "127.0.0.1" in caught.value.hint


@responses.activate
def test_requests_go_to_the_configured_base_url_with_its_prefix() -> None:
    responses.get("https://asc.proxy.example.com/prefix/v1/apps/1", json={"data": app("1", "x")})
    assert client(base_url="https://asc.proxy.example.com/prefix").get_app("1").id == "1"


def test_own_session_is_pooled_and_uses_explicit_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seen.update(kwargs, url=request.url)
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"data": {"type": "apps", "id": "1"}}'
        return response

    c = client(timeout=(3, 45))
    adapter = c._session.get_adapter(BASE)
    assert adapter._pool_maxsize == 10
    monkeypatch.setattr(requests.Session, "send", fake_send)  # what the transport hands its prepared request to
    c.get_app("1")
    assert seen["timeout"] == (3, 45) and seen["allow_redirects"] is False
    assert c._session.trust_env is True
    assert client(base_url="http://127.0.0.1:1")._session.trust_env is False


# ---------------------------------------------------------------- dry run


@responses.activate
def test_dry_run_makes_no_http_call_and_reports_every_call() -> None:
    calls: list[tuple[str, str, Any]] = []
    c = client(dry_run=True, on_call=lambda *call: calls.append(call))
    assert c.find_app("com.example.app") is None
    assert c.list_builds("A1") == []
    assert c.get_build("B1") is None
    version = c.create_app_store_version("A1", platform="IOS", version_string="1.2.3")
    assert version.id == "dry-run-appStoreVersions-1" and version.attr("versionString") == "1.2.3"
    upload = c.create_build_upload("A1", version="1.2.3", build_number="4")
    assert upload.id == "dry-run-buildUploads-2"
    assert c.update_build("B1", uses_non_exempt_encryption=False).id == "B1"
    c.add_build_to_beta_groups("B1", ["G1"])
    assert len(responses.calls) == 0 and c.call_count == 0
    assert [(m, u.split("?")[0]) for m, u, _ in calls] == [
        ("GET", f"{BASE}/v1/apps"), ("GET", f"{BASE}/v1/builds"), ("GET", f"{BASE}/v1/builds/B1"),
        ("POST", f"{BASE}/v1/appStoreVersions"), ("POST", f"{BASE}/v1/buildUploads"),
        ("PATCH", f"{BASE}/v1/builds/B1"), ("POST", f"{BASE}/v1/builds/B1/relationships/betaGroups")]
    assert calls[0][1].endswith("?filter[bundleId]=com.example.app&limit=200")
    assert calls[6][2] == {"data": [{"type": "betaGroups", "id": "G1"}]}


@responses.activate
def test_on_call_sees_every_real_call_and_the_token_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    responses.get(f"{BASE}/v1/apps/1", status=500, json=error_body(500, "UNEXPECTED_ERROR"))
    responses.get(f"{BASE}/v1/apps/1", json={"data": app("1", "x")})
    calls: list[tuple[str, str, Any]] = []
    c = client(on_call=lambda *call: calls.append(call))
    with caplog.at_level(logging.DEBUG, logger="publish.asc"):
        c.get_app("1")
    assert [m for m, _, _ in calls] == ["GET", "GET"] and c.call_count == 2
    token = responses.calls[-1].request.headers["Authorization"].removeprefix("Bearer ")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /v1/apps/1 -> 500" in text and "GET /v1/apps/1 -> 200" in text
    assert token not in text and token.split(".")[2] not in text


# ---------------------------------------------------------------- real sockets


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_refused_connection_is_known_unsent_so_even_a_post_is_retried() -> None:
    sleeps = Sleeps()
    c = client(base_url=f"http://127.0.0.1:{_closed_port()}", sleep=sleeps, max_retries=2, timeout=(1, 1))
    with pytest.raises(AscTransportError) as caught:
        c.create_build_upload("A1", version="1.0", build_number="1")
    assert not isinstance(caught.value, AscAmbiguousWriteError)
    assert len(sleeps) == 2 and c.call_count == 3
    assert "connection failed" in str(caught.value)


def test_real_read_timeout_on_a_post_is_ambiguous() -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = server.accept()  # read the request, never answer
        conn.recv(65536)
        accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        # Never answered, so any read timeout ends it the same way: a short one is less waiting.
        c = client(base_url=f"http://127.0.0.1:{server.getsockname()[1]}", timeout=(1, 0.02))
        with pytest.raises(AscAmbiguousWriteError) as caught:
            c.create_review_submission("A1")
        assert c.call_count == 1 and "read timeout" in str(caught.value)
    finally:
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()
