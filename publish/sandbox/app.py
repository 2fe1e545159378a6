"""The simulator's API application: route, authenticate, rate-limit, validate, run the handler, record the exchange.
HTTP plumbing lives in server.py; resource behaviour in the handler modules."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from publish.sandbox.auth import KeyRing
from publish.sandbox.faults import Faults
from publish.sandbox.jsonapi import Query, Renderer, parse_query
from publish.sandbox.model import ApiError, Record, Store
from publish.sandbox.openapi import OpenApi
from publish.sandbox.realism import Realism

log = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    document: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Exchange:
    """One API call as the contract test sees it."""

    method: str
    path: str
    query: str
    request: Any
    status: int
    response: Any
    template: str | None = None


@dataclass
class Call:
    """What a handler gets: the parsed request and the simulator it runs in."""

    sim: Sandbox
    method: str
    path: str
    pairs: list[tuple[str, str]]
    params: dict[str, str]
    query: Query
    body: Any
    template: str

    @property
    def store(self) -> Store:
        return self.sim.store

    @property
    def render(self) -> Renderer:
        return self.sim.renderer

    def document(self, record: Record | None) -> dict[str, Any]:
        return self.render.single(record, self.query, self.render.url(self.path, self.pairs))

    def created(self, record: Record) -> Reply:
        return Reply(201, self.document(record), {"Location": f"{self.sim.base_url}/v1/{record.type}/{record.id}"})

    def ok(self, record: Record | None) -> Reply:
        return Reply(200, self.document(record))

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.body["data"]
        return data

    @property
    def attributes(self) -> dict[str, Any]:
        return self.data.get("attributes") or {}

    def relationship_id(self, name: str) -> str | None:
        linkage = ((self.data.get("relationships") or {}).get(name) or {}).get("data")
        return linkage["id"] if isinstance(linkage, dict) else None

    def related_record(self, name: str, type_: str) -> Record:
        """The record a request's required relationship points at; 409 as Apple does when it is absent or unknown."""
        record = self.optional_related_record(name, type_)
        if record is None:
            raise ApiError(409, "ENTITY_ERROR.RELATIONSHIP.REQUIRED", f"The relationship '{name}' is required.",
                           pointer=f"/data/relationships/{name}")
        return record

    def optional_related_record(self, name: str, type_: str) -> Record | None:
        """The record an optional relationship points at (None when the body leaves it out); 409 when unknown."""
        id_ = self.relationship_id(name)
        if id_ is None:
            return None
        record = self.store.get(type_, id_)
        if record is None:
            raise ApiError(409, "ENTITY_ERROR.RELATIONSHIP.INVALID",
                           f"There is no {type_} resource with id '{id_}'.",
                           pointer=f"/data/relationships/{name}/data/id")
        return record

    def target(self, type_: str) -> Record:
        return self.store.require(type_, self.params["id"])

    def check_update_id(self) -> None:
        if self.data.get("id") != self.params["id"]:
            raise ApiError(409, "ENTITY_ERROR.ATTRIBUTE.INVALID",
                           f"The id in the body ({self.data.get('id')!r}) does not match the id in the path "
                           f"({self.params['id']!r}).", pointer="/data/id")


Handler = Callable[[Call], Reply]

# The parsed queries a Sandbox keeps (see Sandbox.query_pairs): ~2 MB at most.
QUERIES = 1024
QUERY_TEXT = 2048

# Parameters App Store Connect requires although the description does not mark them (protocol.md E6.1).
REQUIRED_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {("get", "/v1/reviewSubmissions"): ("filter[app]",)}


