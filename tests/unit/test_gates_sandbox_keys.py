"""The simulator registers only keys that can sign App Store Connect tokens (ES256, an elliptic-curve key)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from publish.sandbox.auth import KeyRing


def _public_pem(private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_an_rsa_public_key_is_refused_with_the_reason() -> None:
    keys = KeyRing(clock=lambda: 0.0)
    with pytest.raises(ValueError, match="not an elliptic-curve key.*ES256"):
        keys.register("RSAKEY", "issuer", _public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    assert len(keys) == 0


def test_an_ec_public_key_is_registered() -> None:
    keys = KeyRing(clock=lambda: 0.0)
    keys.register("ECKEY", "issuer", _public_pem(ec.generate_private_key(ec.SECP256R1())))
    assert len(keys) == 1
