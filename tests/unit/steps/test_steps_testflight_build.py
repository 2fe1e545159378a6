"""send_to_testflight, the build part: reuse or upload, then the step-level processing wait (bounded by
processing_timeout, paced by the poll interval, on the injected clock), and what each refusal says."""

from __future__ import annotations

import logging

import pytest

from publish.errors import InputError, RemoteError
from steps_fake_asc import apple_error, many, one, res

BUILD = "BUILD1"


def processing(world, state: str = "PROCESSING") -> dict:
    return one(res("builds", BUILD, version=world.ipa.build_number, processingState=state,
                   usesNonExemptEncryption=False))


def test_the_step_waits_for_a_processing_build_poll_by_poll_until_it_is_valid(world, caplog) -> None:
    world.app()
    world.builds(processing(world)["data"])
    world.build_reads(processing(world), processing(world), world.ready_build())
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"processing_timeout": "10m"})

    assert outcome.message == "build 1.2.0 (45) is on TestFlight"
    assert outcome.outputs["processing_state"] == "VALID"
    assert world.clock.sleeps == [10.0, 10.0]  # two polls at the poll interval, on the injected clock
    polls = [m for m in caplog.messages if m.startswith("waiting for App Store Connect to finish processing")]
    assert polls == ["waiting for App Store Connect to finish processing the build (1/60)",
                     "waiting for App Store Connect to finish processing the build (2/60)"]
    assert "build 1.2.0 (45) is processed (VALID)" in caplog.messages
    assert world.store.get_binary(world.ipa.fingerprint)["remote"]["processing_state"] == "VALID"
    assert not world.uploader.uploads  # the build App Store Connect had was reused


def test_the_processing_wait_ends_at_processing_timeout_with_advice(world) -> None:
    world.app()
    world.builds(processing(world)["data"])
    world.build_reads(processing(world))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {"processing_timeout": "30s"})

    assert caught.value.message == "build 1.2.0 (45) (id BUILD1) is still PROCESSING after 30 s"
    assert "raise processing_timeout" in caught.value.hint and "reused, not re-uploaded" in caught.value.hint
    assert world.clock.sleeps == [10.0, 10.0, 10.0]
    assert world.asc.writes == []


def test_a_build_apple_could_not_process_fails_the_step_with_apples_advice(world) -> None:
    world.app()
    world.builds(processing(world)["data"])
    world.build_reads(processing(world), processing(world, "INVALID"))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {})

    assert caught.value.message == ("App Store Connect could not process build 1.2.0 (45) (id BUILD1): its state is "
                                    "INVALID")
    assert "increase the build number" in caught.value.hint
    assert world.store.get_binary(world.ipa.fingerprint)["remote"]["processing_state"] == "INVALID"


def test_without_waiting_for_processing_the_step_leaves_the_build_processing(world) -> None:
    world.app()
    world.builds(processing(world)["data"])

    outcome = world.run("send_to_testflight", {"wait_for_processing": False})

    assert outcome.message == ("build 1.2.0 (45) is PROCESSING; TestFlight settings not applied "
                               "(wait_for_processing is false)")
    assert world.clock.sleeps == []
    assert world.asc.sent("GET", f"/v1/builds/{BUILD}") == []  # not a single poll


def test_a_new_build_is_uploaded_then_read_and_waited_for(world) -> None:
    world.app()
    world.builds()  # the version has no train yet: nothing to reuse
    world.build_reads(processing(world), world.ready_build())
    world.asc.on("GET", f"/v1/builds/{BUILD}/buildBetaDetail", one(res("buildBetaDetails", "BBD1",
                                                                      autoNotifyEnabled=True)))

    outcome = world.run("send_to_testflight", {})

    [upload] = world.uploader.uploads
    assert upload == {"path": "/builds/Steps.ipa", "app_id": "APP1", "bundle_id": "com.example.steps",
                      "version": "1.2.0", "build_number": "45", "platform": "IOS", "wait_for_processing": True,
                      "uti": None}
    assert outcome.asc_ids == {"app_id": "APP1", "build_id": BUILD, "upload_id": "UPLOAD1"}
    # read once after the upload (PROCESSING), then polled until VALID - at once here, so no sleep
    assert [c.query.get("include") is not None for c in world.asc.sent("GET", f"/v1/builds/{BUILD}")] == [True, False]
    assert world.clock.sleeps == []
    remote = world.store.get_binary(world.ipa.fingerprint)["remote"]
    assert remote["upload_id"] == "UPLOAD1" and remote["build_id"] == BUILD


