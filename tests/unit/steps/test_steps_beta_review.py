"""External beta review on send_to_testflight (protocol.md H.3, H.4): test information checked before the upload,
written just before the submission (the demo password only ever sent to Apple), one build in review at a time,
and Apple's bare 500 explained."""

from __future__ import annotations

import logging

import pytest

from publish.errors import InputError, RemoteError
from steps_fake_asc import LOST, Reply, echo, many, one, res

BUILD = "BUILD1"
BETA = res("betaGroups", "G-EXT", name="Beta", isInternalGroup=False)
CONTACT = {"contactFirstName": "Ann", "contactLastName": "Lee", "contactPhone": "+1 555 0100",
           "contactEmail": "ann@example.com"}
FULL_INFO = {"description": "A test app", "feedback_email": "beta@example.com",
             "contact": {"first_name": "Ann", "last_name": "Lee", "phone": "+1 555 0100", "email": "ann@example.com"}}
OTHER = res("builds", "OTHER", {"preReleaseVersion": "TRAIN0"}, version="44")
TRAIN0 = res("preReleaseVersions", "TRAIN0", version="1.1.0")


def external_testing(world, *, detail: dict | None = None, localizations=(), in_review=(), upload: bool = False):
    """An app with an external group Beta; App Store Connect's test information as given."""
    world.app()
    world.asc.on("GET", "/v1/betaGroups", many(BETA))
    if upload:
        world.builds()
        world.build_reads(world.ready_build())
    else:
        world.builds(world.ready_build()["data"])
        world.build_reads(world.ready_build())
    world.asc.on("GET", "/v1/apps/APP1/betaAppReviewDetail", one(res("betaAppReviewDetails", "BARD1", **(detail or {}))))
    world.asc.on("GET", "/v1/apps/APP1/betaAppLocalizations", many(*localizations))
    world.asc.on("GET", "/v1/builds", many(*in_review, included=[TRAIN0] if in_review else None),
                 where={"filter[betaAppReviewSubmission.betaReviewState]": "WAITING_FOR_REVIEW,IN_REVIEW"})
    world.asc.on("GET", "/v1/betaAppReviewSubmissions", many())
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups", None)
    world.asc.on("POST", "/v1/betaBuildLocalizations", echo("BBL1"))
    world.asc.on("POST", "/v1/betaAppReviewSubmissions", echo("BRS1", betaReviewState="WAITING_FOR_REVIEW"))


def test_missing_test_information_fails_before_anything_is_uploaded_naming_the_settings(world) -> None:
    external_testing(world, upload=True)

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it"})

    assert caught.value.message == (
        "external beta review needs test information that neither the flow nor App Store Connect has: "
        "test_information.contact.first_name, test_information.contact.last_name, test_information.contact.phone, "
        "test_information.contact.email, test_information.feedback_email, test_information.description")
    assert caught.value.hint.endswith("Nothing was uploaded.")
    assert not world.uploader.uploads and world.asc.writes == []


def test_beta_review_needs_what_to_test_in_the_primary_locale(world) -> None:
    external_testing(world, detail=CONTACT, upload=True,
                     localizations=[res("betaAppLocalizations", "BAL1", locale="en-US", feedbackEmail="b@example.com",
                                        description="Test app")])

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": {"fr-FR": "Essayez"}})
    assert caught.value.message == ("external beta review needs What to Test in the app's primary locale en-US; the "
                                    "step gives fr-FR")
    assert not world.uploader.uploads


def test_h3_another_build_in_review_fails_before_the_upload_by_default(world) -> None:
    external_testing(world, detail=CONTACT, upload=True, in_review=[OTHER])

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it", "test_information": FULL_INFO})
    assert caught.value.message.startswith("another build of this app, 1.1.0 (44), is already in beta review")
    assert "if_another_build_in_review: wait" in caught.value.hint and "Nothing was uploaded." in caught.value.hint
    assert not world.uploader.uploads and world.asc.writes == []


def test_test_information_is_written_then_the_build_submitted_and_the_password_never_logged(world, caplog) -> None:
    world.env["DEMO_PASSWORD"] = "s3cret-Demo!"
    external_testing(world, detail={**CONTACT, "contactPhone": "+1 555 0000"})
    world.asc.on("PATCH", "/v1/betaAppReviewDetails/BARD1", echo())
    world.asc.on("POST", "/v1/betaAppLocalizations", echo("BAL1"))
    caplog.set_level(logging.INFO)  # (the client's DEBUG lines show bodies; the run's redactor masks those)
    info = {**FULL_INFO, "demo_account": {"name": "demo@example.com", "password": {"env": "DEMO_PASSWORD"}}}

    outcome = world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it",
                                               "test_information": info})

    paths = [(c.method, c.path) for c in world.asc.writes]
    assert paths == [("POST", "/v1/betaBuildLocalizations"), ("POST", f"/v1/builds/{BUILD}/relationships/betaGroups"),
                     ("PATCH", "/v1/betaAppReviewDetails/BARD1"), ("POST", "/v1/betaAppLocalizations"),
                     ("POST", "/v1/betaAppReviewSubmissions")]
    [detail] = world.asc.sent("PATCH", "/v1/betaAppReviewDetails/BARD1")
    # only what App Store Connect does not hold yet, and the password from the environment
    assert detail.attributes == {"contactPhone": "+1 555 0100", "demoAccountRequired": True,
                                 "demoAccountName": "demo@example.com", "demoAccountPassword": "s3cret-Demo!"}
    [app_info] = world.asc.sent("POST", "/v1/betaAppLocalizations")
    assert app_info.attributes == {"locale": "en-US", "description": "A test app", "feedbackEmail": "beta@example.com"}
    assert world.secrets == ["s3cret-Demo!"]  # masked in every log line from now on
    assert "s3cret-Demo!" not in caplog.text
    assert outcome.outputs["beta_review_state"] == "WAITING_FOR_REVIEW"
    assert outcome.message.endswith("beta review: WAITING_FOR_REVIEW")
    assert world.run_state.beta_review_submission_id == "BRS1"


