"""Apple's undocumented TestFlight and upload habits (protocol.md H.2-H.4, H.7-H.10, H.15, H.17), met end to end:
the simulator behaves as App Store Connect does (Realism on, the default) and each test fails when the client's
handling of that habit is taken out."""

from __future__ import annotations

import re

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from flow_harness import EXTERNAL, INTERNAL, FlowWorld
from publish.asc.errors import PROCESSING_ADVICE, processing_failed
from publish.errors import InputError


@pytest.fixture
def bare_world(make_world: Callable[..., FlowWorld]) -> FlowWorld:
    """An app that was never through beta review: no test information on App Store Connect."""
    return make_world(beta_test_information=False)


def _exchanges(world: FlowWorld, method: str, prefix: str) -> list:
    return [e for e in world.server.exchanges if e.method == method and e.path.startswith(prefix)]


def _step(body: str) -> str:
    return "- step: send_to_testflight\n  api_key: main\n" + body


# ------------------------------------------------------------------------------------------ H.7 commit


def test_h7_commit_is_uploaded_alone_and_a_conflict_after_it_keeps_the_parts(world: FlowWorld) -> None:
    from publish.asc.errors import AscConflictError, AscErrorItem

    out = world.run(world.flow(_step("  groups: [QA Team]\n")), world.ipa("1"))
    assert out.code == 0, out.output
    [commit] = _exchanges(world, "PATCH", "/v1/buildUploadFiles/")
    assert commit.request["data"]["attributes"] == {"uploaded": True}

    # A 409 on a commit that went through (the file is UPLOAD_COMPLETE): not "bytes missing", nothing re-sent.
    from publish.upload.engine import BuildUploader
    from publish.asc.client import AppStoreConnect

    real = AppStoreConnect.commit_build_upload_file

    def commit_then_conflict(self: AppStoreConnect, file_id: str):  # type: ignore[no-untyped-def]
        real(self, file_id)
        raise AscConflictError(409, [AscErrorItem("409", "ENTITY_ERROR.ATTRIBUTE.INVALID", "invalid",
                                                  "'Checksums{...}' is not a valid value")], method="PATCH",
                               path=f"/v1/buildUploadFiles/{file_id}")

    AppStoreConnect.commit_build_upload_file = commit_then_conflict  # type: ignore[method-assign]
    try:
        out = world.run(world.flow(_step("  groups: [QA Team]\n")), world.ipa("2"))
    finally:
        AppStoreConnect.commit_build_upload_file = real  # type: ignore[method-assign]
    assert out.code == 0, out.output
    assert len(world.records("builds")) == 2 and BuildUploader


# ------------------------------------------------------------------------------------------ H.9 propagation


def test_h9_just_created_upload_and_build_answer_404_first_and_the_run_goes_on(world: FlowWorld) -> None:
    out = world.run(world.flow(_step("  groups: [QA Team]\n")), world.ipa("1"))
    assert out.code == 0, out.output
    not_found = [e for e in world.server.exchanges if e.method == "GET" and e.status == 404]
    assert any(e.path.startswith("/v1/buildUploads/") for e in not_found)
    assert any(e.path.startswith("/v1/builds/") for e in not_found)


# ------------------------------------------------------------------------------------------ H.15 FAILED codes


def test_h15_closed_version_train_says_raise_the_version(world: FlowWorld) -> None:
    world.server.add_app_store_version(world.app_id, "1.0.0", state="READY_FOR_DISTRIBUTION")
    out = world.run(world.flow(_step("  groups: [QA Team]\n")), world.ipa("1"))
    assert out.code == 1, out.output
    assert "ITMS-90186" in out.stderr and "closed for new build submissions" in out.stderr
    assert "Raise CFBundleShortVersionString" in out.stderr
    assert "bump" not in out.stderr.lower()


@pytest.mark.parametrize("code,words", [("90062", "version train is closed"), ("ITMS-90478", "version train"),
                                        ("90725", "SDK"), ("90054", "PRODUCT_BUNDLE_IDENTIFIER"),
                                        ("90055", "extensions"), ("90683", "purpose string")])
