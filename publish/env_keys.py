"""API keys from the conventional environment variables, as a table of small providers tried in order: the
GitHub Action's inputs, fastlane's API-key JSON, fastlane's APP_STORE_CONNECT_API_KEY_* variables, Codemagic's
APP_STORE_CONNECT_* variables. A key ID given without its private key is looked up as Apple's tools look it up:
AuthKey_<KEY_ID>.p8 in $API_PRIVATE_KEYS_DIR, ./private_keys, ~/private_keys, ~/.private_keys and
~/.appstoreconnect/private_keys (altool's order), and the error lists every place that was searched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from publish.asc.auth import ApiKey
from publish.env_key_names import (  # noqa: F401 - ENV_KEY_VARIABLES, env_offers_api_key are this module's API too
    ACTION_APP_SPECIFIC_PASSWORD, ACTION_APPLE_ID, ACTION_ISSUER_ID, ACTION_KEY_ID, ACTION_PRIVATE_KEY,
    ACTION_PRIVATE_KEY_BASE64, CODEMAGIC_ISSUER_ID, CODEMAGIC_KEY_ID, CODEMAGIC_PRIVATE_KEY, ENV_KEY_VARIABLES,
    FASTLANE_APP_SPECIFIC_PASSWORD, FASTLANE_ISSUER_ID, FASTLANE_KEY, FASTLANE_KEY_FILEPATH, FASTLANE_KEY_ID,
    FASTLANE_KEY_IS_BASE64, FASTLANE_KEY_JSON_PATH, FASTLANE_USER, env_offers_api_key)
from publish.errors import InputError
from publish.secret_values import (SECRET_HINT, Register, bounded, decode_base64, make_api_key, parse_fastlane_json,
                                   read_value)
from publish.spec import SecretRef

log = logging.getLogger(__name__)


def _codemagic_value(raw: str, *, variable: str, env: Mapping[str, str], base_dir: Path) -> str:
    """Codemagic's CLI accepts "@env:NAME" and "@file:path" in place of a value."""
    if raw.startswith("@env:"):
        inner = raw[5:]
        if inner not in env:
            raise InputError(f"{variable} refers to environment variable {inner}, which is not set",
                             hint=SECRET_HINT.format(name=inner))
        return bounded(env[inner], what=f"{variable} (@env:{inner})")
    if raw.startswith("@file:"):
        return read_value(SecretRef(file=raw[6:]), what=variable, env=env, base_dir=base_dir, register=None,
                          secret=True)
    return raw


@dataclass(frozen=True)
class _EnvContext:
    """What an environment key provider reads: the variables, where relative paths start, who masks secrets."""

    env: Mapping[str, str]
    base_dir: Path
    register: Register

    def present(self, *names: str) -> list[str]:
        return [n for n in names if self.env.get(n, "").strip()]

    def value(self, name: str) -> str:
        return bounded(self.env[name], what=name)


# Where Apple's altool looks for AuthKey_<KEY_ID>.p8 when it is given only a key ID, in its order (after the
# directory API_PRIVATE_KEYS_DIR names); fastlane and the App Store Connect CLIs follow the same convention.
KEY_DIRECTORY_ENV = "API_PRIVATE_KEYS_DIR"
KEY_DIRECTORIES = ("./private_keys", "~/private_keys", "~/.private_keys", "~/.appstoreconnect/private_keys")


def key_file_candidates(key_id: str, env: Mapping[str, str], *, cwd: Path | None = None) -> list[Path]:
    """The paths AuthKey_<KEY_ID>.p8 is looked for at, first to last."""
    home = Path(env.get("HOME") or Path.home())
    cwd = cwd or Path.cwd()
    folders = [Path(env[KEY_DIRECTORY_ENV])] if env.get(KEY_DIRECTORY_ENV, "").strip() else []
    for folder in KEY_DIRECTORIES:
        folders.append(cwd / folder[2:] if folder.startswith("./") else home / folder[2:])
    return [folder / f"AuthKey_{key_id}.p8" for folder in folders]


