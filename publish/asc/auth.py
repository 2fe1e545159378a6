"""App Store Connect API keys and the short-lived ES256 tokens signed with them.

Apple's rules (protocol.md A): header `{"alg":"ES256","kid":KEY_ID,"typ":"JWT"}`; a team key puts its issuer ID in
`iss`, an individual key sends `"sub":"user"` instead; `aud` is `appstoreconnect-v1`; `exp - iat` must be at most
20 minutes. A token is reused until it is close to expiry, so a long processing wait never runs on a stale one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc.p8 import parse_p8
from publish.errors import InputError

AUDIENCE = "appstoreconnect-v1"
# Apple refuses tokens whose lifetime (exp - iat) exceeds 20 minutes, and in practice also a token that, by Apple's
# clock, is valid for longer than that (a runner clock a little ahead; protocol.md H.14). Signing at the ceiling
# fails on real accounts, so tokens live 15 minutes: 5 minutes of room for clock drift, and still far longer than a
# request takes (they are renewed before they expire anyway).
MAX_LIFETIME = 1200
DEFAULT_LIFETIME = 900
# iat is backdated (as fastlane does) so a runner whose clock is a little ahead of Apple's is not refused with
# "token not yet valid"; the lifetime is counted from the backdated iat, so exp - iat stays within the limit.
CLOCK_SKEW = 60
# Refresh a cached token when less than this is left, so a request never leaves with a token about to expire.
REFRESH_MARGIN = 120

# Apple key IDs are 10 letters and digits; anything printable without spaces is let through to Apple to judge.
_KEY_ID = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True)
class ApiKey:
    """An App Store Connect API key. `issuer_id` None means an individual key (token claim `sub: "user"`)."""

    key_id: str
    issuer_id: str | None
    private_key_pem: str

    def __repr__(self) -> str:
        # The private key must never reach a log, a traceback or an error message.
        issuer = repr(self.issuer_id) if self.issuer_id is not None else "None (individual key)"
        return f"ApiKey(key_id={self.key_id!r}, issuer_id={issuer}, private_key_pem=<hidden>)"

    __str__ = __repr__

    @property
    def is_individual(self) -> bool:
        return self.issuer_id is None


def load_private_key(pem: str, *, key_id: str = "") -> ec.EllipticCurvePrivateKey:
    """Parse an App Store Connect `.p8` key (PKCS#8 PEM; SEC1 "EC PRIVATE KEY", a base64-wrapped or bare body also
    work) with the one parser the credential readers use too (publish.asc.p8).

    Raises InputError saying what is wrong; the key material itself is never quoted.
    """
    label = f" for key {key_id}" if key_id else ""
    return parse_p8(pem or "", what=f"the App Store Connect private key{label}").key


def _check_key(api_key: ApiKey) -> None:
    if not api_key.key_id or not _KEY_ID.match(api_key.key_id):
        raise InputError(
            f"The App Store Connect key ID {api_key.key_id!r} is not valid: it should be letters and digits, "
            "like 2X9R4HXF34, without spaces.",
            hint="Copy the Key ID shown next to the key in App Store Connect > Users and Access > Integrations.",
        )
    if api_key.issuer_id is not None and not api_key.issuer_id.strip():
        raise InputError(
            "The App Store Connect issuer ID is empty.",
            hint="Set the Issuer ID shown above the key list in App Store Connect > Users and Access > "
            "Integrations, or leave issuer_id out entirely for an individual key.",
        )


class TokenProvider:
    """Signs and caches the Bearer token for one API key. Thread-safe: concurrent uploads share it."""

    def __init__(
        self,
        api_key: ApiKey,
        clock: Callable[[], float] = time.time,
        *,
        lifetime: int = DEFAULT_LIFETIME,
        refresh_margin: int = REFRESH_MARGIN,
    ) -> None:
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"token lifetime must be within 1..{MAX_LIFETIME} s, got {lifetime}")
        _check_key(api_key)
        self._api_key = api_key
        # Parsed once, up front, so a bad key is reported before any work is done.
        self._private_key = load_private_key(api_key.private_key_pem, key_id=api_key.key_id)
        self._clock = clock
        self._lifetime = lifetime
        self._refresh_margin = min(refresh_margin, lifetime // 2)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_issued = 0

    def __repr__(self) -> str:
        return f"TokenProvider(key_id={self._api_key.key_id!r})"

    @property
    def key_id(self) -> str:
        return self._api_key.key_id

    @property
    def expires_at(self) -> float:
        return self._expires_at

    def token(self) -> str:
        """A valid token with at least `refresh_margin` seconds left, signing a new one when needed."""
        with self._lock:
            now = self._clock()
            if self._token is None or self._expires_at - now < self._refresh_margin:
                self._token, self._expires_at = self._sign(now)
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (after a 401) so the next call signs a fresh one."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def claims(self, now: float) -> dict[str, object]:
        issued_at = int(now) - CLOCK_SKEW
        claims: dict[str, object] = {"iat": issued_at, "exp": issued_at + self._lifetime, "aud": AUDIENCE}
        if self._api_key.issuer_id is None:
            claims["sub"] = "user"
        else:
            claims["iss"] = self._api_key.issuer_id.strip()
        return claims

    def _sign(self, now: float) -> tuple[str, float]:
        claims = self.claims(now)
        token = jwt.encode(
            claims,
            self._private_key,
            algorithm="ES256",
            headers={"alg": "ES256", "kid": self._api_key.key_id, "typ": "JWT"},
        )
        self.tokens_issued += 1
        return token, float(claims["exp"])  # type: ignore[arg-type]
