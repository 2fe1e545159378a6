"""App Store review as the real App Store Connect behaves (protocol.md H1, H5, H6, H8, H11, H12, H16): full flows
against the simulator with every realistic behaviour on, one test (at least) per behaviour, each failing if the
client's handling of it is removed."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from publish.sandbox import appstore
from publish.sandbox.model import Record
from flow_harness import EXTERNAL, INTERNAL, FlowWorld

APP_STORE = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
"""


def _released(world: FlowWorld, version: str = "0.9.0", locales: tuple[str, ...] = ("en-US",), *,
              state: str = "READY_FOR_DISTRIBUTION") -> Record:
    """An earlier version of the app that was on the store, with these store-page languages."""
    with world.server.store.lock:
        record = appstore.create_version(world.server.sim, world.app_id, version, "IOS", state=state)
        have = {loc.attributes["locale"] for loc in world.server.store.where("appStoreVersionLocalizations",
                                                                              appStoreVersion=record.id)}
        for locale in locales:
            if locale not in have:
                appstore.add_localization(world.server.sim, record.id, locale, description=f"About ({locale})")
        return record


def _version(world: FlowWorld, version_string: str = "1.0.0") -> Record:
    return next(v for v in world.records("appStoreVersions") if v.attributes["versionString"] == version_string)


def _whats_new(world: FlowWorld, version: Record) -> dict[str, Any]:
    return {loc.attributes["locale"]: loc.attributes.get("whatsNew")
            for loc in world.server.store.where("appStoreVersionLocalizations", appStoreVersion=version.id)}


def _refused(world: FlowWorld, method: str, template: str) -> list[Any]:
    """Refused calls to a path template (an error answer carries no template in the exchange: match the path)."""
    pattern = re.compile("^" + re.sub(r"\\\{id\\\}", "[^/]+", re.escape(template)) + "$")
    return [e for e in world.server.exchanges if e.method == method and pattern.match(e.path) and e.status >= 400]


def _hour_from_now(hours: int = 48) -> str:
    when = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------ done when


def test_full_flow_upload_testflight_beta_review_app_store_two_locales_scheduled_submit(world: FlowWorld) -> None:
    """Issue 11's "done when", App Store part with every realistic behaviour on (re-run after the TestFlight
    branch lands: it turns the TestFlight behaviours on too)."""
    _released(world, locales=("en-US", "de-DE"))
    flow = world.flow(f"""
- step: send_to_testflight
  api_key: main
  what_to_test: Check the login screen
  groups: [{INTERNAL}, {EXTERNAL}]
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  whats_new:
    en-US: Faster start.
    de-DE: Schnellerer Start.
  release_type: scheduled
  scheduled_release_date: "{_hour_from_now()}"
  submit_for_review: true
""")
    out = world.run(flow, world.ipa("1"))
    assert out.code == 0, out.output
    version = _version(world)
    assert _whats_new(world, version) == {"en-US": "Faster start.", "de-DE": "Schnellerer Start."}
    assert version.attributes["releaseType"] == "SCHEDULED"
    assert version.attributes["appVersionState"] == "WAITING_FOR_REVIEW"
    [submission] = [s for s in world.records("reviewSubmissions")]
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"
    assert len(world.records("betaAppReviewSubmissions")) == 1
    assert "waiting for App Store Connect to make version 1.0.0 ready for review (1/" in out.stderr
    assert world.server.realism == type(world.server.realism)()  # every behaviour on


# ------------------------------------------------------------------------------------------------ H1


SUBMIT = APP_STORE + "  submit_for_review: true\n"


def test_h1_submit_waits_until_the_version_is_ready_for_review(world: FlowWorld) -> None:
    out = world.run(world.flow(SUBMIT), world.ipa("1"))
    assert out.code == 0, out.output
    # The version was polled until READY_FOR_REVIEW, and the submit was never sent too early.
    assert "waiting for App Store Connect to make version 1.0.0 ready for review (1/" in out.stderr
    assert "it is PREPARE_FOR_SUBMISSION" in out.stderr
    assert not _refused(world, "PATCH", "/v1/reviewSubmissions/{id}")
    assert _version(world).attributes["appVersionState"] == "WAITING_FOR_REVIEW"


