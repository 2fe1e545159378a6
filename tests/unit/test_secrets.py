"""Secrets: every source (flow references, fastlane JSON and variables, Codemagic, the action's inputs) and every
defect of a .p8 key gets a precise error that never quotes the key."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from publish.asc.auth import ApiKey, TokenProvider
from publish.errors import InputError
from publish.redact import Redactor
from publish.secrets import (
    api_key_from_env,
    normalize_private_key,
    resolve_api_key,
    resolve_apple_id,
)
from publish.spec import load_flow_text

NoEnc = serialization.NoEncryption()


def pkcs8(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, NoEnc).decode()


@pytest.fixture(scope="module")
def p256() -> str:
    return pkcs8(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def defects(p256: str) -> dict[str, tuple[str, str]]:
    """name -> (text, expected message fragment)."""
    body_lines = p256.splitlines()[1:-1]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ec_key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(ec_key, hashes.SHA256()))
    return {
        "truncated-no-end": (p256[: len(p256) // 2], "is truncated: its -----END PRIVATE KEY----- line is missing"),
        "truncated-body": ("-----BEGIN PRIVATE KEY-----\n" + body_lines[0] + "\n-----END PRIVATE KEY-----\n",
                           "damaged or truncated"),
        "damaged-base64": ("-----BEGIN PRIVATE KEY-----\n" + body_lines[0][:-3] + "!!!\n-----END PRIVATE KEY-----\n",
                           "is not valid base64"),
        "public-key": (ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
                       "is a public key"),
        "certificate": (cert.public_bytes(serialization.Encoding.PEM).decode(), "is a certificate, not a private key"),
        "rsa-pkcs8": (pkcs8(rsa_key), "is an RSA key"),
        "rsa-traditional": (rsa_key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.TraditionalOpenSSL, NoEnc).decode(),
                            "is an RSA key"),
        "p384": (pkcs8(ec.generate_private_key(ec.SECP384R1())), "is an EC key on curve secp384r1"),
        "ed25519": (pkcs8(ed25519.Ed25519PrivateKey.generate()), "Ed25519"),
        "encrypted": (ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"pw")).decode(), "encrypted"),
        "not-pem": ("this is my key, trust me!", "is not a PEM key"),
        "base64-of-nonsense": (base64.b64encode(b"hello there, not a key").decode(), "is not a PEM key"),
        "empty": ("   \n", "is empty"),
    }


DEFECTS = ["truncated-no-end", "truncated-body", "damaged-base64", "public-key", "certificate", "rsa-pkcs8",
           "rsa-traditional", "p384", "ed25519", "encrypted", "not-pem", "base64-of-nonsense", "empty"]


@pytest.mark.parametrize("name", DEFECTS)
def test_p8_defects_get_precise_errors_without_the_key(name: str, defects: dict[str, tuple[str, str]]) -> None:
    text, fragment = defects[name]
    with pytest.raises(InputError) as caught:
        normalize_private_key(text)
    message = str(caught.value)
    assert fragment in message
    assert caught.value.exit_code == 2
    for line in text.splitlines():
        if len(line) >= 16 and not line.startswith("-----"):
            assert line not in message


@pytest.mark.parametrize("variant", ["crlf", "escaped", "quoted", "spaces", "one-line", "base64", "bare-body"])
def test_p8_is_normalised_where_safe(variant: str, p256: str) -> None:
    text = {
        "crlf": p256.replace("\n", "\r\n"),
        "escaped": p256.replace("\n", "\\n"),
        "quoted": f'"{p256.strip()}"',
        "spaces": f"  \n{p256}\n\n  ",
        "one-line": p256.replace("\n", " "),
        "base64": base64.b64encode(p256.encode()).decode(),
        "bare-body": "".join(p256.splitlines()[1:-1]),
    }[variant]
    assert normalize_private_key(text) == p256


def test_sec1_fixture_key_is_accepted_and_signs(shared_dir: Path) -> None:
    text = (shared_dir / "fixtures/real-world/keys/asc_key.p8").read_text()
    pem = normalize_private_key(text)
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----\n")
    token = TokenProvider(ApiKey("D485S484", "issuer", pem), clock=lambda: 1_700_000_000.0).token()
    assert token.count(".") == 2


# --------------------------------------------------------------------------------------------------- flow refs

FLOW = """\
version: 1
api_keys:
  env-key:
    key_id: ABC123DEFG
    issuer_id: {env: ASC_ISSUER_ID}
    private_key: {env: ASC_PRIVATE_KEY}
  b64-key:
    key_id: {env: ASC_KEY_ID}
    private_key: {env: ASC_PRIVATE_KEY_B64, encoding: base64}
  file-key:
    key_id: ABC123DEFG
    issuer_id: 69a6de70-0000-47e3-e053-5b8c7c11a4d1
    private_key: {file: keys/AuthKey.p8}
  file-b64-key:
    key_id: ABC123DEFG
    private_key: {file: keys/AuthKey.b64, encoding: base64}
  fastlane-file:
    fastlane_json: {file: keys/api_key.json}
  fastlane-env:
    fastlane_json: {env: FASTLANE_JSON, encoding: base64}
