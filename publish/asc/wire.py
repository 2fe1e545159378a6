"""The transport seam of the App Store Connect client: one request out, one bounded answer back.

Everything above this module (re-signing, the retry policy, decoding) works on plain `WireRequest`/`WireResponse`
values, so it is tested through `MockTransport` without sockets, and a dry run or a recorder is just another
transport. `RequestsTransport` is the real one, and the only place that knows `requests`. It bounds what an answer
can cost (protocol.md 0 says nothing about size or speed, and a proxy or a broken server may send anything):

- size: the body is streamed and refused past `max_body` bytes (a 300 MB answer must not become 656 MB of memory);
- time: a whole exchange, headers and body, must finish within `deadline` seconds. `requests`' timeouts bound each
  socket read only, so an answer trickling one byte every 2 s would otherwise hold the run for ever;
- redirects are never followed (the next hop would get the API token);
- a TLS failure is reported as such, because retrying a certificate problem cannot help.

A failure before an answer is a `WireFailure` whose `kind` tells the retry policy what is known about the request:
`unsent` (provably never reached the server), `lost` (sent, answer missing: it may have been applied), `tls`, or
`oversized`.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any, Literal, Protocol, cast
from urllib.parse import urlencode

import requests
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.hooks import default_hooks
from requests.sessions import merge_hooks, merge_setting
from requests.structures import CaseInsensitiveDict
from requests._internal_utils import HEADER_VALIDATORS, to_native_string
from requests.utils import check_header_validity, unquote_unreserved
from urllib3.exceptions import NewConnectionError

FailureKind = Literal["unsent", "lost", "tls", "oversized"]

MAX_BODY = 32 << 20
READ_CHUNK = 64 << 10
# requests' validators of a text header's name and value (`check_header_validity` applies them).
_TEXT_HEADER = cast("tuple[re.Pattern[str], re.Pattern[str]]", HEADER_VALIDATORS[str])


@dataclass(frozen=True)
class WireRequest:
    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def with_header(self, name: str, value: str) -> WireRequest:
        return WireRequest(self.method, self.url, self.params, {**self.headers, name: value}, self.body)


@dataclass(frozen=True)
class WireResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=lambda: CaseInsensitiveDict())
    reason: str = ""
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class WireFailure(Exception):
    """No usable answer. `description` is safe to show (it never holds the URL's query or a token)."""

    def __init__(self, kind: FailureKind, description: str) -> None:
        super().__init__(description)
        self.kind: FailureKind = kind
        self.description = description


class Transport:
    """Sends one request; returns the answer or raises `WireFailure`."""

    def send(self, request: WireRequest) -> WireResponse:  # pragma: no cover - an interface
        raise NotImplementedError

    def close(self) -> None:
        return None


Handler = Callable[[WireRequest], WireResponse]


class MockTransport(Transport):
    """A transport answered by a function (like httpx.MockTransport): for unit tests of the layers above."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[WireRequest] = []

    def send(self, request: WireRequest) -> WireResponse:
        self.requests.append(request)
        return self._handler(request)


class RequestsTransport(Transport):
    """The real transport over a pooled `requests.Session`, with the bounds described in the module docstring."""

    def __init__(self, session: requests.Session, *, timeout: tuple[float, float] = (10, 60),
                 deadline: float = 120.0, max_body: int = MAX_BODY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.timeout = timeout
        self.deadline = deadline
        self.max_body = max_body
        self._monotonic = monotonic

    def close(self) -> None:
        self.session.close()

    def send(self, request: WireRequest) -> WireResponse:
        started = self._monotonic()
        connect, read = self.timeout
        try:
            response = send_prepared(self.session, request.method, request.url, params=request.params,
                                     headers=request.headers, body=request.body,
                                     timeout=(connect, min(read, self.deadline)))
        except requests.exceptions.SSLError as exc:
            raise WireFailure("tls", _tls_description(exc)) from None
        except requests.RequestException as exc:
            raise WireFailure("unsent" if never_sent(exc) else "lost", describe(exc)) from None
        try:
            body = self._read_body(response, started)
        finally:
            response.close()
        return WireResponse(response.status_code, body, response.headers, response.reason or "",
                            self._monotonic() - started)

    def _read_body(self, response: requests.Response, started: float) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > self.max_body:
            raise WireFailure("oversized", f"the answer announces {int(declared)} bytes, more than the "
                                           f"{self.max_body >> 20} MiB an App Store Connect answer can be")
        raw: Any = response.raw
        if raw is None:  # a Response built in memory (tests): its content is already there
            return bytes(response.content or b"")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_body:
                    raise WireFailure("oversized", f"the answer is longer than the {self.max_body >> 20} MiB an "
                                                   "App Store Connect answer can be")
                chunks.append(chunk)
                if self._monotonic() - started > self.deadline:
                    raise WireFailure("lost", f"the answer did not arrive within {self.deadline:.0f} s (it came "
                                              f"too slowly: {size} bytes so far)")
        except WireFailure:
            raise
        except (requests.RequestException, OSError, ValueError) as exc:
            raise WireFailure("lost", f"the answer broke off: {describe(exc)}") from None
        except Exception as exc:  # urllib3's own errors (ProtocolError, ReadTimeoutError, DecodeError)
            if type(exc).__module__.startswith("urllib3"):
                raise WireFailure("lost", f"the answer broke off: {describe(exc)}") from None
            raise
        return b"".join(chunks)


class SizedStream(Protocol):
    """A request body streamed by the HTTP stack: `read` chunk by chunk, `len` becomes its Content-Length."""

    def read(self, size: int = -1, /) -> bytes | memoryview: ...

    def __len__(self) -> int: ...


def send_prepared(session: requests.Session, method: str, url: str, *, params: tuple[tuple[str, str], ...] = (),
                  headers: Mapping[str, str], body: bytes | SizedStream | None,
                  timeout: tuple[float, float]) -> requests.Response:
    """`session.request(method, url, params=list(params) or None, data=body, headers=headers, timeout=timeout,
    allow_redirects=False, stream=True)` taken step by step as `Session.request`, `prepare_request` and
    `merge_environment_settings` take it, without the work that cannot change what they send for our calls: the one
    way both App Store Connect calls (`RequestsTransport`) and presigned part PUTs (publish/upload/parts.py) go out.
    requests 2.34 checks settings and the query against runtime Protocols (`to_key_val_list`, `_encode_params`:
    some 30 us each, six to eight a request): about an eighth of the CPU of an exchange with the simulator
    (bench/asc_wire.py), a third of a part's preparation (bench/parts.py).

    - the query is encoded here by the `urlencode` requests applies to a list of pairs (the same bytes: keys and
      values are text, UTF-8 either way); handed over as text, requests takes it as it is;
    - `_merged` merges the session's settings as `merge_setting` does, without the Protocol checks;
    - no `Request` object, no merge of the call's own (absent) cookies;
    - a body is bytes, or a stream that `prepare_body` takes as requests always took it from `data=`: not
      iterable, so its `read` is kept as the body and its `len` is the Content-Length (never chunked).

    Everything that reads the environment stays requests' own code: a session that trusts it (`trust_env`, every
    one but the simulator's) gets `merge_environment_settings` (proxies, no_proxy, the CA bundle) on every
    request exactly as before; netrc is the one thing of the environment not taken (see below). `Session.send`
    picks the adapter (`responses` in the unit tests), runs the hooks and keeps the cookies.
    tests/e2e/test_asc_wire_bytes.py and tests/e2e/test_upload_wire_bytes.py compare what a server receives both
    ways."""
    # Never ~/.netrc: requests fills an absent auth from it. Its Basic credentials for App Store Connect's host
    # replaced the API token's Bearer header (App Store Connect then answers 401 whatever the key), and on a part
    # they would be a second credential beside the presigned URL's signature, the only one a part may carry.
    auth = session.auth
    query: Any = urlencode(params) if params else _merged({}, session.params, OrderedDict)
    prepared = requests.PreparedRequest()
    # `PreparedRequest.prepare`'s steps in its order; the URL without requests when `plain_url` knows its result.
    prepared.prepare_method(method.upper())
    plain = plain_url(url, query or "") if isinstance(query, str) or not query else None
    if plain is not None:
        prepared.url = plain
    else:
        prepared.prepare_url(url, query or None)
    prepared_headers(prepared, headers, session.headers)
    if isinstance(session.cookies, CookieJar) and len(session.cookies) == 0:
        # What `prepare_cookies` keeps of no cookies (a redirect answer merges into it), and no Cookie header.
        prepared._cookies = RequestsCookieJar()  # type: ignore[attr-defined]
    else:
        prepared.prepare_cookies(merge_cookies(RequestsCookieJar(), session.cookies))
    prepared.prepare_body(body or {}, None, None)
    if plain is None or auth is not None:  # a plain URL has no user part: `prepare_auth(None, url)` does nothing
        prepared.prepare_auth(auth, url)
    prepared.prepare_hooks(merge_hooks(default_hooks(), session.hooks))
    if session.trust_env:
        settings = session.merge_environment_settings(prepared.url, {}, True, None, None)
    else:  # what it returns when the environment is not consulted
        settings = {"proxies": _merged({}, session.proxies, OrderedDict),
                    "stream": True,
                    "verify": session.verify, "cert": session.cert}
    return session.send(prepared, timeout=timeout, allow_redirects=False, **settings)


# A URL requests' `prepare_url` leaves as it is: http(s); a lower-case host of letters, digits, hyphens and single
# dots; a port without a leading zero; a path of unreserved characters in segments that are neither empty nor start
# with a dot; no query, fragment or user of its own. And a query of unreserved characters, `+ = &` and upper-case
# escapes, as `urlencode` writes it.
_PLAIN_URL = re.compile(r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::([1-9][0-9]{0,4}))?(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?")
_PLAIN_QUERY = re.compile(r"(?:[A-Za-z0-9._~+=&-]|%[0-9A-F]{2})*")


def plain_url(url: str, query: str) -> str | None:
    """What `PreparedRequest.prepare_url(url, query)` makes of a plain URL and query (see above): `url?query`, as
    it is. None for anything else, which requests prepares itself. Why nothing changes: urllib3's `parse_url`
    lower-cases the host, escapes characters outside RFC 3986's sets and removes dot segments, none of which a plain
    URL has; requests then appends the query and `requote_uri` unquotes escaped unreserved characters (refused
    below) and quotes what is neither unreserved nor in its safe set (`: / ? = & + %` all are). Worth it: the
    general way costs more than a tenth of an exchange's CPU. tests/unit/test_asc_wire_prepare.py checks it against
    requests over generated URLs."""
    match = _PLAIN_URL.fullmatch(url)
    if match is None or (match.group(1) and int(match.group(1)) > 65535) or not _PLAIN_QUERY.fullmatch(query):
        return None
    if "%" in query and unquote_unreserved(query) != query:
        return None
    return f"{url}?{query}" if query else url


def prepared_headers(prepared: requests.PreparedRequest, ours: Any, theirs: Any) -> None:
    """`prepared.prepare_headers(_merged(ours, theirs, CaseInsensitiveDict))` in one pass: the session's headers
    updated case-insensitively by the call's, None values dropped, in the order the merge leaves them; each kept
    header checked by requests' own validators (a text name and value that match them is what
    `check_header_validity` passes and `to_native_string` leaves as it is; anything else goes to those functions).
    The merge built a CaseInsensitiveDict only for `prepare_headers` to copy it into another."""
    if not (isinstance(ours, Mapping) and isinstance(theirs, Mapping)):
        prepared.prepare_headers(_merged(ours, theirs, CaseInsensitiveDict))
        return
    merged: dict[Any, tuple[Any, Any]] = {name.lower(): (name, value) for name, value in theirs.items()}
    merged.update((name.lower(), (name, value)) for name, value in ours.items())
    valid_name, valid_value = _TEXT_HEADER
    kept: CaseInsensitiveDict[Any] = CaseInsensitiveDict()
    for name, value in merged.values():
        if value is None:
            continue
        if not (type(name) is str and type(value) is str and valid_name.match(name) and valid_value.match(value)):
            check_header_validity((name, value))
            name = to_native_string(name)
        kept[name] = value
    prepared.headers = kept


def _merged(ours: Any, theirs: Any, dict_class: type) -> Any:
    """`requests.sessions.merge_setting(ours, theirs, dict_class)`: the session's settings updated by the request's,
    None values dropped. For two mappings it takes their items as `to_key_val_list` would (in order), without its
    runtime-Protocol isinstance check; anything else goes to requests' own function."""
    if not (isinstance(ours, Mapping) and isinstance(theirs, Mapping)):
        return merge_setting(ours, theirs, dict_class=dict_class)
    merged = dict_class(list(theirs.items()))
    merged.update(list(ours.items()))
    for name in [name for name, value in merged.items() if value is None]:
        del merged[name]
    return merged


def never_sent(exc: BaseException) -> bool:
    """True when the request provably never reached the server (so even a POST may be sent again)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, NewConnectionError)
    return False


def _tls_description(exc: BaseException) -> str:
    text = describe(exc)
    if "certificate" in text.lower() or "verify" in text.lower():
        return f"TLS certificate verification failed ({text})"
    return f"the TLS handshake failed ({text})"


def describe(exc: BaseException) -> str:
    """What went wrong, from the innermost cause (refused, reset, name not resolved), without the request URL."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout) or type(exc).__name__ == "ReadTimeoutError":
        return "no answer within the read timeout"
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    text = str(reason) or type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        text = text.split(" (Caused by ")[-1].rstrip(")") if "Caused by" in text else text
    elif isinstance(exc, requests.exceptions.ConnectionError):
        text = f"connection failed: {text}"
    return text if len(text) <= 200 else text[:197] + "..."
