"""One .p8 parser for the token signer and the credential readers; keys bounded before decoding; environment key
providers as a table; AuthKey_<KEY_ID>.p8 found where Apple's tools look for it (issues 14, 15, 12)."""

from __future__ import annotations

import base64
import functools
import time
import tracemalloc
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc.auth import ApiKey, TokenProvider, load_private_key
from publish.asc.p8 import MAX_KEY_CHARS, parse_p8
from publish.errors import InputError
from publish.redact import Redactor
from publish.secrets import (ENV_KEY_PROVIDERS, KEY_DIRECTORIES, MAX_SECRET_CHARS, api_key_from_env,
                             key_file_candidates, normalize_private_key, read_value)
from publish.spec import SecretRef


@pytest.fixture(scope="module")
def p256() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@functools.cache
def huge_body() -> str:
    """A 10 MB body in PEM armour, made when a test first reads it: a module-level string was built, and held for
    the whole run, in every xdist worker that collected this module."""
    return "-----BEGIN PRIVATE KEY-----\n" + ("QUFB" * 16 + "\n") * (10 * 1024 * 1024 // 65) + \
        "-----END PRIVATE KEY-----\n"


def test_a_10_mb_body_in_pem_armour_is_refused_in_milliseconds() -> None:
    body = huge_body()
    assert len(body) > 10_000_000
    for parse in (normalize_private_key, load_private_key):
        tracemalloc.start()
        started = time.monotonic()
        with pytest.raises(InputError) as caught:
            parse(body)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < 0.05 and peak < 1024 * 1024, (parse.__name__, elapsed, peak)
        assert "characters long; an App Store Connect .p8 key is about 250" in str(caught.value)
        assert "QUFB" not in str(caught.value)


def test_a_10_mb_key_in_an_environment_variable_is_refused_before_it_is_registered(tmp_path: Path) -> None:
    redactor = Redactor()
    body = huge_body()
    started = time.monotonic()
    with pytest.raises(InputError, match="characters long"):
        api_key_from_env({"APPSTORE_PUBLISH_API_KEY_ID": "K1", "APPSTORE_PUBLISH_API_PRIVATE_KEY": body},
                         base_dir=tmp_path, register=redactor.add)
    assert time.monotonic() - started < 0.5
    assert not redactor.fragments


def test_a_10_mb_key_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    (tmp_path / "AuthKey.p8").write_text(huge_body())
    started = time.monotonic()
    with pytest.raises(InputError, match="larger than"):
        read_value(SecretRef(file="AuthKey.p8"), what="key", env={}, base_dir=tmp_path, register=None, secret=True)
    assert time.monotonic() - started < 0.5


def test_a_secret_in_a_variable_is_bounded() -> None:
    with pytest.raises(InputError, match=f"at most {MAX_SECRET_CHARS} are read"):
        read_value(SecretRef(env="PW"), what="password", env={"PW": "x" * (MAX_SECRET_CHARS + 1)}, base_dir=Path("."),
                   register=None, secret=True)


def test_a_key_at_the_bound_is_still_parsed_by_its_content(p256: str) -> None:
    padded = p256 + " " * (MAX_KEY_CHARS - len(p256))
    assert parse_p8(padded).pem == p256


DEFECTS = {
    "empty": ("", "is empty"),
    "not-pem": ("not a key at all!", "is not a PEM key"),
    "cut-der": ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "damaged or truncated"),
    "no-end": ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n", "is truncated"),
    "certificate": ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "is a certificate"),
    "ssh": ("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "is an SSH key"),
}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_the_signer_and_the_credential_readers_say_the_same_thing(name: str) -> None:
    text, fragment = DEFECTS[name]
    with pytest.raises(InputError) as from_secrets:
        normalize_private_key(text, what="THE-KEY")
    with pytest.raises(InputError) as from_signer:
        TokenProvider(ApiKey("K1", "issuer", text))
    assert fragment in str(from_secrets.value) and fragment in str(from_signer.value)
    assert str(from_secrets.value).replace("THE-KEY", "X") == \
        str(from_signer.value).replace("the App Store Connect private key for key K1", "X")


