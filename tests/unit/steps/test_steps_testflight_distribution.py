"""send_to_testflight on a processed build: export compliance, What to Test, groups, testers and notifications,
with Apple's habits (protocol.md H.2 TestFlight not ready yet, H.10 auto-notify, H.17 What to Test) and lost
answers handled without blind repeats."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from publish.asc import AscApiError
from publish.errors import InputError
from steps_fake_asc import LOST, apple_error, echo, many, one, res

BUILD = "BUILD1"
INTERNAL = res("betaGroups", "G-INT", name="Internal", isInternalGroup=True, hasAccessToAllBuilds=False)
EVERYONE = res("betaGroups", "G-ALL", name="Everyone", isInternalGroup=True, hasAccessToAllBuilds=True)
BETA = res("betaGroups", "G-EXT", name="Beta", isInternalGroup=False)
NOT_READY_422 = apple_error(422, "ENTITY_ERROR", "The build is not in a valid processing state for this operation")


def reused_build(world, *, groups=(), testers=(), localizations=(), detail=None, **attributes) -> None:
    """App Store Connect has this binary's build, processed; its TestFlight state as one GET with includes."""
    world.app()
    answer = world.ready_build(**attributes)
    build = answer["data"]
    build["relationships"]["betaGroups"]["data"] = [{"type": "betaGroups", "id": g} for g in groups]
    build["relationships"]["individualTesters"]["data"] = [{"type": "betaTesters", "id": t} for t in testers]
    build["relationships"]["betaBuildLocalizations"]["data"] = [
        {"type": "betaBuildLocalizations", "id": loc["id"]} for loc in localizations]
    answer["included"] += list(localizations)
    if detail is not None:
        answer["included"][0]["attributes"].update(detail)
    world.builds(build)
    world.build_reads(answer)


def test_groups_get_the_build_in_one_link_and_already_linked_ones_are_left_alone(world, caplog) -> None:
    reused_build(world, groups=["G-EXT"])
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL, EVERYONE, BETA))
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups", None)
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"groups": ["Internal", "Everyone", "Beta"],
                                               "submit_for_beta_review": False})

    [link] = world.asc.writes
    assert (link.method, link.path) == ("POST", f"/v1/builds/{BUILD}/relationships/betaGroups")
    assert link.body == {"data": [{"type": "betaGroups", "id": "G-INT"}]}
    assert outcome.outputs["groups"] == ["Internal", "Everyone", "Beta"]
    assert outcome.message == "build 1.2.0 (45) is on TestFlight; groups: Internal, Everyone, Beta"
    assert "group 'Beta' already has this build" in caplog.messages
    assert "group 'Everyone' is internal with access to all builds: it gets this build anyway" in caplog.messages


def test_an_unknown_group_fails_before_the_build_is_looked_at_and_suggests_the_right_case(world) -> None:
    world.app()
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL, BETA))

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {"groups": ["beta"]})

    assert caught.value.message == ("beta group 'beta' not found for Steps; the app's groups are: Beta (external), "
                                    "Internal (internal)")
    assert caught.value.hint.startswith("did you mean 'Beta'? Group names are case-sensitive.")
    assert world.asc.sent("GET", "/v1/preReleaseVersions") == [] and world.asc.writes == []


def test_h2_groups_wait_for_testflight_processing_then_a_not_ready_refusal_is_retried(world, caplog) -> None:
    reused_build(world, detail={"internalBuildState": "PROCESSING"})
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL))
    world.asc.on("GET", f"/v1/builds/{BUILD}/buildBetaDetail",
                 one(res("buildBetaDetails", "BBD-BUILD1", internalBuildState="IN_BETA_TESTING")))
    link = world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups", NOT_READY_422, None)
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {"groups": ["Internal"], "processing_timeout": "10m"})

    assert len(link.calls) == 2  # refused once (H.2), accepted after one interval
    assert world.clock.sleeps == [10.0, 10.0]  # one for the beta detail, one after the refusal
    assert "waiting for App Store Connect to finish the build's TestFlight processing (1/60)" in caplog.messages
    assert any(m.startswith("waiting for App Store Connect to accept the beta groups") for m in caplog.messages)


def test_h2_a_refusal_that_is_not_about_readiness_is_not_retried(world) -> None:
    reused_build(world)
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL))
    link = world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups",
                        apple_error(403, "FORBIDDEN_ERROR", "This API key cannot manage beta groups"))

    with pytest.raises(AscApiError):
        world.run("send_to_testflight", {"groups": ["Internal"]})
    assert len(link.calls) == 1 and world.clock.sleeps == []