class Sandbox:
    """Everything the HTTP layer calls into. Thread-safe: handlers run under the store lock."""

    def __init__(self, *, openapi: OpenApi, store: Store, keys: KeyRing, faults: Faults,
                 clock: Callable[[], float], handlers: dict[tuple[str, str], Handler],
                 observers: dict[str, Callable[[Record], None]], base_url: str = "") -> None:
        self.openapi = openapi
        self.store = store
        self.keys = keys
        self.faults = faults
        self.clock = clock
        self.handlers = handlers
        self.observers = observers
        self.base_url = base_url
        self.renderer = Renderer(openapi, store, base_url)
        self.exchanges: list[Exchange] = []
        self._exchange_lock = threading.Lock()
        self.extensions: dict[str, Any] = {}  # per-module state (e.g. the part store)
        self._queries: dict[str, tuple[tuple[str, str], ...]] = {}  # query text -> its pairs, for query_pairs
        self.processing_polls = 2  # GETs of an upload (then of its build) before processing moves on
        self.processing_seconds: float | None = None  # or this much time on the clock, whichever comes first
        self.realism = Realism()  # Apple's undocumented habits (protocol.md H), all on unless switched off

    def set_base_url(self, base_url: str) -> None:
        self.base_url = base_url
        self.renderer.base_url = base_url

    def observe(self, record: Record) -> None:
        """A GET returned this record as primary data: simulated processing moves on by one poll."""
        observer = self.observers.get(record.type)
        if observer is not None:
            record.polls += 1
            observer(record)

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], raw_body: bytes) -> Reply:
        request_json: Any = None
        template = None
        if raw_body:
            try:
                request_json = json.loads(raw_body)
            except (ValueError, UnicodeDecodeError):
                request_json = raw_body[:200].decode("utf-8", "replace")
        try:
            reply, template = self._handle(method, path, query, headers, raw_body)
        except ApiError as exc:
            reply = Reply(exc.status, exc.document(), dict(exc.headers))
        except Exception:  # a simulator bug must still answer in Apple's shape, and be visible in the log
            log.exception("sandbox: unexpected error handling %s %s", method, path)
            reply = Reply(500, ApiError(500, "UNEXPECTED_ERROR", "The simulator failed; see its log.").document())
        with self._exchange_lock:
            self.exchanges.append(Exchange(method, path, query, request_json, reply.status, reply.document, template))
        return reply

    def _handle(self, method: str, path: str, query: str, headers: dict[str, str],
                raw_body: bytes) -> tuple[Reply, str | None]:
        if self.faults.chance(self.faults.error_rate_5xx):
            status = 503 if self.faults.chance(0.5) else 500
            raise ApiError(status, "UNEXPECTED_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
                           "Simulated server error (fault injection); retry later.")
        key = self.keys.authenticate(headers.get("authorization"), method, path, query,
                                     strict_lifetime=self.realism.strict_token_lifetime)
        if self.faults.token_expired(headers.get("authorization") or ""):
            raise ApiError(401, "NOT_AUTHORIZED", "The bearer token has expired (fault injection).",
                           title="Authentication credentials are missing or invalid.")
        remaining = self.keys.consume(key)
        rate_header = self.keys.header(remaining)
        if self.faults.rate_limited():
            raise ApiError(429, "RATE_LIMIT_EXCEEDED", "The API key has exceeded its request limit (simulated).",
                           headers={"Retry-After": str(self.faults.retry_after_seconds), **self.keys.header(0)})
        try:
            reply, template = self._route(method, path, query, raw_body)
        except ApiError as exc:
            exc.headers = {**rate_header, **exc.headers}
            raise
        reply.headers = {**rate_header, **reply.headers}
        if method != "GET" and reply.status < 300 and self.faults.chance(self.faults.lost_response_rate):
            raise ApiError(500, "UNEXPECTED_ERROR", "Simulated lost response: the change was made, but this "
                           "answer was lost (fault injection). Re-read the state before retrying.",
                           headers=rate_header)
        return reply, template

    def _route(self, method: str, path: str, query: str, raw_body: bytes) -> tuple[Reply, str]:
        matched = self.openapi.match(path)
        if matched is None:
            raise ApiError(404, "NOT_FOUND", f"The URL path '{path}' does not match a defined resource type.",
                           title="The specified resource does not exist")
        route, params = matched
        operation = route.operations.get(method.lower())
        if operation is None:
            allowed = ", ".join(sorted(m.upper() for m in route.operations))
            raise ApiError(405, "METHOD_NOT_ALLOWED",
                           f"The resource '{route.template}' does not allow '{method}'. Allowed operations are: "
                           f"{allowed}.", headers={"Allow": allowed})
        pairs = self.query_pairs(query)
        for name in REQUIRED_PARAMETERS.get((method.lower(), route.template), ()):
            if name not in dict(pairs):
                raise ApiError(400, "PARAMETER_ERROR.REQUIRED", f"The parameter '{name}' is required for this "
                               "request.", parameter=name)
        parsed = parse_query(self.openapi, operation, pairs)
        body = self._body(operation, raw_body)
        handler = self.handlers.get((method.lower(), route.template))
        if handler is None:  # every served operation has a handler (tests/test_sandbox_openapi.py)
            raise ApiError(404, "NOT_FOUND", f"{method} {route.template} is not simulated.")
        call = Call(self, method, path, pairs, params, parsed, body, route.template)
        with self.store.lock:
            return handler(call), route.template

    def query_pairs(self, query: str) -> list[tuple[str, str]]:
        """parse_qsl(query, keep_blank_values=True), a new list each call. A client asks the same queries again and
        again (each poll, each page, each run of a flow) and parse_qsl unquotes every name and value (~2 us a pair,
        a bracketed name the most): the pairs are kept per query text (bounded: texts up to QUERY_TEXT characters,
        QUERIES of them, all forgotten when full; a race between threads parses twice)."""
        known = self._queries.get(query)
        if known is None:
            known = tuple(parse_qsl(query, keep_blank_values=True))
            if len(query) <= QUERY_TEXT:
                if len(self._queries) >= QUERIES:
                    self._queries.clear()
                self._queries[query] = known
        return list(known)

    def _body(self, operation: dict[str, Any], raw_body: bytes) -> Any:
        if "requestBody" not in operation:
            return None
        if not raw_body:
            raise ApiError(422, "ENTITY_UNPROCESSABLE", "This request needs a JSON:API document as its body.",
                           pointer="")
        try:
            body = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(422, "ENTITY_UNPROCESSABLE", f"The request body is not valid JSON ({exc}).",
                           pointer="") from None
        problems = self.openapi.request_problems(operation, body)
        if problems:
            errors = [ApiError(422, "ENTITY_UNPROCESSABLE", p.message, pointer=p.pointer) for p in problems[:10]]
            first = errors[0]
            first.more = errors[1:]
            raise first
        return body

