"""The simulator keeps its verdicts on request bodies (OpenApi.request_problems, per schema and document): the same
body is judged once, every verdict is the one a fresh judgement gives (members' order, 1 / 1.0 / true apart), and
the memo stays bounded."""

from __future__ import annotations

from typing import Any

import pytest

from publish.sandbox import openapi as openapi_module
from publish.sandbox.openapi import BodyProblem, OpenApi


@pytest.fixture
def own_api() -> OpenApi:
    """The packaged OpenApi (another costs ~0.2 s to build): its verdicts are a memo, and forgetting them changes
    no answer."""
    return OpenApi.packaged()


@pytest.fixture
def fresh(own_api: OpenApi, monkeypatch: pytest.MonkeyPatch) -> tuple[OpenApi, dict[str, Any], list[Any]]:
    """The OpenApi with no verdicts yet, PATCH /v1/builds/{id}, and a log of the judgements it makes."""
    own_api._verdicts.clear()
    judged: list[Any] = []
    judge = own_api._request_problems

    def counting(ref: str, body: Any) -> list[BodyProblem]:
        judged.append(body)
        return judge(ref, body)

    monkeypatch.setattr(own_api, "_request_problems", counting)
    return own_api, own_api.document["paths"]["/v1/builds/{id}"]["patch"], judged


def _patch(attributes: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"data": {"type": "builds", "id": "b1", "attributes": attributes, **data}}


BODIES = [
    _patch({"usesNonExemptEncryption": True}),
    _patch({"usesNonExemptEncryption": 1}),
    _patch({"usesNonExemptEncryption": 1.0}),
    _patch({"usesNonExemptEncryption": "yes"}),
    _patch({"expired": None}),
    _patch({"colour": "red", "shape": "round"}),
    _patch({"shape": "round", "colour": "red"}),
    {"data": {"id": "b1", "attributes": {}}},
    {"data": {"attributes": {}, "id": "b1"}},
    {"data": []},
    [],
    None,
]


def test_every_verdict_is_a_fresh_judgement_and_a_repeated_body_is_judged_once(fresh: Any, own_api: Any) -> None:
    api, operation, judged = fresh
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    expected = [OpenApi._request_problems(own_api, ref, body) for body in BODIES]  # judged afresh, none kept
    assert any(expected) and not all(expected)
    for _ in range(3):
        assert [api.request_problems(operation, body) for body in BODIES] == expected
    assert judged == BODIES  # each once, on first sight
    # The members' order decides which unknown attribute a message points at: each order has its own verdict.
    assert expected[5][0].pointer == "/data/attributes/colour" and expected[6][0].pointer == "/data/attributes/shape"


def test_a_verdict_handed_out_cannot_change_the_kept_one(fresh: Any) -> None:
    api, operation, _ = fresh
    body = _patch({"usesNonExemptEncryption": "yes"})
    first = api.request_problems(operation, body)
    first.clear()
    assert api.request_problems(operation, body) != []


def test_the_memo_is_bounded(fresh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openapi_module, "VERDICTS", 3)
    monkeypatch.setattr(openapi_module, "VERDICT_TEXT", 200)
    api, operation, judged = fresh
    bodies = [_patch({"usesNonExemptEncryption": n % 2 == 0}, relationships={"n": n}) for n in range(5)]
    for body in bodies:
        api.request_problems(operation, body)
    assert len(api._verdicts) == 3
    api.request_problems(operation, bodies[0])  # forgotten first: judged again
    api.request_problems(operation, bodies[4])  # still known
    assert judged == [*bodies, bodies[0]]
    big = _patch({"whatsNew": "x" * 200})
    api.request_problems(operation, big)
    api.request_problems(operation, big)
    assert judged[-2:] == [big, big] and len(api._verdicts) == 3  # over VERDICT_TEXT: never kept