def find_key_file(key_id: str, *, what: str, missing: str, env: Mapping[str, str], register: Register) -> str:
    """The text of AuthKey_<KEY_ID>.p8 from the first of Apple's key directories that holds it."""
    key_id = key_id.strip().strip("\"'")
    if not re.fullmatch(r"[A-Za-z0-9]{1,64}", key_id):
        raise InputError(f"{what}: the key ID is not letters and digits, so no AuthKey_<KEY_ID>.p8 file can be "
                         "looked up for it", hint="copy the Key ID shown next to the key in App Store Connect > "
                         "Users and Access > Integrations (10 letters and digits, e.g. 2X9R4HXF34)")
    candidates = key_file_candidates(key_id, env)
    for candidate in candidates:
        if candidate.is_file():
            log.debug("private key for %s found at %s", key_id, candidate)
            return read_value(SecretRef(file=str(candidate)), what=f"{what} ({candidate})", env=env,
                              base_dir=candidate.parent, register=register, secret=True)
    looked = ", ".join(str(c) for c in candidates)
    raise InputError(f"{what}: {missing} is not set, and AuthKey_{key_id}.p8 (for key ID {key_id}) is in none of "
                     f"the places Apple's tools look for it: {looked}",
                     hint=f"put the downloaded AuthKey_{key_id}.p8 in ~/.appstoreconnect/private_keys/, or give the "
                     "key itself (the action input api-private-key, APP_STORE_CONNECT_API_KEY_KEY or "
                     "APP_STORE_CONNECT_PRIVATE_KEY)")


def _from_action_inputs(ctx: _EnvContext) -> ApiKey | None:
    given = ctx.present(ACTION_KEY_ID, ACTION_PRIVATE_KEY, ACTION_PRIVATE_KEY_BASE64)
    if not given:
        return None
    if ACTION_KEY_ID not in given:
        raise _incomplete("the action's API key inputs", ["api-key-id"], "api-key-id")
    if ACTION_PRIVATE_KEY in given:
        pem, origin = ctx.value(ACTION_PRIVATE_KEY), "input api-private-key"
        ctx.register(pem)
    elif ACTION_PRIVATE_KEY_BASE64 in given:
        ctx.register(ctx.value(ACTION_PRIVATE_KEY_BASE64))
        pem = decode_base64(ctx.value(ACTION_PRIVATE_KEY_BASE64), what="input api-private-key-base64")
        origin = "input api-private-key-base64"
    else:
        origin = f"AuthKey_{ctx.env[ACTION_KEY_ID].strip()}.p8"
        pem = find_key_file(ctx.env[ACTION_KEY_ID], what="the action's API key inputs", env=ctx.env,
                            missing="api-private-key (or api-private-key-base64)",
                            register=ctx.register)
    log.debug("API key from the action's inputs")
    return make_api_key(ctx.env[ACTION_KEY_ID], ctx.env.get(ACTION_ISSUER_ID) or None, pem,
                     what=f"the private key ({origin})", register=ctx.register)


def _from_fastlane_json(ctx: _EnvContext) -> ApiKey | None:
    if not ctx.present(FASTLANE_KEY_JSON_PATH):
        return None
    path = Path(ctx.value(FASTLANE_KEY_JSON_PATH).strip())
    path = path if path.is_absolute() else ctx.base_dir / path
    text = read_value(SecretRef(file=str(path)), what=FASTLANE_KEY_JSON_PATH, env=ctx.env, base_dir=ctx.base_dir,
                      register=ctx.register, secret=True)
    log.debug("API key from fastlane's %s", FASTLANE_KEY_JSON_PATH)
    return parse_fastlane_json(text, what=f"the fastlane API-key JSON {path}", base_dir=path.parent,
                               register=ctx.register)


def _from_fastlane_variables(ctx: _EnvContext) -> ApiKey | None:
    given = ctx.present(FASTLANE_KEY_ID, FASTLANE_KEY, FASTLANE_KEY_FILEPATH)
    if not given:
        return None
    if FASTLANE_KEY_ID not in given:
        raise _incomplete("fastlane's API key variables", [FASTLANE_KEY_ID], FASTLANE_KEY_ID)
    if FASTLANE_KEY in given:
        pem, origin = ctx.value(FASTLANE_KEY), FASTLANE_KEY
        ctx.register(pem)
    elif FASTLANE_KEY_FILEPATH in given:
        pem = read_value(SecretRef(file=ctx.value(FASTLANE_KEY_FILEPATH).strip()), what=FASTLANE_KEY_FILEPATH,
                         env=ctx.env, base_dir=ctx.base_dir, register=ctx.register, secret=True)
        origin = f"the file {FASTLANE_KEY_FILEPATH} names"
    else:
        pem = find_key_file(ctx.env[FASTLANE_KEY_ID], what="fastlane's API key variables", env=ctx.env,
                            missing=f"{FASTLANE_KEY} (or {FASTLANE_KEY_FILEPATH})",
                            register=ctx.register)
        origin = f"AuthKey_{ctx.env[FASTLANE_KEY_ID].strip()}.p8"
    if ctx.env.get(FASTLANE_KEY_IS_BASE64, "").strip().lower() in ("true", "1", "yes") and FASTLANE_KEY in given:
        pem = decode_base64(pem, what=origin)
    log.debug("API key from fastlane's APP_STORE_CONNECT_API_KEY_* variables")
    return make_api_key(ctx.env[FASTLANE_KEY_ID], ctx.env.get(FASTLANE_ISSUER_ID) or None, pem,
                     what=f"the private key ({origin})", register=ctx.register)


