"""Credentials from where users keep them: the flow file's secret references (env / file / base64), fastlane's API-key
JSON, the conventional environment variables of fastlane and Codemagic, and the GitHub Action's own inputs.

Every secret is registered with the redactor the moment it is read, and no error message ever quotes one.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from publish.asc.auth import ApiKey
from publish.errors import InputError
from publish.redact import Redactor
from publish.spec import ApiKeySpec, FlowSpec, SecretRef, Value

log = logging.getLogger(__name__)

# The action's inputs, as entrypoint.py exports them.
ACTION_KEY_ID = "APPSTORE_PUBLISH_API_KEY_ID"
ACTION_ISSUER_ID = "APPSTORE_PUBLISH_API_ISSUER_ID"
ACTION_PRIVATE_KEY = "APPSTORE_PUBLISH_API_PRIVATE_KEY"
ACTION_PRIVATE_KEY_BASE64 = "APPSTORE_PUBLISH_API_PRIVATE_KEY_BASE64"
ACTION_APPLE_ID = "APPSTORE_PUBLISH_APPLE_ID"
ACTION_APP_SPECIFIC_PASSWORD = "APPSTORE_PUBLISH_APP_SPECIFIC_PASSWORD"
# fastlane's app_store_connect_api_key action.
FASTLANE_KEY_ID = "APP_STORE_CONNECT_API_KEY_KEY_ID"
FASTLANE_ISSUER_ID = "APP_STORE_CONNECT_API_KEY_ISSUER_ID"
FASTLANE_KEY = "APP_STORE_CONNECT_API_KEY_KEY"
FASTLANE_KEY_FILEPATH = "APP_STORE_CONNECT_API_KEY_KEY_FILEPATH"
FASTLANE_KEY_IS_BASE64 = "APP_STORE_CONNECT_API_KEY_IS_KEY_CONTENT_BASE64"
FASTLANE_KEY_JSON_PATH = "APP_STORE_CONNECT_API_KEY_PATH"
FASTLANE_USER = "FASTLANE_USER"
FASTLANE_APP_SPECIFIC_PASSWORD = "FASTLANE_APPLE_APPLICATION_SPECIFIC_PASSWORD"
# Codemagic CLI tools (app-store-connect); values may also be "@env:NAME" or "@file:path".
CODEMAGIC_KEY_ID = "APP_STORE_CONNECT_KEY_IDENTIFIER"
CODEMAGIC_ISSUER_ID = "APP_STORE_CONNECT_ISSUER_ID"
CODEMAGIC_PRIVATE_KEY = "APP_STORE_CONNECT_PRIVATE_KEY"

_SECRET_HINT = (
    "in GitHub Actions store it as a repository secret and map it: `env: {name}: ${{{{ secrets.{name} }}}}`; "
    "in GitLab CI add a masked CI/CD variable {name}; elsewhere `export {name}=...`"
)
_DOWNLOAD_HINT = (
    "download the key from App Store Connect > Users and Access > Integrations > App Store Connect API; the file is "
    "AuthKey_<KEY_ID>.p8 and starts with -----BEGIN PRIVATE KEY-----"
)
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)(?:-----END ([A-Z0-9 ]+)-----|$)", re.S)

Register = Callable[[str], object]


@dataclass(frozen=True)
class AppleIdCredentials:
    apple_id: str
    password: str

    def __repr__(self) -> str:
        return f"AppleIdCredentials(apple_id={self.apple_id!r}, password=<hidden>)"

    __str__ = __repr__


# --------------------------------------------------------------------------------------------------- reading values


def _registrar(redactor: Redactor, mask: Register | None) -> Register:
    return mask if mask is not None else redactor.add


def read_value(value: Value, *, what: str, env: Mapping[str, str], base_dir: Path, register: Register | None,
               secret: bool) -> str:
    """The text a literal or a secret reference stands for; secrets are registered before anything else happens."""
    if isinstance(value, str):
        return value.strip()
    if value.env:
        raw = env.get(value.env)
        if raw is None:
            raise InputError(f"{what}: environment variable {value.env} is not set",
                             hint=_SECRET_HINT.format(name=value.env))
        origin = f"environment variable {value.env}"
    else:
        path = Path(value.file or "")
        path = path if path.is_absolute() else base_dir / path
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{what}: file {path} does not exist",
                             hint="a relative path is relative to the flow file's directory") from None
        except IsADirectoryError:
            raise InputError(f"{what}: {path} is a directory, not a file") from None
        except UnicodeDecodeError:
            raise InputError(f"{what}: file {path} is not text",
                             hint="if it holds base64, add `encoding: base64`; a .p8 key is PEM text") from None
        except OSError as exc:
            raise InputError(f"{what}: cannot read file {path}: {exc.strerror}") from None
        origin = f"file {path}"
    if secret and register is not None:
        register(raw)
    if value.encoding == "base64":
        raw = decode_base64(raw, what=f"{what} ({origin})")
        if secret and register is not None:
            register(raw)
    if not raw.strip():
        raise InputError(f"{what}: {origin} is empty", hint=_SECRET_HINT.format(name=value.env) if value.env else None)
    return raw if secret else raw.strip()


def decode_base64(text: str, *, what: str) -> str:
    body = "".join(text.split())
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not valid base64",
                         hint="encode the file with `base64 -w0 FILE` (macOS: `base64 -i FILE`), or drop "
                         "`encoding: base64` if the value is plain text") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} is base64 of binary data, not of text",
                         hint="encode the .p8 file itself (PEM text), not a DER or other binary form") from None


# --------------------------------------------------------------------------------------------------- P8 keys


def normalize_private_key(text: str, *, what: str = "the App Store Connect private key") -> str:
    """A .p8 key as canonical PEM, or an InputError saying precisely what is wrong with it (never quoting it).

    Safe repairs: surrounding whitespace and quotes, Windows line endings, literal "\\n" escapes, a PEM flattened onto
    one line, a key that is itself base64-encoded, a bare base64 body without the armour lines.
    """
    cleaned = text.strip()
    if len(cleaned) >= 2 and cleaned[0] == cleaned[-1] and cleaned[0] in "\"'":
        cleaned = cleaned[1:-1].strip()
    cleaned = cleaned.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    if not cleaned:
        raise InputError(f"{what} is empty", hint=_DOWNLOAD_HINT)
    if "-----BEGIN" not in cleaned:
        cleaned = _unarmoured(cleaned, what)
    blocks = _PEM_BLOCK.findall(cleaned)
    if not blocks:
        raise InputError(f"{what} is not a PEM key (its -----BEGIN line is damaged)", hint=_DOWNLOAD_HINT)
    label, body, end_label = blocks[0]
    label = label.strip()
    if label == "CERTIFICATE" or label == "TRUSTED CERTIFICATE":
        raise InputError(f"{what} is a certificate, not a private key",
                         hint="App Store Connect API keys are not certificates: " + _DOWNLOAD_HINT)
    if label in ("PUBLIC KEY", "EC PUBLIC KEY", "RSA PUBLIC KEY"):
        raise InputError(f"{what} is a public key; the private key is needed to sign App Store Connect tokens",
                         hint=_DOWNLOAD_HINT)
    if label == "ENCRYPTED PRIVATE KEY":
        raise InputError(f"{what} is encrypted with a password",
                         hint="use the unencrypted AuthKey_<KEY_ID>.p8 file as downloaded from App Store Connect")
    if label == "RSA PRIVATE KEY":
        raise InputError(f"{what} is an RSA key; App Store Connect API keys are EC P-256 keys (ES256)",
                         hint=_DOWNLOAD_HINT)
    if label == "OPENSSH PRIVATE KEY":
        raise InputError(f"{what} is an SSH key, not an App Store Connect API key", hint=_DOWNLOAD_HINT)
    if label not in ("PRIVATE KEY", "EC PRIVATE KEY"):
        raise InputError(f"{what} is a PEM '{label}' block, not a private key", hint=_DOWNLOAD_HINT)
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
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    pem = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
    try:
        key = serialization.load_der_private_key(der, password=None)
    except TypeError:
        raise InputError(f"{what} is encrypted with a password",
                         hint="use the unencrypted AuthKey_<KEY_ID>.p8 file") from None
    except Exception:  # ValueError, UnsupportedAlgorithm: a damaged or cut DER structure
        raise InputError(f"{what} is damaged or truncated: it is PEM, but the key inside cannot be read",
                         hint="copy the whole .p8 file again, unchanged; " + _DOWNLOAD_HINT) from None
    _require_p256(key, what)
    return pem


def _unarmoured(text: str, what: str) -> str:
    """A value without PEM armour: a base64-encoded .p8 file, or the bare base64 body of one."""
    body = "".join(text.split())
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not a PEM key (no -----BEGIN PRIVATE KEY----- line)", hint=_DOWNLOAD_HINT) from None
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            return data.decode("ascii").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise InputError(f"{what} is damaged: base64 of a PEM with non-text bytes", hint=_DOWNLOAD_HINT) from None
    try:
        serialization.load_der_private_key(data, password=None)
    except Exception:
        raise InputError(f"{what} is not a PEM key (no -----BEGIN PRIVATE KEY----- line), nor the base64 of one",
                         hint=_DOWNLOAD_HINT) from None
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


def _require_p256(key: Any, what: str) -> None:
    if isinstance(key, rsa.RSAPrivateKey):
        raise InputError(f"{what} is an RSA key; App Store Connect API keys are EC P-256 keys (ES256)",
                         hint=_DOWNLOAD_HINT)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        raise InputError(f"{what} is an Ed25519/Ed448 key; App Store Connect API keys are EC P-256 keys (ES256)",
                         hint=_DOWNLOAD_HINT)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{what} is not an elliptic-curve key; App Store Connect API keys are EC P-256 keys",
                         hint=_DOWNLOAD_HINT)
    if not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"{what} is an EC key on curve {key.curve.name}; App Store Connect API keys use P-256 "
                         "(prime256v1 / secp256r1)", hint=_DOWNLOAD_HINT)


def _make_key(key_id: str, issuer_id: str | None, pem_text: str, *, what: str, register: Register) -> ApiKey:
    register(pem_text)
    pem = normalize_private_key(pem_text, what=what)
    register(pem)
    key_id = key_id.strip().strip("\"'")
    if not key_id or not re.fullmatch(r"[\x21-\x7e]+", key_id):
        raise InputError(f"the key ID for {what} is empty or contains spaces",
                         hint="copy the Key ID shown next to the key in App Store Connect > Users and Access > "
                         "Integrations (10 letters and digits, e.g. 2X9R4HXF34)")
    issuer = issuer_id.strip().strip("\"'") if issuer_id is not None else None
    return ApiKey(key_id=key_id, issuer_id=issuer or None, private_key_pem=pem)


# --------------------------------------------------------------------------------------------------- fastlane JSON


def parse_fastlane_json(text: str, *, what: str, base_dir: Path, register: Register) -> ApiKey:
    """fastlane's API-key JSON: {key_id, issuer_id, key, is_key_content_base64, in_house, duration} (or filepath)."""
    register(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno})",
                         hint="fastlane's API-key JSON looks like {\"key_id\": \"...\", \"issuer_id\": \"...\", "
                         "\"key\": \"-----BEGIN PRIVATE KEY-----\\n...\"}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object with key_id, issuer_id and key")
    key_id = data.get("key_id")
    if not isinstance(key_id, str) or not key_id.strip():
        raise InputError(f"{what} has no key_id", hint="add \"key_id\": \"<the key's ID>\"")
    issuer_id = data.get("issuer_id")
    if issuer_id is not None and not isinstance(issuer_id, str):
        raise InputError(f"{what}: issuer_id must be a string")
    key = data.get("key")
    if key is None:
        filepath = data.get("filepath") or data.get("key_filepath")
        if not isinstance(filepath, str):
            raise InputError(f"{what} has no key", hint="add \"key\": the contents of the .p8 file (or \"filepath\")")
        key = read_value(SecretRef(file=filepath), what=f"{what} filepath", env={}, base_dir=base_dir,
                         register=register, secret=True)
    if not isinstance(key, str):
        raise InputError(f"{what}: key must be a string holding the .p8 file's contents")
    register(key)
    if data.get("is_key_content_base64") in (True, "true", "1", 1):
        key = decode_base64(key, what=f"{what} key (is_key_content_base64)")
    return _make_key(key_id, issuer_id or None, key, what=what, register=register)