def test_h15_each_known_code_has_its_own_advice(code: str, words: str) -> None:
    error = processing_failed("1.0 (1)", "build upload U1", [{"code": code, "description": "Apple says no"}])
    assert words in (error.hint or "") and "Apple says no" in error.message
    assert set(PROCESSING_ADVICE) >= {"90062", "90186", "90478", "90725", "90054", "90055", "90683"}


# ------------------------------------------------------------------------------------------ H.8 version forms


def test_h8_a_build_on_train_1_0_counts_for_an_ipa_saying_1_0_0(world: FlowWorld) -> None:
    world.server.add_build(world.app_id, "1.0", "5")
    out = world.run(world.flow(_step("  groups: [QA Team]\n")), world.ipa("5", version="1.0.0"))
    assert out.code == 0, out.output  # Apple's 1.0 is this 1.0.0: the build is reused, not uploaded again
    assert not world.records("buildUploads")
    out = world.run(world.flow(_step("  groups: [QA Team]\n")), world.ipa("4", version="1.0.0"))
    assert out.code == 2 and "not higher" in out.stderr, out.output
    assert not world.records("buildUploads")


# ------------------------------------------------------------------------------------------ H.2 TestFlight lag


def test_h2_groups_wait_for_testflight_after_valid(world: FlowWorld) -> None:
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{INTERNAL}, {EXTERNAL}]\n"
                                     "  uses_non_exempt_encryption: false\n")),
                    world.ipa("1", uses_non_exempt_encryption=None))
    assert out.code == 0, out.output
    assert re.search(r"waiting for App Store Connect to finish the build's TestFlight processing "
                     r"\(1(/\d+|, at most \d+ (s|min) more)\)", out.output), out.output
    assert not [e for e in world.server.exchanges if e.status == 422]
    [build] = world.records("builds")
    assert len(build.rels["betaGroups"]) == 2 and world.records("betaAppReviewSubmissions")


# ------------------------------------------------------------------------------------------ H.10 notify race


def test_h10_auto_notify_already_enabled_counts_as_notified(world: FlowWorld) -> None:
    build_id = world.server.add_build(world.app_id, "1.0.0", "1")
    [detail] = [d for d in world.records("buildBetaDetails") if d.rels["build"] == build_id]
    detail.attributes["autoNotifyEnabled"] = False
    out = world.run(world.flow(_step("  testers: [ann@example.com]\n")), world.ipa("1"))
    assert out.code == 0, out.output
    [post] = _exchanges(world, "POST", "/v1/buildBetaNotifications")
    assert post.status == 409 and "already" in out.stderr


# ------------------------------------------------------------------------------------------ H.17 What to Test


def test_h17_apples_own_default_localization_is_updated_not_duplicated(world: FlowWorld) -> None:
    world.server.processing_polls = 1
    out = world.run(world.flow(_step("  what_to_test: Check the login\n  groups: [QA Team]\n")), world.ipa("1"))
    assert out.code == 0, out.output
    localizations = world.records("betaBuildLocalizations")
    assert [(loc.attributes["locale"], loc.attributes["whatsNew"]) for loc in localizations] == [
        ("en-US", "Check the login")]


def test_h17_what_to_test_collision_on_create_is_read_again_and_patched(world: FlowWorld) -> None:
    from publish.sandbox.uploads import add_default_beta_localization

    build_id = world.server.add_build(world.app_id, "1.0.0", "1")
    build = world.server.store.require("builds", build_id)
    build.internal["default_locale"] = "EN-us"  # Apple creates it meanwhile, in its own spelling
    build.internal["default_locale_after"] = 99  # ... but not before the client's POST
    out = world.run(world.flow(_step("  what_to_test: Check the login\n  groups: [QA Team]\n")), world.ipa("1"))
    assert out.code == 0, out.output
    assert [e.status for e in _exchanges(world, "POST", "/v1/betaBuildLocalizations")] == [409]
    [loc] = world.records("betaBuildLocalizations")
    assert loc.attributes["whatsNew"] == "Check the login" and add_default_beta_localization