def test_h1_not_ready_refusal_is_waited_out_and_retried(world: FlowWorld) -> None:
    """Apple can still answer "not ready" after the version read READY_FOR_REVIEW: wait and retry, bounded."""
    sim = world.server.sim
    key = ("patch", "/v1/reviewSubmissions/{id}")
    real = sim.handlers[key]
    refusals = {"left": 2}

    def refuse_twice(call):  # Apple's answer while it is still preparing the version, then the real handler
        if (call.attributes or {}).get("submitted") and refusals["left"]:
            refusals["left"] -= 1
            from publish.sandbox.model import ApiError

            raise ApiError(409, "STATE_ERROR.ENTITY_STATE_INVALID", appstore_review_not_ready())
        return real(call)

    sim.handlers[key] = refuse_twice
    out = world.run(world.flow(SUBMIT), world.ipa("1"))
    assert out.code == 0, out.output
    assert refusals["left"] == 0 and len(_refused(world, "PATCH", "/v1/reviewSubmissions/{id}")) == 2
    assert "ready for review (1/" in out.stderr and ": The request entity is not valid. Version is not ready to be " \
        "submitted yet" in out.stderr  # the wait says what Apple answered
    [submission] = world.records("reviewSubmissions")
    assert submission.attributes["state"] == "WAITING_FOR_REVIEW"


def appstore_review_not_ready() -> str:
    from publish.sandbox.app_store_review import NOT_READY

    return NOT_READY


# ------------------------------------------------------------------------------------------------ H5


def test_h5_simulator_refuses_a_release_date_off_the_hour_and_the_client_never_sends_one(world: FlowWorld) -> None:
    from publish.asc import ApiKey, AppStoreConnect, AscApiError
    from publish.errors import InputError
    from flow_harness import ISSUER_ID, KEY_ID

    assert world.run(world.flow(APP_STORE), world.ipa("1")).code == 0
    version = _version(world)
    off = _hour_from_now().replace(":00:00Z", ":30:00Z")
    with AppStoreConnect(ApiKey(KEY_ID, ISSUER_ID, world.private_pem), base_url=world.server.url) as client:
        sent_before = len(world.server.exchanges)
        with pytest.raises(InputError) as caught:
            client.update_app_store_version(version.id, release_type="SCHEDULED", earliest_release_date=off)
        assert "not on the hour" in str(caught.value)
        assert len(world.server.exchanges) == sent_before  # refused here, never sent
        # The simulator refuses it as App Store Connect does (bypassing the client's guard).
        with pytest.raises(AscApiError) as refused:
            client.request("PATCH", f"/v1/appStoreVersions/{version.id}", json={"data": {
                "type": "appStoreVersions", "id": version.id,
                "attributes": {"releaseType": "SCHEDULED", "earliestReleaseDate": off}}})
    assert refused.value.status == 409
    assert world.server.exchanges[-1].status == 409
    assert "hour precision" in json.dumps(world.server.exchanges[-1].response)
    assert version.attributes["releaseType"] != "SCHEDULED"


def test_h5_step_refuses_a_date_off_the_hour_even_past_validate(world: FlowWorld) -> None:
    from publish.errors import InputError
    from publish.plan import settings_for

    with pytest.raises(InputError) as caught:
        settings_for("send_to_app_store", {"stage_type": "app_store", "release_type": "scheduled",
                                           "scheduled_release_date": "2031-07-01T16:20:00Z"}, world.directory)
    assert "not on the hour" in str(caught.value) and "2031-07-01T16:00:00Z" in caught.value.hint
    assert "2031-07-01T17:00:00Z" in caught.value.hint


# ------------------------------------------------------------------------------------------------ H6


def test_h6_whats_new_is_left_out_on_the_first_version_and_it_still_goes_to_review(world: FlowWorld) -> None:
    out = world.run(world.flow(SUBMIT + "  whats_new: {en-US: First!, de-DE: Erstes!}\n"), world.ipa("1"))
    assert out.code == 0, out.output
    assert "What's New left out" in out.stderr and "first App Store release" in out.stderr
    assert not _refused(world, "POST", "/v1/appStoreVersionLocalizations")
    assert not _refused(world, "PATCH", "/v1/appStoreVersionLocalizations/{id}")
    assert _whats_new(world, _version(world)) == {"en-US": None}  # no language added either
    assert _version(world).attributes["appVersionState"] == "WAITING_FOR_REVIEW"