# --------------------------------------------------------------------------------------------------- API keys


def resolve_api_key(flow: FlowSpec | None, name: str | None, *, env: Mapping[str, str], base_dir: Path,
                    redactor: Redactor, mask: Register | None = None) -> ApiKey:
    """The API key named `name` in the flow, or (name None) the one the conventional environment variables give.

    `mask` (e.g. CliContext.register_secret) is called for every secret instead of `redactor.add`, so that under
    GitHub Actions the runner masks it too.
    """
    register = _registrar(redactor, mask)
    if name is None:
        return api_key_from_env(env, base_dir=base_dir, register=register)
    if flow is None or name not in flow.api_keys:
        defined = ", ".join(flow.api_keys) if flow is not None and flow.api_keys else "none"
        raise InputError(f"no API key named '{name}' (defined under api_keys: {defined})",
                         hint="add it under api_keys in the flow file, or use one of the defined names")
    return api_key_from_spec(flow.api_keys[name], env=env, base_dir=base_dir, register=register)


def api_key_from_spec(spec: ApiKeySpec, *, env: Mapping[str, str], base_dir: Path, register: Register) -> ApiKey:
    what = f"API key '{spec.name}'"
    if spec.fastlane_json is not None:
        text = read_value(spec.fastlane_json, what=f"{what} fastlane_json", env=env, base_dir=base_dir,
                          register=register, secret=True)
        json_dir = base_dir
        if spec.fastlane_json.file:
            json_dir = (base_dir / spec.fastlane_json.file).parent
        return parse_fastlane_json(text, what=f"{what} (fastlane JSON)", base_dir=json_dir, register=register)
    if spec.key_id is None or spec.private_key is None:
        raise InputError(f"{what} needs key_id and private_key (or fastlane_json)")
    key_id = read_value(spec.key_id, what=f"{what} key_id", env=env, base_dir=base_dir, register=None, secret=False)
    issuer_id = None
    if spec.issuer_id is not None:
        issuer_id = read_value(spec.issuer_id, what=f"{what} issuer_id", env=env, base_dir=base_dir, register=None,
                               secret=False)
    pem_text = read_value(spec.private_key, what=f"{what} private_key", env=env, base_dir=base_dir,
                          register=register, secret=True)
    return _make_key(key_id, issuer_id, pem_text, what=f"{what} private_key ({spec.private_key.describe()})",
                     register=register)


