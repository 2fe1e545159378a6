"""contract.py's route tree finds the template a regular expression per template would, most specific first, and
reading the description compiles no pattern (~1000 would flush `re`'s cache of 512 for every other module)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from contract import OpenApiDescription, RouteTree, _query_names, load_description


@pytest.fixture(scope="module")
def spec(openapi_path: Path) -> OpenApiDescription:
    return load_description(openapi_path)


def test_the_route_tree_finds_what_one_expression_per_template_finds(spec: OpenApiDescription) -> None:
    templates = list(spec.doc["paths"])
    regexes: dict[int, list] = {}  # by number of segments: no other count can match ([^/]+ takes no slash)
    for t in sorted(templates, key=lambda t: (t.count("{"), t)):
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$")
        regexes.setdefault(t.count("/"), []).append((t, pattern))
    tree = RouteTree(templates)
    paths = [re.sub(r"\{[^}]+\}", "x1", t) for t in templates]
    paths += [p.replace("x1", "relationships") for p in paths] + ["/v1/apps//builds", "/v1/apps", "/v2/nope", "/"]
    for path in paths:
        assert tree.match(path) == [t for t, pattern in regexes.get(path.count("/"), []) if pattern.match(path)], path


def test_loading_the_description_compiles_no_regular_expression(openapi_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    original = re._compile  # type: ignore[attr-defined]

    def counting(pattern: Any, flags: Any) -> Any:
        compiled.append(str(pattern))
        return original(pattern, flags)

    monkeypatch.setattr(re, "_compile", counting)
    OpenApiDescription(openapi_path)
    assert len(compiled) < 10, compiled[:10]


def test_the_query_names_are_parse_qsls() -> None:
    rng = random.Random(14)
    alphabet = ["a", "b", "=", "&", "+", "%20", "%5B", "%5d", "%", "%zz", "%e9", "%C3%A9", "é", " ", "[", ";"]
    for _ in range(500):
        query = "".join(rng.choices(alphabet, k=rng.randrange(16)))
        assert _query_names(query) == [name for name, _ in parse_qsl(query, keep_blank_values=True)], query


def test_an_operations_query_names_are_read_once(spec: OpenApiDescription) -> None:
    names = spec.query_names("/v1/builds", "get")
    parameters = spec.doc["paths"]["/v1/builds"]["get"]["parameters"]
    assert names == {p["name"] for p in parameters if p.get("in") == "query"} | {"cursor"}
    assert spec.query_names("/v1/builds", "get") is names


def test_a_query_is_read_once(spec: OpenApiDescription, monkeypatch: pytest.MonkeyPatch) -> None:
    import contract

    read: list[str] = []

    def counting(query: str) -> list[str]:
        read.append(query)
        return _query_names(query)

    monkeypatch.setattr(contract, "_query_names", counting)
    fresh = OpenApiDescription.__new__(OpenApiDescription)
    fresh.__dict__.update({**spec.__dict__, "_names_in": {}})
    for _ in range(3):
        assert fresh.names_in("filter%5Bapp%5D=1&include=a,b&limit=2") == ["filter[app]", "include", "limit"]
    assert read == ["filter%5Bapp%5D=1&include=a,b&limit=2"]
