"""send_to_app_store with stage_type: app_store: the version found, renamed or created, the build attached,
release type (H16), What's New (H6, H12), phased release, and the review submission (H1 ready for review, H11 in
motion), each refusal decided before the writes it would spoil."""

from __future__ import annotations

import logging

import pytest

from publish.errors import InputError, RemoteError
from publish.steps.appstore import SubmissionConflict
from steps_fake_asc import apple_error, echo, many, one, res

BUILD = "BUILD1"
VERSIONS = "/v1/apps/APP1/appStoreVersions"
RELEASED = res("appStoreVersions", "V0", versionString="1.1.0", appVersionState="READY_FOR_DISTRIBUTION")


def version(id_: str = "V1", state: str = "PREPARE_FOR_SUBMISSION", *, build: str | None = None,
            string: str = "1.2.0", **attributes) -> dict:
    return res("appStoreVersions", id_, {"build": build, "appStoreVersionPhasedRelease": None},
               versionString=string, appVersionState=state, **attributes)


def store_world(world, *versions: dict, localizations=("en-US",), upload: bool = False) -> None:
    """The app, this binary's processed build, the app's App Store versions and the version's localizations."""
    world.app()
    if upload:
        world.builds()
    else:
        world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.asc.on("GET", VERSIONS, many(*versions))
    world.asc.on("PATCH", "/v1/appStoreVersions/V1/relationships/build", None)
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionLocalizations",
                 many(*[res("appStoreVersionLocalizations", f"L-{loc}", locale=loc, whatsNew="")
                        for loc in localizations]))
    for loc in localizations:
        world.asc.on("PATCH", f"/v1/appStoreVersionLocalizations/L-{loc}", echo())


def review_world(world, *, ready_after: int = 0) -> None:
    """No review submission yet; the version turns READY_FOR_REVIEW after `ready_after` more looks (H1)."""
    world.asc.on("GET", "/v1/reviewSubmissions", many())
    world.asc.on("POST", "/v1/reviewSubmissions", echo("RS1", state="READY_FOR_REVIEW"))
    world.asc.on("POST", "/v1/reviewSubmissionItems", echo("RSI1"))
    world.asc.on("GET", "/v1/appStoreVersions/V1", *[one(version())] * ready_after,
                 one(version(state="READY_FOR_REVIEW")))
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", echo(state="WAITING_FOR_REVIEW"))


def written(world) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in world.asc.writes]


def test_the_whole_app_store_path_in_apples_order(world, caplog) -> None:
    store_world(world, version(), RELEASED, localizations=("en-US", "de-DE"))
    world.asc.on("PATCH", "/v1/appStoreVersions/V1", echo())
    world.asc.on("POST", "/v1/appStoreVersionPhasedReleases", echo("PR1"))
    review_world(world, ready_after=2)
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_app_store", {
        "stage_type": "app_store", "whats_new": "Bug fixes", "release_type": "after_approval",
        "phased_release": True, "submit_for_review": True})

    assert written(world) == [
        ("PATCH", "/v1/appStoreVersions/V1/relationships/build"),
        ("PATCH", "/v1/appStoreVersions/V1"),  # releaseType before the localizations (H16)
        ("PATCH", "/v1/appStoreVersionLocalizations/L-en-US"),  # plain text: every locale (H12)
        ("PATCH", "/v1/appStoreVersionLocalizations/L-de-DE"),
        ("POST", "/v1/appStoreVersionPhasedReleases"),
        ("POST", "/v1/reviewSubmissions"),
        ("POST", "/v1/reviewSubmissionItems"),
        ("PATCH", "/v1/reviewSubmissions/RS1"),
    ]
    assert world.asc.writes[1].attributes == {"releaseType": "AFTER_APPROVAL"}
    assert world.asc.writes[2].attributes == {"whatsNew": "Bug fixes"}
    assert world.asc.writes[4].attributes == {"phasedReleaseState": "INACTIVE"}
    assert world.asc.writes[-1].attributes == {"submitted": True}
    # H1: the version is polled until READY_FOR_REVIEW before the submit
    assert world.clock.sleeps == [10.0, 10.0]
    assert ("waiting for App Store Connect to make version 1.2.0 ready for review (1/15, at most 2 min 30 s): it is "
            "PREPARE_FOR_SUBMISSION") in caplog.messages
    assert outcome.message == ("build 1.2.0 (45) is on App Store version 1.2.0; submitted for review "
                               "(WAITING_FOR_REVIEW)")
    assert outcome.asc_ids["app_store_version_id"] == "V1"
    assert outcome.asc_ids["review_submission_id"] == "RS1"
    assert world.store.get_binary(world.ipa.fingerprint)["remote"]["review_submission_id"] == "RS1"