@pytest.mark.parametrize("variant", ["escaped", "one-line", "base64", "bare-body", "quoted"])
def test_the_signer_repairs_what_the_readers_repair(variant: str, p256: str) -> None:
    text = {"escaped": p256.replace("\n", "\\n"), "one-line": p256.replace("\n", " "),
            "base64": base64.b64encode(p256.encode()).decode(), "bare-body": "".join(p256.splitlines()[1:-1]),
            "quoted": f"'{p256.strip()}'"}[variant]
    assert TokenProvider(ApiKey("K1", "issuer", text)).token()


def test_the_environment_providers_are_a_table_in_their_order() -> None:
    assert [name for name, _ in ENV_KEY_PROVIDERS] == [
        "the action's inputs", "fastlane's API-key JSON", "fastlane's variables", "Codemagic's variables"]


# --------------------------------------------------------------------------------------------------- key lookup


def test_the_search_order_is_altools(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "work"
    found = key_file_candidates("ABC123", {"HOME": str(home), "API_PRIVATE_KEYS_DIR": str(tmp_path / "keys")},
                                cwd=cwd)
    assert found == [tmp_path / "keys/AuthKey_ABC123.p8", cwd / "private_keys/AuthKey_ABC123.p8",
                     home / "private_keys/AuthKey_ABC123.p8", home / ".private_keys/AuthKey_ABC123.p8",
                     home / ".appstoreconnect/private_keys/AuthKey_ABC123.p8"]
    assert KEY_DIRECTORIES[-1] == "~/.appstoreconnect/private_keys"


ENVS = {
    "action": {"APPSTORE_PUBLISH_API_KEY_ID": "ABC123", "APPSTORE_PUBLISH_API_ISSUER_ID": "iss"},
    "fastlane": {"APP_STORE_CONNECT_API_KEY_KEY_ID": "ABC123", "APP_STORE_CONNECT_API_KEY_ISSUER_ID": "iss"},
    "codemagic": {"APP_STORE_CONNECT_KEY_IDENTIFIER": "ABC123", "APP_STORE_CONNECT_ISSUER_ID": "iss"},
}


@pytest.mark.parametrize("provider", sorted(ENVS))
@pytest.mark.parametrize("folder", [".appstoreconnect/private_keys", "private_keys", ".private_keys"])
def test_a_key_id_alone_finds_authkey_in_the_home_directories(tmp_path: Path, p256: str, provider: str,
                                                               folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    (home / folder).mkdir(parents=True)
    (home / folder / "AuthKey_ABC123.p8").write_text(p256)
    redactor = Redactor()
    key = api_key_from_env({**ENVS[provider], "HOME": str(home)}, base_dir=tmp_path, register=redactor.add)
    assert key == ApiKey("ABC123", "iss", p256)
    assert p256.splitlines()[1] in redactor.fragments  # registered for masking like any other key


def test_the_working_directory_comes_before_home(tmp_path: Path, p256: str, monkeypatch: pytest.MonkeyPatch) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "private_keys").mkdir()
    (tmp_path / "private_keys/AuthKey_ABC123.p8").write_text(p256)
    (tmp_path / "home/.appstoreconnect/private_keys").mkdir(parents=True)
    (tmp_path / "home/.appstoreconnect/private_keys/AuthKey_ABC123.p8").write_text(other)
    key = api_key_from_env({**ENVS["action"], "HOME": str(tmp_path / "home")}, base_dir=tmp_path,
                           register=Redactor().add)
    assert key.private_key_pem == p256


@pytest.mark.parametrize("provider", sorted(ENVS))
def test_a_missing_authkey_lists_every_place_looked(tmp_path: Path, provider: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        api_key_from_env({**ENVS[provider], "HOME": str(tmp_path / "home")}, base_dir=tmp_path,
                         register=Redactor().add)
    message = str(caught.value)
    assert "AuthKey_ABC123.p8 (for key ID ABC123) is in none of the places Apple's tools look for it" in message
    for place in ("private_keys/AuthKey_ABC123.p8", "home/private_keys", "home/.private_keys",
                  "home/.appstoreconnect/private_keys/AuthKey_ABC123.p8"):
        assert place in message
    assert caught.value.exit_code == 2


def test_a_key_id_that_is_not_a_file_name_is_not_looked_up(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no AuthKey_<KEY_ID>.p8 file can be looked up"):
        api_key_from_env({"APPSTORE_PUBLISH_API_KEY_ID": "../../etc/passwd"}, base_dir=tmp_path,
                         register=Redactor().add)
