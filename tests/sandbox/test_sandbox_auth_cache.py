"""The key ring checks a token's signature once and judges everything else on every request: a remembered token is
still refused when it expires by the simulator's clock, when its key is revoked or replaced under the same kid, and
a token altered by one character is verified afresh."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.sandbox import auth
from publish.sandbox.auth import KeyRing
from publish.sandbox.model import ApiError
from sandbox_api import ISSUER, KEY_ID, PUBLIC_PEM, token

NOW = 1_800_000_000.0


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def ring(clock: _Clock) -> KeyRing:
    keys = KeyRing(clock)
    keys.register(KEY_ID, ISSUER, PUBLIC_PEM)
    return keys


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature the key ring verified (the real jwt.decode still does the verifying)."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token_: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token_)
        return real(token_, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return seen


def _authenticate(ring: KeyRing, bearer: str, method: str = "GET") -> str:
    return ring.authenticate(f"Bearer {bearer}", method, "/v1/apps", "").key_id


def _refusal(ring: KeyRing, bearer: str, method: str = "GET") -> ApiError:
    with pytest.raises(ApiError) as refused:
        _authenticate(ring, bearer, method)
    return refused.value


def test_a_token_is_verified_once_then_remembered(ring: KeyRing, decodes: list[str]) -> None:
    bearer = token(now=NOW)
    assert [_authenticate(ring, bearer) for _ in range(5)] == [KEY_ID] * 5
    assert decodes == [bearer]


def test_a_remembered_token_expires_by_the_simulators_clock(ring: KeyRing, clock: _Clock, decodes: list[str]) -> None:
    bearer = token(now=NOW, lifetime=600)
    assert _authenticate(ring, bearer) == KEY_ID
    clock.now = NOW + 600
    refused = _refusal(ring, bearer)
    assert refused.status == 401 and "expired" in refused.detail
    assert decodes == [bearer]  # refused on the remembered claims, not because it was verified again


def test_a_remembered_token_of_a_revoked_key_is_refused(ring: KeyRing) -> None:
    bearer = token(now=NOW)
    assert _authenticate(ring, bearer) == KEY_ID
    ring.revoke(KEY_ID)
    refused = _refusal(ring, bearer)
    assert refused.status == 401 and "revoked" in refused.detail


def test_a_key_registered_again_under_the_same_kid_refuses_the_old_keys_tokens(ring: KeyRing) -> None:
    bearer = token(now=NOW)
    assert _authenticate(ring, bearer) == KEY_ID
    other = ec.generate_private_key(ec.SECP256R1())
    ring.register(KEY_ID, ISSUER, other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
    refused = _refusal(ring, bearer)
    assert refused.status == 401 and "failed verification" in refused.detail
    assert _authenticate(ring, token(now=NOW, key=other)) == KEY_ID


def test_a_replaced_key_is_not_trusted_even_with_its_memory_intact(ring: KeyRing) -> None:
    """The memory names the key object a token was verified with: swapping the key in place (as register does,
    without the clearing) must not let the old key's tokens through either."""
    bearer = token(now=NOW)
    assert _authenticate(ring, bearer) == KEY_ID
    other = ec.generate_private_key(ec.SECP256R1())
    ring._keys[KEY_ID] = auth.RegisteredKey(KEY_ID, ISSUER, other.public_key())
    refused = _refusal(ring, bearer)
    assert refused.status == 401 and "failed verification" in refused.detail


def test_a_tampered_token_is_verified_afresh_and_refused(ring: KeyRing, decodes: list[str]) -> None:
    bearer = token(now=NOW)
    assert _authenticate(ring, bearer) == KEY_ID
    header, payload, signature = bearer.split(".")
    forged_claims = jwt.api_jws.base64url_encode(
        b'{"iss":"%s","iat":%d,"exp":%d,"aud":"appstoreconnect-v1"}' % (ISSUER.encode(), NOW, NOW + 1200)).decode()
    for tampered in (f"{header}.{forged_claims}.{signature}",
                     f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"):
        refused = _refusal(ring, tampered)
        assert refused.status == 401 and "failed verification" in refused.detail
    assert len(decodes) == 3


def test_per_request_checks_still_apply_to_a_remembered_token(ring: KeyRing) -> None:
    scoped = token(now=NOW, scope=["GET /v1/apps"])
    assert _authenticate(ring, scoped) == KEY_ID
    assert _refusal(ring, scoped, "POST").status == 403  # the scope allows GET /v1/apps only
    bearer = token(now=NOW)
    assert _authenticate(ring, bearer, "POST") == KEY_ID
    ring.set_read_only(KEY_ID)
    assert _refusal(ring, bearer, "POST").status == 403


def test_the_memory_is_bounded(ring: KeyRing, decodes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_TOKENS", 4)  # the same bound logic, four tokens to sign instead of 256
    first = token(now=NOW, jti="first")
    _authenticate(ring, first)
    for n in range(auth.VERIFIED_TOKENS):
        _authenticate(ring, token(now=NOW, jti=str(n)))
    assert len(ring._verified_tokens) == auth.VERIFIED_TOKENS
    _authenticate(ring, first)  # the oldest was forgotten: verified again
    assert decodes.count(first) == 2


def test_the_cached_claims_cannot_be_changed_by_a_caller(ring: KeyRing) -> None:
    bearer = token(now=NOW)
    _, claims = ring._verified(f"Bearer {bearer}")
    claims["exp"] = NOW + 10**6
    assert ring._verified(f"Bearer {bearer}")[1]["exp"] == NOW + 600

