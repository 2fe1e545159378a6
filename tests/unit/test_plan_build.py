"""build_plan: one function decides the profile, every step's typed settings, skips, credentials and pre-flight."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from publish.errors import InputError
from publish.ipa import inspect_ipa
from publish.ipa.binary import inspect_binary, run_binary_preflight
from publish.plan import build_plan
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.sample_pkg import build_pkg
from publish.spec import load_flow_text
from publish.state import StateStore
import speed_schemas

FLOW = """\
version: 1
api_keys:
  ci: {key_id: ABC123DEFG, issuer_id: 69a6de70-03db-47e3-e053-5b8c7c11a4d1, private_key: {env: KEY}}
apple_ids:
  me: {apple_id: me@example.com, app_specific_password: {env: PW}}
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testflight
        api_key: ci
      - step: send_to_app_store
        apple_id: me
        stage_type: testflight
        uses_non_exempt_encryption: true
      - step: mark_as_rc
      - step: release
"""


@pytest.fixture(scope="module")
def ipa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(build_ipa(tmp_path_factory.mktemp("ipa") / "App.ipa", bundle_id="com.example.app",
                          version="1.2.3", build_number="45", uses_non_exempt_encryption=False))


def test_credentials_and_export_compliance_per_step(tmp_path: Path, ipa: Path) -> None:
    plan = build_plan(load_flow_text(FLOW, str(tmp_path / "flow.yml")), inspect_ipa(ipa))
    assert [s.credentials.describe() for s in plan.steps] == [
        "api_key ci", "apple_id me", "none", "API key from the environment"]
    assert plan.api_key_names() == ["ci", None]  # what --check-secrets resolves (the Apple ID step uploads apart)
    assert [(s.export_compliance, s.export_compliance_from) for s in plan.steps] == [
        (False, "Info.plist"), (True, "step"), (None, None), (None, None)]
    assert plan.notes == [] and plan.matched_by == "bundle_id" and not plan.preflight_errors
    shown = plan.to_json()
    speed_schemas.validate(shown, json.loads(resources.files("publish.schemas").joinpath("plan.schema.json")
                                          .read_text(encoding="utf-8")))
    assert [s["uses"] for s in shown["steps"]][:2] == [
        {"api_key": "ci", "api_key_from_environment": False, "apple_id": None},
        {"api_key": None, "api_key_from_environment": True, "apple_id": "me"}]


def test_export_compliance_nobody_states_is_a_note(tmp_path: Path) -> None:
    unknown = Path(build_ipa(tmp_path / "NoEnc.ipa", bundle_id="com.example.app", uses_non_exempt_encryption=None))
    plan = build_plan(load_flow_text(FLOW, str(tmp_path / "flow.yml")), inspect_ipa(unknown))
    assert [s.export_compliance_from for s in plan.steps[:2]] == [None, "step"]
    assert len(plan.notes) == 1 and plan.notes[0].startswith("step 1 (send_to_testflight): uses_non_exempt")


def test_skips_come_from_the_store_unless_restart(tmp_path: Path, ipa: Path) -> None:
    flow = load_flow_text(FLOW, str(tmp_path / "flow.yml"))
    info = inspect_ipa(ipa)
    rc = flow.profiles[0].flow[2]
    with StateStore.open(tmp_path / "state") as store:
        store.record_binary(info.to_json())
        run_id = store.start_step_run(fingerprint=info.fingerprint, bundle_id=info.bundle_id, flow_hash="x",
                                      step_index=rc.index, step_name=rc.step, settings_hash=rc.settings_hash)
        store.finish_step_run(run_id, status="succeeded")
        assert [s.would_skip for s in build_plan(flow, info, store=store).steps] == [False, False, True, False]
        assert not any(s.would_skip for s in build_plan(flow, info, store=store, restart=True).steps)


def test_a_bad_setting_of_a_late_step_stops_the_plan(tmp_path: Path, ipa: Path) -> None:
    text = FLOW + "      - step: send_to_app_store\n        stage_type: app_store\n        whats_new: {file: gone.txt}\n"
    flow = load_flow_text(text, str(tmp_path / "flow.yml"))  # without base_dir: files are not checked yet
    with pytest.raises(InputError, match="gone.txt does not exist"):
        build_plan(flow, inspect_ipa(ipa))


def test_profile_override_and_the_flow_hash(tmp_path: Path, ipa: Path) -> None:
    flow = load_flow_text(FLOW, str(tmp_path / "flow.yml"))
    plan = build_plan(flow, inspect_ipa(ipa), profile="com.example.app")
    assert plan.matched_by == "override"
    assert plan.flow_hash == build_plan(flow, inspect_ipa(ipa)).flow_hash
    changed = load_flow_text(FLOW.replace("      - step: release\n", ""), str(tmp_path / "flow.yml"))
    assert build_plan(changed, inspect_ipa(ipa)).flow_hash != plan.flow_hash


def test_the_preflight_reads_the_binary_the_plan_was_given_not_the_file_again(tmp_path: Path) -> None:
    """A run and `plan` inspect the binary, then plan: the pre-flight takes what was read (the file is not opened a
    second time) and finds exactly what reading the file finds, IPA and package alike."""
    ipa = Path(build_ipa(tmp_path / "App.ipa", bundle_id="com.example.app", uses_non_exempt_encryption=None,
                         profile_type="ad-hoc"))
    pkg = Path(build_pkg(tmp_path / "App.pkg", bundle_id="com.example.app", profile_type=None,
                         uses_non_exempt_encryption=None))
    flow = load_flow_text(FLOW, str(tmp_path / "flow.yml"))
    for path in (ipa, pkg):
        expected = run_binary_preflight(path, expected_bundle_id="com.example.app", for_testflight=True)
        assert any(f.severity == "error" for f in expected) and any(f.severity == "warning" for f in expected)
        info = inspect_binary(path)
        path.unlink()  # read again, the pre-flight would find only "no such file"
        assert list(build_plan(flow, info).findings) == expected
