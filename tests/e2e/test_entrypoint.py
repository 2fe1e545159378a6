"""The action's entrypoint: inputs (hyphenated or not) onto `appstore-publish run`, the one-step flow, outputs in
$GITHUB_OUTPUT's heredoc form, the job summary, and no secret anywhere but in `::add-mask::` commands."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from action_harness import assert_no_leak, entrypoint, github_env, parse_outputs, run_action, secret_forms
from publish.sandbox.sample_ipa import build_ipa
from publish.spec import load_flow_text



@pytest.fixture(scope="module")
def private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def ipa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ipa(tmp_path_factory.mktemp("ipa") / "App.ipa", bundle_id="com.example.app", version="2.1.0",
                     build_number="77", uses_non_exempt_encryption=False)


@contextmanager
def simulated_asc(private_key: str, issuer_id: str | None = "issuer-1") -> Iterator[Any]:
    """The simulator with the key, the app and its group QA: a dry run reads App Store Connect, so the dry runs
    below read it here (over loopback), never Apple's real address."""
    server_module = pytest.importorskip("publish.sandbox.server")
    key = serialization.load_pem_private_key(private_key.encode(), password=None)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with server_module.SandboxServer(processing_polls=1) as server:
        server.register_key("KEY123ABCD", issuer_id, public_pem)
        server.add_beta_group(server.add_app("com.example.app", "Example"), "QA", internal=True)
        yield server


def assert_read_only(server: Any) -> None:
    """A dry run read App Store Connect and wrote nothing to it."""
    assert [e.method for e in server.exchanges if e.method != "GET"] == []
    assert any(e.path.startswith("/v1/apps") for e in server.exchanges)


def test_inputs_are_read_in_both_spellings() -> None:
    assert entrypoint.read_input({"INPUT_API-KEY-ID": " K1 "}, "api-key-id") == "K1"
    assert entrypoint.read_input({"INPUT_API_KEY_ID": "K2"}, "api-key-id") == "K2"
    assert entrypoint.read_input({"INPUT_API-KEY-ID": "", "INPUT_API_KEY_ID": "K3"}, "api-key-id") == "K3"
    assert entrypoint.read_input({}, "api-key-id") == ""
    assert entrypoint.read_flag({"INPUT_DRY-RUN": "TRUE"}, "dry-run") is True
    with pytest.raises(entrypoint.InputError, match="dry-run must be true or false"):
        entrypoint.read_flag({"INPUT_DRY-RUN": "maybe"}, "dry-run")


def test_one_step_flow_is_a_valid_flow() -> None:
    env = {"INPUT_GROUPS": "QA Team, Beta\nFriends", "INPUT_WHAT-TO-TEST": "Login screen",
           "INPUT_USES-NON-EXEMPT-ENCRYPTION": "false", "INPUT_API-KEY-ID": "K"}
    flow = load_flow_text(entrypoint.one_step_flow(env, "com.example.app"), "generated.yaml")
    (step,) = flow.profiles[0].flow
    assert step.step == "send_to_testflight"
    assert step.settings == {"groups": ["QA Team", "Beta", "Friends"], "what_to_test": "Login screen",
                             "uses_non_exempt_encryption": False}
    apple = load_flow_text(entrypoint.one_step_flow({"INPUT_APPLE-ID": "a@b.co"}, "com.example.app"), "g.yaml")
    assert apple.profiles[0].flow[0].settings == {"apple_id": "action-inputs"}
    assert apple.apple_ids["action-inputs"].app_specific_password.env == "APPSTORE_PUBLISH_APP_SPECIFIC_PASSWORD"


def test_outputs_use_the_heredoc_form(tmp_path: Path) -> None:
    path = tmp_path / "out"
    entrypoint.write_outputs(str(path), {"status": "succeeded", "notes": "line 1\nline 2"})
    assert parse_outputs(path.read_text()) == {"status": "succeeded", "notes": "line 1\nline 2"}


def test_dry_run_from_inputs_writes_outputs_and_summary_and_leaks_nothing(
    tmp_path: Path, ipa: Path, private_key: str
) -> None:
    with simulated_asc(private_key) as server:
        env = github_env(tmp_path, **{"ipa": str(ipa), "api-key-id": "KEY123ABCD", "api-issuer-id": "issuer-1",
                                      "api-private-key": private_key, "dry-run": "true", "api-base-url": server.url,
                                      "state-dir": str(tmp_path / "state"), "groups": "QA"})
        code, out, err = run_action(env)
    assert code == 0, err
    assert_read_only(server)
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs["status"] == "succeeded"
    assert (outputs["version"], outputs["build-number"]) == ("2.1.0", "77")
    assert set(outputs) == {"build-id", "build-number", "version", "upload-id", "app-store-version-id",
                            "review-submission-id", "status", "error"}
    summary = (tmp_path / "summary").read_text()
    assert "com.example.app" in summary and "send_to_testflight" in summary
    assert "::add-mask::" in out
    for where, text in (("stdout", out), ("stderr", err), ("outputs", (tmp_path / "output").read_text()),
                        ("summary", summary)):
        assert_no_leak(text, private_key, where)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and private_key.splitlines()[1] in p.read_text(
        errors="replace")]
    assert leftovers == []


