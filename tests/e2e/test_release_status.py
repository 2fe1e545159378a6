"""Issue 13 part 4 against the simulator over loopback HTTP, through the CLI: `release` (a MANUAL version after
approval; pause / resume / complete of a phased release; refusals before any write), the `release` flow step, and
`status` (text, --json, --wait-until reaching and timing out)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from flow_harness import BUNDLE_ID, EXTERNAL, FlowWorld, Outcome

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
STATUS_SCHEMA = json.loads((SCHEMAS / "status.schema.json").read_text())
SUBMIT = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  release_type: manual
  phased_release: true
  submit_for_review: true
"""


def submitted(world: FlowWorld, version: str = "1.0.0", *, approve: bool | None = True,
              steps: str = SUBMIT) -> str:
    """Upload and submit `version` (MANUAL, phased) through a flow run; App Review then approves (or rejects) it.
    Returns the App Store version's id."""
    outcome = world.run(world.flow(steps), world.ipa("1", version=version))
    assert outcome.code == 0, outcome.output
    submission = next(s for s in world.records("reviewSubmissions") if s.attributes["state"] == "WAITING_FOR_REVIEW")
    if approve is not None:
        world.server.finish_review(submission.id, approve=approve)
    return next(v.id for v in world.records("appStoreVersions") if v.attributes["versionString"] == version)


def cli(world: FlowWorld, *args: str) -> Outcome:
    flow = world.directory / "flow.yml"
    if not flow.exists():
        world.flow(SUBMIT)
    return world.cli([*args, "--flow", str(flow), "--api-base-url", world.server.url])


def state_of(world: FlowWorld, version_id: str) -> str:
    return world.server.store.require("appStoreVersions", version_id).attributes["appVersionState"]


def phased_of(world: FlowWorld, version_id: str) -> str:
    phased = next(world.server.store.where("appStoreVersionPhasedReleases", appStoreVersion=version_id))
    return phased.attributes["phasedReleaseState"]


def writes(world: FlowWorld, since: int) -> list[str]:
    return [f"{e.method} {e.path}" for e in world.server.exchanges[since:] if e.method != "GET"]


# ------------------------------------------------------------------------------------------------ release


def test_a_manual_version_is_released_after_approval_and_its_phased_release_starts(world: FlowWorld) -> None:
    version_id = submitted(world)
    assert state_of(world, version_id) == "PENDING_DEVELOPER_RELEASE"
    assert phased_of(world, version_id) == "INACTIVE"
    outcome = cli(world, "release", BUNDLE_ID, "1.0.0", "--json")
    assert outcome.code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["changed"] is True and document["version_state"] == "READY_FOR_DISTRIBUTION"
    assert state_of(world, version_id) == "READY_FOR_DISTRIBUTION"
    assert phased_of(world, version_id) == "ACTIVE"  # Apple starts it with the release
    assert len(world.records("appStoreVersionReleaseRequests")) == 1
    # Again: already released, nothing written, exit 0.
    since = len(world.server.exchanges)
    again = cli(world, "release", BUNDLE_ID, "1.0")  # H8: 1.0 is 1.0.0
    assert again.code == 0 and "already released" in again.stdout, again.output
    assert writes(world, since) == [] and len(world.records("appStoreVersionReleaseRequests")) == 1


def test_pause_resume_and_complete_a_phased_release(world: FlowWorld) -> None:
    version_id = submitted(world)
    assert cli(world, "release", BUNDLE_ID, "1.0.0").code == 0
    paused = cli(world, "release", BUNDLE_ID, "1.0.0", "--pause")
    assert paused.code == 0 and "ACTIVE -> PAUSED" in paused.stdout, paused.output
    assert phased_of(world, version_id) == "PAUSED"
    since = len(world.server.exchanges)
    assert "already PAUSED" in cli(world, "release", BUNDLE_ID, "1.0.0", "--pause").stdout
    assert writes(world, since) == []
    assert cli(world, "release", BUNDLE_ID, "1.0.0", "--resume").code == 0
    assert phased_of(world, version_id) == "ACTIVE"
    assert cli(world, "release", BUNDLE_ID, "1.0.0", "--complete").code == 0
    assert phased_of(world, version_id) == "COMPLETE"
    since = len(world.server.exchanges)
    refused = cli(world, "release", BUNDLE_ID, "1.0.0", "--pause")
    assert refused.code == 1 and "is COMPLETE; it cannot be paused" in refused.stderr, refused.output
    assert "Traceback" not in refused.output and writes(world, since) == []


