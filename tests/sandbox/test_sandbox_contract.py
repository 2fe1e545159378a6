"""tests/contract.py catches what it must: the checker is only useful if it can fail."""

from __future__ import annotations

from pathlib import Path

import jsonschema

from contract import check_exchanges, to_json_schema

GOOD_APP = {"type": "apps", "id": "1", "attributes": {"bundleId": "com.example.app", "name": "Example"},
            "links": {"self": "http://127.0.0.1/v1/apps/1"}}


def _exchange(**overrides) -> dict:
    base = {"method": "GET", "path": "/v1/apps/1", "query": "", "request": None, "status": 200,
            "response": {"data": GOOD_APP, "links": {"self": "http://127.0.0.1/v1/apps/1"}}}
    return {**base, **overrides}


def test_valid_exchange_passes(openapi_path: Path) -> None:
    assert check_exchanges([_exchange()], openapi_path) == []


def test_violations_are_reported(openapi_path: Path) -> None:
    bad = [
        _exchange(response={"data": GOOD_APP}),  # links missing
        _exchange(response={"data": {**GOOD_APP, "attributes": {"bundleId": 5}}, "links": {"self": "x"}}),
        _exchange(response={"data": {**GOOD_APP, "attributes": {"madeUp": "x"}}, "links": {"self": "x"}}),
        _exchange(status=201),  # not documented for GET
        _exchange(status=404, response={"errors": [{"status": 404, "code": "NOT_FOUND", "title": "t",
                                                    "detail": "d"}]}),  # status must be a string
        _exchange(query="filter[nope]=1"),
        _exchange(method="PUT"),
        _exchange(method="DELETE", path="/v1/buildUploads/1", status=204, response={"data": None}),
        _exchange(method="POST", path="/v1/buildUploads", status=201,
                  request={"data": {"type": "buildUploads", "attributes": {}}},
                  response={"data": {"type": "buildUploads", "id": "1"}, "links": {"self": "x"}}),
    ]
    problems = check_exchanges(bad, openapi_path)
    for number in range(len(bad)):
        assert any(p.startswith(f"#{number} ") for p in problems), (number, problems)


def test_refused_requests_are_not_reported_but_their_errors_are(openapi_path: Path) -> None:
    refused = _exchange(method="POST", path="/v1/buildUploads", status=422, request={"data": {}},
                        response={"errors": [{"status": "422", "code": "ENTITY_UNPROCESSABLE", "title": "t",
                                              "detail": "d", "source": {"pointer": "/data"}}]})
    assert check_exchanges([refused], openapi_path) == []
    assert check_exchanges([refused], openapi_path, allow_rejected=False) != []


def test_empty_to_one_relationship_may_be_null(openapi_path: Path) -> None:
    empty = _exchange(path="/v1/appStoreVersions/1/build", response={"data": None, "links": {"self": "x"}})
    assert check_exchanges([empty], openapi_path) == []


def test_the_converter_keeps_properties_named_like_openapi_keywords_and_refuses_others() -> None:
    """Keywords JSON Schema lacks are dropped as keywords only: an attribute called `deprecated` or `example` is
    still described (and still required to have its type), and an unlisted attribute is still refused."""
    schema = to_json_schema({"type": "object", "deprecated": True, "properties": {
        "deprecated": {"type": "boolean", "example": True}, "example": {"type": "string", "nullable": True}}})
    assert set(schema["properties"]) == {"deprecated", "example"} and "deprecated" not in schema["properties"][
        "deprecated"]
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"deprecated": False, "example": None})
    assert not validator.is_valid({"deprecated": "no"})
    assert not validator.is_valid({"deprecatd": True})
