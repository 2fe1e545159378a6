"""The action's inputs: how the runner passes them (INPUT_<NAME>, hyphens kept), their aliases for users of
Apple-Actions/upload-testflight-build, each one's check with an error naming the input (not a CLI flag), and the
one-step flow built from them when no flow file is given. Pure: reads a mapping, raises InputError."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping

from publish.errors import InputError
from publish.env_key_names import (
    ACTION_APP_SPECIFIC_PASSWORD,
    ACTION_APPLE_ID,
    ACTION_ISSUER_ID,
    ACTION_KEY_ID,
    ACTION_PRIVATE_KEY,
    ACTION_PRIVATE_KEY_BASE64,
)

# Every input action.yml declares (the image holds no action.yml; tests keep the two equal).
ACTION_INPUTS = frozenset({
    "ipa", "app-path", "build", "flow", "api-key-id", "api-issuer-id", "issuer-id", "api-private-key",
    "api-private-key-base64", "apple-id", "app-specific-password", "profile", "dry-run", "api-base-url",
    "state-dir", "restart", "concurrency", "poll-interval", "verbose", "sandbox-data", "working-directory",
    "groups", "what-to-test", "uses-non-exempt-encryption", "wait-for-processing",
})
# action input -> the environment variable publish.secrets reads it from (named in publish.env_key_names)
CREDENTIAL_INPUTS = {
    "api-key-id": ACTION_KEY_ID,
    "api-issuer-id": ACTION_ISSUER_ID,
    "api-private-key": ACTION_PRIVATE_KEY,
    "api-private-key-base64": ACTION_PRIVATE_KEY_BASE64,
    "apple-id": ACTION_APPLE_ID,
    "app-specific-password": ACTION_APP_SPECIFIC_PASSWORD,
}
SECRET_INPUTS = ("api-private-key", "api-private-key-base64", "app-specific-password")
# Inputs of Apple-Actions/upload-testflight-build, accepted under their names there (`api-key-id` and
# `api-private-key` are spelled the same in both actions).
INPUT_ALIASES = {"app-path": "ipa", "issuer-id": "api-issuer-id"}
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off", "")
MAX_POLL_INTERVAL_S = 3600.0
MAX_PATH_CHARS, MAX_NAME_BYTES = 1024, 255  # well inside Linux's PATH_MAX (4096) and NAME_MAX (255)
def read_input(env: Mapping[str, str], name: str) -> str:
    """An input's value. The runner exports `api-key-id` as INPUT_API-KEY-ID (hyphens kept); `docker run -e` users
    and other CI systems often write INPUT_API_KEY_ID, so both are read."""
    for variable in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        value = env.get(variable)
        if value is not None and value.strip():
            return value.strip() if name not in SECRET_INPUTS else value
    return ""


def read_aliased(env: Mapping[str, str], name: str) -> str:
    """An input that may also be given under an alias; both given and different is a mistake worth naming."""
    value = read_input(env, name)
    for alias, target in INPUT_ALIASES.items():
        if target != name:
            continue
        other = read_input(env, alias)
        if other and value and other != value:
            raise InputError(f"inputs {name} and {alias} are both set, to different values",
                             hint=f"{alias} is another name for {name} (as in Apple-Actions/upload-testflight-build); "
                             "keep one of them")
        value = value or other
    return value


def check_one_private_key(env: Mapping[str, str]) -> None:
    """api-private-key and api-private-key-base64 are two ways to give one key: with both, which one would be used
    is a guess (and a stale second secret is a common leftover), so it is refused before anything is done."""
    if read_input(env, "api-private-key") and read_input(env, "api-private-key-base64"):
        raise InputError("inputs api-private-key and api-private-key-base64 are both set",
                         hint="they are two ways to give the same .p8 key; keep one of them")


def unknown_inputs(env: Mapping[str, str], known: Collection[str]) -> list[str]:
    """Warnings for INPUT_* variables that are no input of the action (a misspelt `with:` key is otherwise
    silently ignored, and the run goes on without the setting), each with a did-you-mean."""
    import difflib

    names = {variable[len("INPUT_"):].lower().replace("_", "-") for variable in env
             if variable.startswith("INPUT_") and env[variable].strip()}
    warnings = []
    for name in sorted(names - set(known)):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        warnings.append(f"input {name[:60]} is not an input of this action; it is ignored"
                        + (f" (did you mean {close[0]}?)" if close else ""))
    return warnings


def read_flag(env: Mapping[str, str], name: str, default: bool | None = False) -> bool | None:
    value = read_input(env, name).lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InputError(f"input {name} must be true or false, got {value!r}", hint=f"write `{name}: true` or "
                     f"`{name}: false` under `with:`")


def read_concurrency(env: Mapping[str, str]) -> int | None:
    text = read_input(env, "concurrency")
    if not text:
        return None
    # isdigit() alone admits '²' and other digits int() refuses: ASCII digits only.
    if not (text.isascii() and text.isdigit() and len(text) <= 2 and 1 <= int(text) <= 64):
        raise InputError(f"input concurrency must be a whole number from 1 to 64, got {text[:40]!r}",
                         hint="for example `concurrency: 6` (parallel part uploads)")
    return int(text)


def read_poll_interval(env: Mapping[str, str]) -> float | None:
    text = read_input(env, "poll-interval")
    if not text:
        return None
    try:
        value = float(text[:40])
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_POLL_INTERVAL_S) or len(text) > 40:
        raise InputError(f"input poll-interval must be a number of seconds above 0 and at most "
                         f"{MAX_POLL_INTERVAL_S:.0f}, got {text[:40]!r}", hint="for example `poll-interval: 10`")
    return value


def read_state_dir(env: Mapping[str, str]) -> str:
    """The state-dir input, refused when no file system could hold it (before anything is published)."""
    text = read_input(env, "state-dir")
    if len(text) > MAX_PATH_CHARS or any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in text.split("/")):
        raise InputError(f"input state-dir is too long ({len(text)} characters; a directory name may have at most "
                         f"{MAX_NAME_BYTES} bytes, a path {MAX_PATH_CHARS} characters)",
                         hint="give a short directory, e.g. `state-dir: .appstore-publish`")
    return text


def debug_requested(env: Mapping[str, str]) -> bool:
    """Re-running a job with debug logging sets RUNNER_DEBUG=1; ACTIONS_STEP_DEBUG is the older switch."""
    return env.get("RUNNER_DEBUG") == "1" or env.get("ACTIONS_STEP_DEBUG", "").lower() == "true" \
        or bool(read_flag(env, "verbose"))


def read_build(env: Mapping[str, str], ipa: str) -> str:
    """The build to promote (`build`), which replaces `ipa`: both given is a mistake worth naming."""
    build = read_input(env, "build")
    if build and ipa:
        raise InputError("inputs build and ipa are both set",
                         hint="`ipa` publishes a binary (and uploads it); `build` promotes a build App Store Connect "
                         "already has, without an IPA; keep one of them")
    return build


def one_step_flow(env: Mapping[str, str], bundle_id: str) -> str:
    """The flow run when no `flow` input is given: one send_to_testflight step with the inputs' settings."""
    uses_api_key = any(read_input(env, n) for n in ("api-key-id", "api-private-key", "api-private-key-base64"))
    uses_apple_id = bool(read_input(env, "apple-id")) and not uses_api_key
    step: dict[str, object] = {"step": "send_to_testflight"}
    flow: dict[str, object] = {"version": 1}
    if uses_apple_id:
        flow["apple_ids"] = {"action-inputs": {"apple_id": {"env": ACTION_APPLE_ID},
                                              "app_specific_password": {"env": ACTION_APP_SPECIFIC_PASSWORD}}}
        step["apple_id"] = "action-inputs"
    # Without apple_id or api_key the step uses the conventional variables: the action's inputs first.
    groups = [g.strip() for g in read_input(env, "groups").replace("\n", ",").split(",") if g.strip()]
    if groups:
        step["groups"] = groups
    if read_input(env, "what-to-test"):
        step["what_to_test"] = read_input(env, "what-to-test")
    encryption = read_flag(env, "uses-non-exempt-encryption", default=None)
    if encryption is not None:
        step["uses_non_exempt_encryption"] = encryption
    wait = read_flag(env, "wait-for-processing", default=None)
    if wait is not None:
        step["wait_for_processing"] = wait
    flow["profiles"] = [{"bundle_id": bundle_id, "flow": [step]}]
    return json.dumps(flow, indent=2)  # JSON is YAML
