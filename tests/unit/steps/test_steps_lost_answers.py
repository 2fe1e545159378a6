"""Writes whose answer is lost (the request went out, nothing came back): a create is never blindly repeated -
App Store Connect is read first - and a state change is read back before it is sent again."""

from __future__ import annotations

import logging

import pytest

from publish.asc import AscAmbiguousWriteError
from publish.steps.appstore import SubmissionConflict
from steps_fake_asc import LOST, apple_error, echo, many, one, res

BUILD = "BUILD1"
VERSIONS = "/v1/apps/APP1/appStoreVersions"
DAN = res("betaTesters", "T-DAN", email="dan@example.com")


def tester_world(world) -> None:
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/individualTesters", None)


def test_a_lost_create_that_was_applied_is_found_and_not_sent_again(world, caplog) -> None:
    tester_world(world)
    world.asc.on("GET", "/v1/betaTesters", many(), many(DAN))  # absent before, there after the lost create
    create = world.asc.on("POST", "/v1/betaTesters", LOST)
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {"testers": ["dan@example.com"]})

    assert len(create.calls) == 1
    assert "tester dan@example.com: it had been applied; going on" in caplog.messages


def test_a_conflict_after_a_lost_create_is_that_create_and_is_looked_up(world) -> None:
    tester_world(world)
    world.asc.on("GET", "/v1/betaTesters", many(), many(), many(DAN))
    create = world.asc.on("POST", "/v1/betaTesters", LOST,
                          apple_error(409, "ENTITY_ERROR.DUPLICATE", "A tester with this email already exists"))

    world.run("send_to_testflight", {"testers": ["dan@example.com"]})
    assert len(create.calls) == 2  # sent again only after a look found nothing
    # the conflict is the lost create (made with the build): nothing left to link
    assert world.asc.sent("POST", f"/v1/builds/{BUILD}/relationships/individualTesters") == []


def test_the_last_lost_create_is_looked_up_too(world) -> None:
    tester_world(world)
    world.asc.on("GET", "/v1/betaTesters", many(), many(), many(), many(DAN))
    create = world.asc.on("POST", "/v1/betaTesters", LOST)

    world.run("send_to_testflight", {"testers": ["dan@example.com"]})
    assert len(create.calls) == 3


def test_creates_lost_every_time_and_never_found_say_so(world) -> None:
    tester_world(world)
    world.asc.on("GET", "/v1/betaTesters", many())
    create = world.asc.on("POST", "/v1/betaTesters", LOST)

    with pytest.raises(AscAmbiguousWriteError) as caught:
        world.run("send_to_testflight", {"testers": ["dan@example.com"]})
    assert "may or may not have applied it" in caught.value.message
    assert len(create.calls) == 3
    assert world.asc.sent("POST", f"/v1/builds/{BUILD}/relationships/individualTesters") == []


def store_world(world, *versions) -> None:
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.asc.on("GET", VERSIONS, many(*versions))
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionLocalizations",
                 many(res("appStoreVersionLocalizations", "L1", locale="en-US", whatsNew="Fixes")))
    world.asc.on("PATCH", "/v1/appStoreVersions/V1/relationships/build", None)
    world.asc.on("GET", "/v1/reviewSubmissions", many())
    world.asc.on("POST", "/v1/reviewSubmissions", echo("RS1", state="READY_FOR_REVIEW"))
    world.asc.on("POST", "/v1/reviewSubmissionItems", echo("RSI1"))
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(version(state="READY_FOR_REVIEW")))


def version(id_: str = "V1", state: str = "PREPARE_FOR_SUBMISSION", build: str | None = BUILD,
            string: str = "1.2.0") -> dict:
    return res("appStoreVersions", id_, {"build": build, "appStoreVersionPhasedRelease": None},
               versionString=string, appVersionState=state)


RELEASED = res("appStoreVersions", "V0", versionString="1.1.0", appVersionState="READY_FOR_DISTRIBUTION")


