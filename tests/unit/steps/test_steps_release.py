"""The release step (protocol.md E4, E5): every refusal decided from the version's state before any write, an
action already done writes nothing, and a release request whose answer is lost is recognised, not repeated."""

from __future__ import annotations

import logging

import pytest

from publish.asc import AscAmbiguousWriteError
from publish.errors import InputError
from publish.steps.release import ReleaseRefused
from steps_fake_asc import LOST, apple_error, echo, many, one, res

VERSIONS = "/v1/apps/APP1/appStoreVersions"


def on_the_store(world, state: str, *, phased: str | None = None, string: str = "1.2") -> None:
    """App Store version 1.2 (Apple's form of the IPA's 1.2.0, H8) in `state`, with a phased release or none."""
    world.app()
    world.asc.on("GET", VERSIONS, many(res("appStoreVersions", "V1", versionString=string, appVersionState=state),
                                       res("appStoreVersions", "V0", versionString="1.1",
                                           appVersionState="REPLACED_WITH_NEW_VERSION")))
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionPhasedRelease",
                 one(res("appStoreVersionPhasedReleases", "PR1", phasedReleaseState=phased)) if phased
                 else apple_error(404, "NOT_FOUND", "no phased release"))


def test_release_puts_a_version_pending_developer_release_on_sale(world, caplog) -> None:
    on_the_store(world, "PENDING_DEVELOPER_RELEASE")
    request = world.asc.on("POST", "/v1/appStoreVersionReleaseRequests", echo("RR1"))
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(res("appStoreVersions", "V1",
                                                            appVersionState="READY_FOR_DISTRIBUTION")))
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("release", {})

    [call] = request.calls
    assert call.body["data"]["relationships"]["appStoreVersion"]["data"] == {"type": "appStoreVersions", "id": "V1"}
    assert outcome.message == "version 1.2 released (READY_FOR_DISTRIBUTION)"
    assert outcome.outputs == {"action": "release", "app_store_version_id": "V1",
                               "version_state": "READY_FOR_DISTRIBUTION", "phased_release_state": None,
                               "changed": True, "message": "version 1.2 released (READY_FOR_DISTRIBUTION)"}
    assert outcome.asc_ids == {"app_id": "APP1", "app_store_version_id": "V1"}
    assert world.store.get_binary(world.ipa.fingerprint)["remote"]["app_store_version_id"] == "V1"


def test_release_of_a_released_version_writes_nothing(world) -> None:
    on_the_store(world, "READY_FOR_DISTRIBUTION")
    outcome = world.run("release", {"action": "release"})
    assert world.asc.writes == []
    assert outcome.message == "version 1.2 is already released (READY_FOR_DISTRIBUTION); nothing to do"
    assert outcome.outputs["changed"] is False


@pytest.mark.parametrize(("state", "hint_part"), [
    ("WAITING_FOR_REVIEW", "--wait-until PENDING_DEVELOPER_RELEASE"),
    ("REJECTED", "Resolution Center"),
    ("PENDING_APPLE_RELEASE", "release type is SCHEDULED"),
    ("DEVELOPER_REMOVED_FROM_SALE", "only an approved version with release type MANUAL"),
])
def test_release_is_refused_before_any_write_with_what_to_do(world, state, hint_part) -> None:
    on_the_store(world, state)
    with pytest.raises(ReleaseRefused) as caught:
        world.run("release", {})
    assert caught.value.message == (f"version 1.2 is {state}; only a version in PENDING_DEVELOPER_RELEASE can be "
                                    "released")
    assert hint_part in caught.value.hint
    assert world.asc.writes == []


def test_a_lost_release_answer_is_read_back_and_a_release_that_went_through_is_recognised(world, caplog) -> None:
    on_the_store(world, "PENDING_DEVELOPER_RELEASE")
    request = world.asc.on("POST", "/v1/appStoreVersionReleaseRequests", LOST)
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(res("appStoreVersions", "V1",
                                                            appVersionState="PROCESSING_FOR_DISTRIBUTION")))
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("release", {})

    assert len(request.calls) == 1  # not repeated
    assert outcome.outputs["version_state"] == "PROCESSING_FOR_DISTRIBUTION"
    assert "the release request's answer was lost; version 1.2 reads as released" in caplog.messages


