"""The App Store review submission (protocol.md E6, H1, H11) through send_to_app_store and submit_for_review:
drafts reused or refused, submissions in motion waited out, one WAITING_FOR_REVIEW withdrawn only when asked."""

from __future__ import annotations

import logging

import pytest

from publish.asc import AscApiError
from publish.errors import InputError, RemoteError
from publish.steps.appstore import SubmissionConflict
from steps_fake_asc import LOST, apple_error, echo, many, one, res

BUILD = "BUILD1"
VERSIONS = "/v1/apps/APP1/appStoreVersions"
RELEASED = res("appStoreVersions", "V0", versionString="1.1.0", appVersionState="READY_FOR_DISTRIBUTION")
SUBMIT = {"stage_type": "app_store", "submit_for_review": True}


def version(id_: str = "V1", state: str = "PREPARE_FOR_SUBMISSION", *, build: str | None = BUILD,
            string: str = "1.2.0") -> dict:
    return res("appStoreVersions", id_, {"build": build, "appStoreVersionPhasedRelease": None},
               versionString=string, appVersionState=state)


def submission(id_: str, state: str, *, holds: str | None = None, items: tuple[str, ...] = ()) -> dict:
    return res("reviewSubmissions", id_, {"appStoreVersionForReview": holds, "items": list(items)}, state=state,
               platform="IOS")


def ready_to_submit(world, *submissions: dict, versions: tuple[dict, ...] | None = None) -> None:
    """This build on editable version V1 with What's New everywhere; these review submissions exist."""
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.asc.on("GET", VERSIONS, many(*(versions or (version(), RELEASED))))
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionLocalizations",
                 many(res("appStoreVersionLocalizations", "L1", locale="en-US", whatsNew="Fixes")))
    world.asc.on("GET", "/v1/reviewSubmissions", many(*submissions))
    world.asc.on("POST", "/v1/reviewSubmissions", echo("RS1", state="READY_FOR_REVIEW"))
    world.asc.on("POST", "/v1/reviewSubmissionItems", echo("RSI1"))
    world.asc.on("PATCH", "/v1/appStoreVersions/V1/relationships/build", None)
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(version(state="READY_FOR_REVIEW")))
    for id_ in ("RS1", "RS7", "RS-DRAFT"):
        world.asc.on("PATCH", f"/v1/reviewSubmissions/{id_}", echo(state="WAITING_FOR_REVIEW"))


def written(world) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in world.asc.writes]


def test_a_submission_already_waiting_with_this_version_is_reported_not_repeated(world) -> None:
    ready_to_submit(world, submission("RS0", "WAITING_FOR_REVIEW", holds="V1"),
                    versions=(version(state="WAITING_FOR_REVIEW"), RELEASED))

    outcome = world.run("send_to_app_store", SUBMIT)

    assert world.asc.writes == []
    assert outcome.outputs["review_state"] == "WAITING_FOR_REVIEW"
    assert world.run_state.review_submission_id == "RS0"


@pytest.mark.parametrize(("state", "said", "hint_part"), [
    ("IN_REVIEW", "is in review", "not withdrawn by this tool"),
    ("WAITING_FOR_REVIEW", "is waiting for review", "cancel_submission_in_review: true"),
    ("UNRESOLVED_ISSUES", "has unresolved issues (Apple is waiting for your reply)", "resolve the issues"),
])
def test_another_open_submission_stops_the_step_with_what_to_do(world, state, said, hint_part) -> None:
    ready_to_submit(world, submission("RS9", state, holds="V9"))

    with pytest.raises(SubmissionConflict) as caught:
        world.run("send_to_app_store", SUBMIT)
    assert caught.value.message == (f"review submission RS9 {said}; App Store Connect allows one submission per "
                                    "platform at a time")
    assert hint_part in caught.value.hint
    assert world.asc.sent("POST", "/v1/reviewSubmissions") == []