def test_h1_a_submit_refused_as_not_ready_is_retried_until_accepted(world) -> None:
    store_world(world, version(build=BUILD), RELEASED)
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionLocalizations",
                 many(res("appStoreVersionLocalizations", "L-en-US", locale="en-US", whatsNew="Fixes")))
    review_world(world)
    not_ready = apple_error(409, "STATE_ERROR", "Version is not ready to be submitted yet, please try again later")
    submit = world.asc.on("PATCH", "/v1/reviewSubmissions/RS1", not_ready, echo(state="WAITING_FOR_REVIEW"))

    world.run("send_to_app_store", {"stage_type": "app_store", "submit_for_review": True})

    assert len(submit.calls) == 2 and world.clock.sleeps == [10.0]


def test_h1_a_version_that_never_gets_ready_gives_up_with_advice(world) -> None:
    store_world(world, version(build=BUILD), RELEASED)
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionLocalizations",
                 many(res("appStoreVersionLocalizations", "L-en-US", locale="en-US", whatsNew="Fixes")))
    review_world(world, ready_after=10_000)
    world.asc.on("PATCH", "/v1/reviewSubmissions/RS1",
                 apple_error(409, "STATE_ERROR", "Version is not ready to be submitted yet, please try again later"))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store", "submit_for_review": True,
                                        "processing_timeout": "10m"})
    assert caught.value.message.startswith("App Store version 1.2.0 did not become ready for review after it was "
                                           "added to review submission RS1")
    assert "the version stays in that draft submission" in caught.value.hint
    assert sum(world.clock.sleeps) <= 600  # within the step's timeout


def test_a_missing_version_is_created_and_an_open_one_renamed_instead(world) -> None:
    store_world(world, RELEASED)
    create = world.asc.on("POST", "/v1/appStoreVersions", echo("V1"))
    world.run("send_to_app_store", {"stage_type": "app_store", "release_type": "manual"})
    [call] = create.calls
    assert call.attributes == {"platform": "IOS", "versionString": "1.2.0", "releaseType": "MANUAL"}
    assert ("PATCH", "/v1/appStoreVersions/V1/relationships/build") in written(world)


def test_an_open_version_with_another_number_is_renamed_not_duplicated(world, caplog) -> None:
    store_world(world, version(string="1.1.5"), RELEASED)
    rename = world.asc.on("PATCH", "/v1/appStoreVersions/V1", echo())
    world.asc.on("GET", "/v1/appStoreVersions/V1/build", {"data": None})
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_app_store", {"stage_type": "app_store"})

    assert [c.attributes for c in rename.calls] == [{"versionString": "1.2.0"}]
    assert world.asc.sent("POST", "/v1/appStoreVersions") == []
    assert "renamed the open App Store version 1.1.5 to 1.2.0 (id V1)" in caplog.messages


@pytest.mark.parametrize(("state", "hint_part"), [
    ("WAITING_FOR_REVIEW", "cancel_submission_in_review: true"),
    ("IN_REVIEW", "not withdrawn by this tool"),
])
def test_a_version_in_review_with_another_build_is_refused_before_the_upload(world, state, hint_part) -> None:
    store_world(world, version(state=state, build="OLD"), upload=True)

    with pytest.raises(SubmissionConflict) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store", "submit_for_review": True})
    assert caught.value.message == (f"App Store version 1.2.0 is {state} with another build (id OLD); it cannot "
                                    "take this one now")
    assert hint_part in caught.value.hint
    assert not world.uploader.uploads and world.asc.writes == []


