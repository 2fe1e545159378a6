"""Who may call the simulator: ES256 tokens checked against registered public keys, and per-key hourly rate limits,
as App Store Connect does (protocol.md section A)."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from publish.sandbox.model import ApiError

AUDIENCE = "appstoreconnect-v1"
MAX_LIFETIME = 20 * 60
CLOCK_SKEW = 60
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
VERIFIED_TOKENS = 256  # signatures remembered per key ring: a client reuses one token for up to 20 minutes


@dataclass
class RegisteredKey:
    key_id: str
    issuer_id: str | None  # None: an individual key (tokens carry sub "user" instead of iss)
    public_key: EllipticCurvePublicKey
    read_only: bool = False
    revoked: bool = False
    calls: deque[float] = field(default_factory=deque)  # times of calls within the last hour


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "NOT_AUTHORIZED", detail + " Provide a properly configured and signed bearer token, "
                    "and make sure that it has not expired.")


class KeyRing:
    def __init__(self, clock: Callable[[], float], hourly_limit: int = 3500) -> None:
        self.clock = clock
        self.hourly_limit = hourly_limit
        self._keys: dict[str, RegisteredKey] = {}
        self._lock = threading.Lock()
        # token -> (the key whose signature check it passed, its claims). What a signature vouches for depends only
        # on the token and the public key, so it is checked once per pair; revocation, lifetime, iss/sub, scope,
        # role and rate limit are judged on every request. Entries name the RegisteredKey object itself: a key
        # registered again under the same kid is another object, so the old key's tokens are verified afresh.
        self._verified_tokens: OrderedDict[str, tuple[RegisteredKey, dict[str, Any]]] = OrderedDict()

    def register(self, key_id: str, issuer_id: str | None, public_key_pem: str, *, read_only: bool = False) -> None:
        try:
            public_key = serialization.load_pem_public_key(public_key_pem.encode())
        except ValueError as exc:
            raise ValueError(f"key {key_id}: not a PEM public key ({exc}); give the public half of the .p8 key") from exc
        if not isinstance(public_key, EllipticCurvePublicKey):
            raise ValueError(f"key {key_id}: not an elliptic-curve key; App Store Connect keys are ES256 (P-256), "
                             "give the public half of the .p8 key")
        with self._lock:
            self._keys[key_id] = RegisteredKey(key_id, issuer_id, public_key, read_only)
            self._verified_tokens.clear()

    def __len__(self) -> int:
        return len(self._keys)

    def revoke(self, key_id: str) -> None:
        with self._lock:
            self._keys[key_id].revoked = True
            self._verified_tokens.clear()

    def set_read_only(self, key_id: str, read_only: bool = True) -> None:
        with self._lock:
            self._keys[key_id].read_only = read_only

    def authenticate(self, authorization: str | None, method: str, path: str, query: str, *,
                     strict_lifetime: bool = True) -> RegisteredKey:
        key, claims = self._verified(authorization)
        _check_lifetime(claims, self.clock(), strict_lifetime=strict_lifetime)
        if key.issuer_id is None:
            if claims.get("sub") != "user":
                raise _unauthorized("Tokens for an individual key must carry sub 'user'.")
        elif claims.get("iss") != key.issuer_id:
            raise _unauthorized("The token's iss is not the issuer ID of this key.")
        if "scope" in claims and not _scope_allows(claims["scope"], method, path, query):
            raise ApiError(403, "FORBIDDEN_ERROR", f"The token's scope does not allow {method} {path}.")
        if key.read_only and method in WRITE_METHODS:
            raise ApiError(403, "FORBIDDEN_ERROR",
                           "This API key's role does not allow this operation; use a key with the App Manager role.")
        return key

    def _verified(self, authorization: str | None) -> tuple[RegisteredKey, dict[str, Any]]:
        """The registered key a bearer token names and the claims its signature vouches for (401 otherwise)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise _unauthorized("The request has no 'Authorization: Bearer <token>' header.")
        token = authorization[len("Bearer "):].strip()
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("The bearer token is not a JWT.") from None
        if header.get("alg") != "ES256":
            raise _unauthorized(f"The token's alg is {header.get('alg')!r}; App Store Connect requires ES256.")
        with self._lock:
            key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise _unauthorized(f"No API key with kid {header.get('kid')!r} is known.")
        if key.revoked:
            raise _unauthorized(f"The API key {key.key_id} has been revoked.")
        try:
            # exp/iat are checked by _check_lifetime against the injectable clock, not the wall clock
            claims = jwt.decode(token, key.public_key, algorithms=["ES256"], audience=AUDIENCE,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["exp", "aud"]})
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"The token failed verification ({exc}).") from None
        with self._lock:
            if self._keys.get(key.key_id) is key:  # not replaced while the signature was being checked
                self._verified_tokens[token] = (key, dict(claims))
                while len(self._verified_tokens) > VERIFIED_TOKENS:
                    self._verified_tokens.popitem(last=False)
        return key, claims

    def _remembered(self, token: str) -> tuple[RegisteredKey, dict[str, Any]] | None:
        """A token whose signature the key still registered under its kid has verified already (None otherwise);
        a revoked key is refused here as on the full path."""
        with self._lock:
            entry = self._verified_tokens.get(token)
            if entry is None or self._keys.get(entry[0].key_id) is not entry[0]:
                return None
            self._verified_tokens.move_to_end(token)
        key, claims = entry
        if key.revoked:
            raise _unauthorized(f"The API key {key.key_id} has been revoked.")
        return key, dict(claims)

    def consume(self, key: RegisteredKey) -> int:
        """Counts one call against the key's rolling hour; the remaining count, or ApiError 429 at 0."""
        now = self.clock()
        with self._lock:
            while key.calls and key.calls[0] <= now - 3600:
                key.calls.popleft()
            if len(key.calls) >= self.hourly_limit:
                retry_after = max(1, int(key.calls[0] + 3600 - now))
                raise ApiError(429, "RATE_LIMIT_EXCEEDED", "The API key has exceeded its hourly request limit.",
                               headers={"Retry-After": str(retry_after), **self.header(0)})
            key.calls.append(now)
            return self.hourly_limit - len(key.calls)

    def header(self, remaining: int) -> dict[str, str]:
        return {"X-Rate-Limit": f"user-hour-lim:{self.hourly_limit};user-hour-rem:{remaining};"}