def test_a_draft_holding_other_items_is_refused_unless_cancel_previous_submission(world) -> None:
    ready_to_submit(world, submission("RS-OLD", "READY_FOR_REVIEW", items=("ITEM-X",)))

    with pytest.raises(SubmissionConflict) as caught:
        world.run("send_to_app_store", SUBMIT)
    assert caught.value.message == ("draft review submission RS-OLD already holds other items (1); submitting would "
                                    "send them to review too")
    assert "cancel_previous_submission: true" in caught.value.hint

    world.asc.calls.clear()
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS-OLD", echo(state="CANCELING"))
    world.run("send_to_app_store", {**SUBMIT, "cancel_previous_submission": True})
    assert written(world) == [("PATCH", "/v1/reviewSubmissions/RS-OLD"), ("POST", "/v1/reviewSubmissions"),
                              ("POST", "/v1/reviewSubmissionItems"), ("PATCH", "/v1/reviewSubmissions/RS1")]
    assert world.asc.writes[0].attributes == {"canceled": True}


def test_an_empty_draft_is_reused_and_one_in_motion_is_passed_over(world, caplog) -> None:
    ready_to_submit(world, submission("RS-GOING", "CANCELING"), submission("RS-DRAFT", "READY_FOR_REVIEW"))
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_app_store", SUBMIT)

    assert written(world) == [("POST", "/v1/reviewSubmissionItems"), ("PATCH", "/v1/reviewSubmissions/RS-DRAFT")]
    assert "review submission RS-GOING is CANCELING (on its way out): not reused" in caplog.messages
    assert "reusing draft review submission RS-DRAFT" in caplog.messages


def test_a_draft_that_holds_this_version_is_submitted_without_a_new_item(world) -> None:
    ready_to_submit(world, submission("RS-DRAFT", "READY_FOR_REVIEW", holds="V1", items=("RSI0",)))
    world.run("send_to_app_store", SUBMIT)
    assert written(world) == [("PATCH", "/v1/reviewSubmissions/RS-DRAFT")]