def test_base64_key_input_and_underscore_spelling(tmp_path: Path, ipa: Path, private_key: str) -> None:
    encoded = base64.b64encode(private_key.encode()).decode()
    env = github_env(tmp_path)
    with simulated_asc(private_key, issuer_id=None) as server:
        env.update({"INPUT_IPA": str(ipa), "INPUT_API_KEY_ID": "KEY123ABCD", "INPUT_API_PRIVATE_KEY_BASE64": encoded,
                    "INPUT_DRY_RUN": "true", "INPUT_STATE_DIR": str(tmp_path / "state"),
                    "INPUT_API_BASE_URL": server.url})
        code, out, err = run_action(env)
    assert code == 0, err
    assert_read_only(server)
    for text in (out, err, (tmp_path / "summary").read_text()):
        assert_no_leak(text, private_key, "output")
        assert encoded not in "\n".join(l for l in text.splitlines() if not l.startswith("::add-mask::"))


def test_flow_input_with_working_directory(tmp_path: Path, ipa: Path, private_key: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "publish.yaml").write_text("""\
version: 1
api_keys:
  ci:
    key_id: KEY123ABCD
    private_key: {env: ASC_PRIVATE_KEY}
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testflight
        api_key: ci
""")
    (project / "App.ipa").write_bytes(ipa.read_bytes())
    monkeypatch.chdir(tmp_path)
    with simulated_asc(private_key, issuer_id=None) as server:
        env = github_env(tmp_path, **{"flow": "publish.yaml", "ipa": "App.ipa", "working-directory": "app",
                                      "dry-run": "true", "api-base-url": server.url})
        env["ASC_PRIVATE_KEY"] = private_key
        code, out, err = run_action(env)
    assert code == 0, err
    assert_read_only(server)
    assert parse_outputs((tmp_path / "output").read_text())["status"] == "succeeded"
    assert_no_leak(out + err, private_key, "output")


def test_bad_key_fails_with_exit_2_a_precise_error_and_a_failed_status(tmp_path: Path, ipa: Path) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    env = github_env(tmp_path, **{"ipa": str(ipa), "api-key-id": "KEY123ABCD", "api-private-key": p384,
                                  "dry-run": "true", "state-dir": str(tmp_path / "state")})
    code, out, err = run_action(env)
    assert code == 2
    assert "curve secp384r1" in err
    assert parse_outputs((tmp_path / "output").read_text())["status"] == "failed"
    assert_no_leak(out + err + (tmp_path / "summary").read_text(), p384, "output")


@pytest.mark.parametrize(("inputs", "message"), [
    ({}, "input ipa is required"),
    ({"ipa": "App.ipa", "dry-run": "perhaps"}, "input dry-run must be true or false"),
    ({"ipa": "missing.ipa"}, "missing.ipa"),
    ({"ipa": "App.ipa", "working-directory": "nowhere"}, "input working-directory nowhere"),
])
def test_bad_inputs_exit_2(tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    code, _, err = run_action(github_env(tmp_path, **inputs))
    assert code == 2
    assert message in err


def test_real_run_against_the_simulator_leaks_nothing_anywhere(
    tmp_path: Path, ipa: Path, private_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole publish through the entrypoint over loopback HTTP; then every byte it printed or left behind
    (outputs, summary, state store) is searched for the key."""
    server_module = pytest.importorskip("publish.sandbox.server")
    key = serialization.load_pem_private_key(private_key.encode(), password=None)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    real_main = entrypoint.cli_main
    # Only the processing poll cadence is shortened (the action always polls every 10 s).
    monkeypatch.setattr(entrypoint, "cli_main",
                        lambda argv, ctx: real_main([*argv, "--poll-interval", "0.05"], ctx=ctx))
    with server_module.SandboxServer(processing_polls=1) as server:
        server.register_key("KEY123ABCD", "issuer-1", public_pem)
        server.add_app("com.example.app", "Example")
        env = github_env(tmp_path, **{"ipa": str(ipa), "api-key-id": "KEY123ABCD", "api-issuer-id": "issuer-1",
                                      "api-private-key": private_key, "api-base-url": server.url,
                                      "state-dir": str(tmp_path / "state")})
        code, out, err = run_action(env)
    assert code == 0, err
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs["status"] == "succeeded" and outputs["build-id"] and outputs["upload-id"]
    assert_no_leak(out, private_key, "stdout")
    assert_no_leak(err, private_key, "stderr")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for form in secret_forms(private_key):
                assert form.encode() not in data, f"secret left behind in {path}"
