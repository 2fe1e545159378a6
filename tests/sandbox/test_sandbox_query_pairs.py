"""The simulator reads a query as parse_qsl does (publish/sandbox/app.py Sandbox.query_pairs), once a query text."""

from __future__ import annotations

import random
import urllib.parse
from typing import Any

import pytest

from publish.sandbox import app


def test_a_query_reads_as_parse_qsl_reads_it(sandbox: Any) -> None:
    rng = random.Random(14)
    alphabet = ["a", "b", "=", "&", "+", "%20", "%5B", "%5d", "%", "%zz", "%e9", "%C3%A9", "é", " ", "[", ";", ","]
    for _ in range(300):
        query = "".join(rng.choices(alphabet, k=rng.randrange(16)))
        for _ in range(2):  # parsed, then kept
            assert sandbox.sim.query_pairs(query) == urllib.parse.parse_qsl(query, keep_blank_values=True), query


def test_a_query_text_is_parsed_once_and_each_caller_gets_its_own_list(sandbox: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []

    def counting(query: str, **kwargs: Any) -> Any:
        parsed.append(query)
        return urllib.parse.parse_qsl(query, **kwargs)

    monkeypatch.setattr(app, "parse_qsl", counting)
    query = "filter%5Bapp%5D=1&include=a,b&limit=200"
    first = sandbox.sim.query_pairs(query)
    first.append(("changed", "by a caller"))
    assert sandbox.sim.query_pairs(query) == [("filter[app]", "1"), ("include", "a,b"), ("limit", "200")]
    assert parsed == [query]


def test_the_queries_kept_are_bounded(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "QUERIES", 3)
    for n in range(10):
        assert sandbox.sim.query_pairs(f"n={n}") == [("n", str(n))]
        assert sandbox.sim.query_pairs("x=" + "y" * app.QUERY_TEXT) == [("x", "y" * app.QUERY_TEXT)]
        assert len(sandbox.sim._queries) <= 3 and all(len(q) <= app.QUERY_TEXT for q in sandbox.sim._queries)