def test_a_lost_cancel_of_the_previous_draft_is_sent_again(world) -> None:
    store_world(world, version(), RELEASED)
    world.asc.on("GET", "/v1/reviewSubmissions", many(res("reviewSubmissions", "RS-OLD", {
        "appStoreVersionForReview": None, "items": ["X"]}, state="READY_FOR_REVIEW")))
    cancel = world.asc.on("PATCH", "/v1/reviewSubmissions/RS-OLD", LOST, echo(state="CANCELING"))
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", echo(state="WAITING_FOR_REVIEW"))

    world.run("send_to_app_store", {"stage_type": "app_store", "submit_for_review": True,
                                    "cancel_previous_submission": True})
    assert [c.attributes for c in cancel.calls] == [{"canceled": True}] * 2


def test_a_submit_lost_every_time_while_the_draft_still_reads_ready_is_reported_as_unknown(world) -> None:
    store_world(world, version(), RELEASED)
    submit = world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", LOST)
    world.asc.on("GET", "/v1/reviewSubmissions/RS1", one(res("reviewSubmissions", "RS1", state="READY_FOR_REVIEW")))

    with pytest.raises(AscAmbiguousWriteError):
        world.run("send_to_app_store", {"stage_type": "app_store", "submit_for_review": True})
    assert len(submit.calls) == 3  # each lost answer read back first; never more than three submits


def test_another_version_waiting_for_review_is_withdrawn_so_this_one_can_take_the_open_version(world, caplog) -> None:
    waiting = version("V9", "WAITING_FOR_REVIEW", build="OLD", string="1.1.9")
    store_world(world, waiting, RELEASED)
    # after the withdrawal the old version is editable again: App Store Connect keeps it as the open version
    world.asc.on("GET", VERSIONS, many(waiting, RELEASED),
                 many(version("V9", "DEVELOPER_REJECTED", build="OLD", string="1.1.9"), RELEASED))
    world.asc.on("GET", "/v1/reviewSubmissions", many(res("reviewSubmissions", "RS9", {
        "appStoreVersionForReview": "V9", "items": ["I9"]}, state="WAITING_FOR_REVIEW")),
        where={"filter[state]": "WAITING_FOR_REVIEW"})
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS9", echo(state="CANCELING"))
    world.asc.on("GET", "/v1/reviewSubmissions/RS9", one(res("reviewSubmissions", "RS9", state="COMPLETE")))
    rename = world.asc.on("PATCH", "/v1/appStoreVersions/V9", echo())
    world.asc.on("GET", "/v1/appStoreVersions/V9/build", one(res("builds", "OLD")))
    world.asc.on("PATCH", "/v1/appStoreVersions/V9/relationships/build", None)
    world.asc.on("GET", "/v1/appStoreVersions/V9/appStoreVersionLocalizations",
                 many(res("appStoreVersionLocalizations", "L9", locale="en-US", whatsNew="")))
    world.asc.on("PATCH", "/v1/appStoreVersionLocalizations/L9", echo())
    world.asc.on("GET", "/v1/appStoreVersions/V9", one(version("V9", "READY_FOR_REVIEW", string="1.2.0")))
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", echo(state="WAITING_FOR_REVIEW"))
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_app_store", {"stage_type": "app_store", "cancel_submission_in_review": True,
                                    "submit_for_review": True, "whats_new": "Fixes"})

    assert ("App Store version 1.1.9 is WAITING_FOR_REVIEW: it is withdrawn once this build is ready "
            "(cancel_submission_in_review: true)") in caplog.messages
    writes = [(c.method, c.path) for c in world.asc.writes]
    assert writes[:3] == [("PATCH", "/v1/reviewSubmissions/RS9"), ("PATCH", "/v1/appStoreVersions/V9"),
                          ("PATCH", "/v1/appStoreVersions/V9/relationships/build")]
    assert rename.calls[0].attributes == {"versionString": "1.2.0"}


def test_another_version_in_review_is_not_withdrawn_even_when_asked(world) -> None:
    store_world(world, version("V9", "IN_REVIEW", build="OLD", string="1.1.9"), RELEASED)
    with pytest.raises(SubmissionConflict) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store", "cancel_submission_in_review": True,
                                        "submit_for_review": True})
    assert "not withdrawn by this tool" in caught.value.hint
    assert world.asc.writes == []
