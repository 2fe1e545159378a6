"""The App Store Connect API session: a small pipeline of transport layers and JSON:API documents, and the few
generic verbs (get, list, create, update, delete, link) the area helpers are written in (protocol.md B-F). Knows
nothing of steps or the CLI; the typed helpers per area are in `apps`, `builds`, `build_uploads`, `testflight` and
`app_store`, composed into `client.AppStoreConnect`.

A call goes through, in this order:
- `request` here: the URL (links to other hosts refused, so the token never leaves the API's origin) and the loop
  that asks `retry.decide` (one pure function: idempotency x outcome x attempt) what to do next;
- in a dry run, `dry_run.DryRunTransport`: writes recorded and answered, never sent; reads answered from what it
  fabricated, and sent on only when `dry_run_reads` allows it;
- `signing.SigningTransport`: the bearer token, and one re-signed repeat after a 401;
- `observe.ObservingTransport`: counts every exchange, reports it to `on_call`, logs it, reads the rate-limit and
  Date headers;
- `wire.RequestsTransport` (or any injected `wire.Transport`): one HTTP exchange bounded in size and time;
then `reading.read_answer` turns the body into JSON or says why it is not an answer App Store Connect gives, and
`failures` words what a failed call becomes. The retry rules and why each is safe are in `publish/asc/retry.py`.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import random as random_module
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from publish.asc import failures
from publish.asc.auth import ApiKey, TokenProvider
from publish.asc.dry_run import DryRunCall, DryRunTransport
from publish.asc.errors import AscApiError, AscTransportError, api_error
from publish.asc.observe import AnswerHeaders, ObservingTransport, OnCall, shown_url
from publish.asc.reading import GarbledAnswer, error_document, read_answer
from publish.asc.resources import Document, Resource
from publish.asc.retry import Attempts, Failure, RetryLimits, decide, is_idempotent
from publish.asc.signing import SigningTransport
from publish.asc.transport import DEFAULT_BASE_URL, is_loopback_host, origin, parse_retry_after, validate_base_url
from publish.asc.wire import RequestsTransport, Transport, WireFailure, WireRequest
from publish.errors import RemoteError

log = logging.getLogger("publish.asc.client")

__all__ = ["AscSession", "OnCall", "encode_params", "new_session", "shown_url"]

PAGE_LIMIT = 200
# Every build processing state: without the filter App Store Connect may leave builds still processing out.
ALL_BUILD_STATES = ("PROCESSING", "FAILED", "INVALID", "VALID")
POOL_SIZE = 10
USER_AGENT = "appstore-publish (+https://github.com/; python-requests)"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {camel(key): value for key, value in attributes.items()}


def linkage(type_: str, id_: str) -> dict[str, Any]:
    return {"data": {"type": type_, "id": str(id_)}}


def boolean_attributes(what: str, **flags: bool | None) -> dict[str, Any]:
    """The camelCased boolean attributes of the flags given (None: left out); a PATCH of none is a caller's bug."""
    attributes = {camel(name): bool(value) for name, value in flags.items() if value is not None}
    if not attributes:
        raise ValueError(f"{what} needs {' or '.join(flags)}")
    return attributes


