"""The one reader of App Store Connect `.p8` keys, used by the token signer (publish.asc.auth) and by the credential
readers (publish.secrets), so a key is repaired the same way and a bad one gets the same words wherever it enters.

A key arrives from CI secrets, environment variables and files, and is mangled on the way in known ways: quoted,
with Windows line endings or literal "\\n" escapes, flattened onto one line, base64-encoded as a whole, or with its
armour lines cut off. Those are repaired because each has one meaning. Anything else (a certificate, a public key,
RSA, another curve, a password-protected or truncated key) is refused with what it is and where to get the right
file; the key material is never quoted. The text is bounded before anything decodes it: a real key is about 250
characters, and a 10 MB body inside PEM armour must be refused in microseconds, not decoded.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, NamedTuple

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from publish.errors import InputError

# An AuthKey_<KEY_ID>.p8 is ~250 characters; this leaves room for comments and a base64 wrapping, nothing more.
MAX_KEY_CHARS = 16 * 1024

DOWNLOAD_HINT = (
    "download the key from App Store Connect > Users and Access > Integrations > App Store Connect API; the file is "
    "AuthKey_<KEY_ID>.p8 and starts with -----BEGIN PRIVATE KEY-----"
)
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)(?:-----END ([A-Z0-9 ]+)-----|$)", re.S)
_DEFAULT_WHAT = "the App Store Connect private key"


class P8Key(NamedTuple):
    pem: str  # canonical PEM: armour lines, 64-column body, final newline
    key: ec.EllipticCurvePrivateKey


def parse_p8(text: str, *, what: str = _DEFAULT_WHAT) -> P8Key:
    """The key in `text` as canonical PEM and as a P-256 private key, or an InputError saying what is wrong."""
    if len(text) > MAX_KEY_CHARS:
        raise InputError(f"{what} is {len(text)} characters long; an App Store Connect .p8 key is about 250, so "
                         "this is not one (a whole file or archive pasted into the secret?)", hint=DOWNLOAD_HINT)
    cleaned = text.strip()
    if len(cleaned) >= 2 and cleaned[0] == cleaned[-1] and cleaned[0] in "\"'":
        cleaned = cleaned[1:-1].strip()
    cleaned = cleaned.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    if not cleaned:
        raise InputError(f"{what} is empty", hint=DOWNLOAD_HINT)
    if "-----BEGIN" not in cleaned:
        cleaned = _unarmoured(cleaned, what)
    blocks = _PEM_BLOCK.findall(cleaned)
    if not blocks:
        raise InputError(f"{what} is not a PEM key (its -----BEGIN line is damaged)", hint=DOWNLOAD_HINT)
    label, body, end_label = blocks[0]
    label = label.strip()
    _refuse_other_blocks(label, what)
    if not end_label:
        raise InputError(f"{what} is truncated: its -----END {label}----- line is missing",
                         hint="copy the whole .p8 file, from -----BEGIN to -----END (a CI variable may have cut it "
                         "at the first newline: store it base64-encoded and declare `encoding: base64`)")
    body = "".join(body.split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is damaged or truncated: the text between the BEGIN and END lines is not valid "
                         "base64", hint="copy the whole .p8 file again, unchanged") from None
    key = _load_der(der, what)
    _require_p256(key, what)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    pem = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
    return P8Key(pem, key)


def _refuse_other_blocks(label: str, what: str) -> None:
    if label in ("CERTIFICATE", "TRUSTED CERTIFICATE"):
        raise InputError(f"{what} is a certificate, not a private key",
                         hint="App Store Connect API keys are not certificates: " + DOWNLOAD_HINT)
    if label in ("PUBLIC KEY", "EC PUBLIC KEY", "RSA PUBLIC KEY"):
        raise InputError(f"{what} is a public key; the private key is needed to sign App Store Connect tokens",
                         hint=DOWNLOAD_HINT)
    if label == "ENCRYPTED PRIVATE KEY":
        raise InputError(f"{what} is encrypted with a password",
                         hint="use the unencrypted AuthKey_<KEY_ID>.p8 file as downloaded from App Store Connect")
    if label == "RSA PRIVATE KEY":
        raise InputError(f"{what} is an RSA key; App Store Connect API keys are EC P-256 keys (ES256)",
                         hint=DOWNLOAD_HINT)
    if label == "OPENSSH PRIVATE KEY":
        raise InputError(f"{what} is an SSH key, not an App Store Connect API key", hint=DOWNLOAD_HINT)
    if label not in ("PRIVATE KEY", "EC PRIVATE KEY"):
        raise InputError(f"{what} is a PEM '{label[:40]}' block, not a private key", hint=DOWNLOAD_HINT)


def _load_der(der: bytes, what: str) -> Any:
    try:
        return serialization.load_der_private_key(der, password=None)
    except TypeError:
        raise InputError(f"{what} is encrypted with a password",
                         hint="use the unencrypted AuthKey_<KEY_ID>.p8 file") from None
    except (ValueError, UnsupportedAlgorithm):  # a damaged or cut DER structure, or an algorithm we cannot read
        raise InputError(f"{what} is damaged or truncated: it is PEM, but the key inside could not be read",
                         hint="copy the whole .p8 file again, unchanged; " + DOWNLOAD_HINT) from None


def _unarmoured(text: str, what: str) -> str:
    """A value without PEM armour: a base64-encoded .p8 file, or the bare base64 body of one."""
    body = "".join(text.split())
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not a PEM key (no -----BEGIN PRIVATE KEY----- line)", hint=DOWNLOAD_HINT) from None
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            return data.decode("ascii").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise InputError(f"{what} is damaged: base64 of a PEM with non-text bytes", hint=DOWNLOAD_HINT) from None
    try:
        serialization.load_der_private_key(data, password=None)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        raise InputError(f"{what} is not a PEM key (no -----BEGIN PRIVATE KEY----- line), nor the base64 of one",
                         hint=DOWNLOAD_HINT) from None
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


def _require_p256(key: Any, what: str) -> None:
    if isinstance(key, rsa.RSAPrivateKey):
        raise InputError(f"{what} is an RSA key; App Store Connect API keys are EC P-256 keys (ES256)",
                         hint=DOWNLOAD_HINT)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        raise InputError(f"{what} is an Ed25519/Ed448 key; App Store Connect API keys are EC P-256 keys (ES256)",
                         hint=DOWNLOAD_HINT)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{what} is not an elliptic-curve key; App Store Connect API keys are EC P-256 keys",
                         hint=DOWNLOAD_HINT)
    if not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"{what} is an EC key on curve {key.curve.name}; App Store Connect API keys use P-256 "
                         "(prime256v1 / secp256r1)", hint=DOWNLOAD_HINT)