def test_a_version_not_yet_approved_is_refused_before_any_write(world: FlowWorld) -> None:
    version_id = submitted(world, approve=None)
    since = len(world.server.exchanges)
    outcome = cli(world, "release", BUNDLE_ID, "1.0.0")
    assert outcome.code == 1, outcome.output
    assert "WAITING_FOR_REVIEW; only a version in PENDING_DEVELOPER_RELEASE" in outcome.stderr
    assert "--wait-until PENDING_DEVELOPER_RELEASE" in outcome.stderr and "Traceback" not in outcome.output
    paused = cli(world, "release", BUNDLE_ID, "1.0.0", "--pause")
    assert paused.code == 1 and "can only be changed once the version is released" in paused.stderr, paused.output
    assert writes(world, since) == [] and state_of(world, version_id) == "WAITING_FOR_REVIEW"


def test_a_rejected_version_and_a_missing_phased_release_are_refused(world: FlowWorld) -> None:
    submitted(world, approve=False)
    rejected = cli(world, "release", BUNDLE_ID, "1.0.0")
    assert rejected.code == 1 and "is REJECTED" in rejected.stderr and "Resolution Center" in rejected.stderr
    other = world.server.add_app_store_version(world.app_id, "0.9")  # released, no phased release
    since = len(world.server.exchanges)
    outcome = cli(world, "release", BUNDLE_ID, "0.9", "--complete")
    assert outcome.code == 1 and "has no phased release" in outcome.stderr, outcome.output
    assert writes(world, since) == [] and state_of(world, other) == "READY_FOR_DISTRIBUTION"


@pytest.mark.parametrize(("args", "expected"), [
    (("release", BUNDLE_ID, "2.0"), "has no IOS App Store version 2.0"),
    (("release", BUNDLE_ID, "v1.0"), "is not a version"),
    (("release", "not a bundle", "1.0"), "is not a bundle ID"),
    (("release", BUNDLE_ID, "1.0", "--pause", "--resume"), "not allowed with"),
    (("status", BUNDLE_ID, "1.0", "--wait-until", "RELEASED"), "is not a state App Store Connect reports"),
    (("status", BUNDLE_ID, "--wait-until", "VALID"), "--wait-until needs a VERSION"),
    (("status", BUNDLE_ID, "1.0", "--wait-until", "VALID", "--timeout", "nan"), "--timeout"),
])
def test_bad_input_is_exit_2_with_advice(world: FlowWorld, args: tuple[str, ...], expected: str) -> None:
    world.server.add_app_store_version(world.app_id, "1.0")
    since = len(world.server.exchanges)
    outcome = cli(world, *args)
    assert outcome.code == 2 and expected in outcome.stderr, outcome.output
    assert "Traceback" not in outcome.output and writes(world, since) == []


def test_the_release_step_releases_then_completes_in_a_flow(world: FlowWorld) -> None:
    version_id = submitted(world)
    ipa = world.directory / "App-1.0.0-1.ipa"
    release = world.flow("- step: release\n  api_key: main\n", name="release.yml")
    outcome = world.run(release, ipa)
    assert outcome.code == 0, outcome.output
    assert state_of(world, version_id) == "READY_FOR_DISTRIBUTION" and phased_of(world, version_id) == "ACTIVE"
    complete = world.flow("- step: release\n  api_key: main\n  action: complete\n", name="complete.yml")
    assert world.run(complete, ipa).code == 0
    assert phased_of(world, version_id) == "COMPLETE"
    bad = world.flow("- step: release\n  api_key: main\n  action: publish\n", name="bad.yml")
    since = len(world.server.exchanges)
    refused = world.run(bad, ipa)
    assert refused.code == 2 and "action" in refused.stderr, refused.output
    assert len(world.server.exchanges) == since


def test_the_release_step_refuses_a_version_still_in_review(world: FlowWorld) -> None:
    submitted(world, approve=None)
    release = world.flow(SUBMIT + "- step: release\n  api_key: main\n", name="both.yml")
    outcome = world.run(release, world.directory / "App-1.0.0-1.ipa")
    assert outcome.code == 1 and "only a version in PENDING_DEVELOPER_RELEASE can be released" in outcome.stderr
    assert not world.records("appStoreVersionReleaseRequests")


# ------------------------------------------------------------------------------------------------ status


def test_status_text_and_json(world: FlowWorld) -> None:
    submitted(world)
    world.server.add_build(world.app_id, "0.9", "7")
    text = cli(world, "status", BUNDLE_ID)
    assert text.code == 0, text.output
    assert "PENDING_DEVELOPER_RELEASE" in text.stdout and "MANUAL" in text.stdout and "INACTIVE" in text.stdout
    assert "VALID" in text.stdout and "0.9" in text.stdout
    outcome = cli(world, "status", BUNDLE_ID, "1.0", "--json")
    document = json.loads(outcome.stdout)
    jsonschema.validate(document, STATUS_SCHEMA)
    assert [b["build_number"] for b in document["builds"]] == ["1"]  # 0.9 (7) is another version
    (version,) = document["app_store_versions"]
    assert version["state"] == "PENDING_DEVELOPER_RELEASE" and version["build_number"] == "1"
    assert version["phased_release"]["state"] == "INACTIVE" and document["api_calls"] == 3
    assert document["builds"][0]["testflight_internal_state"] == "READY_FOR_BETA_TESTING"
    assert document["builds"][0]["testflight_external_state"] == "READY_FOR_BETA_SUBMISSION"
    assert "wait" not in document