def test_h6_apples_whats_new_refusal_is_taken_as_a_first_release(world: FlowWorld) -> None:
    """Our guess says "update", Apple says the attribute cannot be edited (its word is final): the notes are left
    out with a warning and the rest of the step is done."""
    from publish.sandbox.model import ApiError

    _released(world)
    sim = world.server.sim
    key = ("patch", "/v1/appStoreVersionLocalizations/{id}")
    real = sim.handlers[key]

    def apple_says_no(call):
        if "whatsNew" in (call.attributes or {}):
            raise ApiError(409, "ENTITY_ERROR.ATTRIBUTE.INVALID", "Attribute 'whatsNew' cannot be edited at this time.",
                           pointer="/data/attributes/whatsNew")
        return real(call)

    sim.handlers[key] = apple_says_no
    out = world.run(world.flow(APP_STORE + "  whats_new: Faster start.\n  phased_release: true\n"), world.ipa("1"))
    assert out.code == 0, out.output
    assert len(_refused(world, "PATCH", "/v1/appStoreVersionLocalizations/{id}")) == 1
    assert "What's New left out" in out.stderr and "cannot be edited at this time" in out.stderr
    assert len(world.records("appStoreVersionPhasedReleases")) == 1  # the rest of the step was done


# ------------------------------------------------------------------------------------------------ H8


def test_h8_version_3_4_0_is_the_version_app_store_connect_holds_as_3_4(world: FlowWorld) -> None:
    _released(world, "3.3")
    with world.server.store.lock:
        held = appstore.create_version(world.server.sim, world.app_id, "3.4", "IOS")
    out = world.run(world.flow(APP_STORE + "  whats_new: Faster.\n"), world.ipa("1", version="3.4.0"))
    assert out.code == 0, out.output
    assert held.attributes["versionString"] == "3.4"  # not renamed, not a second version
    assert len(world.records("appStoreVersions")) == 2
    assert held.rels["build"] == out.result["ids"]["build_id"]
    assert "holds it as 3.4" in out.stderr
    renames = [e for e in world.server.exchanges if e.method == "PATCH" and e.path.startswith("/v1/appStoreVersions/")
               and "versionString" in json.dumps(e.request)]
    assert not renames


# ------------------------------------------------------------------------------------------------ H11


def _submission(world: FlowWorld, state: str, version: Record | None = None) -> Record:
    with world.server.store.lock:
        record = world.server.store.add("reviewSubmissions", {"platform": "IOS", "state": state,
                                                              "submittedDate": None},
                                        {"app": world.app_id, "appStoreVersionForReview": version.id if version
                                         else None})
        if version is not None:
            world.server.store.add("reviewSubmissionItems", {"state": "READY_FOR_REVIEW"},
                                   {"reviewSubmission": record.id, "appStoreVersion": version.id})
        return record