def _check_lifetime(claims: dict[str, Any], now: float, *, strict_lifetime: bool) -> None:
    exp = claims["exp"]
    iat = claims.get("iat", now)
    if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
        raise _unauthorized("The token's exp and iat must be numbers (seconds since the epoch).")
    if exp <= now:
        raise _unauthorized("The token has expired.")
    if iat > now + CLOCK_SKEW:
        raise _unauthorized("The token's iat is in the future.")
    if exp - iat > MAX_LIFETIME:
        raise _unauthorized(f"The token's lifetime (exp - iat = {int(exp - iat)} s) exceeds 20 minutes.")
    if strict_lifetime and exp - now > MAX_LIFETIME:
        # protocol.md H.14: judged by the server's clock, so a client clock running ahead is refused too.
        raise _unauthorized(f"The token is valid for {int(exp - now)} s from now; the maximum is 20 minutes.")


def _scope_allows(scope: object, method: str, path: str, query: str) -> bool:
    ignored = {"limit", "cursor", "sort"}
    asked = {(k, v) for k, v in parse_qsl(query) if k not in ignored}
    for entry in scope if isinstance(scope, list) else []:
        entry_method, _, target = str(entry).partition(" ")
        entry_path, _, entry_query = target.partition("?")
        allowed = {(k, v) for k, v in parse_qsl(entry_query) if k not in ignored}
        if entry_method.upper() == method and entry_path == path and allowed == asked:
            return True
    return False
