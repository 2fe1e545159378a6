"""Configurable misbehaviour, so retry, resume and throughput code can be exercised deterministically."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Mutable at runtime (`server.faults.drop_part_rate = 0.1`). Every random choice comes from one RNG seeded with
    `seed`, so a run with the same calls in the same order misbehaves the same way.

    error_rate_5xx: share of API calls and part uploads answered 500/503 before anything changes.
    lost_response_rate: share of API writes (POST/PATCH/DELETE) that take effect but are answered 500, as when a
        response is lost on the way back: a client that blindly re-sends a create makes a duplicate.
    rate_limit_after: after this many API calls, the next one is answered 429 (with Retry-After) and the count
        starts again.
    drop_part_rate: share of part uploads whose connection is dropped half-way through the body.
    bandwidth_bytes_per_sec: per-connection cap on reading part bodies.
    latency_ms: added before every answer.
    expired_token_rate: share of API calls whose (valid) token is refused with 401 as expired, as when a short-lived
        token runs out in flight: the client must sign a new one and repeat the call, changing nothing twice. Only a
        token already accepted once can run out (a token seen for the first time was just signed), and once refused
        it stays refused, so a client that re-signs after a 401 is never refused twice by this fault alone.
    """

    error_rate_5xx: float = 0.0
    rate_limit_after: int | None = None
    drop_part_rate: float = 0.0
    bandwidth_bytes_per_sec: int | None = None
    latency_ms: int = 0
    seed: int = 0
    lost_response_rate: float = 0.0
    retry_after_seconds: int = 1
    expired_token_rate: float = 0.0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)
    _calls_since_429: int = field(init=False, repr=False, compare=False, default=0)
    _accepted_tokens: set[str] = field(init=False, repr=False, compare=False, default_factory=set)
    _expired_tokens: set[str] = field(init=False, repr=False, compare=False, default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def token_expired(self, token: str) -> bool:
        """True when this (otherwise valid) token must be refused as expired in flight; remembers the token. With
        the rate at 0 the fault is off altogether, tokens it refused before included."""
        with self._lock:
            first_seen = token not in self._accepted_tokens and token not in self._expired_tokens
            self._accepted_tokens.add(token)
            if self.expired_token_rate <= 0 or first_seen:
                return False
            if token in self._expired_tokens:
                return True
        if not self.chance(self.expired_token_rate):
            return False
        with self._lock:
            self._expired_tokens.add(token)
        return True

    def rate_limited(self) -> bool:
        """True when this API call must be refused with 429 (counts the call)."""
        if self.rate_limit_after is None:
            return False
        with self._lock:
            if self._calls_since_429 >= self.rate_limit_after:
                self._calls_since_429 = 0
                return True
            self._calls_since_429 += 1
            return False