def test_a_released_version_cannot_take_another_build(world) -> None:
    store_world(world, version(state="READY_FOR_DISTRIBUTION", build="OLD"), upload=True)
    with pytest.raises(InputError) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store"})
    assert caught.value.message == ("App Store version 1.2.0 is already READY_FOR_DISTRIBUTION; a released or "
                                    "approved version cannot take another build")
    assert "increase CFBundleShortVersionString" in caught.value.hint
    assert not world.uploader.uploads


def test_another_version_in_review_blocks_creating_this_one(world) -> None:
    store_world(world, version("V9", "IN_REVIEW", string="1.1.9"), RELEASED, upload=True)
    with pytest.raises(SubmissionConflict) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store"})
    assert caught.value.message == ("App Store version 1.1.9 is IN_REVIEW; App Store Connect keeps one version per "
                                    "platform in flight, so version 1.2.0 cannot be created now")
    assert not world.uploader.uploads


def test_a_version_already_in_review_with_this_build_changes_nothing(world, caplog) -> None:
    store_world(world, version(state="WAITING_FOR_REVIEW", build=BUILD))
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_app_store", {"stage_type": "app_store", "whats_new": "x"})

    assert world.asc.writes == []
    assert "App Store version 1.2.0 is already WAITING_FOR_REVIEW with this build; nothing to change" in caplog.messages
    assert outcome.message == "build 1.2.0 (45) is on App Store version 1.2.0"


# ------------------------------------------------------------------------------------------ H16 release type


LOCKED = apple_error(409, "ENTITY_ERROR.ATTRIBUTE.INVALID",
                     "The attribute 'releaseType' can't be modified at this time. Please try again later.")


def test_h16_a_locked_release_type_is_waited_out(world) -> None:
    store_world(world, version(build=BUILD), RELEASED)
    patch = world.asc.on("PATCH", "/v1/appStoreVersions/V1", LOCKED, echo())
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(version(build=BUILD, releaseType="MANUAL")))

    world.run("send_to_app_store", {"stage_type": "app_store", "release_type": "after_approval"})

    assert len(patch.calls) == 2 and world.clock.sleeps == [10.0]


def test_h16_a_release_type_that_stays_locked_gives_up_with_advice(world) -> None:
    store_world(world, version(build=BUILD), RELEASED)
    world.asc.on("PATCH", "/v1/appStoreVersions/V1", LOCKED)
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(version(build=BUILD, releaseType="MANUAL")))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store", "release_type": "after_approval"})
    assert caught.value.message.startswith("App Store Connect still refuses to change the release type of version "
                                           "1.2.0: ")
    assert "App Store > Version Release" in caught.value.hint
    assert len(world.clock.sleeps) == 12  # 120 s of patience at the 10 s poll interval


def test_h16_a_release_type_already_set_is_not_written(world) -> None:
    store_world(world, version(build=BUILD, releaseType="AFTER_APPROVAL"), RELEASED)
    world.run("send_to_app_store", {"stage_type": "app_store", "release_type": "after_approval"})
    assert world.asc.writes == []


# ------------------------------------------------------------------------------------------ What's New (H6, H12)


def test_h6_whats_new_on_a_first_release_is_left_out_with_a_warning(world) -> None:
    store_world(world, version(build=BUILD))  # no version was ever on the store
    world.run("send_to_app_store", {"stage_type": "app_store", "whats_new": "First!"})
    assert world.asc.writes == []
    assert world.warnings and world.warnings[0].startswith(
        "What's New left out: version 1.2.0 is the app's first App Store release on IOS")


def test_h6_apples_own_first_release_refusal_is_taken_as_a_warning(world) -> None:
    store_world(world, version(build=BUILD), RELEASED)
    world.asc.on("PATCH", "/v1/appStoreVersionLocalizations/L-en-US",
                 apple_error(409, "ENTITY_ERROR.ATTRIBUTE.INVALID", "Attribute 'whatsNew' cannot be edited at this time",
                             pointer="/data/attributes/whatsNew"))
    world.run("send_to_app_store", {"stage_type": "app_store", "whats_new": "Fixes"})
    assert "(App Store Connect: " in world.warnings[0]


