"""A scripted App Store Connect at the client's transport seam, for step unit tests.

Why this shape: a step is tested through the real `AppStoreConnect` (its request building, decoding, retry policy
and error types), with only the wire replaced. Each test says which answers App Store Connect gives to which calls,
and afterwards which calls the step made - so a test reads as "Apple answers this; the step does that". There is no
socket, no thread and no simulator (publish/sandbox): an unscripted call fails the test at once, naming it.

Answers to one route are given in order; the last one repeats (so `on("GET", path, PROCESSING, VALID)` reads
PROCESSING once, then VALID for ever). An answer is a JSON document (status 200, 201 for POST, 204 when None), a
`Reply` with an explicit status, `LOST` (the request went out, its answer never came back), or a function of the
`Call` returning one of these.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc import ApiKey, AppStoreConnect
from publish.asc.wire import MockTransport, WireFailure, WireRequest, WireResponse

BASE_URL = "https://api.appstoreconnect.apple.com"
_PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
API_KEY = ApiKey("STEPUNIT01", "69a6de70-03db-47e3-e053-5b8c7c11a4d1", _PEM)
LOST = WireFailure("lost", "connection reset by peer")


class UnscriptedCall(AssertionError):
    """The step made a call the test gave no answer for."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def attributes(self) -> dict[str, Any]:
        data = self.body.get("data") if isinstance(self.body, Mapping) else None
        return dict(data.get("attributes") or {}) if isinstance(data, Mapping) else {}


Answer = Any  # a JSON document, None, Reply, WireFailure, or Callable[[Call], Answer]


@dataclass
class Route:
    method: str
    path: str
    where: Mapping[str, str]
    answers: list[Answer]
    calls: list[Call] = field(default_factory=list)

    def matches(self, call: Call) -> bool:
        return (call.method == self.method and call.path == self.path
                and all(call.query.get(k) == v for k, v in self.where.items()))

    def next_answer(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeAsc:
    """Routes (method, exact path, query subset) to scripted answers; the newest matching route wins, so a test
    can override a default of its world."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.calls: list[Call] = []

    def on(self, method: str, path: str, *answers: Answer, where: Mapping[str, str] | None = None) -> Route:
        route = Route(method.upper(), path, dict(where or {}), list(answers) or [None])
        self.routes.append(route)
        return route

    def client(self, *, clock: Callable[[], float], sleep: Callable[[float], None],
               dry_run: bool = False) -> AppStoreConnect:
        """The real client over this fake; in a dry run its dry-run transport answers and nothing reaches here."""
        return AppStoreConnect(API_KEY, base_url=BASE_URL, transport=MockTransport(self.handle), clock=clock,
                               sleep=sleep, random=random.Random(7), dry_run=dry_run, dry_run_reads=dry_run)

    def handle(self, request: WireRequest) -> WireResponse:
        parts = urlsplit(request.url)
        query = dict(parse_qsl(parts.query)) | {k: v for k, v in request.params}
        body = json.loads(request.body) if request.body else None
        call = Call(request.method, parts.path, query, body)
        self.calls.append(call)
        route = next((r for r in reversed(self.routes) if r.matches(call)), None)
        if route is None:
            raise UnscriptedCall(f"unscripted call: {call.method} {call.path} {call.query or ''} {body or ''}")
        route.calls.append(call)
        return _respond(call, route.next_answer())

    def sent(self, method: str, path: str | None = None) -> list[Call]:
        """The calls made with this method (and path, or path prefix ending in '/')."""
        return [c for c in self.calls if c.method == method.upper() and (
            path is None or c.path == path or (path.endswith("/") and c.path.startswith(path)))]

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]


def _respond(call: Call, answer: Answer) -> WireResponse:
    if callable(answer) and not isinstance(answer, (Reply, WireFailure)):
        answer = answer(call)
    if isinstance(answer, WireFailure):
        raise answer
    if not isinstance(answer, Reply):
        status = 204 if answer is None else 201 if call.method == "POST" else 200
        answer = Reply(status, answer)
    raw = json.dumps(answer.body).encode() if answer.body is not None else b""
    headers = {"Content-Type": "application/json"} if raw else {}
    return WireResponse(answer.status, raw, headers)


# ------------------------------------------------------------------------------------------ JSON:API builders


def res(type_: str, id_: str, rels: Mapping[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
    """A resource; `rels` maps a relationship to an id, a list of ids, None (linkage null) or a full mapping."""
    out: dict[str, Any] = {"type": type_, "id": id_, "attributes": attributes}
    if rels:
        out["relationships"] = {name: _relationship(name, value) for name, value in rels.items()}
    return out


_REL_TYPES = {"build": "builds", "appStoreVersionForReview": "appStoreVersions", "items": "reviewSubmissionItems",
              "appStoreVersion": "appStoreVersions", "appStoreVersionPhasedRelease": "appStoreVersionPhasedReleases",
              "preReleaseVersion": "preReleaseVersions", "buildBetaDetail": "buildBetaDetails",
              "betaGroups": "betaGroups", "individualTesters": "betaTesters",
              "betaBuildLocalizations": "betaBuildLocalizations", "betaAppReviewSubmission": "betaAppReviewSubmissions"}


def _relationship(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    kind = _REL_TYPES.get(name, name)
    if value is None:
        return {"data": None}
    if isinstance(value, (list, tuple)):
        return {"data": [{"type": kind, "id": v} for v in value]}
    return {"data": {"type": kind, "id": value}}


def one(resource: Mapping[str, Any], included: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"data": dict(resource)}
    if included:
        out["included"] = list(included)
    return out


def many(*resources: Mapping[str, Any], included: list[Mapping[str, Any]] | None = None,
         next_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"data": [dict(r) for r in resources]}
    if included:
        out["included"] = list(included)
    if next_url:
        out["links"] = {"next": next_url}
    return out


def apple_error(status: int, code: str, detail: str, title: str = "The request cannot be fulfilled.",
                pointer: str | None = None) -> Reply:
    """An error answer in App Store Connect's shape (protocol.md section H quotes the texts)."""
    item: dict[str, Any] = {"status": str(status), "code": code, "title": title, "detail": detail}
    if pointer:
        item["source"] = {"pointer": pointer}
    return Reply(status, {"errors": [item]})


def echo(id_: str | None = None, **extra: Any) -> Callable[[Call], dict[str, Any]]:
    """An answer to a create or update: the resource as sent (with `id_` when the request has none), plus `extra`
    attributes (e.g. the state Apple gives a new review submission)."""
    def answer(call: Call) -> dict[str, Any]:
        data = dict(call.body["data"]) if isinstance(call.body, Mapping) else {}
        data["id"] = data.get("id") or id_ or f"NEW-{data.get('type', 'resource')}"
        data["attributes"] = {**(data.get("attributes") or {}), **extra}
        return {"data": data}
    return answer