def _filter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_filter_value(v) for v in value)
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters in order; lists become comma-separated values (the OpenAPI's form/explode=false style)."""
    return [(k, _filter_value(v)) for k, v in (params or {}).items() if v is not None]


def new_session(*, loopback: bool = False) -> requests.Session:
    """A pooled session. For the loopback simulator, proxy variables from the environment are ignored (an
    HTTP_PROXY set for the CI network must not swallow requests to 127.0.0.1)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if loopback:
        session.trust_env = False
    return session


class AscSession:
    """One API key's session with App Store Connect: the pipeline of the module docstring (`retry.py` has the
    policy) and the generic verbs. `client.AppStoreConnect` adds the typed helpers of every area."""

    BACKOFF_BASE = 1.0
    BACKOFF_CAP = 30.0
    # 429 without Retry-After: wait 16 s, 32 s, 64 s ... up to an hour (H.13), within the wait budget.
    RATE_LIMIT_BASE = 16.0
    RATE_LIMIT_CAP = 3600.0
    # The most one request may spend waiting (rate limit, Retry-After, backoff) unless the caller gives a deadline.
    WAIT_BUDGET = 900.0
    # A whole exchange (headers and body) must end within this many seconds, however slowly the answer trickles.
    REQUEST_DEADLINE = 120.0
    # `links.next` is followed at most this often in one listing (200 per page: 100 000 resources).
    MAX_PAGES = 500

    def __init__(
        self,
        api_key: ApiKey,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = (10, 60),
        max_retries: int = 5,
        dry_run: bool = False,
        dry_run_reads: bool = False,
        on_call: OnCall | None = None,
        random: random_module.Random | None = None,
        wait_budget: float | None = None,
        request_deadline: float | None = None,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self._origin = origin(self.base_url)
        self._tokens = TokenProvider(api_key, clock)
        self.key_id = api_key.key_id
        self._session = session
        if transport is None:
            if self._session is None:
                self._session = new_session(loopback=is_loopback_host(urlsplit(self.base_url).hostname or ""))
            transport = RequestsTransport(self._session, timeout=timeout,
                                          deadline=request_deadline or self.REQUEST_DEADLINE)
        self.headers = AnswerHeaders(clock)
        self._url_prefix = f"{self._origin[0]}://{urlsplit(self.base_url).netloc}"
        self._last_shown: tuple[str, tuple[tuple[str, str], ...], str] = ("", (), "")
        self._observed = ObservingTransport(transport, headers=self.headers, on_call=on_call,
                                            full_url=self._full_url, shown=self._shown)
        signed = SigningTransport(self._observed, self._tokens)
        # A dry run is the outermost transport: nothing it does not forward reaches the signer or the network.
        self._dry_run: DryRunTransport | None = None
        if dry_run:
            self._dry_run = DryRunTransport(signed if dry_run_reads else None, on_call=on_call,
                                            full_url=self._full_url)
        self._transport: Transport = self._dry_run or signed
        self._clock = clock
        self._sleep = sleep
        self.max_retries = max(0, int(max_retries))
        self.limits = RetryLimits(max_retries=self.max_retries, backoff_base=self.BACKOFF_BASE,
                                  backoff_cap=self.BACKOFF_CAP, rate_limit_base=self.RATE_LIMIT_BASE,
                                  rate_limit_cap=self.RATE_LIMIT_CAP)
        self.wait_budget = float(wait_budget if wait_budget is not None else self.WAIT_BUDGET)
        # An absolute time (by `clock`) no wait may pass: the step's or processing timeout's end (H.13).
        self.deadline: float | None = None
        self.dry_run = dry_run
        self._random = random if random is not None else random_module.Random()

    def __repr__(self) -> str:
        return f"AppStoreConnect(base_url={self.base_url!r}, key_id={self.key_id!r}, dry_run={self.dry_run})"

    @property
    def tokens(self) -> TokenProvider:
        return self._tokens

    @property
    def dry_run_calls(self) -> list[DryRunCall]:
        """Every call of a dry run, sent or not, in order (empty when this is not a dry run)."""
        return list(self._dry_run.calls) if self._dry_run is not None else []

    @property
    def call_count(self) -> int:
        return self._observed.count

    @property
    def rate_limit_remaining(self) -> int | None:
        return self.headers.remaining

    @property
    def rate_limit_limit(self) -> int | None:
        return self.headers.limit

    @property
    def clock_skew(self) -> float | None:
        """Seconds the server's clock (its first Date header) is ahead of ours; None before any answer."""
        return self.headers.clock_skew

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def waiting_within(self, seconds: float) -> Iterator[None]:
        """No wait of a call inside this block ends later than `seconds` from now (e.g. the processing timeout)."""
        previous = self.deadline
        self.deadline = self._clock() + max(0.0, seconds)
        if previous is not None:
            self.deadline = min(self.deadline, previous)
        try:
            yield
        finally:
            self.deadline = previous

    # ------------------------------------------------------------------ low level

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect: Sequence[int] = (200,),
    ) -> dict[str, Any] | None:
        """Send one API call and return the decoded JSON (None for 204 / an empty answer to a write).

        `path` is `/v1/...` (joined to the base URL) or a full URL on the same host (a `links.next`).
        Raises an `AscApiError` subclass for an error answer, `AscTransportError` when no usable answer came,
        `AscAmbiguousWriteError` when a write that is not idempotent may or may not have been applied.
        """
        method = method.upper()
        url = self._url(path)
        query = tuple(encode_params(params))
        shown = self._shown(url, query)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if json is not None:
            headers["Content-Type"] = "application/json"
        wire = WireRequest(method, url, query, headers,
                           jsonlib.dumps(json).encode() if json is not None else None)
        return self._send(wire, shown, is_idempotent(method, urlsplit(url).path, json), tuple(expect))

    def _send(self, wire: WireRequest, shown: str, idempotent: bool,
              expect: tuple[int, ...]) -> dict[str, Any] | None:
        method, call = wire.method, f"{wire.method} {shown}"
        attempts = Attempts()
        waited = 0.0
        while True:
            error: RemoteError
            try:
                response = self._transport.send(wire)
            except WireFailure as lost:
                failure = Failure(lost.kind)
                error = failures.no_answer(lost, call, attempts, self.base_url)
            else:
                status = response.status
                if status in expect:
                    try:
                        return read_answer(status, response.body, response.header("Content-Type"), method=method,
                                           shown=shown)
                    except GarbledAnswer as garbled:
                        failure = Failure("garbled")
                        error = AscTransportError(garbled.message, hint=garbled.hint)
                elif 300 <= status < 400:
                    raise failures.redirected(response, call, self.base_url)
                else:
                    retry_after = parse_retry_after(response.header("Retry-After"), self._clock())
                    failure = Failure("status", status, retry_after)
                    error = api_error(status, error_document(response.body), method=method, path=shown,
                                      reason=response.reason, retry_after=retry_after)
            budget = self.wait_budget - waited
            if self.deadline is not None:
                budget = min(budget, self.deadline - self._clock())
            attempts = Attempts(attempts.retries, attempts.rate_limit_waits, max(0.0, budget))
            decision = decide(failure, idempotent=idempotent, attempts=attempts, limits=self.limits,
                              rng=self._random, method=method)
            if decision.action == "done":
                return None
            if decision.action == "ambiguous":
                raise failures.ambiguous(error, method, shown) from None
            if decision.action == "raise":
                raise failures.given_up(error, failure, decision, attempts, self.key_id) from None
            rate_limited = failure.kind == "status" and failure.status == 429
            if rate_limited:
                log.warning("App Store Connect rate limit reached for key %s; waiting %s (attempt %d)", self.key_id,
                            failures.duration(decision.delay), attempts.rate_limit_waits + 1)
            else:
                what = f"HTTP {failure.status}" if failure.kind == "status" else f"answer {failure.kind}"
                log.warning("%s failed (%s); retrying in %.1f s (attempt %d of %d)", call, what, decision.delay,
                            attempts.retries + 2, self.max_retries + 1)
            self._sleep(decision.delay)
            waited += decision.delay
            attempts = Attempts(attempts.retries + (not rate_limited), attempts.rate_limit_waits + rate_limited)

    # ------------------------------------------------------------------ documents and pages

    def _full_url(self, shown: str) -> str:
        return self._url_prefix + shown

    def _shown(self, url: str, query: Sequence[tuple[str, str]]) -> str:
        """`shown_url` once a request (`request`, then the observer, want it); the last kept in one tuple, swapped whole."""
        last = self._last_shown
        if last[0] != url or last[1] != query:
            last = self._last_shown = (url, tuple(query), shown_url(url, query))
        return last[2]

    def get_document(self, path: str, params: Mapping[str, Any] | None = None) -> Document:
        return Document.from_json(self.request("GET", path, params=params))

    def paginate_documents(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Document]:
        """Every page of a list, following `links.next` exactly as given, at most `MAX_PAGES` pages."""
        document = self.get_document(path, params)
        seen: set[str] = set()
        while True:
            yield document
            next_url = document.next_url
            if not next_url or next_url in seen:
                return
            if len(seen) + 1 >= self.MAX_PAGES:
                raise AscTransportError(
                    f"App Store Connect kept answering GET {path} with a next page after {self.MAX_PAGES} pages; "
                    "stopping rather than paging for ever.",
                    hint="Narrow the listing (a filter) or try again later; if it keeps happening, report it.",
                )
            seen.add(next_url)
            document = self.get_document(next_url)

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Resource]:
        for document in self.paginate_documents(path, params):
            yield from document.resources

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if origin(path) != self._origin:
                raise AscTransportError(
                    f"App Store Connect sent a link to another host ({urlsplit(path).netloc}) than the API base URL "
                    f"({urlsplit(self.base_url).netloc}); refusing to send the API token there.",
                    hint="If you use a proxy or the simulator, make sure it reports its own address in links.",
                )
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # ------------------------------------------------------------------ helpers for helpers

    def _resource(self, obj: dict[str, Any] | None, what: str) -> Resource:
        document = Document.from_json(obj)
        if document.resource is None:
            raise RemoteError(f"App Store Connect answered {what} without a resource (data is missing).")
        return document.resource

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Resource | None:
        return self.get_document(path, params).resource

    def _get_required(self, path: str, params: Mapping[str, Any] | None = None) -> Resource:
        """A resource that must exist (a 404 raises AscNotFoundError). In dry-run mode nothing is read: None."""
        resource = self._get(path, params)
        if resource is None and not self.dry_run:
            raise RemoteError(f"App Store Connect answered GET {path} without a resource (data is null).")
        return resource  # type: ignore[return-value]

    def _get_optional(self, path: str, params: Mapping[str, Any] | None = None) -> Resource | None:
        """A to-one related resource that may not exist: data null (or a 404 on the related path) -> None."""
        try:
            return self._get(path, params)
        except AscApiError as error:
            if error.status == 404:
                return None
            raise

    def _create(self, type_: str, *, attributes: Mapping[str, Any] | None = None,
                relationships: Mapping[str, Any] | None = None) -> Resource:
        data: dict[str, Any] = {"type": type_}
        if attributes is not None:
            data["attributes"] = dict(attributes)
        if relationships:
            data["relationships"] = dict(relationships)
        path = f"/v1/{type_}"
        return self._resource(self.request("POST", path, json={"data": data}, expect=(201, 200)), f"POST {path}")

    def _update(self, type_: str, id_: str, attributes: Mapping[str, Any]) -> Resource:
        path = f"/v1/{type_}/{id_}"
        body = {"data": {"type": type_, "id": str(id_), "attributes": dict(attributes)}}
        return self._resource(self.request("PATCH", path, json=body, expect=(200,)), f"PATCH {path}")

    def _delete(self, path: str) -> None:
        self.request("DELETE", path, expect=(204, 200))

    def _link(self, method: str, path: str, type_: str, ids: Iterable[str]) -> None:
        ids = [str(i) for i in ids]
        if not ids:
            return
        self.request(method, path, json={"data": [{"type": type_, "id": i} for i in ids]}, expect=(204, 200))