def test_status_shows_testflight_and_beta_review(world: FlowWorld) -> None:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  what_to_test: Try it\n"
                      f"  groups: [{EXTERNAL}]\n")
    assert world.run(flow, world.ipa("3", version="1.1")).code == 0
    document = json.loads(cli(world, "status", BUNDLE_ID, "1.1", "--json").stdout)
    jsonschema.validate(document, STATUS_SCHEMA)
    (build,) = document["builds"]
    assert build["beta_review_state"] == "WAITING_FOR_REVIEW", build
    assert build["testflight_external_state"] == "WAITING_FOR_BETA_REVIEW" and document["app_store_versions"] == []
    text = cli(world, "status", BUNDLE_ID, "1.1").stdout
    assert "WAITING_FOR_BETA_REVIEW" in text and "App Store versions: none" in text


def test_wait_until_reaches_the_state(world: FlowWorld) -> None:
    world.server.processing_polls = 3
    build_id = world.server.add_build(world.app_id, "2.0", "5", processing_state="PROCESSING")
    outcome = cli(world, "status", BUNDLE_ID, "2.0", "--wait-until", "valid", "--poll-interval", "0.001",
                  "--timeout", "30", "--json")
    assert outcome.code == 0, outcome.output
    document = json.loads(outcome.stdout)
    jsonschema.validate(document, STATUS_SCHEMA)
    assert document["wait"]["reached"] is True and document["wait"]["polls"] >= 1
    assert document["builds"][0]["id"] == build_id and document["builds"][0]["processing_state"] == "VALID"
    assert "waiting for App Store Connect to bring version 2.0 to VALID" in outcome.stderr


def test_wait_until_times_out_with_exit_1_and_the_last_state(world: FlowWorld) -> None:
    submitted(world, approve=None)
    outcome = cli(world, "status", BUNDLE_ID, "1.0.0", "--wait-until", "PENDING_DEVELOPER_RELEASE",
                  "--poll-interval", "0.01", "--timeout", "0.05", "--json")
    assert outcome.code == 1, outcome.output
    assert "did not reach PENDING_DEVELOPER_RELEASE within 0.05 s" in outcome.stderr
    assert "app_store WAITING_FOR_REVIEW" in outcome.stderr and "--timeout" in outcome.stderr
    document = json.loads(outcome.stdout)
    jsonschema.validate(document, STATUS_SCHEMA)
    assert document["wait"]["reached"] is False and document["wait"]["stopped_at"] is None


def test_wait_until_stops_at_a_rejection(world: FlowWorld) -> None:
    submitted(world, approve=False)
    outcome = cli(world, "status", BUNDLE_ID, "1.0.0", "--wait-until", "READY_FOR_DISTRIBUTION",
                  "--poll-interval", "0.01", "--timeout", "30")
    assert outcome.code == 1 and "will not reach READY_FOR_DISTRIBUTION: it is app_store REJECTED" in outcome.stderr
    assert sum(1 for e in world.server.exchanges if e.path.endswith("/appStoreVersions")) < 5  # no 30 s of polling


# ------------------------------------------------------------------------------------------------ the simulator


def test_simulator_phased_release_waits_for_the_release_and_an_unreleased_version_still_deletes(
        world: FlowWorld) -> None:
    from flow_harness import ISSUER_ID, KEY_ID
    from publish.asc import AscApiError
    from publish.asc.auth import ApiKey
    from publish.asc.client import AppStoreConnect

    with AppStoreConnect(ApiKey(KEY_ID, ISSUER_ID, world.private_pem), base_url=world.server.url,
                         sleep=lambda s: None) as client:
        version = client.create_app_store_version(world.app_id, platform="IOS", version_string="3.0")
        phased = client.create_phased_release(version.id)
        with pytest.raises(AscApiError, match="only be changed once the version is released"):
            client.update_phased_release(phased.id, "ACTIVE")
        client.delete_app_store_version(version.id)  # PREPARE_FOR_SUBMISSION: it goes, with its phased release
        assert not world.records("appStoreVersions") and not world.records("appStoreVersionPhasedReleases")


def test_a_release_request_whose_answer_was_lost_is_read_back_not_repeated(world: FlowWorld) -> None:
    from flow_faults import script

    version_id = submitted(world)
    pending = script(world, "POST", "/v1/appStoreVersionReleaseRequests", ["lost"])
    outcome = cli(world, "release", BUNDLE_ID, "1.0.0")
    assert pending == [] and outcome.code == 0, outcome.output
    assert "reads as released" in outcome.stderr and "released (READY_FOR_DISTRIBUTION)" in outcome.stdout
    assert state_of(world, version_id) == "READY_FOR_DISTRIBUTION"
    assert len(world.records("appStoreVersionReleaseRequests")) == 1
