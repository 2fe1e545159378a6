"""The client pipeline through a fake transport: the retry policy (idempotency x outcome x attempt), 429s waited
out within a deadline (protocol.md H.13), re-signing as a layer, and answers that are not App Store Connect's."""

from __future__ import annotations

import email.utils
import json
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc import ApiKey, AppStoreConnect, AscAmbiguousWriteError, AscAuthError, AscRateLimitError
from publish.asc import AscServerError, AscTransportError, TokenProvider
from publish.asc.resources import NotJsonApiError
from publish.asc.retry import Attempts, Failure, RetryLimits, decide, is_idempotent
from publish.asc.signing import SigningTransport
from publish.asc.wire import MockTransport, WireFailure, WireRequest, WireResponse
from publish.errors import RemoteError

NOW = 1_700_000_000.0
_PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
KEY = ApiKey("PIPEKEY123", "57246542-96fe-1a63-e053-0824d011072a", _PEM)
LIMITS = RetryLimits()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Sleeps(list):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.clock is not None:
            self.clock.now += seconds


def answer(status: int = 200, body: Any = None, **headers: str) -> WireResponse:
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return WireResponse(status, raw, {k.replace("_", "-"): v for k, v in headers.items()})


def error(status: int, code: str) -> dict[str, Any]:
    return {"errors": [{"status": str(status), "code": code, "title": "Title.", "detail": "Detail."}]}


def scripted(*replies: WireResponse | WireFailure) -> Callable[[WireRequest], WireResponse]:
    queue: Iterator[WireResponse | WireFailure] = iter(replies)

    def handle(request: WireRequest) -> WireResponse:
        reply = next(queue)
        if isinstance(reply, WireFailure):
            raise reply
        return reply
    return handle


def client(*replies: WireResponse | WireFailure, **kwargs: Any) -> tuple[AppStoreConnect, MockTransport, Sleeps]:
    clock = kwargs.pop("clock", Clock())
    sleeps = Sleeps(clock)
    transport = MockTransport(scripted(*replies))
    c = AppStoreConnect(KEY, transport=transport, clock=clock, sleep=sleeps, random=random.Random(3), **kwargs)
    return c, transport, sleeps


LOST = WireFailure("lost", "connection reset by peer")
BUILD = {"data": {"type": "builds", "id": "B1"}}


# ---------------------------------------------------------------- which requests are idempotent

@pytest.mark.parametrize(("method", "path", "body", "idempotent"), [
    ("GET", "/v1/builds", None, True),
    ("DELETE", "/v1/buildUploads/U1", None, True),
    ("POST", "/v1/builds/B1/relationships/betaGroups", {"data": [{"type": "betaGroups", "id": "G"}]}, True),
    ("DELETE", "/v1/builds/B1/relationships/betaGroups", {"data": [{"type": "betaGroups", "id": "G"}]}, True),
    ("PATCH", "/v1/appStoreVersions/V1/relationships/build", {"data": {"type": "builds", "id": "B"}}, True),
    ("PATCH", "/v1/betaBuildLocalizations/L1",
     {"data": {"type": "betaBuildLocalizations", "id": "L1", "attributes": {"whatsNew": "x"}}}, True),
    ("POST", "/v1/betaBuildLocalizations", {"data": {"type": "betaBuildLocalizations"}}, False),
    ("PATCH", "/v1/reviewSubmissions/R1",
     {"data": {"type": "reviewSubmissions", "id": "R1", "attributes": {"submitted": True}}}, False),
    ("PATCH", "/v1/buildUploadFiles/F1",
     {"data": {"type": "buildUploadFiles", "id": "F1", "attributes": {"uploaded": True}}}, False),
])
def test_idempotency_follows_method_path_and_body(method: str, path: str, body: Any, idempotent: bool) -> None:
    assert is_idempotent(method, path, body) is idempotent