def _from_codemagic(ctx: _EnvContext) -> ApiKey | None:
    given = ctx.present(CODEMAGIC_KEY_ID, CODEMAGIC_PRIVATE_KEY)
    if not given:
        return None
    if CODEMAGIC_KEY_ID not in given:
        raise _incomplete("Codemagic's App Store Connect variables", [CODEMAGIC_KEY_ID], CODEMAGIC_KEY_ID)
    key_id = _codemagic_value(ctx.value(CODEMAGIC_KEY_ID), variable=CODEMAGIC_KEY_ID, env=ctx.env,
                              base_dir=ctx.base_dir)
    if CODEMAGIC_PRIVATE_KEY in given:
        ctx.register(ctx.value(CODEMAGIC_PRIVATE_KEY))
        pem = _codemagic_value(ctx.value(CODEMAGIC_PRIVATE_KEY), variable=CODEMAGIC_PRIVATE_KEY, env=ctx.env,
                               base_dir=ctx.base_dir)
        origin = CODEMAGIC_PRIVATE_KEY
    else:
        pem = find_key_file(key_id, what="Codemagic's App Store Connect variables", env=ctx.env,
                            missing=CODEMAGIC_PRIVATE_KEY, register=ctx.register)
        origin = f"AuthKey_{key_id.strip()}.p8"
    ctx.register(pem)
    issuer = ctx.env.get(CODEMAGIC_ISSUER_ID)
    issuer = _codemagic_value(issuer, variable=CODEMAGIC_ISSUER_ID, env=ctx.env, base_dir=ctx.base_dir) if issuer \
        else None
    log.debug("API key from Codemagic's APP_STORE_CONNECT_* variables")
    return make_api_key(key_id, issuer, pem, what=f"the private key ({origin})", register=ctx.register)


# Tried in this order; each returns None when none of its variables is set, and raises when they are incomplete.
ENV_KEY_PROVIDERS: tuple[tuple[str, Callable[[_EnvContext], ApiKey | None]], ...] = (
    ("the action's inputs", _from_action_inputs),
    ("fastlane's API-key JSON", _from_fastlane_json),
    ("fastlane's variables", _from_fastlane_variables),
    ("Codemagic's variables", _from_codemagic),
)


def api_key_from_env(env: Mapping[str, str], *, base_dir: Path, register: Register) -> ApiKey:
    """The conventional variables: the action's inputs, then fastlane's, then Codemagic's."""
    context = _EnvContext(env, base_dir, register)
    for _name, provider in ENV_KEY_PROVIDERS:
        key = provider(context)
        if key is not None:
            return key
    # An Apple ID (the action's apple-id input) only uploads the binary, through Transporter: finding the app and
    # everything after the upload go through the API, so a user who gave one must hear that a key is needed too.
    with_apple_id = "; the input apple-id only uploads the binary (through Transporter): finding the app and the " \
        "TestFlight steps need an App Store Connect API key as well" if env.get(ACTION_APPLE_ID, "").strip() else ""
    raise InputError(
        "no App Store Connect API key: the step names no api_key and no conventional environment variables are set"
        + with_apple_id,
        hint="name a key from the flow's api_keys with `api_key: NAME`; or set the action inputs api-key-id, "
        "api-issuer-id, api-private-key; or fastlane's APP_STORE_CONNECT_API_KEY_KEY_ID, "
        "APP_STORE_CONNECT_API_KEY_ISSUER_ID, APP_STORE_CONNECT_API_KEY_KEY (or APP_STORE_CONNECT_API_KEY_PATH to "
        "a fastlane API-key JSON); or Codemagic's APP_STORE_CONNECT_KEY_IDENTIFIER, APP_STORE_CONNECT_ISSUER_ID, "
        "APP_STORE_CONNECT_PRIVATE_KEY; or only a key ID, with AuthKey_<KEY_ID>.p8 in "
        "~/.appstoreconnect/private_keys/",
    )


def _incomplete(group: str, missing: list[str], example: str) -> InputError:
    return InputError(f"{group} are incomplete: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                      hint=SECRET_HINT.format(name=example.replace("-", "_").upper()))