def test_h12_a_locale_the_store_page_lacks_is_refused_unless_added_on_purpose(world) -> None:
    store_world(world, version(build=BUILD), RELEASED)
    world.asc.on("GET", "/v1/appStoreVersions/V0/appStoreVersionLocalizations",
                 many(res("appStoreVersionLocalizations", "L0", locale="en-US")))
    notes = {"stage_type": "app_store", "whats_new": {"en-US": "Fixes", "ja": "修正"}}

    with pytest.raises(InputError) as caught:
        world.run("send_to_app_store", notes)
    assert caught.value.message.startswith("whats_new: App Store version 1.2.0 has no ja localization (the store "
                                           "page's languages: en-US)")
    assert "add_missing_locales: true" in caught.value.hint
    assert written(world) == []  # the build was attached already: no localization was written

    world.asc.calls.clear()
    create = world.asc.on("POST", "/v1/appStoreVersionLocalizations", echo("L-ja"))
    world.run("send_to_app_store", {**notes, "add_missing_locales": True})
    assert [c.attributes for c in create.calls] == [{"locale": "ja", "whatsNew": "修正"}]
    assert world.warnings[-1] == ("added ja to App Store version 1.2.0 (add_missing_locales: true): the app's store "
                                  "page now lists that language")


def test_h12_submitting_an_update_without_whats_new_in_every_locale_is_refused_before_writing(world) -> None:
    store_world(world, version(build=BUILD), RELEASED, localizations=("en-US", "de-DE"))
    with pytest.raises(InputError) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store", "whats_new": {"en-US": "Fixes"},
                                        "submit_for_review": True})
    assert caught.value.message == ("App Store version 1.2.0 has no What's New in de-DE; App Store Connect refuses "
                                    "to take an update for review unless every locale of the version has it")
    assert world.asc.sent("PATCH", "/v1/appStoreVersionLocalizations/") == []
    assert world.asc.sent("POST", "/v1/reviewSubmissions") == []


def test_h12_without_submission_a_locale_left_empty_is_a_warning(world) -> None:
    store_world(world, version(build=BUILD), RELEASED, localizations=("en-US", "de-DE"))
    world.run("send_to_app_store", {"stage_type": "app_store", "whats_new": {"en-US": "Fixes"}})
    assert world.warnings == ["App Store version 1.2.0 has no What's New in de-DE; App Store Connect refuses to take "
                              "an update for review unless every locale of the version has it; add it before "
                              "submitting"]


# ------------------------------------------------------------------------------------------ phased release


def with_phased(world, state: str) -> None:
    v = version(build=BUILD)
    v["relationships"]["appStoreVersionPhasedRelease"] = {"data": {"type": "appStoreVersionPhasedReleases",
                                                                   "id": "PR1"}}
    store_world(world, v, RELEASED)
    world.asc.on("GET", VERSIONS, many(v, RELEASED, included=[
        res("appStoreVersionPhasedReleases", "PR1", phasedReleaseState=state)]))


def test_phased_release_off_deletes_one_that_has_not_started(world) -> None:
    with_phased(world, "INACTIVE")
    world.asc.on("DELETE", "/v1/appStoreVersionPhasedReleases/PR1", None)
    world.run("send_to_app_store", {"stage_type": "app_store", "phased_release": False})
    assert written(world) == [("DELETE", "/v1/appStoreVersionPhasedReleases/PR1")]


def test_phased_release_off_refuses_one_that_is_running(world) -> None:
    with_phased(world, "ACTIVE")
    with pytest.raises(InputError) as caught:
        world.run("send_to_app_store", {"stage_type": "app_store", "phased_release": False})
    assert caught.value.message == "phased release of version 1.2.0 is already ACTIVE and cannot be removed"
    assert world.asc.writes == []


def test_phased_release_on_when_there_is_one_writes_nothing(world) -> None:
    with_phased(world, "INACTIVE")
    world.run("send_to_app_store", {"stage_type": "app_store", "phased_release": True})
    assert world.asc.writes == []
