"""contract.py's fast pass (jsonschema-rs) may only ever save time: it must accept exactly what the arbiter
(python-jsonschema with its FormatChecker) accepts, over Apple's recorded responses and their mutants (the
simulator's answers: tests/e2e/test_contract_fast_pass_flow.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import contract
from contract import OpenApiDescription, load_description
from contract_corpus import KINDS, compare

pytest.importorskip("jsonschema_rs", reason="the fast pass needs jsonschema-rs (a test dependency)")


@pytest.fixture(scope="module")
def spec(openapi_path: Path) -> OpenApiDescription:
    return load_description(openapi_path)


def _response_refs(spec: OpenApiDescription) -> dict[tuple[bool, Any], list[str]]:
    """(data is a list?, resource type) -> the response schemas an answer of that shape is one of: those whose
    data is (a list of) that type, in the description's order. One pass over the schemas, not one an answer."""
    schemas = spec.root["components"]["schemas"]
    refs: dict[tuple[bool, Any], list[str]] = {}
    for name, schema in schemas.items():
        if not name.endswith("Response"):
            continue
        shape = schema.get("properties", {}).get("data", {})
        for listed in (False, True):
            target = (shape.get("items", {}) if listed else shape).get("$ref", "")
            resource = schemas.get(target.rsplit("/", 1)[-1], {})
            enum = resource.get("properties", {}).get("type", {}).get("enum")
            if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
                refs.setdefault((listed, enum[0]), []).append(f"#/components/schemas/{name}")
    return refs


def test_the_fast_pass_agrees_with_the_arbiter_on_recorded_answers_and_their_mutants(
        spec: OpenApiDescription, real_world: Any) -> None:
    refs = _response_refs(spec)
    documents = []
    for path in sorted(real_world("asc-responses").glob("*.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and document.get("data"):
            data = document["data"]
            kind = (data[0] if isinstance(data, list) else data)["type"]
            documents += [(ref, document) for ref in refs.get((isinstance(data, list), kind), [])]
    assert len(documents) >= 30
    disagreements, rejected = compare(spec, documents)
    assert not disagreements, "\n".join(disagreements[:20])
    assert all(rejected[kind] for kind in KINDS if kind != "original"), rejected  # the mutants have teeth
    assert rejected["original"] <= len(documents) - 20, rejected  # many recorded answers are valid (some not)


def test_a_document_the_fast_pass_accepts_is_not_walked_again(spec: OpenApiDescription, real_world: Any) -> None:
    document = json.loads((real_world("asc-responses") / "testflight-beta_app_review_detail.json").read_text())
    fresh = OpenApiDescription.__new__(OpenApiDescription)
    fresh.__dict__.update({**spec.__dict__, "_validators": {}, "_verdicts": {}})

    def no_arbiter(ref: str) -> Any:
        raise AssertionError(f"the arbiter was asked about {ref}")

    fresh.validator = no_arbiter  # type: ignore[method-assign]
    assert fresh.problems("#/components/schemas/BetaAppReviewDetailResponse", document) == []
    with pytest.raises(AssertionError, match="arbiter was asked"):
        fresh.problems("#/components/schemas/BetaAppReviewDetailResponse", {**document, "links": 5})


def test_the_fast_pass_calls_back_only_for_formats_the_arbiter_checks(spec: OpenApiDescription,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def conforms(checker: Any, name: str, value: str) -> bool:
        asked.append(name)
        return checker.conforms(value, name)

    monkeypatch.setattr(contract, "_conforms", conforms)
    fresh = OpenApiDescription.__new__(OpenApiDescription)
    fresh.__dict__.update({**spec.__dict__, "_fast": {}, "_verdicts": {}})
    ref = "#/components/schemas/BetaTesterResponse"
    link = "https://api.appstoreconnect.apple.com/v1/betaTesters/1"
    document = {"data": {"type": "betaTesters", "id": "1", "links": {"self": link},
                         "attributes": {"email": "ann@example.com", "firstName": "Ann"}}, "links": {"self": link}}
    assert not {"uri", "uri-reference"} & set(fresh.format_checker.checkers) and "email" in fresh.format_checker.checkers
    assert fresh.problems(ref, document) == []
    assert asked == ["email"]  # the links (uri-reference) conform without a call: the arbiter has no check for it
    bad = {**document, "data": {**document["data"], "attributes": {"email": "nobody"}}}
    assert fresh.fast_validator(ref).is_valid(bad) is False
    assert fresh.problems(ref, bad) == ["/data/attributes/email: 'nobody' is not a 'email'"]
    assert fresh.fast_validator(ref).is_valid({**document, "links": {"self": "not a uri"}})  # as the arbiter says
    assert fresh.problems(ref, {**document, "links": {"self": "not a uri"}}) == []


def test_each_schemas_links_are_read_once(spec: OpenApiDescription, monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[int] = []
    original = contract._links

    def counting(schema: Any) -> Any:
        walked.append(id(schema))
        return original(schema)

    monkeypatch.setattr(contract, "_links", counting)
    fresh = OpenApiDescription.__new__(OpenApiDescription)
    fresh.__dict__.update({**spec.__dict__, "_fast": {}, "_links": {}})
    refs = ["#/components/schemas/BuildsResponse", "#/components/schemas/BuildResponse"]  # reaching the same
    reached = set().union(*(fresh._reached(ref)[0] for ref in refs))
    assert all(fresh.fast_validator(ref) is not None for ref in refs)
    assert len(walked) == len(set(walked)) == len(reached) > 20
