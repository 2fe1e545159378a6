"""Which steps and settings need an App Store Connect API key when a flow signs in with an Apple ID, decided offline
(publish.credentials_needed), and `validate` saying the same."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from publish.cli import CliContext, main
from publish.credentials_needed import (
    TESTFLIGHT_API_SETTINGS,
    check_profile_credentials,
    describe_apple_id_only,
    key_needs,
    uploads_with_apple_id_only,
)
from publish.env_keys import ENV_KEY_VARIABLES, env_offers_api_key
from publish.errors import InputError
from publish.spec import load_flow_text

HEAD = """\
version: 1
api_keys: {main: {key_id: ABCDEFGHIJ, issuer_id: 69a6de70-03db-47e3-e053-5b8c7c11a4d1, private_key: {env: ASC_KEY}}}
apple_ids: {login: {apple_id: ci@example.com, app_specific_password: {env: APPLE_PASSWORD}}}
profiles:
  - bundle_id: com.example.app
    flow:
"""


def _profile(steps: str):
    flow = load_flow_text(HEAD + textwrap.indent(textwrap.dedent(steps).strip(), " " * 6) + "\n", "flow.yml")
    return flow.profiles[0]


def test_an_upload_only_step_needs_no_key() -> None:
    profile = _profile("""
        - step: send_to_testflight
          apple_id: login
          xcode_version: "16.2"
          wait_for_processing: false
        - step: mark_as_rc
    """)
    assert key_needs(profile, {}) == []
    [step] = check_profile_credentials(profile, {})
    assert step.index == 0
    [line] = describe_apple_id_only(profile, {})
    assert "uploads with Apple ID 'login' only" in line and "Transporter or altool" in line


def test_every_setting_that_needs_the_api_is_listed_with_its_reason_before_anything_runs() -> None:
    profile = _profile("""
        - step: send_to_testflight
          apple_id: login
          groups: [QA Team]
          testers: [{email: a@example.com}]
          what_to_test: Login screen
          notify_testers: true
          submit_for_beta_review: true
          uses_non_exempt_encryption: false
          wait_for_processing: true
          processing_timeout: 30m
          expire_previous_builds: true
        - step: submit_for_review
        - step: send_to_app_store
          stage_type: app_store
          api_key: main
    """)
    needs = key_needs(profile, {})
    assert [(n.index, n.setting) for n in needs] == [
        (0, "wait_for_processing"), (0, "processing_timeout"), (0, "what_to_test"), (0, "groups"), (0, "testers"),
        (0, "notify_testers"), (0, "submit_for_beta_review"), (0, "uses_non_exempt_encryption"),
        (0, "expire_previous_builds"), (1, None)]
    with pytest.raises(InputError) as caught:
        check_profile_credentials(profile, {})
    error = caught.value
    assert error.exit_code == 2
    text = str(error)
    assert ("step 1 (send_to_testflight), groups: adding a build to a TestFlight group is an App Store Connect API "
            "call; an Apple ID login can only upload") in text
    assert "step 2 (submit_for_review): submitting a version for App Review" in text
    assert "step 3" not in text  # it names its own key
    assert "Nothing was uploaded." in text
    assert "replace `apple_id:` with `api_key: NAME`" in error.hint and "add `api_key: NAME`" in error.hint
    assert "ITSAppUsesNonExemptEncryption in Info.plist needs none" in text


@pytest.mark.parametrize("settings", [
    {"groups": []}, {"notify_testers": False}, {"wait_for_processing": False}, {"expire_previous_builds": False},
    {"submit_for_beta_review": False}, {"wait_for_processing": False, "processing_timeout": 600},
])
def test_settings_that_ask_for_nothing_are_not_listed(settings: dict[str, object]) -> None:
    lines = "".join(f"\n          {name}: {json.dumps(value)}" for name, value in settings.items())
    profile = _profile(f"""
        - step: send_to_testflight
          apple_id: login{lines}
    """)
    assert key_needs(profile, {}) == []


def test_an_app_store_step_with_an_apple_id_needs_a_key_whatever_its_settings() -> None:
    profile = _profile("""
        - step: send_to_app_store
          stage_type: testflight
          apple_id: login
    """)
    [need] = key_needs(profile, {})
    assert need.setting is None and "a send_to_testflight step with only apple_id uploads" in need.reason
    app_store = _profile("""
        - step: send_to_app_store
          stage_type: app_store
          apple_id: login
    """)
    [need] = key_needs(app_store, {})
    assert "attaching the build" in need.reason
    with pytest.raises(InputError, match="send_to_app_store"):
        check_profile_credentials(profile, {})


@pytest.mark.parametrize("variable", ENV_KEY_VARIABLES)
def test_a_key_in_the_environment_lets_the_apple_id_step_do_everything(variable: str) -> None:
    profile = _profile("""
        - step: send_to_testflight
          apple_id: login
          groups: [QA Team]
        - step: submit_for_review
    """)
    env = {variable: "x"}
    assert env_offers_api_key(env)
    assert check_profile_credentials(profile, env) == []
    assert not uploads_with_apple_id_only(profile.flow[0].settings, env)


def test_flows_without_an_apple_id_keep_the_usual_key_errors() -> None:
    profile = _profile("""
        - step: send_to_testflight
          groups: [QA Team]
    """)
    assert check_profile_credentials(profile, {}) == []  # no Apple ID: the step's own key error applies later
    assert not env_offers_api_key({"APP_STORE_CONNECT_API_KEY_KEY_ID": "  "})


def test_every_testflight_setting_the_schema_has_is_classified() -> None:
    """A new TestFlight setting must be sorted into 'needs the API' or 'upload-only' here, not silently allowed."""
    from publish.spec import step_settings

    upload_only = {"step", "api_key", "apple_id", "xcode_version", "locale", "if_another_build_in_review",
                   "expire_builds_in_beta_review"}
    assert set(step_settings("send_to_testflight")) == upload_only | set(TESTFLIGHT_API_SETTINGS)


# ------------------------------------------------------------------------------------------------ validate


def _validate(tmp_path: Path, steps: str, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    path = tmp_path / "flow.yml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(steps).strip(), " " * 6) + "\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate", str(path), *extra], ctx=CliContext(stdout=out, stderr=err, env=env or {}))
    return code, out.getvalue(), err.getvalue()


def test_validate_reports_what_needs_a_key_with_exit_2(tmp_path: Path) -> None:
    code, out, err = _validate(tmp_path, """
        - step: send_to_testflight
          apple_id: login
          groups: [QA Team]
    """)
    assert code == 2, out + err
    assert "step 1 (send_to_testflight), groups: adding a build to a TestFlight group" in err
    assert "Traceback" not in err


def test_validate_says_what_an_apple_id_only_flow_will_do(tmp_path: Path) -> None:
    code, out, err = _validate(tmp_path, """
        - step: send_to_testflight
          apple_id: login
    """, "--json")
    assert code == 0, err
    report = json.loads(out)
    [line] = report["apple_id_only"]
    assert line.startswith("step 1 (send_to_testflight) uploads with Apple ID 'login' only")
    code, out, _ = _validate(tmp_path, """
        - step: send_to_testflight
          apple_id: login
    """, env={"APP_STORE_CONNECT_API_KEY_KEY_ID": "ABCDEFGHIJ"})
    assert code == 0 and "uploads with Apple ID" not in out  # with a key the step does everything