def test_h11_a_create_refused_while_another_submission_settles_is_retried(world, caplog) -> None:
    ready_to_submit(world)
    still = apple_error(409, "STATE_ERROR", "reviewSubmission with id 'RS8' is still in progress")
    create = world.asc.on("POST", "/v1/reviewSubmissions", still, echo("RS1", state="READY_FOR_REVIEW"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS8", one(submission("RS8", "CANCELING")))
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_app_store", SUBMIT)

    assert len(create.calls) == 2 and world.clock.sleeps == [10.0]
    assert any(m.startswith("waiting for App Store Connect to settle the review submission still in progress")
               for m in caplog.messages)


def test_h11_a_refusal_about_an_open_submission_is_not_waited_for(world) -> None:
    ready_to_submit(world)
    world.asc.on("POST", "/v1/reviewSubmissions",
                 apple_error(409, "STATE_ERROR", "reviewSubmission with id 'RS8' is still in progress"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS8", one(submission("RS8", "READY_FOR_REVIEW")))

    with pytest.raises(AscApiError, match="still in progress"):
        world.run("send_to_app_store", SUBMIT)
    assert world.clock.sleeps == []


def test_h11_in_motion_for_longer_than_the_patience_is_a_remote_error_with_advice(world) -> None:
    ready_to_submit(world)
    world.asc.on("POST", "/v1/reviewSubmissions",
                 apple_error(409, "STATE_ERROR", "reviewSubmission with id 'RS8' is still in progress"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS8", apple_error(404, "NOT_FOUND", "gone"))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_app_store", SUBMIT)
    assert caught.value.message.startswith("a review submission is still in progress on App Store Connect after "
                                           "waiting: ")
    assert "run the flow again in a few minutes" in caught.value.hint
    assert len(world.clock.sleeps) == 12  # IN_MOTION_BUDGET 120 s at 10 s


def test_h11_an_item_already_in_another_open_draft_uses_that_draft(world, caplog) -> None:
    ready_to_submit(world)
    world.asc.on("POST", "/v1/reviewSubmissionItems", apple_error(
        409, "ENTITY_ERROR", "The appStoreVersion is already added to another reviewSubmission with id 'RS7'"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS7", one(submission("RS7", "READY_FOR_REVIEW", holds="V1")))
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_app_store", SUBMIT)

    assert ("PATCH", "/v1/reviewSubmissions/RS7") in written(world)
    assert "version is already in review submission RS7 (READY_FOR_REVIEW); using it" in caplog.messages
    assert outcome.asc_ids["review_submission_id"] == "RS7"


def test_h11_an_item_held_by_a_draft_on_its_way_out_is_added_once_that_settles(world) -> None:
    ready_to_submit(world)
    add = world.asc.on("POST", "/v1/reviewSubmissionItems", apple_error(
        409, "ENTITY_ERROR", "The appStoreVersion is already added to another reviewSubmission with id 'RS7'"),
        echo("RSI1"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS7", one(submission("RS7", "CANCELING")))

    world.run("send_to_app_store", SUBMIT)
    assert len(add.calls) == 2 and world.clock.sleeps == [10.0]


def test_a_lost_submit_answer_is_read_back_before_it_is_sent_again(world) -> None:
    ready_to_submit(world)
    submit = world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", LOST)
    world.asc.on("GET", "/v1/reviewSubmissions/RS1", one(submission("RS1", "WAITING_FOR_REVIEW", holds="V1")))

    outcome = world.run("send_to_app_store", SUBMIT)
    assert len(submit.calls) == 1
    assert outcome.outputs["review_state"] == "WAITING_FOR_REVIEW"


# ------------------------------------------------------------------------------------------ withdrawing (H11)


def test_cancel_submission_in_review_withdraws_the_waiting_one_then_submits(world, caplog) -> None:
    ready_to_submit(world, submission("RS9", "WAITING_FOR_REVIEW", holds="V9"))
    world.asc.on("GET", "/v1/appStoreVersions/V9", one(version("V9", "WAITING_FOR_REVIEW", string="1.1.9")))
    cancel = world.asc.on("PATCH", "/v1/reviewSubmissions/RS9", LOST, echo(state="CANCELING"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS9", one(submission("RS9", "WAITING_FOR_REVIEW")),
                 one(submission("RS9", "CANCELING")), one(submission("RS9", "COMPLETE")))
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_app_store", {**SUBMIT, "cancel_submission_in_review": True})

    # the lost cancel was read back (still WAITING_FOR_REVIEW) and sent once more; then CANCELING was waited out
    assert [c.attributes for c in cancel.calls] == [{"canceled": True}] * 2
    assert ("withdrew App Store version 1.1.9 from App Review: review submission RS9 was WAITING_FOR_REVIEW, now "
            "COMPLETE") in caplog.messages
    assert written(world)[-3:] == [("POST", "/v1/reviewSubmissions"), ("POST", "/v1/reviewSubmissionItems"),
                                   ("PATCH", "/v1/reviewSubmissions/RS1")]


def test_a_withdrawal_that_does_not_settle_says_it_was_done(world) -> None:
    ready_to_submit(world, submission("RS9", "WAITING_FOR_REVIEW", holds="V9"))
    world.asc.on("GET", "/v1/appStoreVersions/V9", one(version("V9", "WAITING_FOR_REVIEW", string="1.1.9")))
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS9", echo(state="CANCELING"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS9", one(submission("RS9", "CANCELING")))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_app_store", {**SUBMIT, "cancel_submission_in_review": True})
    assert caught.value.message == ("App Store version 1.1.9 was withdrawn from App Review (review submission RS9), "
                                    "but App Store Connect is still cancelling it after waiting")
    assert "the withdrawal is done" in caught.value.hint
    assert world.asc.sent("POST", "/v1/reviewSubmissions") == []


def test_this_version_waiting_with_another_build_is_withdrawn_after_the_new_build_is_ready(world) -> None:
    ready_to_submit(world, versions=(version(state="WAITING_FOR_REVIEW", build="OLD"), RELEASED))
    world.asc.on("GET", VERSIONS, many(version(state="WAITING_FOR_REVIEW", build="OLD"), RELEASED),
                 many(version(state="DEVELOPER_REJECTED", build="OLD"), RELEASED))
    world.asc.on("GET", "/v1/reviewSubmissions", many(submission("RS1", "WAITING_FOR_REVIEW", holds="V1")),
                 where={"filter[state]": "WAITING_FOR_REVIEW"})
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS9", echo())
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", echo(state="CANCELING"), echo(state="WAITING_FOR_REVIEW"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS1", one(submission("RS1", "COMPLETE")))

    world.run("send_to_app_store", {**SUBMIT, "cancel_submission_in_review": True})

    assert written(world) == [("PATCH", "/v1/reviewSubmissions/RS1"),  # withdrawn
                              ("PATCH", "/v1/appStoreVersions/V1/relationships/build"),  # the new build
                              ("POST", "/v1/reviewSubmissions"), ("POST", "/v1/reviewSubmissionItems"),
                              ("PATCH", "/v1/reviewSubmissions/RS1")]
    assert world.asc.writes[0].attributes == {"canceled": True}
    assert world.asc.writes[1].body["data"] == {"type": "builds", "id": BUILD}


# ------------------------------------------------------------------------------------------ submit_for_review step


def test_submit_for_review_submits_the_version_that_holds_this_build(world) -> None:
    ready_to_submit(world)
    outcome = world.run("submit_for_review", {})
    assert outcome.message == "version 1.2.0 submitted for review (WAITING_FOR_REVIEW)"
    assert outcome.outputs == {"review_state": "WAITING_FOR_REVIEW"}
    assert world.store.get_binary(world.ipa.fingerprint)["remote"]["review_submission_id"] == "RS1"


def test_submit_for_review_uses_the_build_id_an_earlier_run_recorded(world) -> None:
    ready_to_submit(world)
    world.store.record_binary(world.ipa.to_json())
    world.store.update_remote(world.ipa.fingerprint, build_id=BUILD)
    world.run("submit_for_review", {})
    assert world.asc.sent("GET", "/v1/preReleaseVersions") == []  # not looked up again


def test_submit_for_review_reads_the_attached_build_when_the_listing_does_not_say(world) -> None:
    unknown = res("appStoreVersions", "V1", versionString="1.2.0", appVersionState="PREPARE_FOR_SUBMISSION")
    ready_to_submit(world, versions=(unknown, RELEASED))
    world.asc.on("GET", "/v1/appStoreVersions/V1/build", one(res("builds", BUILD)))
    world.run("submit_for_review", {})
    assert len(world.asc.sent("GET", "/v1/appStoreVersions/V1/build")) == 1


def test_submit_for_review_without_the_build_says_to_add_send_to_app_store(world) -> None:
    world.app()
    world.builds()
    with pytest.raises(InputError) as caught:
        world.run("submit_for_review", {})
    assert caught.value.message == "build 1.2.0 (45) is not in App Store Connect, so there is nothing to submit"
    assert "add a send_to_app_store step" in caught.value.hint


@pytest.mark.parametrize(("versions", "said"), [
    ((RELEASED,), "App Store version 1.2.0 does not exist"),
    ((version(build="OLD"), RELEASED), "App Store version 1.2.0 holds build id OLD, not 1.2.0 (45)"),
    ((version(build=None), RELEASED), "App Store version 1.2.0 has no build, not 1.2.0 (45)"),
])
def test_submit_for_review_refuses_a_version_that_does_not_hold_this_build(world, versions, said) -> None:
    ready_to_submit(world, versions=versions)
    with pytest.raises(InputError) as caught:
        world.run("submit_for_review", {})
    assert caught.value.message == said
    assert "run send_to_app_store with stage_type: app_store" in caught.value.hint
    assert world.asc.writes == []