apple_ids:
  login:
    apple_id: {env: APPLE_ID}
    app_specific_password: {env: APPLE_PASSWORD}
profiles:
  - bundle_id: com.example.app
    flow:
      - step: mark_as_rc
"""


@pytest.fixture()
def flow_dir(tmp_path: Path, p256: str) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/AuthKey.p8").write_text(p256)
    (tmp_path / "keys/AuthKey.b64").write_text(base64.b64encode(p256.encode()).decode() + "\n")
    (tmp_path / "keys/api_key.json").write_text(json.dumps({"key_id": "FL1234", "issuer_id": "iss", "key": p256,
                                                            "in_house": False}))
    return tmp_path


def resolve(name: str | None, env: dict[str, str], base_dir: Path, redactor: Redactor | None = None) -> ApiKey:
    flow = load_flow_text(FLOW, str(base_dir / "flow.yaml"))
    return resolve_api_key(flow, name, env=env, base_dir=base_dir, redactor=redactor or Redactor())


def test_env_reference(flow_dir: Path, p256: str) -> None:
    key = resolve("env-key", {"ASC_ISSUER_ID": "iss-1", "ASC_PRIVATE_KEY": p256}, flow_dir)
    assert key == ApiKey("ABC123DEFG", "iss-1", p256)


def test_base64_env_reference_without_issuer_is_an_individual_key(flow_dir: Path, p256: str) -> None:
    env = {"ASC_KEY_ID": "KEY2", "ASC_PRIVATE_KEY_B64": base64.b64encode(p256.encode()).decode()}
    key = resolve("b64-key", env, flow_dir)
    assert key.key_id == "KEY2" and key.issuer_id is None and key.private_key_pem == p256


def test_file_references_are_relative_to_the_flow(flow_dir: Path, p256: str) -> None:
    assert resolve("file-key", {}, flow_dir).private_key_pem == p256
    assert resolve("file-b64-key", {}, flow_dir).private_key_pem == p256


def test_fastlane_json_file_and_env(flow_dir: Path, p256: str) -> None:
    key = resolve("fastlane-file", {}, flow_dir)
    assert (key.key_id, key.issuer_id, key.private_key_pem) == ("FL1234", "iss", p256)
    text = (flow_dir / "keys/api_key.json").read_text()
    key = resolve("fastlane-env", {"FASTLANE_JSON": base64.b64encode(text.encode()).decode()}, flow_dir)
    assert key.key_id == "FL1234"


def test_fastlane_json_fixtures(shared_dir: Path) -> None:
    keys = shared_dir / "fixtures/real-world/keys"
    plain = resolve_api_key(None, None, env={"APP_STORE_CONNECT_API_KEY_PATH": str(keys / "asc_key.json")},
                            base_dir=Path("/"), redactor=Redactor())
    b64 = resolve_api_key(None, None, env={"APP_STORE_CONNECT_API_KEY_PATH": str(keys / "asc_key_base64.json")},
                          base_dir=Path("/"), redactor=Redactor())
    assert plain == b64
    assert plain.key_id == "D485S484" and plain.issuer_id == "061966a2-5f3c-4185-af13-70e66d2263f5"


def test_missing_env_var_names_it_and_says_how_to_set_it(flow_dir: Path) -> None:
    with pytest.raises(InputError) as caught:
        resolve("env-key", {"ASC_ISSUER_ID": "x"}, flow_dir)
    message = str(caught.value)
    assert "environment variable ASC_PRIVATE_KEY is not set" in message
    assert "secrets.ASC_PRIVATE_KEY" in message


def test_missing_file(flow_dir: Path) -> None:
    (flow_dir / "keys/AuthKey.p8").unlink()
    with pytest.raises(InputError, match=r"keys/AuthKey.p8 does not exist"):
        resolve("file-key", {}, flow_dir)


def test_base64_that_is_not(flow_dir: Path) -> None:
    with pytest.raises(InputError, match="ASC_PRIVATE_KEY_B64.*is not valid base64"):
        resolve("b64-key", {"ASC_KEY_ID": "K", "ASC_PRIVATE_KEY_B64": "not*base64*at*all"}, flow_dir)


def test_unknown_key_name_lists_the_defined_ones(flow_dir: Path) -> None:
    with pytest.raises(InputError, match="no API key named 'nope'.*env-key, b64-key"):
        resolve("nope", {}, flow_dir)


def test_key_errors_name_the_source_but_not_the_key(flow_dir: Path, defects: dict[str, tuple[str, str]]) -> None:
    text, _ = defects["p384"]
    with pytest.raises(InputError) as caught:
        resolve("env-key", {"ASC_ISSUER_ID": "x", "ASC_PRIVATE_KEY": text}, flow_dir)
    assert "API key 'env-key' private_key (environment variable ASC_PRIVATE_KEY)" in str(caught.value)
    assert text.splitlines()[1] not in str(caught.value)


# --------------------------------------------------------------------------------------------------- conventional env


def test_fastlane_variables(tmp_path: Path, p256: str) -> None:
    env = {"APP_STORE_CONNECT_API_KEY_KEY_ID": "FLK", "APP_STORE_CONNECT_API_KEY_ISSUER_ID": "iss",
           "APP_STORE_CONNECT_API_KEY_KEY": p256.replace("\n", "\\n")}
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add) == ApiKey("FLK", "iss", p256)
    env["APP_STORE_CONNECT_API_KEY_KEY"] = base64.b64encode(p256.encode()).decode()
    env["APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64"] = "true"
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add).private_key_pem == p256
    del env["APP_STORE_CONNECT_API_KEY_KEY"]
    (tmp_path / "AuthKey.p8").write_text(p256)
    env["APP_STORE_CONNECT_API_KEY_KEY_FILEPATH"] = "AuthKey.p8"
    env["APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64"] = "false"
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add).private_key_pem == p256


def test_codemagic_variables(tmp_path: Path, p256: str) -> None:
    env = {"APP_STORE_CONNECT_KEY_IDENTIFIER": "CMK", "APP_STORE_CONNECT_ISSUER_ID": "iss",
           "APP_STORE_CONNECT_PRIVATE_KEY": p256.replace("\n", "\r\n")}
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add) == ApiKey("CMK", "iss", p256)
    (tmp_path / "AuthKey.p8").write_text(p256)
    env["APP_STORE_CONNECT_PRIVATE_KEY"] = "@file:AuthKey.p8"
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add).private_key_pem == p256
    env["APP_STORE_CONNECT_PRIVATE_KEY"] = "@env:MY_KEY"
    env["MY_KEY"] = p256
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add).private_key_pem == p256


def test_action_inputs_win(tmp_path: Path, p256: str) -> None:
    other = pkcs8(ec.generate_private_key(ec.SECP256R1()))
    env = {"APPSTORE_PUBLISH_API_KEY_ID": "ACT", "APPSTORE_PUBLISH_API_ISSUER_ID": "iss",
           "APPSTORE_PUBLISH_API_PRIVATE_KEY_BASE64": base64.b64encode(p256.encode()).decode(),
           "APP_STORE_CONNECT_KEY_IDENTIFIER": "CMK", "APP_STORE_CONNECT_PRIVATE_KEY": other}
    assert api_key_from_env(env, base_dir=tmp_path, register=Redactor().add) == ApiKey("ACT", "iss", p256)


def test_incomplete_and_absent_variables(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="APP_STORE_CONNECT_API_KEY_KEY .*is not set"):
        api_key_from_env({"APP_STORE_CONNECT_API_KEY_KEY_ID": "X"}, base_dir=tmp_path, register=Redactor().add)
    with pytest.raises(InputError, match="APP_STORE_CONNECT_KEY_IDENTIFIER is not set"):
        api_key_from_env({"APP_STORE_CONNECT_PRIVATE_KEY": "x"}, base_dir=tmp_path, register=Redactor().add)
    with pytest.raises(InputError) as caught:
        api_key_from_env({}, base_dir=tmp_path, register=Redactor().add)
    for name in ("api-key-id", "APP_STORE_CONNECT_API_KEY_KEY_ID", "APP_STORE_CONNECT_KEY_IDENTIFIER"):
        assert name in str(caught.value)


# --------------------------------------------------------------------------------------------------- redaction


def test_every_resolved_secret_is_registered(flow_dir: Path, p256: str) -> None:
    redactor = Redactor()
    b64 = base64.b64encode(p256.encode()).decode()
    resolve("b64-key", {"ASC_KEY_ID": "KID", "ASC_PRIVATE_KEY_B64": b64}, flow_dir, redactor)
    escaped = p256.strip().replace("\n", "\\n")
    text = f"key {p256} b64 {b64} escaped {escaped}"
    redacted = redactor.redact(text)
    for line in p256.splitlines()[1:-1]:
        assert line not in redacted
    assert b64 not in redacted
    assert "KID" not in redactor.fragments  # a key ID is not a secret


def test_mask_callback_receives_the_secrets(flow_dir: Path, p256: str) -> None:
    seen: list[str] = []
    flow = load_flow_text(FLOW, str(flow_dir / "flow.yaml"))
    resolve_api_key(flow, "file-key", env={}, base_dir=flow_dir, redactor=Redactor(), mask=seen.append)
    assert p256 in seen


def test_apple_id_from_flow_and_env(flow_dir: Path) -> None:
    flow = load_flow_text(FLOW, str(flow_dir / "flow.yaml"))
    redactor = Redactor()
    creds = resolve_apple_id(flow, "login", env={"APPLE_ID": "ci@example.com", "APPLE_PASSWORD": "abcd-efgh-ijkl-mnop"},
                             base_dir=flow_dir, redactor=redactor)
    assert (creds.apple_id, creds.password) == ("ci@example.com", "abcd-efgh-ijkl-mnop")
    assert "abcd-efgh-ijkl-mnop" not in repr(creds)
    assert redactor.redact("pw abcd-efgh-ijkl-mnop") == "pw ***"
    creds = resolve_apple_id(None, None, env={"FASTLANE_USER": "a@b.co",
                                              "FASTLANE_APPLE_APPLICATION_SPECIFIC_PASSWORD": "wxyz-wxyz-wxyz-wxyz"},
                             base_dir=flow_dir, redactor=redactor)
    assert creds.apple_id == "a@b.co"
    with pytest.raises(InputError, match="APPLE_PASSWORD is not set"):
        resolve_apple_id(flow, "login", env={"APPLE_ID": "x"}, base_dir=flow_dir, redactor=redactor)
    with pytest.raises(InputError, match="no Apple ID named 'other'.*login"):
        resolve_apple_id(flow, "other", env={}, base_dir=flow_dir, redactor=redactor)