def test_an_upload_left_processing_returns_without_a_build(world) -> None:
    world.app()
    world.builds()
    world.uploader.answer.build_id = None

    outcome = world.run("send_to_testflight", {"wait_for_processing": False})

    assert outcome.message == "uploaded 1.2.0 (45); App Store Connect is still processing it"
    assert outcome.asc_ids == {"app_id": "APP1", "upload_id": "UPLOAD1"}
    assert world.uploader.uploads[0]["wait_for_processing"] is False


def test_an_upload_that_reports_no_build_while_waiting_is_a_remote_error(world) -> None:
    world.app()
    world.builds()
    world.uploader.answer.build_id = None

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {})
    assert caught.value.message == "upload UPLOAD1 finished but App Store Connect reported no build for it"
    assert "looked up before anything is uploaded again" in caught.value.hint


def test_an_upload_whose_build_cannot_be_read_is_a_remote_error(world) -> None:
    world.app()
    world.builds()
    world.build_reads(apple_error(404, "NOT_FOUND", "There is no resource of type 'builds' with id 'BUILD1'"))

    with pytest.raises(RemoteError, match="reported build BUILD1 for upload UPLOAD1 but has no such build"):
        world.run("send_to_testflight", {})


def test_a_build_number_apple_already_marked_invalid_cannot_be_uploaded_again(world) -> None:
    world.app()
    world.builds(processing(world, "INVALID")["data"])

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {})
    assert caught.value.message == ("build 1.2.0 (45) was already uploaded and App Store Connect marked it INVALID; "
                                    "a build number cannot be uploaded twice")
    assert "increase CFBundleVersion" in caught.value.hint
    assert "rebuild the IPA and run again" in caught.value.hint
    assert not world.uploader.uploads


def test_the_hint_for_a_used_build_number_names_the_package_for_a_package(world, tmp_path) -> None:
    from publish.ipa.binary import inspect_binary
    from publish.sandbox.sample_pkg import build_pkg

    world.ipa = inspect_binary(build_pkg(tmp_path / "Steps.pkg", bundle_id=world.ipa.bundle_id, version="1.2.0",
                                         build_number="45"))
    world.app()
    world.builds(processing(world, "INVALID")["data"])

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {})
    assert "rebuild the package and run again" in caught.value.hint
    assert "IPA" not in caught.value.hint
    assert not world.uploader.uploads


def test_an_expired_build_with_the_same_number_is_named_as_expired(world) -> None:
    world.app()
    world.builds(res("builds", BUILD, version="45", processingState="VALID", expired=True))

    with pytest.raises(InputError, match="marked it VALID and expired"):
        world.run("send_to_testflight", {})


def test_a_build_recorded_for_another_binary_with_the_same_numbers_is_refused(world) -> None:
    other = world.ipa.to_json() | {"fingerprint": "a" * 64}
    world.store.record_binary(other)
    world.store.update_remote("a" * 64, build_id=BUILD)
    world.app()
    world.builds(world.ready_build()["data"])

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {})
    assert "uploaded from a different binary (fingerprint aaaaaaaaaaaa..., this IPA is ffffffffffff...)" \
        in caught.value.message
    assert "Apple accepts each build number once" in caught.value.hint


