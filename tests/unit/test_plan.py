"""Choosing the profile for an IPA, and the offline `plan` command."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from publish.cli import CliContext, main
from publish.errors import InputError
from publish.ipa import inspect_ipa
from publish.plan import choose_profile, effective_settings
from publish.sandbox.sample_ipa import build_ipa
from publish.spec import load_flow_text
from publish.state import StateStore

FLOW = """\
version: 1
profiles:
  - bundle_id: com.example.app
    name: Main
    flow:
      - step: send_to_testflight
        groups: [QA]
      - step: send_to_app_store
        stage_type: app_store
        submit_for_review: true
  - bundle_id: com.example.other
    flow:
      - step: send_to_app_store
        stage_type: testflight
        groups: [Beta]
"""


@pytest.fixture(scope="module")
def ipa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ipa(tmp_path_factory.mktemp("ipa") / "App.ipa", bundle_id="com.example.app", version="1.2.3",
                     build_number="45", uses_non_exempt_encryption=False)


@pytest.fixture()
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW)
    return path


def cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env or {})
    code = main(list(argv), ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


def test_choose_profile_by_bundle_id_name_and_override() -> None:
    flow = load_flow_text(FLOW, "flow.yaml")
    assert choose_profile(flow, "com.example.app", None).name == "Main"
    assert choose_profile(flow, "com.example.app", "com.example.other").bundle_id == "com.example.other"
    assert choose_profile(flow, "com.unknown", "Main").bundle_id == "com.example.app"
    with pytest.raises(InputError) as caught:
        choose_profile(flow, "com.unknown", None)
    assert "no profile for bundle ID com.unknown (profiles: com.example.app (Main), com.example.other)" in str(
        caught.value)
    with pytest.raises(InputError, match="--profile nope: .*has no such profile"):
        choose_profile(flow, "com.example.app", "nope")


def test_effective_settings_fill_defaults_that_apply() -> None:
    flow = load_flow_text(FLOW, "flow.yaml")
    testflight, app_store = flow.profiles[0].flow
    assert effective_settings(testflight) == {"wait_for_processing": True, "processing_timeout": 3600,
                                             "if_another_build_in_review": "fail",
                                              "groups": ["QA"], "notify_testers": True, "locale": "en-US"}
    settings = effective_settings(app_store)
    assert settings["submit_for_review"] is True and settings["cancel_previous_submission"] is False
    assert "notify_testers" not in settings  # TestFlight settings of send_to_app_store apply only when given
    to_testflight = effective_settings(flow.profiles[1].flow[0])
    assert "submit_for_review" not in to_testflight and to_testflight["groups"] == ["Beta"]


def test_plan_prints_profile_and_steps(flow_file: Path, ipa: Path, tmp_path: Path) -> None:
    code, out, err = cli("plan", str(flow_file), "--ipa", str(ipa), "--state-dir", str(tmp_path / "state"))
    assert code == 0, err
    assert "com.example.app) version 1.2.3 build 45" in out
    assert 'Profile com.example.app "Main" (matched by bundle ID)' in out
    assert "1. send_to_testflight (line 6; API key from the environment)" in out
    assert "2. send_to_app_store (line 8;" in out
    assert "uses_non_exempt_encryption: false" in out  # from Info.plist
    assert "Nothing was sent to App Store Connect." in out
    assert not (tmp_path / "state").exists()  # plan creates nothing


def test_plan_json_and_skip_detection(flow_file: Path, ipa: Path, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    flow = load_flow_text(FLOW, str(flow_file))
    info = inspect_ipa(ipa)
    first = flow.profiles[0].flow[0]
    with StateStore.open(state_dir) as store:
        store.record_binary(info.to_json())
        run_id = store.start_step_run(fingerprint=info.fingerprint, bundle_id=info.bundle_id, flow_hash="x",
                                      step_index=0, step_name=first.step, settings_hash=first.settings_hash)
        store.finish_step_run(run_id, status="succeeded")
    code, out, err = cli("plan", str(flow_file), "--ipa", str(ipa), "--state-dir", str(state_dir), "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["ipa"]["fingerprint"] == info.fingerprint
    assert [s["would_skip"] for s in plan["steps"]] == [True, False]
    assert plan["steps"][0]["settings_hash"] == first.settings_hash


def test_plan_with_override_warns_about_the_bundle_id(flow_file: Path, ipa: Path, tmp_path: Path) -> None:
    code, out, _ = cli("plan", str(flow_file), "--ipa", str(ipa), "--profile", "com.example.other",
                       "--state-dir", str(tmp_path))
    assert code == 0
    assert "(chosen with --profile)" in out
    assert "warning: the IPA's bundle ID is com.example.app, but the chosen profile is for com.example.other" in out


def test_plan_without_matching_profile_or_with_a_bad_ipa(tmp_path: Path, ipa: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW.replace("com.example.app", "com.example.main"))
    code, _, err = cli("plan", str(path), "--ipa", str(ipa))
    assert code == 2 and "no profile for bundle ID com.example.app" in err
    junk = tmp_path / "junk.ipa"
    junk.write_bytes(b"not a zip")
    code, _, err = cli("plan", str(path), "--ipa", str(junk))
    assert code == 2 and "error:" in err
    code, _, err = cli("plan", str(path), "--ipa", str(tmp_path / "missing.ipa"))
    assert code == 2


def test_plan_warns_when_encryption_is_unknown(flow_file: Path, tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "NoEnc.ipa", uses_non_exempt_encryption=None)
    code, out, _ = cli("plan", str(flow_file), "--ipa", str(ipa), "--state-dir", str(tmp_path / "s"))
    assert code == 0
    assert "uses_non_exempt_encryption is neither set in the step nor in the IPA's Info.plist" in out
