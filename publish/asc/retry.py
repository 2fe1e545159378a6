"""The client's retry policy as one pure function: what is known about a failed attempt -> retry, wait, or raise.

Why each rule is safe:
- A request that provably never reached the server (connection refused, connect timeout) is sent again, whatever
  its method: nothing happened.
- An idempotent request (GET/HEAD/PUT/DELETE, a PATCH that sets absolute values, a POST/DELETE on a
  `/relationships/` linkage path) leaves the same state when sent twice as when sent once, so a lost answer or a
  5xx is retried with exponential backoff and full jitter, up to `max_retries` times.
- A create (plain POST) or a state transition (submitting a review, committing an upload) is never sent blindly
  again after its answer was lost: the outcome is `ambiguous` and the caller re-reads the state first.
- A 429 was refused before anything happened (protocol.md A), so any method waits it out (H.13): `Retry-After` when
  given (seconds or a date), else doubling from `rate_limit_base` up to `rate_limit_cap` (fastlane doubles up to
  3600 s) - but never past the wait budget the caller gave. A wait that would end beyond it raises at once and the
  error names the wait.
- A TLS failure or an oversized answer is raised at once: sending again cannot fix a certificate or a body size.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from publish.asc.transport import backoff_delay

Action = Literal["retry", "raise", "ambiguous", "done"]
# Failure kinds: the transport's (unsent, lost, tls, oversized), "status" for an error answer, "garbled" for a 2xx
# whose body is not an answer App Store Connect gives (an empty 200 to a GET, HTML from a proxy).
Kind = Literal["unsent", "lost", "tls", "oversized", "status", "garbled"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# PATCHes that move a resource to another state rather than set values: sending one twice is not the same as once
# (a second `submitted: true` is refused; a commit starts processing).
STATE_TRANSITIONS = {
    "reviewSubmissions": frozenset({"submitted", "canceled"}),
    "buildUploadFiles": frozenset({"uploaded"}),
}


@dataclass(frozen=True)
class RetryLimits:
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    rate_limit_base: float = 16.0
    rate_limit_cap: float = 3600.0
    max_rate_limit_waits: int = 24


@dataclass(frozen=True)
class Failure:
    kind: Kind
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Attempts:
    """What happened so far in this request: retries after failures (5xx, lost answers), waits on 429s, and the
    seconds of waiting the caller still allows (None: no limit given)."""

    retries: int = 0
    rate_limit_waits: int = 0
    budget_left: float | None = None

    @property
    def total(self) -> int:
        return self.retries + self.rate_limit_waits


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0
    why: str = ""


def is_idempotent(method: str, path: str, body: Any = None) -> bool:
    """True when sending the request twice leaves App Store Connect as sending it once does."""
    method = method.upper()
    if method in IDEMPOTENT_METHODS:
        return True
    if "/relationships/" in path:
        return method in ("POST", "PATCH", "DELETE")  # linkage: adding a present link or removing a gone one is a no-op
    if method != "PATCH":
        return False
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return False
    transitions = STATE_TRANSITIONS.get(str(data.get("type")), frozenset())
    attributes = data.get("attributes")
    return not (isinstance(attributes, Mapping) and transitions & set(attributes))


def decide(failure: Failure, *, idempotent: bool, attempts: Attempts, limits: RetryLimits,
           rng: random.Random, method: str = "GET") -> Decision:
    """The next move after a failed attempt. Pure apart from the jitter drawn from `rng`."""
    kind = failure.kind
    if kind in ("tls", "oversized"):
        return Decision("raise", why="cannot be fixed by sending again")
    if kind == "status" and failure.status == 404 and method.upper() == "DELETE" and attempts.retries > 0:
        return Decision("done", why="an earlier attempt was applied but its answer was lost")
    if kind == "status" and failure.status == 429:
        return _rate_limited(failure, attempts, limits)
    transient = kind in ("unsent", "lost", "garbled") or (kind == "status" and (failure.status or 0) >= 500)
    if not transient:
        return Decision("raise", why="App Store Connect refused the request")
    if not (idempotent or kind == "unsent"):
        return Decision("ambiguous", why="a write whose outcome is unknown is not sent blindly again")
    if attempts.retries >= limits.max_retries:
        return Decision("raise", why=f"gave up after {attempts.retries + 1} attempts")
    if failure.retry_after is not None:
        delay = failure.retry_after
    else:
        delay = backoff_delay(attempts.total, rng, base=limits.backoff_base, cap=limits.backoff_cap)
    if attempts.budget_left is not None and delay > attempts.budget_left:
        return Decision("raise", delay, why=f"the wait of {delay:.0f} s would pass the deadline")
    return Decision("retry", delay, why="transient failure")


def _rate_limited(failure: Failure, attempts: Attempts, limits: RetryLimits) -> Decision:
    if failure.retry_after is not None:
        delay = failure.retry_after
    else:
        delay = min(limits.rate_limit_cap, limits.rate_limit_base * 2.0 ** attempts.rate_limit_waits)
    if attempts.budget_left is not None and delay > attempts.budget_left:
        return Decision("raise", delay, why=f"the wait of {delay:.0f} s would pass the deadline")
    if attempts.rate_limit_waits >= limits.max_rate_limit_waits:
        return Decision("raise", delay, why=f"still rate limited after {attempts.rate_limit_waits} waits")
    return Decision("retry", delay, why="rate limit")