def test_the_same_binary_recorded_earlier_is_reused(world, caplog) -> None:
    world.store.record_binary(world.ipa.to_json())
    world.store.update_remote(world.ipa.fingerprint, build_id=BUILD)
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {})
    assert "App Store Connect already has this binary as build 1.2.0 (45) (id BUILD1); reusing it" in caplog.messages


def test_a_build_id_from_an_earlier_step_is_read_again_and_a_vanished_one_looked_up(world, caplog) -> None:
    world.run_state.build_id = "GONE"
    world.app()
    world.asc.on("GET", "/v1/builds/GONE", apple_error(404, "NOT_FOUND", "no such build"))
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {})
    assert outcome.asc_ids["build_id"] == BUILD
    assert "build GONE recorded earlier is gone from App Store Connect; looking again" in caplog.messages


def test_a_build_processed_by_an_earlier_step_of_the_run_is_not_read_again(world) -> None:
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.run("send_to_testflight", {})
    reads = len(world.asc.sent("GET", "/v1/builds/"))

    world.run("send_to_app_store", {"stage_type": "testflight"})
    assert len(world.asc.sent("GET", "/v1/builds/")) == reads  # the VALID build of this run is kept
    assert world.asc.sent("GET", "/v1/preReleaseVersions") and len(world.asc.sent("GET", "/v1/preReleaseVersions")) == 1


def test_an_app_missing_from_app_store_connect_is_an_input_error(world) -> None:
    world.asc.on("GET", "/v1/apps", many())
    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {})
    assert caught.value.message == ("App Store Connect has no app with bundle ID com.example.steps (or this API key "
                                    "cannot see it)")
    assert "Apps > + > New App" in caught.value.hint


def test_the_step_asks_for_the_client_of_its_api_key(world) -> None:
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.run("send_to_testflight", {"api_key": "team-b"})
    assert world.api_keys == ["team-b"]


# ------------------------------------------------------------------------------------------ Apple ID uploads
# (with an API key as well: the build is then looked up, waited for and distributed like any other)


def test_an_apple_id_upload_goes_through_transporter_and_waits_for_the_build_to_appear(world, caplog) -> None:
    sent: list[tuple[str, str, str]] = []

    def transporter_for(apple_id, settings):
        return lambda path, platform: sent.append((apple_id, path, platform))

    world.transporter_for = transporter_for
    world.app()
    world.builds()
    # after the upload the train and its build show up on the second look
    train = res("preReleaseVersions", "TRAIN1", version="1.2.0", platform="IOS")
    world.asc.on("GET", "/v1/preReleaseVersions", many(), many(), many(train))
    world.asc.on("GET", "/v1/builds", many(world.ready_build()["data"]), where={"filter[preReleaseVersion]": "TRAIN1"})
    world.build_reads(world.ready_build())
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"api_key": "main", "apple_id": "release-bot", "processing_timeout": "10m"})

    assert sent == [("release-bot", "/builds/Steps.ipa", "IOS")]
    assert not world.uploader.uploads
    assert outcome.asc_ids["build_id"] == BUILD
    assert world.clock.sleeps == [10.0]
    assert "waiting for App Store Connect to show the uploaded build (1/60)" in caplog.messages


def test_an_apple_id_build_that_never_appears_times_out_with_advice(world) -> None:
    world.transporter_for = lambda apple_id, settings: (lambda path, platform: None)
    world.app()
    world.builds()

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {"api_key": "main", "apple_id": "release-bot", "processing_timeout": 20})
    assert caught.value.message == "build 1.2.0 (45) did not appear in App Store Connect within 20.0 s"
    assert "looked up before any new upload" in caught.value.hint


def test_an_apple_id_upload_without_transporter_is_an_input_error(world) -> None:
    world.app()
    world.builds()
    with pytest.raises(InputError, match="uploads with an Apple ID are not available here"):
        world.run("send_to_testflight", {"api_key": "main", "apple_id": "release-bot"})
