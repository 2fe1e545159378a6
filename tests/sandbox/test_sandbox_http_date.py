"""The Date header of the simulator's answers (publish/sandbox/http_date.py) is what http.server's
date_time_string gives at that moment, formatted once a second."""

from __future__ import annotations

import email.utils
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from publish.sandbox import http_date
from publish.sandbox.http_date import HttpDate

MOMENTS = [0.0, 1.0, 1.4999999, 1.9999994, 1.9999996, 2.0, 59.9999999, 86399.5, 951782400.25, 1798761599.9999995,
           1798761600.0, 1798761600.0000004, 4102444800.75]


def test_the_text_is_the_stdlibs_at_every_moment() -> None:
    clock = iter(MOMENTS)
    date = HttpDate(lambda: next(clock))
    stdlib: Any = BaseHTTPRequestHandler.__new__(BaseHTTPRequestHandler)
    for moment in MOMENTS:
        assert date() == stdlib.date_time_string(moment) == email.utils.formatdate(moment, usegmt=True), moment


def test_a_second_is_formatted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    formatted: list[object] = []
    original = email.utils.format_datetime

    def counting(moment: Any, usegmt: bool = False) -> str:
        formatted.append(moment)
        return original(moment, usegmt)

    monkeypatch.setattr(http_date.email.utils, "format_datetime", counting)
    now = [100.1]
    date = HttpDate(lambda: now[0])
    texts = [date()]
    now[0] = 100.9
    texts.append(date())
    now[0] = 101.0
    texts.append(date())
    assert texts == ["Thu, 01 Jan 1970 00:01:40 GMT"] * 2 + ["Thu, 01 Jan 1970 00:01:41 GMT"]
    assert len(formatted) == 2


def test_answers_carry_the_servers_date(sandbox: Any, api: Any) -> None:
    sandbox.http_date = HttpDate(lambda: 1798761600.5)
    assert api.get("/v1/apps").headers["Date"] == "Fri, 01 Jan 2027 00:00:00 GMT"
    assert api.get("/v1/nothing-here").headers["Date"] == "Fri, 01 Jan 2027 00:00:00 GMT"  # an error answer too
