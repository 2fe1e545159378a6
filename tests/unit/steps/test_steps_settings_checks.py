"""The offline checks of every step's settings: each bad value is refused before anything remote happens, with
what is wrong and how to write it (no App Store Connect call is made)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from publish.errors import InputError
from publish.plan.values import parse_duration
from publish.steps.base import format_duration
from steps_fake_asc import echo, many

FUTURE = (datetime.now(timezone.utc) + timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
SCHEMA_EXPLAINS = ("is not an e-mail address", "demo_account.required", "needs a name and a password")
TESTFLIGHT_CASES = [
    ({"processing_timeout": "soon"}, "processing_timeout: 'soon' is not a duration"),
    ({"processing_timeout": 0}, "processing_timeout: 0 must be more than 0 seconds"),
    ({"processing_timeout": True}, "processing_timeout: True is not a duration"),
    ({"processing_timeout": "0m"}, "processing_timeout: '0m' must be more than 0 seconds"),
    ({"expire_previous_builds": True, "wait_for_processing": False},
     "send_to_testflight: expire_previous_builds expires the older builds once this one is on TestFlight, but wait_for_processing is "
     "false"),
    ({"groups": ["Beta"], "wait_for_processing": False},
     "send_to_testflight: groups and testers can only get the build once it is processed, but wait_for_processing is false"),
    ({"groups": "Beta"}, "groups: 'Beta' is not a list of group names"),
    ({"testers": ["not-an-address"]}, "testers: 'not-an-address' is not an e-mail address or "
                                                  "{email, first_name, last_name}"),
    ({"submit_for_beta_review": "yes"}, "submit_for_beta_review: 'yes' is not true or false"),
    ({"uses_non_exempt_encryption": "no"}, "uses_non_exempt_encryption: 'no' is not true or false"),
    ({"if_another_build_in_review": "skip"}, "if_another_build_in_review: 'skip' is not one of fail, wait, "
                                             "expire_other"),
    ({"what_to_test": "a <b> tag"}, "what_to_test (en-US) line 1, column 3: App Store Connect refuses the "
                                    "character '<' (U+003C)"),
    ({"what_to_test": "ok\nnew 🎉"}, "what_to_test (en-US) line 2, column 5: App Store Connect refuses the "
                                    "character '🎉' (U+1F389)"),
    ({"what_to_test": "é" * 2001}, "what_to_test (en-US) is 4002 bytes of UTF-8; App Store Connect takes at most "
                                  "4000 bytes"),
    ({"what_to_test": "x" * 4001}, "what_to_test: the notes for en-US are 4001 characters; App Store Connect "
                                   "allows 4000"),
    ({"what_to_test": {"en-US": "  "}}, "what_to_test: the notes for en-US are empty"),
    ({"what_to_test": 5}, "what_to_test: 5 is not release notes"),
    ({"what_to_test": {"en-US": 5}}, "what_to_test.en-US: 5 is neither text nor {file: path}"),
    ({"what_to_test": {"file": "missing.txt"}}, "what_to_test: the file {flow}/missing.txt does not exist"),
    ({"locale": 3, "what_to_test": "x"}, "locale: 3 is not a string"),
    ({"expire_previous_builds": "all"}, "send_to_testflight: expire_previous_builds must be true or a number of "
                                        "builds to keep (1 or more), not str"),
    ({"expire_builds_in_beta_review": True}, "send_to_testflight: expire_builds_in_beta_review is set, but "
                                             "expire_previous_builds is not"),
    ({"test_information": "all of it"}, "test_information: 'all of it' is not a mapping"),
    ({"test_information": {"contact": "ann"}}, "test_information.contact: 'ann' is not a mapping"),
    ({"test_information": {"description": ""}}, "test_information.description: '' is not a non-empty text"),
    ({"test_information": {"feedback_email": "nobody"}}, "test_information.feedback_email: 'nobody' is not an "
                                                         "e-mail address"),
    ({"test_information": {"contact": {"email": "ann"}}}, "test_information.contact.email: 'ann' is not an e-mail "
                                                          "address"),
    ({"test_information": {"demo_account": "demo"}}, "test_information.demo_account: 'demo' is not a mapping"),
    ({"test_information": {"demo_account": {"required": "yes"}}},
     "test_information.demo_account.required: 'yes' is not true or false"),
    ({"test_information": {"demo_account": {"name": "demo", "password": "hunter2"}}},
     "test_information.demo_account.password must be a secret reference, never written inline"),
    ({"test_information": {"demo_account": {"name": "demo"}}},
     "test_information.demo_account: a required demo account needs a name and a password"),
]


@pytest.mark.parametrize(("settings", "message"), TESTFLIGHT_CASES)
def test_send_to_testflight_refuses_bad_settings_offline(world, settings, message) -> None:
    with pytest.raises(InputError) as caught:
        world.check("send_to_testflight", settings)
    assert caught.value.message == message.replace("{flow}", str(world.flow_dir))
    # every refusal says how to write it, but the few the flow schema's own messages explain first
    assert caught.value.hint or any(part in message for part in SCHEMA_EXPLAINS)
    assert world.asc.calls == []


# (stage_type itself, and App-Store-only settings on stage_type: testflight, are the flow schema's to refuse)
APP_STORE_CASES = [
    ({"stage_type": "app_store", "wait_for_processing": False},
     "send_to_app_store with stage_type: app_store needs the processed build, but wait_for_processing is false"),
    ({"stage_type": "app_store", "cancel_submission_in_review": True},
     "send_to_app_store: cancel_submission_in_review withdraws a submission so that this one can take its place, "
     "but submit_for_review is not true"),
    ({"stage_type": "app_store", "release_type": "asap"},
     "release_type: 'asap' is not one of manual, after_approval, scheduled"),
    ({"stage_type": "app_store", "release_type": "scheduled"}, "release_type: scheduled needs scheduled_release_date"),
    ({"stage_type": "app_store", "scheduled_release_date": FUTURE.isoformat()},
     "scheduled_release_date is set but release_type is not scheduled"),
    ({"stage_type": "app_store", "release_type": "scheduled", "scheduled_release_date": "next week"},
     "scheduled_release_date: 'next week' is not an ISO 8601 date-time"),
    ({"stage_type": "app_store", "release_type": "scheduled", "scheduled_release_date": "2030-07-01T16:00:00"},
     "scheduled_release_date: '2030-07-01T16:00:00' has no time zone"),
    ({"stage_type": "app_store", "release_type": "scheduled", "scheduled_release_date": "2020-07-01T16:00:00Z"},
     "scheduled_release_date: 2020-07-01T16:00:00Z is in the past"),
    ({"stage_type": "app_store", "release_type": "scheduled",
      "scheduled_release_date": (FUTURE + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")},
     f"scheduled_release_date: {(FUTURE + timedelta(minutes=30)).isoformat()} is not on the hour; App Store Connect "
     "schedules releases by the hour only"),
    ({"stage_type": "app_store", "phased_release": "on"}, "phased_release: 'on' is not true or false"),
    ({"stage_type": "app_store", "require_rc": "yes"}, "require_rc: 'yes' is not true or false"),
    ({"stage_type": "testflight", "groups": 3}, "groups: 3 is not a list of group names"),
]


@pytest.mark.parametrize(("settings", "message"), APP_STORE_CASES)
def test_send_to_app_store_refuses_bad_settings_offline(world, settings, message) -> None:
    with pytest.raises(InputError) as caught:
        world.check("send_to_app_store", settings)
    assert caught.value.message == message
    assert caught.value.hint
    assert world.asc.calls == []


def test_an_hour_off_schedule_suggests_the_hours_around_it(world) -> None:
    when = FUTURE + timedelta(minutes=30)
    with pytest.raises(InputError) as caught:
        world.check("send_to_app_store", {"stage_type": "app_store", "release_type": "scheduled",
                                          "scheduled_release_date": when.isoformat()})
    hour = "%Y-%m-%dT%H:%M:%SZ"
    assert caught.value.hint == f'use "{FUTURE.strftime(hour)}" or "{(FUTURE + timedelta(hours=1)).strftime(hour)}"'


def test_a_scheduled_date_is_sent_in_utc_on_the_new_version(world) -> None:
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    world.asc.on("GET", "/v1/apps/APP1/appStoreVersions", many())
    create = world.asc.on("POST", "/v1/appStoreVersions", echo("V1"))
    world.asc.on("PATCH", "/v1/appStoreVersions/V1/relationships/build", None)
    local = FUTURE.astimezone(timezone(timedelta(hours=2)))

    world.run("send_to_app_store", {"stage_type": "app_store", "release_type": "scheduled",
                                    "scheduled_release_date": local})  # a YAML timestamp arrives as a datetime

    assert create.calls[0].attributes["earliestReleaseDate"] == FUTURE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert create.calls[0].attributes["releaseType"] == "SCHEDULED"


@pytest.mark.parametrize(("settings", "message"), [
    ({"cancel_previous_submission": "yes"}, "cancel_previous_submission: 'yes' is not true or false"),
    ({"cancel_submission_in_review": 1}, "cancel_submission_in_review: 1 is not true or false"),
])
def test_submit_for_review_refuses_bad_settings_offline(world, settings, message) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        world.check("submit_for_review", settings)


def test_release_notes_come_from_files_relative_to_the_flow(world) -> None:
    (world.flow_dir / "notes.de.txt").write_text("  Neu  \n", encoding="utf-8")
    (world.flow_dir / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    world.check("send_to_testflight", {"what_to_test": {"de-DE": {"file": "notes.de.txt"}}})
    with pytest.raises(InputError) as caught:
        world.check("send_to_testflight", {"what_to_test": {"file": "latin1.txt"}})
    assert caught.value.message == f"what_to_test: {world.flow_dir / 'latin1.txt'} is not UTF-8 text"
    with pytest.raises(InputError, match="cannot read"):
        world.check("send_to_testflight", {"what_to_test": {"file": str(world.flow_dir)}})


def test_durations_read_as_written(world) -> None:
    assert [parse_duration(v) for v in (None, 90, "90s", "45m", "2h", "1h30m")] == [
        3600.0, 90.0, 90.0, 2700.0, 7200.0, 5400.0]
    assert [format_duration(s) for s in (5.25, 125, 7260)] == ["5.2 s", "2 min 05 s", "2 h 01 min"]


def test_an_unknown_step_names_the_known_ones(world) -> None:
    with pytest.raises(InputError) as caught:
        world.check("send_to_play_store", {})
    assert caught.value.message == "unknown step 'send_to_play_store'"
    assert caught.value.hint == ("use one of: send_to_testflight, send_to_app_store, submit_for_review, mark_as_rc, "
                                 "release")