def test_policy_table() -> None:
    rng = random.Random(0)
    first = Attempts(budget_left=900)
    assert decide(Failure("lost"), idempotent=False, attempts=first, limits=LIMITS, rng=rng).action == "ambiguous"
    assert decide(Failure("lost"), idempotent=True, attempts=first, limits=LIMITS, rng=rng).action == "retry"
    assert decide(Failure("unsent"), idempotent=False, attempts=first, limits=LIMITS, rng=rng).action == "retry"
    assert decide(Failure("tls"), idempotent=True, attempts=first, limits=LIMITS, rng=rng).action == "raise"
    assert decide(Failure("status", 409), idempotent=True, attempts=first, limits=LIMITS, rng=rng).action == "raise"
    spent = Attempts(retries=5, budget_left=900)
    assert decide(Failure("status", 503), idempotent=True, attempts=spent, limits=LIMITS, rng=rng).action == "raise"
    # a 429 is waited out by any method, doubling from 16 s, until the budget says no
    waits = [decide(Failure("status", 429), idempotent=False, attempts=Attempts(rate_limit_waits=n, budget_left=1e9),
                    limits=LIMITS, rng=rng).delay for n in range(9)]
    assert waits == [16, 32, 64, 128, 256, 512, 1024, 2048, 3600]
    late = decide(Failure("status", 429, retry_after=600), idempotent=True, attempts=Attempts(budget_left=599),
                  limits=LIMITS, rng=rng)
    assert (late.action, late.delay) == ("raise", 600)
    gone = decide(Failure("status", 404), idempotent=True, attempts=Attempts(retries=1), limits=LIMITS, rng=rng,
                  method="DELETE")
    assert gone.action == "done"


# ---------------------------------------------------------------- retries follow idempotency

def test_lost_answer_on_a_relationship_post_is_sent_again() -> None:
    c, transport, sleeps = client(answer(500, error(500, "UNEXPECTED_ERROR")), LOST, answer(204))
    c.add_build_to_beta_groups("B1", ["G1"])
    assert len(transport.requests) == 3 and len(sleeps) == 2


def test_lost_answer_on_a_localization_patch_is_sent_again() -> None:
    loc = {"data": {"type": "betaBuildLocalizations", "id": "L1", "attributes": {"whatsNew": "hi"}}}
    c, transport, _ = client(answer(500, error(500, "UNEXPECTED_ERROR")), answer(200, loc))
    assert c.update_beta_build_localization("L1", "hi").attr("whatsNew") == "hi"
    assert len(transport.requests) == 2


def test_lost_answer_on_a_create_is_ambiguous_after_one_request() -> None:
    c, transport, sleeps = client(LOST)
    with pytest.raises(AscAmbiguousWriteError) as caught:
        c.create_beta_build_localization("B1", "en-US", "hi")
    assert len(transport.requests) == 1 and sleeps == []
    assert "may or may not" in str(caught.value)


def test_a_submission_is_a_state_change_and_is_not_repeated() -> None:
    c, transport, _ = client(answer(503, error(503, "SERVICE_UNAVAILABLE")))
    with pytest.raises(AscAmbiguousWriteError):
        c.update_review_submission("R1", submitted=True)
    assert len(transport.requests) == 1


def test_tls_failure_is_not_retried_and_says_what_to_check() -> None:
    c, transport, sleeps = client(WireFailure("tls", "TLS certificate verification failed (self-signed)"))
    with pytest.raises(AscTransportError) as caught:
        c.get_build("B1")
    assert len(transport.requests) == 1 and sleeps == []
    assert "certificate" in str(caught.value) and "REQUESTS_CA_BUNDLE" in caught.value.hint
    assert not isinstance(caught.value, AscAmbiguousWriteError)


# ---------------------------------------------------------------- H.13: 429 waited out within a deadline

def test_429_without_retry_after_doubles_and_says_what_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    limited = answer(429, error(429, "RATE_LIMIT_EXCEEDED"))
    c, _, sleeps = client(limited, limited, limited, answer(200, BUILD))
    with caplog.at_level(logging.WARNING, logger="publish.asc"):
        assert c.get_build("B1").id == "B1"
    assert sleeps == [16, 32, 64]
    assert "App Store Connect rate limit reached for key PIPEKEY123; waiting 64 s (attempt 3)" in caplog.text


def test_429_of_a_create_is_waited_out_because_nothing_was_done() -> None:
    created = {"data": {"type": "buildUploads", "id": "U1"}}
    c, transport, sleeps = client(answer(429, error(429, "RATE_LIMIT_EXCEEDED"), Retry_After="40"),
                                  answer(201, created))
    assert c.create_build_upload("A1", version="1.0", build_number="1").id == "U1"
    assert sleeps == [40.0] and len(transport.requests) == 2


def test_retry_after_as_a_date_is_honoured() -> None:
    clock = Clock()
    when = email.utils.formatdate(NOW + 300, usegmt=True)
    c, _, sleeps = client(answer(429, error(429, "RATE_LIMIT_EXCEEDED"), Retry_After=when), answer(200, BUILD),
                          clock=clock)
    c.get_build("B1")
    assert sleeps == [pytest.approx(300, abs=1)]


def test_a_long_wait_within_the_budget_is_waited_out() -> None:
    limited = answer(429, error(429, "RATE_LIMIT_EXCEEDED"), Retry_After="1800")
    c, _, sleeps = client(limited, answer(200, BUILD), wait_budget=3600)
    c.get_build("B1")
    assert sleeps == [1800]