def test_h17_locales_match_case_insensitively(world: FlowWorld) -> None:
    build_id = world.server.add_build(world.app_id, "1.0.0", "1")
    world.server.store.add("betaBuildLocalizations", {"locale": "EN-us", "whatsNew": None}, {"build": build_id})
    out = world.run(world.flow(_step("  what_to_test: Check the login\n  groups: [QA Team]\n")), world.ipa("1"))
    assert out.code == 0, out.output
    assert not _exchanges(world, "POST", "/v1/betaBuildLocalizations")  # Apple's EN-us is our en-US
    [loc] = world.records("betaBuildLocalizations")
    assert loc.attributes["whatsNew"] == "Check the login"


@pytest.mark.parametrize("text,words", [("é" * 2001, "4002 bytes"), ("Try <b>this</b>", "line 1, column 5"),
                                        ("Fine\nnow 🚀", "line 2, column 5")])
def test_h17_what_to_test_apple_refuses_is_caught_before_upload(world: FlowWorld, text: str, words: str) -> None:
    flow = world.flow(_step(f"  what_to_test: {text!r}\n  groups: [QA Team]\n".replace("'", '"')))
    out = world.run(flow, world.ipa("1"))
    assert out.code == 2 and words in out.stderr, out.output
    assert not world.records("buildUploads")


# ------------------------------------------------------------------------------------------ H.3 one in review


def _other_build_in_review(world: FlowWorld) -> str:
    other = world.server.add_build(world.app_id, "0.9.0", "7")
    world.server.store.add("betaAppReviewSubmissions", {"betaReviewState": "WAITING_FOR_REVIEW",
                                                        "submittedDate": "2026-01-01T00:00:00+00:00"},
                           {"build": other}, submitted_at=0.0)
    return other


def test_h3_another_build_in_review_fails_before_upload_naming_it(world: FlowWorld) -> None:
    _other_build_in_review(world)
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n")), world.ipa("1"))
    assert out.code == 1, out.output
    assert "0.9.0 (7)" in out.stderr and "if_another_build_in_review" in out.stderr
    assert not world.records("buildUploads")


def test_h3_expire_other_expires_it_then_submits(world: FlowWorld) -> None:
    other = _other_build_in_review(world)
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n"
                                     "  if_another_build_in_review: expire_other\n")), world.ipa("1"))
    assert out.code == 0, out.output
    assert world.server.store.require("builds", other).attributes["expired"] is True
    assert len(world.records("betaAppReviewSubmissions")) == 2


def test_h3_wait_waits_for_the_other_review_to_end(world: FlowWorld) -> None:
    other = _other_build_in_review(world)
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n"
                                     "  if_another_build_in_review: wait\n")), world.ipa("1"))
    assert out.code == 0, out.output
    assert "finish the beta review of build 0.9.0 (7)" in out.output
    assert world.server.store.require("builds", other).attributes["expired"] is False


# ------------------------------------------------------------------------------------------ H.4 test information


def test_h4_missing_test_information_fails_before_upload_with_what_to_add(bare_world: FlowWorld) -> None:
    out = bare_world.run(bare_world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n")),
                         bare_world.ipa("1"))
    assert out.code == 2, out.output
    assert "test_information.feedback_email" in out.stderr and "test_information.contact.phone" in out.stderr
    assert not bare_world.records("buildUploads")


def test_h4_missing_what_to_test_fails_before_upload(world: FlowWorld) -> None:
    out = world.run(world.flow(_step(f"  groups: [{EXTERNAL}]\n")), world.ipa("1"))
    assert out.code == 2 and "What to Test in the app's primary locale en-US" in out.stderr, out.output
    assert not world.records("buildUploads")


def test_h4_test_information_from_the_flow_is_written_before_the_submission(bare_world: FlowWorld) -> None:
    step = _step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n"
                 "  test_information:\n    description: A demo app\n    feedback_email: beta@example.com\n"
                 "    contact: {first_name: Ann, last_name: Lee, phone: '+1 555 0100', email: ann@example.com}\n"
                 "    demo_account: {required: true, name: demo@example.com, password: {env: DEMO_PW}}\n")
    out = bare_world.run(bare_world.flow(step), bare_world.ipa("1"), env={"DEMO_PW": "s3cret-Pa55"})
    assert out.code == 0, out.output
    [detail] = bare_world.records("betaAppReviewDetails")
    assert detail.attributes["contactPhone"] == "+1 555 0100"
    assert detail.attributes["demoAccountPassword"] == "s3cret-Pa55"
    [info] = bare_world.records("betaAppLocalizations")
    assert (info.attributes["locale"], info.attributes["feedbackEmail"]) == ("en-US", "beta@example.com")
    assert "s3cret-Pa55" not in out.output
    assert bare_world.records("betaAppReviewSubmissions")


