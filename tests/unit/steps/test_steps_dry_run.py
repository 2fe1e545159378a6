"""Steps in a dry run: nothing is written to App Store Connect or the state store, and each step says what it
would do. (Issue 14 turns dry run into a transport that records calls; these tests are the ones to adapt then.)"""

from __future__ import annotations

import logging



def test_a_dry_run_marks_nothing(world) -> None:
    world.dry_run = True
    outcome = world.run("mark_as_rc", {})

    assert outcome.message == "dry run: would mark 1.2.0 (45) as a release candidate"
    assert world.store.get_binary(world.ipa.fingerprint) is None


def test_release_in_a_dry_run_without_the_app_says_what_it_would_do(world) -> None:
    world.dry_run = True
    outcome = world.run("release", {"action": "pause"})
    assert outcome.message == "dry run: would pause version 1.2.0"
    assert world.asc.calls == []


def test_send_to_testflight_in_a_dry_run_sends_nothing_and_says_what_it_would_send(world, caplog) -> None:
    world.dry_run = True
    caplog.set_level(logging.INFO)

    outcome = world.run("send_to_testflight", {"groups": ["Beta"], "testers": ["ann@example.com"],
                                               "what_to_test": "Try it", "expire_previous_builds": True})

    assert world.asc.calls == []
    assert world.store.get_binary(world.ipa.fingerprint) is None
    assert outcome.message.startswith("build 1.2.0 (45) is on TestFlight; groups: Beta; 1 tester(s)")
    would = [m for m in caplog.messages if m.startswith("dry run: would") and not m.startswith("dry run: would GET")]
    assert [m.split(" {")[0] for m in would[:3]] == ["dry run: would POST /v1/buildUploads",
                                                     "dry run: would POST /v1/buildUploadFiles",
                                                     "dry run: would PUT the 1.2 KiB IPA in parts to the presigned "
                                                     "URLs App Store Connect returns"]
    assert "dry run: group names are not checked (nothing is read from App Store Connect)" in caplog.messages
    assert any(m.startswith("dry run: would POST /v1/betaAppReviewSubmissions") for m in would)
    assert ("dry run: would expire every earlier build of the version, except build 1.2.0 (45) (the builds are not "
            "read in a dry run)") in caplog.messages


def test_send_to_app_store_in_a_dry_run_walks_the_whole_path_without_a_call(world, caplog) -> None:
    world.dry_run = True
    caplog.set_level(logging.INFO)

    outcome = world.run("send_to_app_store", {"stage_type": "app_store", "whats_new": "Fixes",
                                              "phased_release": True, "submit_for_review": True})

    assert world.asc.calls == []
    would = [m.split(" {")[0] for m in caplog.messages if m.startswith("dry run: would")]
    assert "dry run: would POST /v1/appStoreVersions" in would
    assert "dry run: would POST /v1/appStoreVersionPhasedReleases" in would
    assert any(w.startswith("dry run: would PATCH /v1/reviewSubmissions/dry-run-reviewSubmissions-") for w in would)
    assert ("dry run: would write What's New (every locale of the version), or leave it out on the app's first App "
            "Store release") in caplog.messages
    assert outcome.message.endswith("submitted for review (WAITING_FOR_REVIEW)")


def test_submit_for_review_in_a_dry_run_says_what_it_would_submit(world) -> None:
    world.dry_run = True
    outcome = world.run("submit_for_review", {})
    assert outcome.message == "dry run: would submit App Store version 1.2.0 for review"
    assert world.asc.calls == []