def test_notify_testers_false_turns_auto_notify_off_before_the_groups_get_the_build(world) -> None:
    reused_build(world)
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL))
    world.asc.on("PATCH", "/v1/buildBetaDetails/BBD-BUILD1", echo())
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups", None)

    world.run("send_to_testflight", {"groups": ["Internal"], "notify_testers": False})

    assert [(c.method, c.path) for c in world.asc.writes] == [
        ("PATCH", "/v1/buildBetaDetails/BBD-BUILD1"), ("POST", f"/v1/builds/{BUILD}/relationships/betaGroups")]
    assert world.asc.writes[0].attributes == {"autoNotifyEnabled": False}


@pytest.mark.parametrize(("answer", "logged", "warned"), [
    (echo("N1"), "testers notified", None),
    (apple_error(409, "STATE_ERROR.ENTITY_STATE_INVALID", "Auto-notify already enabled"),
     "testers notified (App Store Connect was notifying them already)", None),  # H.10
    (LOST, None, "the tester notification may not have been sent (the answer was lost)"),
])
def test_testers_are_notified_once_when_auto_notify_is_off(world, caplog, answer, logged, warned) -> None:
    reused_build(world, detail={"autoNotifyEnabled": False})
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL))
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups", None)
    notify = world.asc.on("POST", "/v1/buildBetaNotifications", answer)
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"groups": ["Internal"]})

    assert len(notify.calls) == 1  # a lost answer is not sent again: a missed e-mail beats a double one
    assert outcome.outputs["notified"] is True
    assert (logged in caplog.messages) if logged else True
    assert world.warnings == ([warned] if warned else [])


def test_a_notification_refused_for_another_reason_fails_the_step(world) -> None:
    reused_build(world, detail={"autoNotifyEnabled": False})
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL))
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/betaGroups", None)
    world.asc.on("POST", "/v1/buildBetaNotifications", apple_error(409, "ENTITY_ERROR", "Build is expired"))

    with pytest.raises(AscApiError, match="Build is expired"):
        world.run("send_to_testflight", {"groups": ["Internal"]})


def test_testers_are_found_created_or_linked_team_wide(world, caplog) -> None:
    reused_build(world, testers=["T-ANN"])
    ann = res("betaTesters", "T-ANN", email="ann@example.com")
    bob = res("betaTesters", "T-BOB", email="Bob@Example.com")
    carol = res("betaTesters", "T-CAROL", email="carol@example.com")

    def testers(call):
        if call.query.get("filter[apps]") == "APP1":
            return many(ann, bob)  # known to the app
        return many(carol)  # team-wide: carol was invited to another app

    def create(call):
        if call.attributes["email"] == "dan@example.com":
            return echo("T-DAN")(call)
        return apple_error(409, "ENTITY_ERROR.RELATIONSHIP.INVALID", "A tester with this email already exists")

    world.asc.on("GET", "/v1/betaTesters", testers)
    world.asc.on("POST", "/v1/betaTesters", create)
    world.asc.on("POST", f"/v1/builds/{BUILD}/relationships/individualTesters", None)
    caplog.set_level(logging.INFO, "publish.steps")

    outcome = world.run("send_to_testflight", {"testers": [
        "ann@example.com", "bob@example.com", {"email": "dan@example.com", "first_name": "Dan"},
        "carol@example.com"]})

    creates = world.asc.sent("POST", "/v1/betaTesters")
    assert [c.attributes["email"] for c in creates] == ["dan@example.com", "carol@example.com"]
    assert creates[0].attributes == {"email": "dan@example.com", "firstName": "Dan"}
    assert creates[0].body["data"]["relationships"]["builds"]["data"] == [{"type": "builds", "id": BUILD}]
    [link] = world.asc.sent("POST", f"/v1/builds/{BUILD}/relationships/individualTesters")
    assert link.body["data"] == [{"type": "betaTesters", "id": "T-BOB"}, {"type": "betaTesters", "id": "T-CAROL"}]
    assert "individual testers: 2 added, 1 created, 1 already had the build" in caplog.messages
    assert outcome.outputs["testers"] == ["ann@example.com", "bob@example.com", "dan@example.com",
                                          "carol@example.com"]
    assert "4 tester(s)" in outcome.message


# ------------------------------------------------------------------------------------------ What to Test (H.17)


def test_plain_what_to_test_goes_to_the_apps_primary_locale(world) -> None:
    reused_build(world)
    world.app(primary_locale="de-DE")
    create = world.asc.on("POST", "/v1/betaBuildLocalizations", echo("L1"))

    world.run("send_to_testflight", {"what_to_test": "Neuer Start"})

    [call] = create.calls
    assert call.attributes == {"locale": "de-DE", "whatsNew": "Neuer Start"}


