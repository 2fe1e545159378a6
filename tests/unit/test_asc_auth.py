"""ES256 tokens for App Store Connect: claims, headers, lifetime, caching and refresh, key formats."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from publish.asc.auth import MAX_LIFETIME, ApiKey, TokenProvider, load_private_key
from publish.errors import InputError

ISSUER = "57246542-96fe-1a63-e053-0824d011072a"
NOW = 1_700_000_000.0


def make_pem(fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> tuple[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return pem, public


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def decode(token: str, public_pem: str) -> tuple[dict, dict]:
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, public_pem, algorithms=["ES256"], audience="appstoreconnect-v1",
                        options={"verify_exp": False, "verify_iat": False})
    return header, claims


def test_team_key_token_has_apple_header_and_claims() -> None:
    pem, public = make_pem()
    provider = TokenProvider(ApiKey("2X9R4HXF34", ISSUER, pem), Clock())
    header, claims = decode(provider.token(), public)
    assert header == {"alg": "ES256", "kid": "2X9R4HXF34", "typ": "JWT"}
    assert claims["iss"] == ISSUER
    assert "sub" not in claims
    assert claims["aud"] == "appstoreconnect-v1"
    assert claims["iat"] == int(NOW) - 60  # backdated for clock skew
    assert 0 < claims["exp"] - claims["iat"] <= 1200 - 60  # safely below Apple's ceiling (protocol.md H.14)
    assert claims["exp"] - NOW <= 1200 - 300  # still valid by Apple's clock when the runner's is 5 min ahead
    assert claims["exp"] > NOW + 600


def test_individual_key_token_uses_sub_user_and_no_iss() -> None:
    pem, public = make_pem()
    provider = TokenProvider(ApiKey("INDIVIDUAL1", None, pem), Clock())
    _, claims = decode(provider.token(), public)
    assert claims["sub"] == "user"
    assert "iss" not in claims
    assert claims["exp"] - claims["iat"] <= MAX_LIFETIME


def test_signature_is_raw_64_byte_es256_and_verifies() -> None:
    pem, public = make_pem()
    token = TokenProvider(ApiKey("K1", ISSUER, pem), Clock()).token()
    signature = jwt.utils.base64url_decode(token.split(".")[2].encode())
    assert len(signature) == 64
    decode(token, public)  # raises if the signature does not verify


def test_token_is_cached_then_refreshed_before_expiry() -> None:
    pem, public = make_pem()
    clock = Clock()
    provider = TokenProvider(ApiKey("K1", ISSUER, pem), clock)
    first = provider.token()
    clock.now += 600
    assert provider.token() == first
    assert provider.tokens_issued == 1
    exp = decode(first, public)[1]["exp"]
    clock.now = exp - 119  # less than two minutes left: refresh
    second = provider.token()
    assert second != first
    assert decode(second, public)[1]["iat"] == int(clock.now) - 60
    assert provider.tokens_issued == 2


def test_a_forty_minute_wait_never_hands_out_an_expired_token() -> None:
    pem, public = make_pem()
    clock = Clock()
    provider = TokenProvider(ApiKey("K1", ISSUER, pem), clock)
    for _ in range(0, 40 * 60, 30):
        token = provider.token()
        assert decode(token, public)[1]["exp"] - clock.now >= 60
        clock.now += 30
    assert provider.tokens_issued >= 2


def test_invalidate_forces_a_new_token() -> None:
    pem, _ = make_pem()
    clock = Clock()
    provider = TokenProvider(ApiKey("K1", ISSUER, pem), clock)
    first = provider.token()
    clock.now += 1
    provider.invalidate()
    assert provider.token() != first


def test_sec1_and_escaped_newline_and_bare_body_keys_are_accepted() -> None:
    pem, public = make_pem(serialization.PrivateFormat.TraditionalOpenSSL)
    assert "BEGIN EC PRIVATE KEY" in pem
    decode(TokenProvider(ApiKey("K1", ISSUER, pem), Clock()).token(), public)
    pkcs8, public8 = make_pem()
    escaped = pkcs8.strip().replace("\n", "\\n")
    decode(TokenProvider(ApiKey("K1", ISSUER, escaped), Clock()).token(), public8)
    body = "".join(line for line in pkcs8.splitlines() if not line.startswith("-----"))
    decode(TokenProvider(ApiKey("K1", ISSUER, body), Clock()).token(), public8)
    crlf = pkcs8.replace("\n", "\r\n")
    decode(TokenProvider(ApiKey("K1", ISSUER, crlf), Clock()).token(), public8)


def test_real_world_p8_key_signs(shared_dir: Path) -> None:
    keys = shared_dir / "fixtures" / "real-world" / "keys"
    spec = json.loads((keys / "asc_key.json").read_text())
    pem = (keys / "asc_key.p8").read_text()
    key = ApiKey(spec["key_id"], spec["issuer_id"], pem)
    token = TokenProvider(key, Clock()).token()
    public = load_private_key(pem).public_key()
    header, claims = decode(token, public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
    assert header["kid"] == spec["key_id"]
    assert claims["iss"] == spec["issuer_id"]


@pytest.mark.parametrize(
    "pem, expected",
    [
        ("", "is empty"),
        ("not a key at all!", "not a PEM key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "could not be read"),
    ],
)
def test_bad_keys_are_input_errors_that_say_how_to_fix(pem: str, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        TokenProvider(ApiKey("K1", ISSUER, pem), Clock())
    assert expected in str(caught.value)
    assert caught.value.hint and ".p8" in caught.value.hint
    assert caught.value.exit_code == 2


def test_wrong_key_type_and_curve_are_refused() -> None:
    rsa_pem = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    for pem in (rsa_pem, p384):
        with pytest.raises(InputError, match="P-256"):
            load_private_key(pem)


def test_encrypted_key_is_refused_with_advice() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")).decode()
    with pytest.raises(InputError, match="encrypted"):
        load_private_key(pem)


def test_bad_key_id_and_empty_issuer_are_refused() -> None:
    pem, _ = make_pem()
    with pytest.raises(InputError, match="key ID"):
        TokenProvider(ApiKey("has space", ISSUER, pem), Clock())
    with pytest.raises(InputError, match="issuer ID is empty"):
        TokenProvider(ApiKey("K1", "  ", pem), Clock())


def test_repr_and_errors_never_show_the_private_key() -> None:
    pem, _ = make_pem()
    key = ApiKey("K1", ISSUER, pem)
    body_line = pem.splitlines()[1]
    for text in (repr(key), str(key), repr([key]), f"{key}", repr(TokenProvider(key, Clock()))):
        assert body_line not in text
        assert "PRIVATE" not in text
    broken = ApiKey("K1", ISSUER, pem[:-60] + "garbage\n-----END PRIVATE KEY-----")
    with pytest.raises(InputError) as caught:
        TokenProvider(broken, Clock())
    assert body_line not in str(caught.value) and body_line not in repr(caught.value)