def test_h4_an_inline_demo_password_is_refused(bare_world: FlowWorld) -> None:
    step = _step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n"
                 "  test_information:\n    demo_account: {name: demo, password: hunter2}\n")
    out = bare_world.run(bare_world.flow(step), bare_world.ipa("1"))
    assert out.code == 2 and "password: a secret cannot be written in the flow file" in out.output, out.output
    assert "hunter2" not in out.output
    assert not bare_world.records("buildUploads")
    # The step's own check too (for settings that reach it without the schema, e.g. another front end):
    from publish.plan.beta_review_info import read_test_information
    with pytest.raises(InputError) as caught:
        read_test_information({"test_information": {"demo_account": {"name": "demo", "password": "hunter2"}}})
    assert "never written inline" in caught.value.message and "hunter2" not in str(caught.value)


def test_h4_a_bare_500_on_the_submission_is_explained(bare_world: FlowWorld) -> None:
    from publish.asc import AscAmbiguousWriteError
    from publish.plan.beta_review_info import TestInformation
    from publish.steps import beta_review

    error = beta_review.explain_refused_submission(_Client(), "A1", TestInformation())
    assert "test_information.contact.first_name" in error.message and "bare 500" in error.message
    assert AscAmbiguousWriteError and InputError


class _Client:
    """The three reads explain_refused_submission makes, answering as an app without test information."""

    def get_app(self, app_id: str):  # type: ignore[no-untyped-def]
        from publish.asc.resources import Resource
        return Resource(type="apps", id=app_id, attributes={"primaryLocale": "en-US"})

    def get_beta_app_review_detail(self, app_id: str):  # type: ignore[no-untyped-def]
        from publish.asc.resources import Resource
        return Resource(type="betaAppReviewDetails", id="D1", attributes={})

    def list_beta_app_localizations(self, app_id: str) -> list:
        return []


# ------------------------------------------------------------------------------------------ refusals explained


def test_refusals_apple_explains_get_their_own_advice() -> None:
    from publish.asc.errors import AscErrorItem, api_error

    not_ready = api_error(422, {"errors": [{"status": "422", "code": "ENTITY_UNPROCESSABLE", "title": "x",
                                            "detail": "The build is not in a valid processing state for this "
                                                      "operation."}]},
                          method="POST", path="/v1/builds/B1/relationships/betaGroups")
    assert "bug in appstore-publish" not in (not_ready.hint or "") and "caught up" in (not_ready.hint or "")
    in_review = api_error(409, {"errors": [{"status": "409", "code": "ENTITY_ERROR.STATE_INVALID", "title": "x",
                                            "detail": "You can't submit a build for testing if another build is "
                                                      "already in review."}]},
                          method="POST", path="/v1/betaAppReviewSubmissions")
    assert "if_another_build_in_review" in (in_review.hint or "")
    state = api_error(409, {"errors": [{"status": "409", "code": "ENTITY_ERROR.STATE_INVALID", "title": "x",
                                        "detail": "Build B1 has expired"}]}, method="PATCH", path="/v1/builds/B1")
    assert "bump the build number" not in (state.hint or "") and AscErrorItem


def test_h7_a_file_that_fails_at_commit_is_reported_at_once(world: FlowWorld, tmp_path: Path) -> None:
    from publish.asc.client import AppStoreConnect
    from publish.errors import RemoteError
    from publish.secrets import normalize_private_key
    from publish.asc.auth import ApiKey
    from publish.upload.engine import BuildUploader

    junk = tmp_path / "junk.ipa"
    junk.write_bytes(b"not a zip at all" * 1000)
    key = ApiKey(key_id="FLOWKEY123", issuer_id="69a6de70-03db-47e3-e053-5b8c7c11a4d1",
                 private_key_pem=normalize_private_key(world.private_pem))
    client = AppStoreConnect(key, base_url=world.server.url, sleep=lambda s: None)
    uploader = BuildUploader(client, state_dir=tmp_path / "state", poll_interval=0.0, sleep=lambda s: None)
    with pytest.raises(RemoteError) as caught:
        uploader.upload(junk, app_id=world.app_id, bundle_id="com.example.flow", version="1.0.0", build_number="1")
    assert "ITMS-90023" in caught.value.message and "FAILED" in caught.value.message
    polls = [e for e in world.server.exchanges if e.method == "GET" and e.template == "/v1/buildUploads/{id}"]
    assert not polls  # no wait for processing: the commit's own answer said FAILED