def test_a_build_already_in_beta_review_is_not_submitted_again(world, caplog) -> None:
    external_testing(world, detail=CONTACT)
    answer = world.ready_build()
    answer["data"]["relationships"]["betaAppReviewSubmission"] = {"data": {"type": "betaAppReviewSubmissions",
                                                                           "id": "BRS0"}}
    answer["included"].append(res("betaAppReviewSubmissions", "BRS0", betaReviewState="IN_REVIEW"))
    world.build_reads(answer)
    world.asc.on("GET", "/v1/betaAppReviewSubmissions", many(res("betaAppReviewSubmissions", "BRS0")))
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it"})

    assert world.asc.sent("POST", "/v1/betaAppReviewSubmissions") == []
    assert outcome.outputs["beta_review_state"] == "IN_REVIEW"
    assert "beta app review: already submitted (IN_REVIEW)" in caplog.messages


def test_h3_expire_other_expires_the_build_in_review_then_submits(world) -> None:
    external_testing(world, detail=CONTACT, in_review=[OTHER],
                     localizations=[res("betaAppLocalizations", "BAL1", locale="en-US", feedbackEmail="b@example.com",
                                        description="Test app")])
    world.asc.on("PATCH", "/v1/builds/OTHER", echo())

    world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it",
                                     "if_another_build_in_review": "expire_other"})

    [expire] = world.asc.sent("PATCH", "/v1/builds/OTHER")
    assert expire.attributes == {"expired": True}
    assert world.warnings == ["expired build 1.1.0 (44), which was in beta review, so this build can be submitted "
                              "(if_another_build_in_review: expire_other)"]
    assert len(world.asc.sent("POST", "/v1/betaAppReviewSubmissions")) == 1


def test_h3_wait_waits_for_the_other_review_to_end_within_the_budget(world, caplog) -> None:
    external_testing(world, detail=CONTACT, in_review=[OTHER],
                     localizations=[res("betaAppLocalizations", "BAL1", locale="en-US", feedbackEmail="b@example.com",
                                        description="Test app")])
    in_review = many(res("betaAppReviewSubmissions", "BRS-O", betaReviewState="IN_REVIEW"))
    approved = many(res("betaAppReviewSubmissions", "BRS-O", betaReviewState="APPROVED"))
    world.asc.on("GET", "/v1/betaAppReviewSubmissions", in_review, in_review, approved,
                 where={"filter[build]": "OTHER"})
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it", "processing_timeout": "10m",
                                     "if_another_build_in_review": "wait"})

    assert world.clock.sleeps == [10.0, 10.0]
    assert "waiting for App Store Connect to finish the beta review of build 1.1.0 (44) (2/60)" in caplog.messages
    assert len(world.asc.sent("POST", "/v1/betaAppReviewSubmissions")) == 1


def test_h4_a_bare_500_on_the_submission_is_reported_as_what_apple_means(world) -> None:
    external_testing(world, detail=CONTACT,
                     localizations=[res("betaAppLocalizations", "BAL1", locale="en-US", feedbackEmail="b@example.com",
                                        description="Test app")])
    bare_500 = Reply(500, {"errors": [{"status": "500", "code": "UNEXPECTED_ERROR",
                                       "title": "An unexpected error occurred.", "detail": ""}]})
    submit = world.asc.on("POST", "/v1/betaAppReviewSubmissions", bare_500)

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it"})

    assert caught.value.message == ("App Store Connect answered the beta review submission with 500 (An unexpected "
                                    "error occurred) although the test information is complete")
    assert "the build is reused and the submission is checked first" in caught.value.hint
    # each unknown outcome was looked up before the POST was sent again
    assert len(submit.calls) == 3
    assert len(world.asc.sent("GET", "/v1/betaAppReviewSubmissions")) >= 3


def test_h4_a_bare_500_when_app_store_connect_lacks_the_information_names_it(world) -> None:
    external_testing(world, detail=CONTACT,
                     localizations=[res("betaAppLocalizations", "BAL1", locale="en-US", feedbackEmail="b@example.com",
                                        description="Test app")])
    world.asc.on("POST", "/v1/betaAppReviewSubmissions", LOST)
    # what App Store Connect holds once the refusal came (someone removed the contact meanwhile)
    world.asc.on("GET", "/v1/apps/APP1/betaAppReviewDetail", one(res("betaAppReviewDetails", "BARD1", **CONTACT)),
                 one(res("betaAppReviewDetails", "BARD1")))

    with pytest.raises(RemoteError) as caught:
        world.run("send_to_testflight", {"groups": ["Beta"], "what_to_test": "Try it"})
    assert caught.value.message.startswith("App Store Connect refused the beta review submission with a bare 500: it "
                                           "lacks the test information test_information.contact.first_name")


def test_a_reused_build_is_checked_for_review_readiness_just_before_submitting(world) -> None:
    # send_to_app_store reuses the build without the before-upload check: the check runs before the submission
    external_testing(world)

    with pytest.raises(InputError, match="external beta review needs test information"):
        world.run("send_to_app_store", {"stage_type": "testflight", "groups": ["Beta"], "what_to_test": "Try it"})
    assert world.asc.sent("POST", "/v1/betaAppReviewSubmissions") == []
