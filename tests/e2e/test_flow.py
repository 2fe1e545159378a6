"""End-to-end publish flows against the simulator over loopback HTTP, through `appstore-publish run`."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from publish.state import StateStore
from publish.summary import outputs, render_markdown
from flow_harness import ALL_ACCESS, APP_STORE_PHASED, EXTERNAL, INTERNAL, FlowWorld

RESULT_SCHEMA = json.loads(resources.files("publish.schemas").joinpath("run-result.schema.json").read_text())

TESTFLIGHT = f"""
- step: send_to_testflight
  api_key: main
  what_to_test: {{en-US: Check the login screen, de-DE: {{file: notes.de.txt}}}}
  groups: [{INTERNAL}]
  testers: [ann@example.com, {{email: bob@example.com, first_name: Bob}}]
"""
APP_STORE = APP_STORE_PHASED
APP_STORE_SUBMIT = APP_STORE + "  submit_for_review: true\n"


@pytest.fixture
def world(make_world: Callable[..., FlowWorld], tmp_path: Path) -> FlowWorld:
    """conftest's world (its exchanges checked against Apple's OpenAPI description at teardown) with German notes."""
    (tmp_path / "notes.de.txt").write_text("Bitte die Anmeldung testen\n")
    return make_world()


def _valid(result: dict) -> dict:
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(result)
    return result


def _step_statuses(result: dict) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in result["steps"]]


def test_testflight_only(world: FlowWorld) -> None:
    out = world.run(world.flow(TESTFLIGHT), world.ipa("1"))
    assert out.code == 0, out.output
    result = _valid(out.result)
    assert result["status"] == "succeeded" and _step_statuses(result) == [("send_to_testflight", "succeeded")]
    build_id = result["ids"]["build_id"]
    [build] = world.records("builds")
    assert build.id == build_id and build.attributes["processingState"] == "VALID"
    assert world.groups[INTERNAL] in (build.rels.get("betaGroups") or [])
    notes = {loc.attributes["locale"]: loc.attributes["whatsNew"] for loc in world.records("betaBuildLocalizations")}
    assert notes == {"en-US": "Check the login screen", "de-DE": "Bitte die Anmeldung testen"}
    assert {t.attributes["email"] for t in world.records("betaTesters")} >= {"ann@example.com", "bob@example.com"}
    assert not world.records("betaAppReviewSubmissions")  # internal group only
    assert result["links"]["build"].endswith(f"/apps/{world.app_id}/testflight/ios/{build_id}")


def test_app_store_only(world: FlowWorld) -> None:
    out = world.run(world.flow(APP_STORE), world.ipa("1"))
    assert out.code == 0, out.output
    result = _valid(out.result)
    [version] = world.records("appStoreVersions")
    assert version.attributes["versionString"] == "1.0.0" and version.attributes["releaseType"] == "MANUAL"
    assert version.rels.get("build") == result["ids"]["build_id"]
    assert result["ids"]["app_store_version_id"] == version.id
    [loc] = world.records("appStoreVersionLocalizations")
    # The app's first App Store version takes no What's New (protocol.md H6): left out, with a warning.
    assert not loc.attributes.get("whatsNew") and "first App Store release" in out.stderr
    assert len(world.records("appStoreVersionPhasedReleases")) == 1
    assert not world.records("reviewSubmissions")


def test_testflight_then_app_store_with_submission_outputs_and_summary(world: FlowWorld) -> None:
    out = world.run(world.flow(TESTFLIGHT + APP_STORE_SUBMIT), world.ipa("1"))
    assert out.code == 0, out.output
    result = _valid(out.result)
    assert _step_statuses(result) == [("send_to_testflight", "succeeded"), ("send_to_app_store", "succeeded")]
    [submission] = world.records("reviewSubmissions")
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
    assert len(world.records("buildUploads")) == 1  # the second step reused the build
    values = outputs(result)
    assert values["review-submission-id"] == submission.id and values["status"] == "succeeded"
    assert values["build-number"] == "1" and values["version"] == "1.0.0" and values["upload-id"]
    summary = render_markdown(result)
    assert "`send_to_app_store`" in summary and "Flow App" in summary and world.app_id in summary


def test_changed_flow_skips_done_steps_and_restart_runs_all(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    assert world.run(world.flow(TESTFLIGHT), ipa).code == 0
    out = world.run(world.flow(TESTFLIGHT + APP_STORE), ipa)
    assert out.code == 0, out.output
    assert _step_statuses(out.result) == [("send_to_testflight", "skipped"), ("send_to_app_store", "succeeded")]
    assert "skipping send_to_testflight #1: already done for this binary with the same settings (use --restart " \
           "to run it again)" in out.stderr
    assert len(world.records("buildUploads")) == 1

    # A changed step runs again; the unchanged one is skipped.
    changed = TESTFLIGHT.replace("Check the login screen", "Check the new login screen")
    out = world.run(world.flow(changed + APP_STORE), ipa)
    assert _step_statuses(out.result) == [("send_to_testflight", "succeeded"), ("send_to_app_store", "skipped")]
    notes = {loc.attributes["locale"]: loc.attributes["whatsNew"] for loc in world.records("betaBuildLocalizations")}
    assert notes["en-US"] == "Check the new login screen" and len(notes) == 2  # updated, not duplicated

    out = world.run(world.flow(changed + APP_STORE), ipa, "--restart")
    assert out.code == 0, out.output
    assert _step_statuses(out.result) == [("send_to_testflight", "succeeded"), ("send_to_app_store", "succeeded")]
    assert len(world.records("buildUploads")) == 1 and len(world.records("appStoreVersions")) == 1
    assert len(world.records("betaTesters")) == 2


def test_failure_in_the_middle_stops_the_flow_and_history_shows_it(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    gated = APP_STORE + "  require_rc: true\n"
    flow = world.flow(TESTFLIGHT + gated + "- step: submit_for_review\n  api_key: main\n")
    out = world.run(flow, ipa)
    assert out.code == 2, out.output
    assert "step 2 (send_to_app_store) failed" in out.stderr and "not marked as a release candidate" in out.stderr
    assert "mark-rc" in out.stderr
    result = _valid(out.result)
    assert result["status"] == "failed"
    assert _step_statuses(result) == [("send_to_testflight", "succeeded"), ("send_to_app_store", "failed"),
                                      ("submit_for_review", "not_run")]
    assert not world.records("appStoreVersions") and not world.records("reviewSubmissions")
    with StateStore.open(world.state_dir) as store:
        history = store.history(kind="step")
    assert [(h["step_name"], h["status"]) for h in history] == [("send_to_app_store", "failed"),
                                                               ("send_to_testflight", "succeeded")]
    assert "release candidate" in history[0]["error"]
    assert history[1]["asc_ids"]["build_id"] == result["ids"]["build_id"] and history[1]["duration_s"] >= 0

    listed = world.cli(["history", "--state-dir", str(world.state_dir)])
    assert listed.code == 0 and "send_to_app_store" in listed.stdout and "failed" in listed.stdout

    assert world.cli(["mark-rc", "1.0.0", "--state-dir", str(world.state_dir)]).code == 0
    out = world.run(flow, ipa)
    assert out.code == 0, out.output
    assert _step_statuses(out.result) == [("send_to_testflight", "skipped"), ("send_to_app_store", "succeeded"),
                                          ("submit_for_review", "succeeded")]
    [submission] = world.records("reviewSubmissions")
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"


def test_external_group_gets_beta_review_once(world: FlowWorld) -> None:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  what_to_test: Try it\n"
                      f"  groups: [{INTERNAL}, {EXTERNAL}]\n")
    ipa = world.ipa("1")
    out = world.run(flow, ipa)
    assert out.code == 0, out.output
    [review] = world.records("betaAppReviewSubmissions")
    assert review.rels.get("build") == out.result["ids"]["build_id"]
    assert out.result["ids"]["beta_review_submission_id"] == review.id
    assert world.run(flow, ipa, "--restart").code == 0
    assert len(world.records("betaAppReviewSubmissions")) == 1  # reused, not submitted twice


def test_missing_export_compliance_is_an_error_before_upload(world: FlowWorld) -> None:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{INTERNAL}]\n")
    out = world.run(flow, world.ipa("1", uses_non_exempt_encryption=None))
    assert out.code == 2, out.output
    assert "uses_non_exempt_encryption" in out.stderr and "ITSAppUsesNonExemptEncryption" in out.stderr
    assert not world.records("buildUploads")  # nothing half-done


def test_export_compliance_from_the_step_is_patched(world: FlowWorld) -> None:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{INTERNAL}]\n"
                      "  uses_non_exempt_encryption: false\n")
    out = world.run(flow, world.ipa("1", uses_non_exempt_encryption=None))
    assert out.code == 0, out.output
    [build] = world.records("builds")
    assert build.attributes["usesNonExemptEncryption"] is False
    assert any(e.method == "PATCH" and e.path == f"/v1/builds/{build.id}" for e in world.server.exchanges)


def test_unknown_group_lists_the_apps_groups(world: FlowWorld) -> None:
    flow = world.flow("- step: send_to_testflight\n  api_key: main\n  groups: [qa team, Nobody]\n")
    out = world.run(flow, world.ipa("1"))
    assert out.code == 2, out.output
    assert "'qa team', 'Nobody' not found" in out.stderr
    assert f"{EXTERNAL} (external)" in out.stderr and f"{INTERNAL} (internal)" in out.stderr
    assert "did you mean 'QA Team'" in out.stderr
    assert not world.records("buildUploads")


def test_internal_group_with_access_to_all_builds_is_skipped(world: FlowWorld) -> None:
    group_id = world.server.add_beta_group(world.app_id, ALL_ACCESS, internal=True)
    world.server.store.require("betaGroups", group_id).attributes["hasAccessToAllBuilds"] = True
    out = world.run(world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: ['{ALL_ACCESS}']\n"),
                    world.ipa("1"))
    assert out.code == 0, out.output
    assert "gets this build anyway" in out.stderr
    assert not any(e.path.endswith("/relationships/betaGroups") for e in world.server.exchanges)


def _writes(world: FlowWorld) -> list[str]:
    return [f"{e.method} {e.path}" for e in world.server.exchanges if e.method != "GET"]


def test_dry_run_reads_and_writes_nothing(world: FlowWorld) -> None:
    """Issue 14: a dry run changes nothing (no write reaches App Store Connect, no state store) but reads for real;
    it used to make no call at all."""
    out = world.run(world.flow(TESTFLIGHT + APP_STORE_SUBMIT), world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output
    assert _writes(world) == [] and world.server.exchanges  # read, never written
    assert "would call: POST /v1/buildUploads" in out.stdout and "would call: PATCH /v1/reviewSubmissions/" in out.stdout
    assert not any(line.startswith("would call: GET") for line in out.stdout.splitlines())
    assert not (world.state_dir / "state.sqlite3").exists()
    assert out.result["dry_run"] is True and out.result["api_calls"] == len(world.server.exchanges)


def test_a_dry_run_reads_the_groups_kind_and_refuses_an_unknown_group_like_a_real_run(world: FlowWorld) -> None:
    def beta_review_writes(groups: str) -> list[str]:
        out = world.run(world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{groups}]\n"
                                   "  what_to_test: Try it\n"),
                        world.ipa("1"), "--dry-run")
        assert out.code == 0, out.output
        return [line for line in out.stdout.splitlines() if line.startswith("would call: POST /v1/betaAppReview")]

    # internal: no beta review; external: the submission a real run sends. Before issue 14 the dry run did not
    # read the groups, took every one for external and would have submitted an internal-only build for review.
    assert beta_review_writes(INTERNAL) == []
    assert len(beta_review_writes(EXTERNAL)) == 1
    unknown = world.flow("- step: send_to_testflight\n  api_key: main\n  groups: [qa team, Nobody]\n")
    dry, real = world.run(unknown, world.ipa("1"), "--dry-run"), world.run(unknown, world.ipa("1"))
    assert dry.code == real.code == 2, dry.output
    message = next(line for line in dry.stderr.splitlines() if line.startswith("error:"))
    assert message == next(line for line in real.stderr.splitlines() if line.startswith("error:"))
    assert "'qa team', 'Nobody' not found" in message and f"{EXTERNAL} (external)" in message
    assert _writes(world) == []


def test_secrets_never_in_output_result_or_state(world: FlowWorld) -> None:
    dry = world.run(world.flow(TESTFLIGHT + APP_STORE_SUBMIT), world.ipa("1"), "--dry-run")
    real = world.run(world.flow(TESTFLIGHT + APP_STORE_SUBMIT), world.ipa("1"), env={"GITHUB_ACTIONS": "true"})
    assert real.code == 0, real.output
    masks = [line for line in real.stdout.splitlines() if line.startswith("::add-mask::")]
    assert masks  # the runner is asked to mask the key too
    body_lines = [line for line in world.private_pem.splitlines() if line and "-----" not in line]
    state_bytes = b"".join(p.read_bytes() for p in world.state_dir.rglob("*") if p.is_file() and p.suffix != ".ipa")
    texts = [dry.output, real.stderr, json.dumps(real.result),
             "\n".join(line for line in real.stdout.splitlines() if not line.startswith("::add-mask::"))]
    for line in body_lines:
        assert all(line not in text for text in texts)
        assert line.encode() not in state_bytes


def test_a_different_binary_with_the_same_numbers_is_refused(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT)
    assert world.run(flow, world.ipa("1")).code == 0
    rebuilt = world.ipa("1", name="rebuilt.ipa", pad_to=200_000)
    out = world.run(flow, rebuilt)
    assert out.code == 2, out.output
    assert "uploaded from a different binary" in out.stderr and "CFBundleVersion" in out.stderr
    assert len(world.records("buildUploads")) == 1


def test_lost_answers_converge_without_duplicates(world: FlowWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes that take effect but whose answer is lost: re-reading before creating again, and running the flow
    again after a failure, ends with everything done exactly once."""
    from publish.asc.session import AscSession
    from publish.sandbox.faults import Faults

    # The retries are the point, not their pace: backoffs of milliseconds instead of ~1 s each.
    monkeypatch.setattr(AscSession, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(AscSession, "BACKOFF_CAP", 0.005)
    world.server.faults = Faults(lost_response_rate=0.25, seed=7)
    flow = world.flow(TESTFLIGHT.replace(f"[{INTERNAL}]", f"[{INTERNAL}, {EXTERNAL}]") + APP_STORE_SUBMIT)
    ipa = world.ipa("1")
    codes = []
    for _ in range(6):
        out = world.run(flow, ipa)
        codes.append(out.code)
        if out.code == 0:
            break
    assert codes[-1] == 0, out.output
    lost = [e for e in world.server.exchanges if e.method != "GET" and e.status >= 500]
    assert len(lost) >= 3, "the faults did not bite: choose another seed"
    for type_, count in (("buildUploads", 1), ("builds", 1), ("appStoreVersions", 1), ("reviewSubmissions", 1),
                         ("reviewSubmissionItems", 1), ("betaAppReviewSubmissions", 1), ("betaTesters", 2),
                         ("betaBuildLocalizations", 2), ("appStoreVersionPhasedReleases", 1)):
        assert len(world.records(type_)) == count, (type_, [r.attributes for r in world.records(type_)])
    [submission] = world.records("reviewSubmissions")
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"


def test_a_version_in_review_with_another_build_is_refused_before_upload(world: FlowWorld) -> None:
    flow = world.flow(APP_STORE_SUBMIT)
    assert world.run(flow, world.ipa("1")).code == 0
    out = world.run(flow, world.ipa("2"))
    assert out.code == 1, out.output
    assert "App Store version 1.0.0 is WAITING_FOR_REVIEW with another build" in out.stderr
    assert len(world.records("buildUploads")) == 1  # refused before spending an upload

    # The same build again (a re-run after the state directory was lost): nothing to change, nothing duplicated.
    world.state_dir.rename(world.directory / "lost-state")
    out = world.run(flow, world.ipa("1", name="App-1.0.0-1.ipa"))
    assert out.code == 0, out.output
    assert "already WAITING_FOR_REVIEW with this build" in out.stderr
    assert len(world.records("reviewSubmissions")) == 1 and len(world.records("buildUploads")) == 1


def test_an_empty_draft_submission_is_reused(world: FlowWorld) -> None:
    from publish.asc import ApiKey, AppStoreConnect

    with AppStoreConnect(ApiKey("FLOWKEY123", "69a6de70-03db-47e3-e053-5b8c7c11a4d1", world.private_pem),
                         base_url=world.server.url) as client:
        draft = client.create_review_submission(world.app_id, platform="IOS")
    out = world.run(world.flow(APP_STORE_SUBMIT), world.ipa("1"))
    assert out.code == 0, out.output
    [submission] = world.records("reviewSubmissions")
    assert submission.id == draft.id == out.result["ids"]["review_submission_id"]
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
    assert f"reusing draft review submission {draft.id}" in out.stderr
