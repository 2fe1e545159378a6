"""`RequestsTransport` prepares its requests itself instead of through `Session.request` (the CPU of requests'
generic merging was a third of an exchange's): the fast path is the one taken, and its merge of the session's
settings is requests' `merge_setting`. That the bytes on the wire are unchanged is tests/e2e/test_asc_wire_bytes.py."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NoReturn

import pytest
import responses
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict

from publish.asc.session import new_session
from publish.asc.wire import RequestsTransport, WireRequest, _merged

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
