"""`RequestsTransport` prepares its requests itself instead of through `Session.request` (the CPU of requests'
generic merging was a third of an exchange's): the fast path is the one taken, and its merge of the session's
settings is requests' `merge_setting`. That the bytes on the wire are unchanged is tests/e2e/test_asc_wire_bytes.py."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NoReturn

import pytest
import requests
import responses
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict

from publish.asc.session import new_session
from publish.asc.wire import RequestsTransport, WireRequest, _merged, plain_url

BASE = "https://api.appstoreconnect.apple.com"


@responses.activate
def test_the_transport_does_not_go_through_session_request() -> None:
    responses.get(f"{BASE}/v1/apps", json={"data": []})
    session = new_session()

    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("Session.request was called")

    session.request = refused  # type: ignore[method-assign]
    answer = RequestsTransport(session).send(WireRequest("GET", f"{BASE}/v1/apps", (("limit", "200"),),
                                                         {"Authorization": "Bearer t"}))
    assert answer.status == 200 and answer.body == b'{"data": []}'
    sent = responses.calls[0].request
    assert sent.url == f"{BASE}/v1/apps?limit=200"
    assert sent.headers["Authorization"] == "Bearer t"
    assert sent.headers["User-Agent"].startswith("python-requests/")  # the session's defaults, merged


SETTINGS: list[tuple[Any, Any]] = [
    ({}, {}),
    ({"Accept": "application/json"}, CaseInsensitiveDict({"accept": "*/*", "User-Agent": "x"})),
    ({"Accept": "application/json", "X-Gone": None}, {"X-Gone": "1", "Keep": "2"}),
    ({"a": "1"}, {"b": None, "A": "2"}),
    ({}, None),
    (None, {"a": "1"}),
    ([("a", "1")], {"b": "2"}),
    ({"a": "1"}, "not a mapping"),
]


@pytest.mark.parametrize(("ours", "theirs"), SETTINGS)
@pytest.mark.parametrize("dict_class", [CaseInsensitiveDict, OrderedDict])
def test_merged_is_merge_setting(ours: Any, theirs: Any, dict_class: type) -> None:
    expected = merge_setting(ours, theirs, dict_class=dict_class)
    got = _merged(ours, theirs, dict_class)
    assert type(got) is type(expected)
    if isinstance(expected, (dict, CaseInsensitiveDict)):
        assert list(got.items()) == list(expected.items())
    else:
        assert got == expected


def requests_url(url: str, query: str) -> str | None:
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, query or None)
    except requests.exceptions.RequestException:
        return None
    return str(prepared.url)


# URLs near the plain ones, piece by piece: the plain pieces and their near misses (case, dots, ports, escapes).
SCHEMES = ["https", "http", "HTTP", "ftp"]
HOSTS = ["api.appstoreconnect.apple.com", "127.0.0.1", "localhost", "a-b.c-d", "-a", "a-", "127.1", "0x7f.0.0.1",
         "1.2.3.4.5", "xn--e1a.com", "API.example.com", "a..b", ".a", "a.", "h_1", "é.com", "[::1]", "user@h"]
PORTS = ["", ":443", ":8080", ":65535", ":080", ":0", ":65536", ":99999", ":"]
PATHS = ["/v1/apps", "/v1/apps/", "/v1/builds/8d3a-4f1e_x~y.z", "/v1/./apps", "/v1/../apps", "/v1/.", "/v1//apps",
         "/v1/.well-known", "/v1/a b", "/v1/%41", "/v1/%2F", "/v1/é", "/v1/a:b@c", "/v1/a?b", "/v1/a#b", "", "/"]
QUERIES = ["", "a=1", "filter%5BbundleId%5D=com.example.app&limit=200", "a=b+c&d=", "x=%7E", "a=%41", "a=%5b", "a=é",
           "a=b c", "%", "a=%2", "a=%C3%A9"]


def test_a_plain_url_is_what_requests_makes_of_it() -> None:
    cases = [(f"{scheme}://{host}{port}/v1/apps", query) for scheme in SCHEMES for host in HOSTS for port in PORTS
             for query in ("", "limit=200")]
    cases += [(f"{base}{path}", query) for base in ("https://api.appstoreconnect.apple.com", "http://127.0.0.1:8080")
              for path in PATHS for query in QUERIES]
    plain = 0
    for url, query in cases:
        fast = plain_url(url, query)
        if fast is not None:
            plain += 1
            assert fast == requests_url(url, query), (url, query)
    assert plain >= 100  # the comparison is not an empty one


@pytest.mark.parametrize(("url", "query"), [
    ("https://api.appstoreconnect.apple.com/v1/apps", "filter%5BbundleId%5D=com.example.app&limit=200"),
    ("http://127.0.0.1:49152/v1/builds/8d3a3ad6-4f1e-4c35-9a4b-9f1ad2b8e2c1", ""),
    ("http://localhost:8080/v1/betaGroups/G1/relationships/builds", ""),
    ("https://api.appstoreconnect.apple.com/v1/builds/", "fields%5Bbuilds%5D=version%2CuploadedDate&sort=-version"),
])
def test_the_client_urls_are_plain(url: str, query: str) -> None:
    assert plain_url(url, query) == requests_url(url, query) == (f"{url}?{query}" if query else url)


@pytest.mark.parametrize(("url", "query"), [
    ("https://API.example.com/v1/apps", ""),  # the host is lower-cased
    ("https://api.example.com/v1/./apps", ""),  # a dot segment goes
    ("https://api.example.com/v1/apps?cursor=x", ""),  # a query of its own (a links.next)
    ("https://api.example.com/v1/ap ps", ""),  # escaped
    ("https://api.example.com:080/v1/apps", ""),  # the port is rewritten
    ("https://api.example.com/v1/apps", "a=%41"),  # an escaped unreserved character is unquoted
    ("https://api.example.com/v1/apps", "a=%5b"),  # a lower-case escape
    ("https://user@api.example.com/v1/apps", ""),
])
def test_anything_else_is_left_to_requests(url: str, query: str) -> None:
    assert plain_url(url, query) is None


@responses.activate
def test_a_plain_url_is_not_prepared_by_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    responses.get(f"{BASE}/v1/apps", json={"data": []})
    responses.get(f"{BASE}/v1/apps/%C3%A9", json={"data": []})
    prepared_by_requests: list[str] = []
    original = requests.PreparedRequest.prepare_url

    def noted(self: requests.PreparedRequest, url: Any, params: Any) -> None:
        prepared_by_requests.append(url)
        original(self, url, params)

    monkeypatch.setattr(requests.PreparedRequest, "prepare_url", noted)
    transport = RequestsTransport(new_session())
    transport.send(WireRequest("GET", f"{BASE}/v1/apps", (("filter[bundleId]", "com.example.app"),)))
    transport.send(WireRequest("GET", f"{BASE}/v1/apps/é"))
    assert prepared_by_requests == [f"{BASE}/v1/apps/é"]
    assert [call.request.url for call in responses.calls] == [
        f"{BASE}/v1/apps?filter%5BbundleId%5D=com.example.app", f"{BASE}/v1/apps/%C3%A9"]