def _codemagic_value(raw: str, *, variable: str, env: Mapping[str, str], base_dir: Path) -> str:
    """Codemagic's CLI accepts "@env:NAME" and "@file:path" in place of a value."""
    if raw.startswith("@env:"):
        inner = raw[5:]
        if inner not in env:
            raise InputError(f"{variable} refers to environment variable {inner}, which is not set",
                             hint=_SECRET_HINT.format(name=inner))
        return env[inner]
    if raw.startswith("@file:"):
        return read_value(SecretRef(file=raw[6:]), what=variable, env=env, base_dir=base_dir, register=None,
                          secret=True)
    return raw


def api_key_from_env(env: Mapping[str, str], *, base_dir: Path, register: Register) -> ApiKey:
    """The conventional variables: the action's inputs, then fastlane's, then Codemagic's."""
    def present(*names: str) -> list[str]:
        return [n for n in names if env.get(n, "").strip()]

    action = present(ACTION_KEY_ID, ACTION_PRIVATE_KEY, ACTION_PRIVATE_KEY_BASE64)
    if action:
        if ACTION_KEY_ID not in action:
            raise _incomplete("the action's API key inputs", ["api-key-id"], "api-key-id")
        if ACTION_PRIVATE_KEY in action:
            pem, origin = env[ACTION_PRIVATE_KEY], "input api-private-key"
        elif ACTION_PRIVATE_KEY_BASE64 in action:
            register(env[ACTION_PRIVATE_KEY_BASE64])
            pem = decode_base64(env[ACTION_PRIVATE_KEY_BASE64], what="input api-private-key-base64")
            origin = "input api-private-key-base64"
        else:
            raise _incomplete("the action's API key inputs", ["api-private-key (or api-private-key-base64)"],
                              "api-private-key")
        register(env.get(ACTION_PRIVATE_KEY, ""))
        log.debug("API key from the action's inputs")
        return _make_key(env[ACTION_KEY_ID], env.get(ACTION_ISSUER_ID) or None, pem,
                         what=f"the private key ({origin})", register=register)

    if present(FASTLANE_KEY_JSON_PATH):
        path = Path(env[FASTLANE_KEY_JSON_PATH].strip())
        path = path if path.is_absolute() else base_dir / path
        text = read_value(SecretRef(file=str(path)), what=FASTLANE_KEY_JSON_PATH, env=env, base_dir=base_dir,
                          register=register, secret=True)
        log.debug("API key from fastlane's %s", FASTLANE_KEY_JSON_PATH)
        return parse_fastlane_json(text, what=f"the fastlane API-key JSON {path}", base_dir=path.parent,
                                   register=register)
    fastlane = present(FASTLANE_KEY_ID, FASTLANE_KEY, FASTLANE_KEY_FILEPATH)
    if fastlane:
        missing = [] if FASTLANE_KEY_ID in fastlane else [FASTLANE_KEY_ID]
        if FASTLANE_KEY not in fastlane and FASTLANE_KEY_FILEPATH not in fastlane:
            missing.append(f"{FASTLANE_KEY} (or {FASTLANE_KEY_FILEPATH})")
        if missing:
            raise _incomplete("fastlane's API key variables", missing, missing[0].split()[0])
        if FASTLANE_KEY in fastlane:
            pem, origin = env[FASTLANE_KEY], FASTLANE_KEY
            register(pem)
        else:
            pem = read_value(SecretRef(file=env[FASTLANE_KEY_FILEPATH].strip()), what=FASTLANE_KEY_FILEPATH,
                             env=env, base_dir=base_dir, register=register, secret=True)
            origin = f"the file {FASTLANE_KEY_FILEPATH} names"
        if env.get(FASTLANE_KEY_IS_BASE64, "").strip().lower() in ("true", "1", "yes"):
            pem = decode_base64(pem, what=origin)
        log.debug("API key from fastlane's APP_STORE_CONNECT_API_KEY_* variables")
        return _make_key(env[FASTLANE_KEY_ID], env.get(FASTLANE_ISSUER_ID) or None, pem,
                         what=f"the private key ({origin})", register=register)

    codemagic = present(CODEMAGIC_KEY_ID, CODEMAGIC_PRIVATE_KEY)
    if codemagic:
        missing = [n for n in (CODEMAGIC_KEY_ID, CODEMAGIC_PRIVATE_KEY) if n not in codemagic]
        if missing:
            raise _incomplete("Codemagic's App Store Connect variables", missing, missing[0])
        register(env[CODEMAGIC_PRIVATE_KEY])
        pem = _codemagic_value(env[CODEMAGIC_PRIVATE_KEY], variable=CODEMAGIC_PRIVATE_KEY, env=env,
                               base_dir=base_dir)
        register(pem)
        issuer = env.get(CODEMAGIC_ISSUER_ID)
        key_id = _codemagic_value(env[CODEMAGIC_KEY_ID], variable=CODEMAGIC_KEY_ID, env=env, base_dir=base_dir)
        issuer = _codemagic_value(issuer, variable=CODEMAGIC_ISSUER_ID, env=env, base_dir=base_dir) if issuer else None
        log.debug("API key from Codemagic's APP_STORE_CONNECT_* variables")
        return _make_key(key_id, issuer, pem, what=f"the private key ({CODEMAGIC_PRIVATE_KEY})", register=register)

    raise InputError(
        "no App Store Connect API key: the step names no api_key and no conventional environment variables are set",
        hint="name a key from the flow's api_keys with `api_key: NAME`; or set the action inputs api-key-id, "
        "api-issuer-id, api-private-key; or fastlane's APP_STORE_CONNECT_API_KEY_KEY_ID, "
        "APP_STORE_CONNECT_API_KEY_ISSUER_ID, APP_STORE_CONNECT_API_KEY_KEY (or APP_STORE_CONNECT_API_KEY_PATH to "
        "a fastlane API-key JSON); or Codemagic's APP_STORE_CONNECT_KEY_IDENTIFIER, APP_STORE_CONNECT_ISSUER_ID, "
        "APP_STORE_CONNECT_PRIVATE_KEY",
    )


