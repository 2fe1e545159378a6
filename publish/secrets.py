"""Credentials from where users keep them: the flow file's secret references (env / file / base64), fastlane's API-key
JSON, the conventional environment variables of fastlane and Codemagic, and the GitHub Action's own inputs.

This module resolves a step's credentials; reading one value is publish.secret_values, the environment's key
providers are publish.env_keys, and a .p8 key is parsed by publish.asc.p8 (the token signer's parser too). Every
secret is registered with the redactor the moment it is read, and no error message ever quotes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from publish.asc.auth import ApiKey
from publish.asc.p8 import parse_p8
from publish.env_key_names import (ACTION_APP_SPECIFIC_PASSWORD, ACTION_APPLE_ID, ACTION_ISSUER_ID, ACTION_KEY_ID,
                                   ACTION_PRIVATE_KEY, ACTION_PRIVATE_KEY_BASE64, CODEMAGIC_ISSUER_ID,
                                   CODEMAGIC_KEY_ID, CODEMAGIC_PRIVATE_KEY, FASTLANE_APP_SPECIFIC_PASSWORD,
                                   FASTLANE_ISSUER_ID, FASTLANE_KEY, FASTLANE_KEY_FILEPATH, FASTLANE_KEY_ID,
                                   FASTLANE_KEY_IS_BASE64, FASTLANE_KEY_JSON_PATH, FASTLANE_USER)
from publish.env_keys import ENV_KEY_PROVIDERS, KEY_DIRECTORIES, api_key_from_env, find_key_file, key_file_candidates
from publish.errors import InputError
from publish.redact import Redactor
from publish.secret_values import (MAX_SECRET_CHARS, SECRET_HINT, Register, decode_base64, make_api_key,
                                   parse_fastlane_json, read_value)
from publish.spec import ApiKeySpec, FlowSpec

__all__ = [
    "ACTION_APP_SPECIFIC_PASSWORD", "ACTION_APPLE_ID", "ACTION_ISSUER_ID", "ACTION_KEY_ID", "ACTION_PRIVATE_KEY",
    "ACTION_PRIVATE_KEY_BASE64", "CODEMAGIC_ISSUER_ID", "CODEMAGIC_KEY_ID", "CODEMAGIC_PRIVATE_KEY",
    "ENV_KEY_PROVIDERS", "FASTLANE_APP_SPECIFIC_PASSWORD", "FASTLANE_ISSUER_ID", "FASTLANE_KEY",
    "FASTLANE_KEY_FILEPATH", "FASTLANE_KEY_ID", "FASTLANE_KEY_IS_BASE64", "FASTLANE_KEY_JSON_PATH", "FASTLANE_USER",
    "KEY_DIRECTORIES", "MAX_SECRET_CHARS", "AppleIdCredentials", "api_key_from_env", "api_key_from_spec", "decode_base64",
    "describe_credentials", "find_key_file", "key_file_candidates", "normalize_private_key", "parse_fastlane_json",
    "read_value", "resolve_api_key", "resolve_apple_id",
]


@dataclass(frozen=True)
class AppleIdCredentials:
    apple_id: str
    password: str

    def __repr__(self) -> str:
        return f"AppleIdCredentials(apple_id={self.apple_id!r}, password=<hidden>)"

    __str__ = __repr__


def _registrar(redactor: Redactor, mask: Register | None) -> Register:
    return mask if mask is not None else redactor.add


# --------------------------------------------------------------------------------------------------- P8 keys


def normalize_private_key(text: str, *, what: str = "the App Store Connect private key") -> str:
    """A .p8 key as canonical PEM, or an InputError saying precisely what is wrong with it (never quoting it).

    The one parser (publish.asc.p8) the token signer uses too, so both repair and refuse alike.
    """
    return parse_p8(text, what=what).pem


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
    return make_api_key(key_id, issuer_id, pem_text, what=f"{what} private_key ({spec.private_key.describe()})",
                     register=register)


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
                                     hint=SECRET_HINT.format(name=missing))
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