def test_retry_after_of_hours_beyond_the_deadline_fails_at_once_naming_the_wait() -> None:
    c, transport, sleeps = client(answer(429, error(429, "RATE_LIMIT_EXCEEDED"), Retry_After="36000"),
                                  wait_budget=7200)
    with pytest.raises(AscRateLimitError) as caught:
        c.get_build("B1")
    assert sleeps == [] and len(transport.requests) == 1
    text = str(caught.value)
    assert "Waiting 10.0 h" in text and "PIPEKEY123" in text and "deadline" in text and "36000 s" in text


def test_the_callers_deadline_bounds_the_waits() -> None:
    limited = answer(429, error(429, "RATE_LIMIT_EXCEEDED"))
    c, transport, sleeps = client(*[limited] * 10, wait_budget=1e9)
    with c.waiting_within(100), pytest.raises(AscRateLimitError) as caught:
        c.get_build("B1")
    assert sleeps == [16, 32]  # 16 + 32 = 48 s spent; 64 s more would end past 100 s
    assert len(transport.requests) == 3 and "52 s left" in str(caught.value)
    assert c.deadline is None


def test_5xx_retry_after_past_the_deadline_is_not_slept() -> None:
    c, transport, sleeps = client(answer(503, error(503, "SERVICE_UNAVAILABLE"), Retry_After="5000"))
    with pytest.raises(AscServerError) as caught:
        c.get_build("B1")
    assert sleeps == [] and "retry in 83 min" in str(caught.value)


# ---------------------------------------------------------------- re-signing as a layer

def test_signing_layer_resigns_once_on_401() -> None:
    clock = Clock()
    tokens = TokenProvider(KEY, clock)
    seen: list[str] = []

    def handle(request: WireRequest) -> WireResponse:
        seen.append(request.headers["Authorization"])
        return answer(401 if len(seen) == 1 else 200, BUILD)

    assert SigningTransport(MockTransport(handle), tokens).send(WireRequest("GET", "https://x/v1/builds")).status == 200
    assert len(seen) == 2 and seen[0] != seen[1] and tokens.tokens_issued == 2


def test_401_on_every_call_is_an_auth_error_after_one_resign() -> None:
    c, transport, _ = client(*[answer(401, error(401, "NOT_AUTHORIZED"))] * 4)
    with pytest.raises(AscAuthError) as caught:
        c.find_app("com.example.app")
    assert len(transport.requests) == 2 and "revoked" in str(caught.value)


# ---------------------------------------------------------------- answers that are not App Store Connect's

@pytest.mark.parametrize("data", ["a string", [1, 2], ["x"], [{"type": "apps"}], {"id": "1"}, 7])
def test_json_api_data_of_the_wrong_shape_is_a_clear_remote_error(data: Any) -> None:
    c, _, _ = client(answer(200, {"data": data}))
    with pytest.raises(NotJsonApiError) as caught:
        c.find_app("com.example.app")
    assert isinstance(caught.value, RemoteError) and caught.value.exit_code == 1
    assert "not a JSON:API document" in str(caught.value)


@pytest.mark.parametrize("member", [{"included": "x"}, {"links": []}, {"meta": 3}, {"links": {"next": 5}},
                                    {"data": {"type": "apps", "id": "1", "attributes": ["a"]}}])
def test_other_members_of_the_wrong_shape_are_refused(member: dict[str, Any]) -> None:
    c, _, _ = client(answer(200, {"data": [], **member}))
    with pytest.raises(NotJsonApiError):
        list(c.paginate("/v1/apps"))


# far past the decoder's recursion limit; and decodable but deeper than any JSON:API document (100 levels)
@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000,
                                  b'{"data": ' + b"[" * 100 + b"]" * 100 + b"}"])
def test_deeply_nested_json_is_refused_without_a_recursion_error(body: bytes) -> None:
    c, _, _ = client(*[answer(200, body)] * 6)
    with pytest.raises(AscTransportError, match="nested deeper than 64 levels"):
        c.get_build("B1")


def test_deeply_nested_error_body_is_still_a_readable_error() -> None:
    c, _, _ = client(answer(409, b'{"errors":' + b"[" * 100_000))
    with pytest.raises(RemoteError) as caught:
        c.create_beta_build_localization("B1", "en-US", "x")
    assert "409" in str(caught.value)


