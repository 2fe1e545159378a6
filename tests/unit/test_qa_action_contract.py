"""Found by the new-user trial of the action (INPUT_* as the runner sets them): input values that slipped past the
checks into an internal error or a silent guess, and misspelt `with:` keys that were silently ignored."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.action_inputs import ACTION_INPUTS, unknown_inputs
from action_harness import github_env, parse_outputs, run_action

REPO = Path(__file__).resolve().parents[2]


def private_key() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff16"])  # superscript two, Arabic-Indic three, fullwidth 6
def test_a_concurrency_of_non_ascii_digits_is_refused_as_bad_input(tmp_path: Path, value: str) -> None:
    (tmp_path / "App.ipa").write_bytes(b"x")
    code, out, err = run_action(github_env(tmp_path, ipa=str(tmp_path / "App.ipa"), concurrency=value))
    assert code == 2, err
    assert "input concurrency must be a whole number from 1 to 64" in err
    assert "internal error" not in out + err and "Traceback" not in out + err
    assert parse_outputs((tmp_path / "output").read_text())["status"] == "failed"


def test_both_private_key_inputs_are_refused_before_anything_is_done(tmp_path: Path) -> None:
    key, other = private_key(), private_key()
    (tmp_path / "App.ipa").write_bytes(b"x")
    env = github_env(tmp_path, ipa=str(tmp_path / "App.ipa"), **{
        "api-key-id": "ABC123DEFG", "api-private-key": key, "state-dir": str(tmp_path / "state"),
        "api-private-key-base64": base64.b64encode(other.encode()).decode()})
    code, out, err = run_action(env)
    assert code == 2, err
    assert "inputs api-private-key and api-private-key-base64 are both set" in err
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs["status"] == "failed" and "both set" in outputs["error"]
    assert not (tmp_path / "state").exists()
    body = [line for line in (key + other).splitlines() if not line.startswith("-----")]
    written = out + err + (tmp_path / "output").read_text() + (tmp_path / "summary").read_text()
    assert not [line for line in body if line in "\n".join(
        x for x in written.splitlines() if not x.startswith("::add-mask::"))]


def test_a_misspelt_input_is_warned_about_with_a_did_you_mean(tmp_path: Path) -> None:
    env = github_env(tmp_path, **{"groupz": "QA", "dry_run": "true", "totally-unrelated": "1"})
    code, out, err = run_action(env)
    assert code == 2  # no ipa: the run stops, but the warnings came first
    warnings = [line for line in err.splitlines() if line.startswith("::warning title=unknown input::")]
    assert any("input groupz is not an input of this action" in w and "did you mean groups?" in w for w in warnings)
    assert any("input totally-unrelated is not an input" in w and "did you mean" not in w for w in warnings)
    assert not any("dry-run" in w for w in warnings)  # INPUT_DRY_RUN is the documented other spelling


def test_declared_inputs_raise_no_warning() -> None:
    env = {f"INPUT_{name.upper()}": "x" for name in ACTION_INPUTS}
    assert unknown_inputs(env, ACTION_INPUTS) == []


def test_the_known_inputs_are_the_inputs_action_yml_declares() -> None:
    declared = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))["inputs"]
    assert set(declared) == ACTION_INPUTS


def test_an_apple_id_without_a_key_is_told_that_a_key_is_needed_too(tmp_path: Path) -> None:
    from publish.sandbox.sample_ipa import build_ipa

    ipa = build_ipa(tmp_path / "App.ipa", bundle_id="com.example.app", version="1.0", build_number="1",
                    uses_non_exempt_encryption=False)
    # An Apple ID alone uploads (issue 13 part 7); groups need a key, and that is said before the upload.
    env = github_env(tmp_path, ipa=str(ipa), **{"apple-id": "me@example.com", "dry-run": "true",
                                                "app-specific-password": "abcd-efgh-ijkl-mnop", "groups": "QA",
                                                "state-dir": str(tmp_path / "state")})
    code, out, err = run_action(env)
    assert code == 2, err
    assert "groups: adding a build to a TestFlight group is an App Store Connect API call" in err
    assert "abcd-efgh-ijkl-mnop" not in "\n".join(line for line in (out + err).splitlines()
                                                  if not line.startswith("::add-mask::"))
