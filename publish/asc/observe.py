"""The layer of the client pipeline that sees every HTTP exchange: counts it, reports it to `on_call`, logs it
(never the token: the Authorization header is not logged), and reads what every answer's headers say about the
run - the hourly rate limit left for the key (protocol.md A) and the server's clock (its Date header, H.14)."""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from publish.asc.transport import parse_rate_limit
from publish.asc.wire import Transport, WireFailure, WireRequest, WireResponse

log = logging.getLogger("publish.asc.client")

LOW_RATE_LIMIT = 100
# A server clock further than this from ours is worth a warning: tokens are judged by Apple's clock (H.14).
CLOCK_SKEW_WARNING = 60.0

OnCall = Callable[[str, str, Any], None]
ShownUrl = Callable[[str, Sequence[tuple[str, str]]], str]


def shown_url(url: str, query: Sequence[tuple[str, str]]) -> str:
    """The URL as logged and reported: path and query, without the base (it never holds a secret)."""
    parts = urlsplit(url)
    shown = parts.path
    extra = urlencode(list(query), safe="[],:")
    if parts.query:
        shown += "?" + parts.query + ("&" + extra if extra else "")
    elif extra:
        shown += "?" + extra
    return shown


def duration(seconds: float) -> str:
    """64 s, 12 min, 10.0 h: a wait as a person reads it."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class AnswerHeaders:
    """What the answers' headers said: the rate limit left (warned about when low, not on every call) and the
    server's clock skew (warned about once)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._warned_at: int | None = None
        self.remaining: int | None = None
        self.limit: int | None = None
        self.clock_skew: float | None = None

    def read(self, response: WireResponse) -> None:
        self.record_rate_limit(response.header("X-Rate-Limit"))
        self.note_clock_skew(response.header("Date"))

    def record_rate_limit(self, header: str | None) -> None:
        if not header:
            return
        values = parse_rate_limit(header)
        remaining = values.get("user-hour-rem")
        limit = values.get("user-hour-lim")
        with self._lock:
            if limit is not None:
                self.limit = limit
            if remaining is None:
                return
            self.remaining = remaining
            low = remaining < LOW_RATE_LIMIT or (limit is not None and remaining < limit * 0.1)
            if not low:
                self._warned_at = None
                return
            # Warn when it first gets low, then every further 10% of what was left, not on every call.
            last = self._warned_at
            if last is not None and remaining > last * 0.9 and remaining != 0:
                return
            self._warned_at = remaining
        log.warning(
            "App Store Connect rate limit is low: %d of %s requests left for this API key in the rolling hour",
            remaining, limit if limit is not None else "?",
        )

    def note_clock_skew(self, date: str | None) -> None:
        if not date or self.clock_skew is not None:
            return
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        skew = server - self._clock()
        with self._lock:
            if self.clock_skew is not None:
                return
            self.clock_skew = skew
        if abs(skew) > CLOCK_SKEW_WARNING:
            log.warning(
                "App Store Connect's clock (its Date header) is %s %s this machine's. API tokens are signed with "
                "this machine's clock and judged by Apple's, so a skew of minutes gets them refused (401): set the "
                "clock right (NTP).", duration(abs(skew)), "ahead of" if skew > 0 else "behind",
            )


def loggable_body(body: bytes) -> str:
    """A request body for the debug log, with every attribute whose name says it is a password (the beta review's
    `demoAccountPassword`) replaced: the client may be used at DEBUG outside a run, where no redactor knows the
    value."""
    try:
        document = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
    return json.dumps(_masked(document), ensure_ascii=False)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if "password" in str(k).lower() and v is not None else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


class ObservingTransport(Transport):
    """Counts, reports and logs every exchange (including a re-signed repeat), then hands the answer's headers
    to `headers`."""

    def __init__(self, inner: Transport, *, headers: AnswerHeaders, on_call: OnCall | None,
                 full_url: Callable[[str], str], shown: ShownUrl = shown_url) -> None:
        self.inner = inner
        self._headers = headers
        self._on_call = on_call
        self._full_url = full_url
        self._shown = shown
        self._lock = threading.Lock()
        self.count = 0

    def send(self, request: WireRequest) -> WireResponse:
        shown = self._shown(request.url, request.params)
        if self._on_call is not None:
            self._on_call(request.method, self._full_url(shown), json.loads(request.body) if request.body else None)
        with self._lock:
            self.count += 1
        started = time.monotonic()
        try:
            response = self.inner.send(request)
        except WireFailure as failure:
            log.debug("%s %s -> %s after %.0f ms", request.method, shown, failure.kind,
                      (time.monotonic() - started) * 1000)
            raise
        log.debug("%s %s -> %d in %.0f ms", request.method, shown, response.status,
                  (time.monotonic() - started) * 1000)
        if request.body is not None and log.isEnabledFor(logging.DEBUG):
            log.debug("  request body: %s", loggable_body(request.body))
        self._headers.read(response)
        return response

    def close(self) -> None:
        self.inner.close()
