"""The shortcuts `send_prepared` (publish/asc/wire.py) takes past requests' preparation: the merged headers in one
pass, no cookie header computed from an empty jar, no auth looked for in a plain URL. Each is the one taken, and
what it makes is what requests' own steps make. The bytes on the wire: tests/e2e/test_asc_wire_bytes.py."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
import requests
import responses
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from publish.asc.session import new_session
from publish.asc.wire import RequestsTransport, WireRequest, _merged, prepared_headers

BASE = "https://api.appstoreconnect.apple.com"


def _refused(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("requests' own step was called")


HEADERS: list[tuple[Any, Any]] = [
    ({}, {}),
    ({"Authorization": "Bearer t", "Accept": "application/json"}, requests.utils.default_headers()),
    ({"accept": "text/html", "X-Gone": None}, CaseInsensitiveDict({"Accept": "*/*", "x-gone": "1", "Keep": "2"})),
    ({"A": "1", "a": "2"}, {"b": None, "B": "3"}),
    ({b"X-Bytes": b"v", "X-Text": "w"}, {"x-bytes": "old"}),
    ({"X-Empty": ""}, {}),
    ({"Authorization": "Bearer t"}, None),
    (None, {"a": "1"}),
]


def _by_requests(ours: Any, theirs: Any) -> list[tuple[str, Any]]:
    prepared = requests.PreparedRequest()
    prepared.prepare_headers(_merged(ours, theirs, CaseInsensitiveDict))
    return list(prepared.headers.items())


@pytest.mark.parametrize(("ours", "theirs"), HEADERS)
def test_the_headers_are_what_prepare_headers_makes_of_the_merge(ours: Any, theirs: Any) -> None:
    prepared = requests.PreparedRequest()
    prepared_headers(prepared, ours, theirs)
    assert type(prepared.headers) is CaseInsensitiveDict
    assert list(prepared.headers.items()) == _by_requests(ours, theirs)


@pytest.mark.parametrize("bad", [{"X-Bad": "a\r\nInjected: 1"}, {"X-Bad": " leading"}, {"Bad:Name": "v"},
                                 {"X-Bad": 3}, {b"X-Bad": b"a\nb"}])
def test_a_bad_header_is_refused_as_requests_refuses_it(bad: dict[Any, Any]) -> None:
    with pytest.raises(requests.exceptions.InvalidHeader) as expected:
        _by_requests(bad, {"Accept": "*/*"})
    with pytest.raises(requests.exceptions.InvalidHeader) as got:
        prepared_headers(requests.PreparedRequest(), bad, {"Accept": "*/*"})
    assert str(got.value) == str(expected.value)


@responses.activate
def test_a_plain_call_takes_none_of_requests_header_cookie_or_auth_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    responses.get(f"{BASE}/v1/apps", json={"data": []})
    for step in ("prepare_headers", "prepare_cookies", "prepare_auth"):
        monkeypatch.setattr(requests.PreparedRequest, step, _refused)
    session = new_session()
    answer = RequestsTransport(session).send(WireRequest("GET", f"{BASE}/v1/apps", (("limit", "200"),),
                                                         {"Authorization": "Bearer t"}))
    assert answer.status == 200
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer t" and "Cookie" not in sent.headers
    assert list(sent.headers) == ["User-Agent", "Accept-Encoding", "Accept", "Connection", "Authorization"]
    assert isinstance(sent._cookies, RequestsCookieJar) and len(sent._cookies) == 0


@responses.activate
def test_cookies_the_session_holds_still_go_out() -> None:
    responses.get(f"{BASE}/v1/apps", json={"data": []}, headers={"Set-Cookie": "dc=eu; Path=/"})
    transport = RequestsTransport(new_session())
    transport.send(WireRequest("GET", f"{BASE}/v1/apps"))
    transport.send(WireRequest("GET", f"{BASE}/v1/apps"))
    assert "Cookie" not in responses.calls[0].request.headers
    assert responses.calls[1].request.headers["Cookie"] == "dc=eu"


@responses.activate
def test_a_redirect_answer_is_returned_not_followed() -> None:
    responses.get(f"{BASE}/v1/apps", status=302, headers={"Location": f"{BASE}/elsewhere"})
    answer = RequestsTransport(new_session()).send(WireRequest("GET", f"{BASE}/v1/apps"))
    assert answer.status == 302 and len(responses.calls) == 1


@responses.activate
def test_a_url_with_a_user_part_still_gets_its_auth_from_requests() -> None:
    responses.get("https://u:p@api.example.com/v1/apps", json={})
    session = new_session()
    session.trust_env = False  # no ~/.netrc lookup either way: the URL's own user part is the case
    RequestsTransport(session).send(WireRequest("GET", "https://u:p@api.example.com/v1/apps"))
    assert responses.calls[0].request.headers["Authorization"] == "Basic dTpw"