def _incomplete(group: str, missing: list[str], example: str) -> InputError:
    return InputError(f"{group} are incomplete: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                      hint=_SECRET_HINT.format(name=example.replace("-", "_").upper()))


# --------------------------------------------------------------------------------------------------- Apple IDs


def resolve_apple_id(flow: FlowSpec | None, name: str | None, *, env: Mapping[str, str], base_dir: Path,
                     redactor: Redactor, mask: Register | None = None) -> AppleIdCredentials:
    register = _registrar(redactor, mask)
    if name is None:
        for user_var, password_var in ((ACTION_APPLE_ID, ACTION_APP_SPECIFIC_PASSWORD),
                                       (FASTLANE_USER, FASTLANE_APP_SPECIFIC_PASSWORD)):
            user, password = env.get(user_var, "").strip(), env.get(password_var, "")
            if user or password.strip():
                register(password)
                if not user or not password.strip():
                    missing = user_var if not user else password_var
                    raise InputError(f"{missing} is not set (it goes with {password_var if not user else user_var})",
                                     hint=_SECRET_HINT.format(name=missing))
                return AppleIdCredentials(apple_id=user, password=password.strip())
        raise InputError("no Apple ID: the step names no apple_id and neither APPSTORE_PUBLISH_APPLE_ID / "
                         "APPSTORE_PUBLISH_APP_SPECIFIC_PASSWORD nor FASTLANE_USER / "
                         "FASTLANE_APPLE_APPLICATION_SPECIFIC_PASSWORD are set",
                         hint="define it under apple_ids in the flow and name it with `apple_id: NAME`; the password "
                         "is an app-specific one from appleid.apple.com > Sign-In and Security")
    if flow is None or name not in flow.apple_ids:
        defined = ", ".join(flow.apple_ids) if flow is not None and flow.apple_ids else "none"
        raise InputError(f"no Apple ID named '{name}' (defined under apple_ids: {defined})",
                         hint="add it under apple_ids in the flow file, or use one of the defined names")
    spec = flow.apple_ids[name]
    what = f"Apple ID '{name}'"
    password = read_value(spec.app_specific_password, what=f"{what} app_specific_password", env=env,
                          base_dir=base_dir, register=register, secret=True).strip()
    register(password)
    apple_id = read_value(spec.apple_id, what=f"{what} apple_id", env=env, base_dir=base_dir, register=None,
                          secret=False)
    return AppleIdCredentials(apple_id=apple_id, password=password)


def describe_credentials(flow: FlowSpec, names: list[str | None], *, env: Mapping[str, str], base_dir: Path,
                         redactor: Redactor, mask: Register | None = None) -> list[str]:
    """Resolve the named API keys (None: the conventional variables) and every Apple ID, checking each one.

    Returns one line per credential, with nothing secret in it; raises InputError at the first that fails.
    """
    lines = []
    for name in dict.fromkeys(names):
        key = resolve_api_key(flow, name, env=env, base_dir=base_dir, redactor=redactor, mask=mask)
        kind = "individual key" if key.issuer_id is None else f"issuer {key.issuer_id}"
        label = f"API key '{name}'" if name else "API key from the environment"
        lines.append(f"{label}: key ID {key.key_id}, {kind}, EC P-256 private key OK")
    for name in flow.apple_ids:
        creds = resolve_apple_id(flow, name, env=env, base_dir=base_dir, redactor=redactor, mask=mask)
        lines.append(f"Apple ID '{name}': {creds.apple_id}, app-specific password set")
    return lines
