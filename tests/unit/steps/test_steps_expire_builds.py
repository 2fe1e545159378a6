"""expire_previous_builds on send_to_testflight at step level: which builds are expired (PATCH expired:true, which
Apple cannot undo), which are kept and why, and the refusals decided before the upload and before any expiry."""

from __future__ import annotations

import logging

import pytest

from publish.errors import InputError
from steps_fake_asc import echo, many, res

VERSIONS = "/v1/apps/APP1/appStoreVersions"
IN_BETA_REVIEW = {"filter[betaAppReviewSubmission.betaReviewState]": "WAITING_FOR_REVIEW,IN_REVIEW"}


def build(id_: str, number: str, state: str = "VALID", **attributes) -> dict:
    return res("builds", id_, **{"version": number, "processingState": state, "expired": False, **attributes})


def train_with_earlier_builds(world, *, upload: bool = False, versions=(), in_beta_review=()) -> None:
    world.app()
    shipped = [] if upload else [world.ready_build()["data"]]
    world.builds(*shipped, build("B46", "46"), build("B44", "44"), build("B43", "43.0"),
                 build("B42", "42", "PROCESSING"), build("BX", "x1"), build("B41", "41", expired=True))
    world.build_reads(world.ready_build())
    world.asc.on("GET", VERSIONS, many(*versions))
    world.asc.on("GET", "/v1/builds", many(*in_beta_review), where=IN_BETA_REVIEW)
    for id_ in ("B46", "B44", "B43"):
        world.asc.on("PATCH", f"/v1/builds/{id_}", echo())


def expired(world) -> list[str]:
    return [c.path.rsplit("/", 1)[1] for c in world.asc.sent("PATCH", "/v1/builds/") if c.attributes == {"expired": True}]


def test_true_expires_the_valid_lower_builds_and_says_why_the_others_stay(world, caplog) -> None:
    train_with_earlier_builds(world)
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"expire_previous_builds": True})

    assert expired(world) == ["B44", "B43"]
    assert outcome.outputs["expired_builds"] == ["1.2.0 (44)", "1.2.0 (43.0)"]
    assert outcome.message == "build 1.2.0 (45) is on TestFlight; expired 2 earlier build(s)"
    assert "keeping build 1.2.0 (46): its build number is higher than the one shipped" in caplog.messages
    assert "keeping build 1.2.0 (42): it is PROCESSING" in caplog.messages
    assert ("keeping build 1.2.0 (x1): its build number is not made of dotted integers, so it cannot be ranked"
            in caplog.messages)
    assert "expired build 1.2.0 (44) (id B44): it is no longer available in TestFlight" in caplog.messages


def test_a_number_keeps_the_newest_builds_counting_the_one_shipped(world) -> None:
    train_with_earlier_builds(world)
    world.run("send_to_testflight", {"expire_previous_builds": 2})
    assert expired(world) == ["B44", "B43"]  # 46 and the shipped 45 are the newest two

    world.asc.calls.clear()
    world.run("send_to_testflight", {"expire_previous_builds": 1})
    assert expired(world) == ["B46", "B44", "B43"]


def test_a_build_on_a_version_in_review_stops_the_step_before_the_upload(world) -> None:
    version = res("appStoreVersions", "V1", {"build": "B44"}, versionString="1.2.0", appVersionState="IN_REVIEW")
    train_with_earlier_builds(world, upload=True, versions=[version])

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {"expire_previous_builds": True})
    assert caught.value.message == (
        "expire_previous_builds (every earlier build of the version) would expire a build Apple is reviewing or has "
        "approved: 1.2.0 (44) is on App Store version 1.2.0 (IN_REVIEW). Nothing was expired")
    assert "expire_previous_builds: N" in caught.value.hint
    assert not world.uploader.uploads and world.asc.writes == []


def test_a_build_on_an_editable_version_is_kept(world, caplog) -> None:
    version = res("appStoreVersions", "V1", {"build": "B44"}, versionString="1.2.0",
                  appVersionState="PREPARE_FOR_SUBMISSION")
    train_with_earlier_builds(world, versions=[version])
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {"expire_previous_builds": True})

    assert expired(world) == ["B43"]
    assert ("keeping build 1.2.0 (44): it is attached to App Store version 1.2.0 (PREPARE_FOR_SUBMISSION)"
            in caplog.messages)


def test_a_build_in_beta_review_is_refused_unless_asked_for(world) -> None:
    train_with_earlier_builds(world, in_beta_review=[build("B43", "43.0")])

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {"expire_previous_builds": True})
    assert caught.value.message == ("expire_previous_builds (every earlier build of the version) would expire a build "
                                    "in TestFlight beta review: 1.2.0 (43.0). Nothing was expired")
    assert "expire_builds_in_beta_review: true" in caught.value.hint
    assert world.asc.writes == []

    world.run("send_to_testflight", {"expire_previous_builds": True, "expire_builds_in_beta_review": True})
    assert expired(world) == ["B44", "B43"]


def test_nothing_to_expire_is_said_and_nothing_is_written(world, caplog) -> None:
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"expire_previous_builds": True})

    assert world.asc.writes == [] and "expired_builds" in outcome.outputs
    assert "expire_previous_builds: no earlier build of version 1.2.0 to expire" in caplog.messages
