"""A resolved key never reaches stdout or stderr of `validate --check-secrets` and `plan --check-secrets`, neither
on success nor when the key is refused; under GitHub Actions it appears only inside `::add-mask::` commands."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.cli import CliContext, main
from publish.sandbox.sample_ipa import build_ipa

FLOW = """\
version: 1
api_keys:
  release:
    key_id: KEY123ABCD
    issuer_id: {env: ASC_ISSUER_ID}
    private_key: {env: ASC_PRIVATE_KEY_B64, encoding: base64}
apple_ids:
  login:
    apple_id: ci@example.com
    app_specific_password: {env: APPLE_PASSWORD}
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testflight
        api_key: release
"""
PASSWORD = "wxyz-abcd-efgh-ijkl"


def pem(curve: ec.EllipticCurve) -> str:
    return ec.generate_private_key(curve).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def forms(secret: str) -> list[str]:
    body = [line for line in secret.splitlines() if line and not line.startswith("-----")]
    return [secret.strip(), base64.b64encode(secret.encode()).decode(), "".join(body), *body]


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = []
    for line in text.splitlines():
        if line.startswith("::add-mask::"):
            continue
        found += [line for secret in secrets for form in forms(secret) if form in line]
    return found


@pytest.fixture()
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW)
    return path


@pytest.mark.parametrize("github", [True, False])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_resolved_secrets_never_printed(command: str, github: bool, flow_file: Path, tmp_path: Path) -> None:
    key = pem(ec.SECP256R1())
    env = {"ASC_ISSUER_ID": "issuer", "ASC_PRIVATE_KEY_B64": base64.b64encode(key.encode()).decode(),
           "APPLE_PASSWORD": PASSWORD}
    if github:
        env["GITHUB_ACTIONS"] = "true"
    argv = ["-v", command, str(flow_file), "--check-secrets"]
    if command == "plan":
        argv += ["--ipa", str(build_ipa(tmp_path / "App.ipa")), "--state-dir", str(tmp_path / "state")]
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env)
    code = main(argv, ctx=ctx)
    out, err = ctx.stdout.getvalue(), ctx.stderr.getvalue()
    assert code == 0, err
    assert "key ID KEY123ABCD" in out and "EC P-256 private key OK" in out
    assert leaks(out + err, [key, PASSWORD]) == []
    masked = [line for line in out.splitlines() if line.startswith("::add-mask::")]
    assert bool(masked) is github
    if github:
        assert f"::add-mask::{PASSWORD}" in masked
        assert all(f"::add-mask::{line}" in masked for line in key.splitlines() if not line.startswith("-----"))
    # anything printed later through the context is redacted too
    ctx.print(f"oops {key} {PASSWORD}")
    assert leaks(ctx.stdout.getvalue(), [key, PASSWORD]) == []


def test_refused_key_is_not_quoted(flow_file: Path) -> None:
    key = pem(ec.SECP384R1())
    env = {"ASC_ISSUER_ID": "issuer", "ASC_PRIVATE_KEY_B64": base64.b64encode(key.encode()).decode(),
           "APPLE_PASSWORD": PASSWORD}
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env)
    code = main(["validate", str(flow_file), "--check-secrets"], ctx=ctx)
    assert code == 2
    err = ctx.stderr.getvalue()
    assert "secp384r1" in err and "environment variable ASC_PRIVATE_KEY_B64" in err
    assert leaks(ctx.stdout.getvalue() + err, [key]) == []