@pytest.mark.parametrize(("body", "said"), [
    (b"", "empty body"),
    (json.dumps(error(500, "UNEXPECTED_ERROR")).encode(), "error body: 500 UNEXPECTED_ERROR"),
    (b'{"data": [], "x": "\xff\xfe"}', "not UTF-8"),
    (b"<html><body>Sign in to the Wi-Fi</body></html>", "not valid JSON"),
    (b'{"data": [', "not valid JSON"),
])
def test_a_garbled_app_lookup_is_not_no_such_app(body: bytes, said: str) -> None:
    # An app lookup read as "no app with bundle ID ..." (exit 2) sends the user to fix the wrong thing.
    c, transport, sleeps = client(*[answer(200, body)] * 6)
    with pytest.raises(AscTransportError) as caught:
        c.find_app("com.example.app")
    assert said in str(caught.value) and caught.value.exit_code == 1
    assert len(transport.requests) == 6 and len(sleeps) == 5  # a read: retried like a 5xx, then given up


def test_an_empty_answer_while_polling_a_build_upload_says_it_is_not_an_upload() -> None:
    c, _, _ = client(answer(200, {"data": None}), answer(200, {"data": {"type": "builds", "id": "B1"}}))
    with pytest.raises(AscTransportError, match="no resource, not the build upload"):
        c.get_build_upload("U1")
    with pytest.raises(AscTransportError, match="'builds' resource, not the build upload"):
        c.get_build_upload("U1")


def test_endless_pagination_is_cut_with_a_clear_error() -> None:
    def handle(request: WireRequest) -> WireResponse:
        page = len(transport.requests)
        assert page < 50, "pagination was not cut"
        return answer(200, {"data": [], "links": {"next": f"https://api.appstoreconnect.apple.com/v1/apps?c={page}"}})

    transport = MockTransport(handle)
    c = AppStoreConnect(KEY, transport=transport, sleep=Sleeps())
    c.MAX_PAGES = 7
    with pytest.raises(AscTransportError, match="after 7 pages"):
        list(c.paginate("/v1/apps"))
    assert len(transport.requests) == 7


def test_a_redirect_is_not_followed_and_names_the_host() -> None:
    c, transport, _ = client(answer(302, b"", Location="https://evil.example.net/steal"))
    with pytest.raises(AscTransportError) as caught:
        c.get_build("B1")
    assert len(transport.requests) == 1 and "evil.example.net" in str(caught.value)
    assert "not followed" in str(caught.value)


def test_a_skewed_server_clock_is_noted_once(caplog: pytest.LogCaptureFixture) -> None:
    date = email.utils.formatdate(NOW + 3600, usegmt=True)
    c, _, _ = client(answer(200, BUILD, Date=date), answer(200, BUILD, Date=date))
    with caplog.at_level(logging.WARNING, logger="publish.asc"):
        c.get_build("B1")
        c.get_build("B1")
    assert c.clock_skew == pytest.approx(3600)
    assert caplog.text.count("60 min ahead of this machine's") == 1 and "NTP" in caplog.text


def test_the_debug_log_of_a_request_body_masks_passwords(caplog: pytest.LogCaptureFixture) -> None:
    asc, transport, _ = client(answer(200, {"data": {"type": "betaAppReviewDetails", "id": "D1", "attributes": {}}}))
    with caplog.at_level(logging.DEBUG, logger="publish"):
        asc.update_beta_app_review_detail("D1", demoAccountName="reviewer", demoAccountPassword="hunter2-secret")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "request body" in logged and "reviewer" in logged
    assert "hunter2-secret" not in logged
    assert b"hunter2-secret" in transport.requests[0].body  # masked in the log only, sent as it is


def test_the_shown_url_is_worked_out_once_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """`request` and the observing layer both want a call's shown URL: the session works it out once (its
    urlencode is most of what our layers cost an exchange), and each call still reports its own."""
    import publish.asc.observe as observe_module
    import publish.asc.session as session_module

    original = observe_module.shown_url
    worked_out: list[str] = []

    def counted(url: str, query: Any) -> str:
        worked_out.append(url)
        return original(url, query)

    monkeypatch.setattr(session_module, "shown_url", counted)
    monkeypatch.setattr(observe_module, "shown_url", counted)
    calls: list[tuple[str, str, Any]] = []
    c, transport, _ = client(answer(200, BUILD), answer(200, {"data": []}), answer(200, BUILD),
                             on_call=lambda *call: calls.append(call))
    c.get_build("B1")
    c.request("GET", "/v1/builds", params={"filter[app]": "A1", "limit": 200})
    c.get_build("B1")
    assert len(transport.requests) == 3 and len(worked_out) == 3
    assert [url for _, url, _ in calls] == [
        "https://api.appstoreconnect.apple.com/v1/builds/B1",
        "https://api.appstoreconnect.apple.com/v1/builds?filter[app]=A1&limit=200",
        "https://api.appstoreconnect.apple.com/v1/builds/B1"]