def test_h2_a_not_ready_refusal_after_a_ready_beta_detail_is_waited_out(world: FlowWorld, monkeypatch) -> None:
    from publish.upload import lifecycle

    monkeypatch.setattr(lifecycle, "testflight_ready", lambda detail, **_: True)  # a detail that says ready early
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{INTERNAL}, {EXTERNAL}]\n")),
                    world.ipa("1"))
    assert out.code == 0, out.output
    assert [e for e in world.server.exchanges if e.status == 422]
    assert "accept the beta groups (the build is not ready for it yet)" in out.output
    [build] = world.records("builds")
    assert len(build.rels["betaGroups"]) == 2


def test_h3_other_build_in_review_found_without_the_review_state_filter(world: FlowWorld, monkeypatch) -> None:
    from publish.asc.client import AppStoreConnect
    from publish.asc.errors import api_error

    real = AppStoreConnect.paginate_documents

    def without_filter(self, path, params=None):  # type: ignore[no-untyped-def]
        if params and "filter[betaAppReviewSubmission.betaReviewState]" in params:
            raise api_error(400, {"errors": [{"status": "400", "code": "PARAMETER_ERROR.ILLEGAL", "title": "x",
                                              "detail": "not supported"}]}, method="GET", path=path)
        return real(self, path, params)

    monkeypatch.setattr(AppStoreConnect, "paginate_documents", without_filter)
    _other_build_in_review(world)
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n")), world.ipa("1"))
    assert out.code == 1 and "0.9.0 (7)" in out.stderr, out.output
    assert not world.records("buildUploads")


def test_a_wait_line_gives_the_time_left_when_the_count_would_be_in_thousands() -> None:
    from publish.upload.lifecycle import Waiting

    lines: list[str] = []
    now = [0.0]
    waiting = Waiting(timeout=3600, interval=0.01, clock=lambda: now[0], sleep=lambda s: None, report=lines.append)
    waiting.pause("finish processing the build", 1, 360000)
    waiting = Waiting(timeout=60, interval=5, clock=lambda: now[0], sleep=lambda s: None, report=lines.append)
    waiting.pause("finish processing the build", 2, 12)
    assert lines == ["waiting for App Store Connect to finish processing the build (1, at most 60 min more)",
                     "waiting for App Store Connect to finish processing the build (2/12)"]


def test_h3_a_dry_run_says_what_it_would_wait_for_and_does_not_wait(world: FlowWorld) -> None:
    other = _other_build_in_review(world)
    world.server.realism = replace(world.server.realism, in_motion_reads=10**6)  # that review never ends
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n"
                                     "  if_another_build_in_review: wait\n  processing_timeout: 1s\n")),
                    world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output  # a real run would time out after 1 s: a dry run does not wait at all
    assert "a run would wait here for the beta review of build 0.9.0 (7) to end" in out.output
    assert "finish the beta review" not in out.output
    assert not [e for e in world.server.exchanges if other in e.path + (e.query or "")]  # its review never polled
    assert not [e for e in world.server.exchanges if e.method != "GET"]


def test_h3_a_dry_run_says_it_would_expire_the_other_build_and_leaves_it(world: FlowWorld) -> None:
    other = _other_build_in_review(world)
    out = world.run(world.flow(_step(f"  what_to_test: Try it\n  groups: [{EXTERNAL}]\n"
                                     "  if_another_build_in_review: expire_other\n")), world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output
    assert "dry run: would expire build 0.9.0 (7), which was in beta review" in out.output
    assert world.server.store.require("builds", other).attributes["expired"] is False
