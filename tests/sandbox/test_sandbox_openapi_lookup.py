"""What the simulator looks up on every request is looked up cheaply and answers as the plain reading does: a path's
route (tried among the templates of its length and resource type only) and an operation's query parameters."""

from __future__ import annotations

import copy
from typing import Any

from publish.sandbox.openapi import OpenApi, Route


def _scan(openapi: OpenApi, path: str) -> tuple[Route, dict[str, str]] | None:
    """Every route in order, first match wins: what match() must agree with."""
    for route in openapi.routes:
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None


def _paths(templates: list[str]) -> list[str]:
    paths = ["", "/", "/v1", "/v1/", "/v2/apps", "/v1/unknown/1", "/v1/apps/", "/v1/apps//builds", "/v1//apps",
             "/v1/{id}/builds", "apps/1"]
    for template in templates:
        filled = template.replace("{id}", "123")
        paths += [template, filled, filled + "/", filled + "/extra", filled.replace("123", "a.b-c_d"),
                  filled.rsplit("/", 1)[0]]
    return paths


def test_match_agrees_with_trying_every_route_in_order() -> None:
    openapi = OpenApi.packaged()
    for path in _paths([route.template for route in openapi.routes]):
        assert openapi.match(path) == _scan(openapi, path), path
    assert openapi.match("/v1/apps/9/builds") == (
        next(r for r in openapi.routes if r.template == "/v1/apps/{id}/builds"), {"id": "9"})


def test_templates_with_a_parameter_up_front_are_still_tried_in_order() -> None:
    document: dict[str, Any] = copy.deepcopy(OpenApi.packaged().document)
    document["paths"]["/v1/{kind}/{id}"] = {"get": {"responses": {}}}
    document["paths"]["/{version}/apps/{id}"] = {"get": {"responses": {}}}
    openapi = OpenApi(document)
    for path in _paths([route.template for route in openapi.routes]) + ["/v1/anything/7", "/v9/apps/7"]:
        assert openapi.match(path) == _scan(openapi, path), path
    assert openapi.match("/v1/anything/7") == (
        next(r for r in openapi.routes if r.template == "/v1/{kind}/{id}"), {"kind": "anything", "id": "7"})


def test_query_parameters_are_read_once_per_operation() -> None:
    openapi = OpenApi.packaged()
    operation = openapi.document["paths"]["/v1/builds"]["get"]
    first = openapi.query_parameters(operation)
    assert openapi.query_parameters(operation) is first
    assert first == {p["name"]: p for p in operation["parameters"] if p.get("in") == "query"}
    assert "filter[app]" in first and "include" in first
    other = copy.deepcopy(operation)
    other["parameters"] = [p for p in other["parameters"] if p["name"] != "include"]
    assert "include" not in openapi.query_parameters(other)  # another dict is read for itself