def test_h11_a_canceling_submission_is_not_reused_and_its_end_is_waited_for_on_create(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    assert world.run(world.flow(APP_STORE), ipa).code == 0
    canceling = _submission(world, "CANCELING")  # cancelled in App Store Connect a moment ago
    out = world.run(world.flow(SUBMIT), ipa)
    assert out.code == 0, out.output
    assert "is CANCELING (on its way out): not reused" in out.stderr
    assert "waiting for App Store Connect to settle the review submission still in progress" in out.stderr
    assert canceling.attributes["state"] == "COMPLETE"
    new = [s for s in world.records("reviewSubmissions") if s.id != canceling.id]
    assert [s.attributes["state"] for s in new] == ["WAITING_FOR_REVIEW"]


def test_h11_item_add_waits_while_another_submission_is_still_in_progress(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    assert world.run(world.flow(APP_STORE), ipa).code == 0
    draft = _submission(world, "READY_FOR_REVIEW")  # empty: reused
    completing = _submission(world, "COMPLETING")
    out = world.run(world.flow(SUBMIT), ipa)
    assert out.code == 0, out.output
    assert "reusing draft review submission " + draft.id in out.stderr
    assert len(_refused(world, "POST", "/v1/reviewSubmissionItems")) >= 1
    assert completing.attributes["state"] == "COMPLETE"
    assert draft.attributes["state"] == "WAITING_FOR_REVIEW"


def test_h11_a_canceling_submission_holding_the_version_is_not_reused(world: FlowWorld) -> None:
    """With Apple's older wording ("already added to another reviewSubmission with id X") about a submission that
    is on its way out: wait for it to go, then add the version to our own."""
    world.server.realism = world.server.realism.without("review_submissions_in_motion")
    ipa = world.ipa("1")
    assert world.run(world.flow(APP_STORE), ipa).code == 0
    draft = _submission(world, "READY_FOR_REVIEW")
    canceling = _submission(world, "CANCELING", _version(world))
    out = world.run(world.flow(SUBMIT), ipa)
    assert out.code == 0, out.output
    assert canceling.attributes["state"] == "COMPLETE"
    assert draft.attributes["state"] == "WAITING_FOR_REVIEW"
    assert draft.rels["appStoreVersionForReview"] == _version(world).id


# ------------------------------------------------------------------------------------------------ H12


def test_h12_plain_whats_new_goes_to_every_locale_of_an_update(world: FlowWorld) -> None:
    _released(world, locales=("en-US", "fr-FR"))
    out = world.run(world.flow(SUBMIT + "  whats_new: Faster start.\n"), world.ipa("1"))
    assert out.code == 0, out.output
    assert _whats_new(world, _version(world)) == {"en-US": "Faster start.", "fr-FR": "Faster start."}


def test_h12_the_default_locale_is_the_apps_primary_locale_not_en_us(world: FlowWorld) -> None:
    with world.server.store.lock:
        world.server.store.require("apps", world.app_id).attributes["primaryLocale"] = "en-GB"
    _released(world, locales=("en-GB",))
    out = world.run(world.flow(SUBMIT + "  whats_new: Faster start.\n"), world.ipa("1"))
    assert out.code == 0, out.output
    assert _whats_new(world, _version(world)) == {"en-GB": "Faster start."}


def test_h12_an_update_missing_whats_new_in_a_locale_is_refused_before_the_item_add(world: FlowWorld) -> None:
    _released(world, locales=("en-US", "de-DE", "fr-FR"))
    out = world.run(world.flow(SUBMIT + "  whats_new: {en-US: Faster start.}\n"), world.ipa("1"))
    assert out.code == 2, out.output
    assert "no What's New in de-DE, fr-FR" in out.stderr and "de-DE:" in out.stderr  # the per-locale example
    assert not world.records("reviewSubmissions") and not world.records("reviewSubmissionItems")
    assert not _refused(world, "POST", "/v1/reviewSubmissionItems")
    assert _whats_new(world, _version(world))["en-US"] is None  # refused before anything was written


def test_h12_submit_for_review_step_checks_every_locale_before_the_item_add(world: FlowWorld) -> None:
    _released(world, locales=("en-US", "de-DE"))
    ipa = world.ipa("1")
    staged = world.run(world.flow(APP_STORE + "  whats_new: {en-US: Faster start.}\n"), ipa)
    assert staged.code == 0 and "no What's New in de-DE" in staged.stderr  # a warning while only staging
    out = world.run(world.flow(APP_STORE + "  whats_new: {en-US: Faster start.}\n"
                               "- step: submit_for_review\n  api_key: main\n"), ipa)
    assert out.code == 2, out.output
    assert "no What's New in de-DE" in out.stderr and "whats_new in send_to_app_store" in out.stderr
    assert not world.records("reviewSubmissions") and not _refused(world, "POST", "/v1/reviewSubmissionItems")


def test_h12_a_locale_the_listing_lacks_is_refused_unless_the_flow_asks(world: FlowWorld) -> None:
    _released(world, locales=("en-US",))
    ipa = world.ipa("1")
    notes = "  whats_new: {en-US: Faster start., ja: 高速化}\n"
    refused = world.run(world.flow(APP_STORE + notes), ipa)
    assert refused.code == 2, refused.output
    assert "no ja localization" in refused.stderr and "add_missing_locales: true" in refused.stderr
    assert set(_whats_new(world, _version(world))) == {"en-US"}
    added = world.run(world.flow(APP_STORE + notes + "  add_missing_locales: true\n"), ipa)
    assert added.code == 0, added.output
    assert _whats_new(world, _version(world)) == {"en-US": "Faster start.", "ja": "高速化"}
    assert "added ja to App Store version 1.0.0" in added.stderr


def test_h12_a_language_the_store_page_has_is_written_even_if_the_new_version_lacks_it(world: FlowWorld) -> None:
    """A service that has not (yet) copied the page's languages to the new version: de-DE is on the page (0.9.0
    has it), so creating it on 1.0.0 adds no language, and is done."""
    _released(world, locales=("en-US", "de-DE"))
    with world.server.store.lock:
        new = appstore.create_version(world.server.sim, world.app_id, "1.0.0", "IOS")
        for loc in list(world.server.store.where("appStoreVersionLocalizations", appStoreVersion=new.id)):
            if loc.attributes["locale"] == "de-DE":
                world.server.store.remove(loc)
    out = world.run(world.flow(SUBMIT + "  whats_new: {en-US: Faster start., de-DE: Schneller.}\n"), world.ipa("1"))
    assert out.code == 0, out.output
    assert _whats_new(world, new) == {"en-US": "Faster start.", "de-DE": "Schneller."}
    assert "added de-DE" not in out.stderr  # nothing new on the store page, so no warning either


# ------------------------------------------------------------------------------------------------ H16


SCHEDULED = APP_STORE + "  release_type: scheduled\n  scheduled_release_date: \"{date}\"\n"


def test_h16_release_type_is_set_before_the_localizations(world: FlowWorld) -> None:
    _released(world, locales=("en-US", "de-DE"))
    ipa = world.ipa("1")
    assert world.run(world.flow(APP_STORE + "  whats_new: Faster.\n"), ipa).code == 0  # AFTER_APPROVAL
    _version(world).internal.pop("release_type_locked_until", None)  # a while later
    flow = world.flow(SCHEDULED.format(date=_hour_from_now()) + "  whats_new: {en-US: Faster., de-DE: Schneller.}\n"
                      "  submit_for_review: true\n")
    out = world.run(flow, ipa)
    assert out.code == 0, out.output
    assert not _refused(world, "PATCH", "/v1/appStoreVersions/{id}")
    assert "waiting for App Store Connect to let the release type" not in out.stderr
    assert _version(world).attributes["releaseType"] == "SCHEDULED"


def test_h16_a_locked_release_type_is_waited_out_and_set(world: FlowWorld) -> None:
    _released(world, locales=("en-US",))
    ipa = world.ipa("1")
    assert world.run(world.flow(APP_STORE + "  whats_new: Faster.\n"), ipa).code == 0
    version = _version(world)
    with world.server.store.lock:  # someone edited the store page a moment ago: Apple locks releaseType a while
        version.internal["release_type_locked_until"] = version.polls + 3
    date = _hour_from_now()
    out = world.run(world.flow(SCHEDULED.format(date=date) + "  whats_new: Faster.\n"), ipa)
    assert out.code == 0, out.output
    assert len(_refused(world, "PATCH", "/v1/appStoreVersions/{id}")) >= 1
    assert "waiting for App Store Connect to let the release type of version 1.0.0 be changed (1/" in out.stderr
    assert version.attributes["releaseType"] == "SCHEDULED"
    assert version.attributes["earliestReleaseDate"] == date


# ------------------------------------------------------------------------------------------------ the demo


def test_demo_ships_an_update_and_shows_the_waits() -> None:
    import io

    from publish.cli import CliContext, main

    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["demo"], ctx=CliContext(stdout=stdout, stderr=stderr, env={}))
    assert code == 0, stdout.getvalue() + stderr.getvalue()
    assert "What's New: en-US, de-DE" in stderr.getvalue()
    assert "waiting for App Store Connect to make version 1.0.0 ready for review (1/" in stderr.getvalue()
    assert "each wait is shown" in stdout.getvalue()


def test_a_dry_run_reads_that_it_is_a_first_release_and_does_not_wait(world: FlowWorld) -> None:
    """Issue 14: the dry run reads the app's versions, so it knows a first release as a real run does (it used to
    leave that unknown); the version it adds to the review submission reads as ready for review (H1), so it
    submits without waiting - and nothing of it is written."""
    out = world.run(world.flow(SUBMIT + "  whats_new: Faster start.\n"), world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output
    assert "What's New left out: version 1.0.0 is the app's first App Store release" in out.stderr
    assert "appStoreVersionLocalizations" not in out.stdout  # no What's New write on a first release
    assert "waiting for App Store Connect to make version 1.0.0 ready for review" not in out.stderr
    assert "would call: PATCH /v1/reviewSubmissions/" in out.stdout
    assert [e.method for e in world.server.exchanges if e.method != "GET"] == []