def test_a_lost_release_answer_with_the_version_still_pending_is_reported_as_unknown(world) -> None:
    on_the_store(world, "PENDING_DEVELOPER_RELEASE")
    world.asc.on("POST", "/v1/appStoreVersionReleaseRequests", LOST)
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(res("appStoreVersions", "V1",
                                                            appVersionState="PENDING_DEVELOPER_RELEASE")))
    with pytest.raises(AscAmbiguousWriteError):
        world.run("release", {})


@pytest.mark.parametrize(("action", "before", "after"), [
    ("pause", "ACTIVE", "PAUSED"), ("resume", "PAUSED", "ACTIVE"), ("complete", "PAUSED", "COMPLETE")])
def test_phased_release_actions_move_it_one_step(world, action, before, after) -> None:
    on_the_store(world, "READY_FOR_DISTRIBUTION", phased=before)
    patch = world.asc.on("PATCH", "/v1/appStoreVersionPhasedReleases/PR1", echo(currentDayNumber=3))

    outcome = world.run("release", {"action": action})

    assert [c.attributes for c in patch.calls] == [{"phasedReleaseState": after}]
    assert outcome.message == f"phased release of version 1.2: {before} -> {after}"
    assert outcome.outputs["phased_release_state"] == after


def test_a_phased_release_already_in_the_target_state_writes_nothing(world) -> None:
    on_the_store(world, "READY_FOR_DISTRIBUTION", phased="PAUSED")
    outcome = world.run("release", {"action": "pause"})
    assert world.asc.writes == [] and outcome.outputs["changed"] is False
    assert outcome.message == "the phased release of version 1.2 is already PAUSED; nothing to do"


@pytest.mark.parametrize(("state", "phased", "action", "said"), [
    ("READY_FOR_DISTRIBUTION", None, "pause", "version 1.2 has no phased release, so there is nothing to pause"),
    ("PENDING_DEVELOPER_RELEASE", "INACTIVE", "pause",
     "version 1.2 is PENDING_DEVELOPER_RELEASE; its phased release (INACTIVE) can only be changed once the version "
     "is released"),
    ("READY_FOR_DISTRIBUTION", "COMPLETE", "resume",
     "the phased release of version 1.2 is COMPLETE; it cannot be resumed (only from PAUSED)"),
])
def test_phased_release_actions_refused_by_state(world, state, phased, action, said) -> None:
    on_the_store(world, state, phased=phased)
    with pytest.raises(ReleaseRefused) as caught:
        world.run("release", {"action": action})
    assert caught.value.message == said
    assert world.asc.writes == []


def test_apples_refusal_of_a_phased_release_change_is_a_release_refusal(world) -> None:
    on_the_store(world, "READY_FOR_DISTRIBUTION", phased="ACTIVE")
    world.asc.on("PATCH", "/v1/appStoreVersionPhasedReleases/PR1",
                 apple_error(409, "STATE_ERROR", "Phased release cannot be paused on day 7"))
    with pytest.raises(ReleaseRefused) as caught:
        world.run("release", {"action": "pause"})
    assert caught.value.message == ("App Store Connect refused to pause the phased release of version 1.2: The "
                                    "request cannot be fulfilled. Phased release cannot be paused on day 7")


def test_a_version_app_store_connect_does_not_have_is_named_with_the_ones_it_has(world) -> None:
    on_the_store(world, "PREPARE_FOR_SUBMISSION", string="2.0")
    with pytest.raises(InputError) as caught:
        world.run("release", {})
    assert caught.value.message == ("App Store Connect has no IOS App Store version 1.2.0 (versions: 2.0 "
                                    "(PREPARE_FOR_SUBMISSION), 1.1 (REPLACED_WITH_NEW_VERSION))")


def test_an_unknown_action_is_refused_offline(world) -> None:
    with pytest.raises(InputError) as caught:
        world.check("release", {"action": "unpause"})
    assert caught.value.message == "release: action 'unpause' is not one of release, pause, resume, complete"
    assert world.asc.calls == []
