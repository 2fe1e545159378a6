"""The GitHub Action's entrypoint: maps the action's inputs onto `appstore-publish run`, then writes the step's
outputs ($GITHUB_OUTPUT) and a Markdown job summary ($GITHUB_STEP_SUMMARY).

Thin on purpose: everything it does is also available as the `appstore-publish` command. Works outside GitHub too
(GitLab CI, Jenkins, `docker run -e INPUT_IPA=...`): without GITHUB_OUTPUT / GITHUB_STEP_SUMMARY those files are
simply not written.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import secrets as random_tokens
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from publish.cli import CliContext, main as cli_main
from publish.errors import InputError, PublishError
from publish.secrets import (
    ACTION_APP_SPECIFIC_PASSWORD,
    ACTION_APPLE_ID,
    ACTION_ISSUER_ID,
    ACTION_KEY_ID,
    ACTION_PRIVATE_KEY,
    ACTION_PRIVATE_KEY_BASE64,
)

# action input -> the environment variable publish.secrets reads it from
CREDENTIAL_INPUTS = {
    "api-key-id": ACTION_KEY_ID,
    "api-issuer-id": ACTION_ISSUER_ID,
    "api-private-key": ACTION_PRIVATE_KEY,
    "api-private-key-base64": ACTION_PRIVATE_KEY_BASE64,
    "apple-id": ACTION_APPLE_ID,
    "app-specific-password": ACTION_APP_SPECIFIC_PASSWORD,
}
SECRET_INPUTS = ("api-private-key", "api-private-key-base64", "app-specific-password")
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off", "")


def read_input(env: Mapping[str, str], name: str) -> str:
    """An input's value. The runner exports `api-key-id` as INPUT_API-KEY-ID (hyphens kept); `docker run -e` users
    and other CI systems often write INPUT_API_KEY_ID, so both are read."""
    for variable in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        value = env.get(variable)
        if value is not None and value.strip():
            return value.strip() if name not in SECRET_INPUTS else value
    return ""


def read_flag(env: Mapping[str, str], name: str, default: bool | None = False) -> bool | None:
    value = read_input(env, name).lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InputError(f"input {name} must be true or false, got {value!r}")


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


def write_outputs(path: str, values: Mapping[str, str]) -> None:
    """Append name=value pairs in the heredoc form, which is safe for any value (even multi-line)."""
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{random_tokens.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def run(environ: Mapping[str, str], stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    env = dict(environ)
    ctx = CliContext(stdout=stdout, stderr=stderr, env=env)
    # Mask first, before anything could print them.
    for name in SECRET_INPUTS:
        ctx.register_secret(read_input(environ, name) or None)
    encoded = read_input(environ, "api-private-key-base64")
    if encoded:
        try:
            ctx.register_secret(base64.b64decode("".join(encoded.split()), validate=True).decode("utf-8", "replace"))
        except ValueError:
            pass  # reported precisely when the key is resolved
    result_path = Path(tempfile.mkdtemp(prefix="appstore-publish-")) / "result.json"
    try:
        try:
            workdir = read_input(environ, "working-directory")
            if workdir:
                target = Path(environ.get("GITHUB_WORKSPACE", ".")) / workdir
                if not target.is_dir():
                    raise InputError(f"input working-directory {workdir}: {target} is not a directory")
                os.chdir(target)
            for name, variable in CREDENTIAL_INPUTS.items():
                value = read_input(environ, name)
                if value:
                    env[variable] = value
            # The credentials now live under their own names only; do not hand the inputs on twice.
            for key in [k for k in env if k.startswith("INPUT_")]:
                del env[key]
            ipa = read_input(environ, "ipa")
            if not ipa:
                raise InputError("input ipa is required: the path of the .ipa to publish",
                                 hint="add `ipa: path/to/App.ipa` under `with:` (relative to the workspace)")
            dry_run = read_flag(environ, "dry-run")
            flow = read_input(environ, "flow")
            if not flow:
                from publish.ipa import IpaError, inspect_ipa

                try:
                    bundle_id = inspect_ipa(ipa).bundle_id
                except IpaError as exc:
                    raise InputError(exc.message, hint=exc.hint) from None
                generated_flow = result_path.parent / "flow.yaml"  # holds env references only, no secret
                generated_flow.write_text(one_step_flow(environ, bundle_id), encoding="utf-8")
                flow = str(generated_flow)
            argv = ["run", flow, "--ipa", ipa, "--result-json", str(result_path)]
            for name, flag in (("profile", "--profile"), ("api-base-url", "--api-base-url"),
                               ("state-dir", "--state-dir")):
                if read_input(environ, name):
                    argv += [flag, read_input(environ, name)]
            if dry_run:
                argv.append("--dry-run")
        except PublishError as exc:
            ctx.error(f"error: {exc}")
            return exc.exit_code
        code = cli_main(argv, ctx=ctx)
        publish_result(result_path, environ, ctx)
        return code
    finally:
        shutil.rmtree(result_path.parent, ignore_errors=True)


def publish_result(result_path: Path, environ: Mapping[str, str], ctx: CliContext) -> None:
    """Outputs and job summary from the run's result file (written by `run`, already redacted)."""
    if not result_path.is_file():
        return
    from publish.summary import outputs, render_markdown

    result = json.loads(result_path.read_text(encoding="utf-8"))
    result = ctx.redactor.redact_obj(result)
    if environ.get("GITHUB_OUTPUT"):
        write_outputs(environ["GITHUB_OUTPUT"], {k: ctx.redactor.redact(v) for k, v in outputs(result).items()})
    if environ.get("GITHUB_STEP_SUMMARY"):
        with open(environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(ctx.redactor.redact(render_markdown(result)) + "\n")


if __name__ == "__main__":
    sys.exit(run(os.environ))
