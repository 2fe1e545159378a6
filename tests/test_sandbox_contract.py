"""tests/contract.py catches what it must: the checker is only useful if it can fail."""

from __future__ import annotations

from pathlib import Path

from contract import check_exchanges

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