def test_what_to_test_already_there_is_not_written_and_a_changed_one_is_updated(world) -> None:
    same = res("betaBuildLocalizations", "L-EN", locale="en-US", whatsNew="Same text")
    old = res("betaBuildLocalizations", "L-FR", locale="fr-FR", whatsNew="Ancien")
    reused_build(world, localizations=[same, old])
    world.asc.on("PATCH", "/v1/betaBuildLocalizations/L-FR", echo())

    world.run("send_to_testflight", {"what_to_test": {"en-us": "Same text", "fr-FR": "Nouveau"}})

    [update] = world.asc.writes
    assert (update.path, update.attributes) == ("/v1/betaBuildLocalizations/L-FR", {"whatsNew": "Nouveau"})


def test_h17_a_create_that_collides_with_apples_own_localization_becomes_an_update(world, caplog) -> None:
    reused_build(world)
    world.asc.on("POST", "/v1/betaBuildLocalizations",
                 apple_error(409, "ENTITY_ERROR.DUPLICATE", "A localization for en-US already exists"))
    world.asc.on("GET", "/v1/betaBuildLocalizations",
                 many(res("betaBuildLocalizations", "L-APPLE", locale="en-US", whatsNew="")))
    world.asc.on("PATCH", "/v1/betaBuildLocalizations/L-APPLE", echo())
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {"what_to_test": {"en-US": "Try the new start"}})

    assert [(c.method, c.path) for c in world.asc.writes] == [
        ("POST", "/v1/betaBuildLocalizations"), ("PATCH", "/v1/betaBuildLocalizations/L-APPLE")]
    assert "What to Test (en-US): App Store Connect had just created it; updating it" in caplog.messages


def test_what_to_test_with_a_lost_create_answer_is_looked_up_before_a_second_create(world) -> None:
    reused_build(world)
    create = world.asc.on("POST", "/v1/betaBuildLocalizations", LOST)
    world.asc.on("GET", "/v1/betaBuildLocalizations",
                 many(res("betaBuildLocalizations", "L1", locale="en-US", whatsNew="Hello")))

    world.run("send_to_testflight", {"what_to_test": "Hello"})
    assert len(create.calls) == 1  # the lost create had been applied: not sent again


# ------------------------------------------------------------------------------------------ export compliance


def test_export_compliance_is_set_when_app_store_connect_has_none(world, caplog) -> None:
    reused_build(world, usesNonExemptEncryption=None)
    # an absolute value: the client itself sends it again when the answer is lost
    patch = world.asc.on("PATCH", f"/v1/builds/{BUILD}", LOST, echo())
    caplog.set_level(logging.INFO, "publish.steps")

    world.run("send_to_testflight", {})

    assert [c.attributes for c in patch.calls] == [{"usesNonExemptEncryption": False}] * 2
    assert world.run_state.export_compliance_set_for == BUILD
    assert "export compliance: usesNonExemptEncryption=false" in caplog.messages


def test_a_different_compliance_answer_on_app_store_connect_is_kept_with_a_warning(world) -> None:
    reused_build(world, usesNonExemptEncryption=True)

    world.run("send_to_testflight", {"uses_non_exempt_encryption": False})

    assert world.asc.writes == []
    assert world.warnings == ["build 1.2.0 (45) already declares usesNonExemptEncryption=true in App Store Connect; "
                              "the flow's false was not applied (Apple does not change it)"]


def test_missing_export_compliance_fails_before_the_upload(world) -> None:
    world.ipa = dataclasses.replace(world.ipa, uses_non_exempt_encryption=None)
    world.app()
    world.builds()

    with pytest.raises(InputError) as caught:
        world.run("send_to_testflight", {})
    assert caught.value.message.startswith("export compliance is not known for this IPA")
    assert "uses_non_exempt_encryption: false" in caught.value.hint
    assert not world.uploader.uploads


def test_send_to_app_store_testflight_stage_warns_when_nothing_says_how_compliance_goes(world) -> None:
    world.ipa = dataclasses.replace(world.ipa, uses_non_exempt_encryption=None)
    reused_build(world, usesNonExemptEncryption=None)

    world.run("send_to_app_store", {"stage_type": "testflight"})

    assert world.asc.writes == []
    assert world.warnings and world.warnings[0].startswith(
        "build 1.2.0 (45) has no export compliance answer, so TestFlight shows 'Missing Compliance'")
