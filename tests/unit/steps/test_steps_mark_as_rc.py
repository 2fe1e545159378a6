"""mark_as_rc: the binary is marked in the state store (no App Store Connect call), and a later
send_to_app_store with require_rc accepts only a marked binary."""

from __future__ import annotations

import pytest

from publish.errors import InputError


def test_marks_the_binary_as_a_release_candidate_with_its_note(world) -> None:
    outcome = world.run("mark_as_rc", {"note": "QA passed"})

    assert outcome.message == "1.2.0 (45) marked as release candidate"
    assert outcome.outputs == {"rc": True, "note": "QA passed"}
    assert world.store.is_rc(world.ipa.fingerprint)
    assert world.store.get_binary(world.ipa.fingerprint)["rc_note"] == "QA passed"
    assert world.asc.calls == []


def test_without_a_state_store_it_says_to_run_without_dry_run(world) -> None:
    world.store.close()
    world.store = None
    with pytest.raises(InputError) as caught:
        world.run("mark_as_rc", {})
    assert caught.value.message == "mark_as_rc needs the state store"
    assert "without --dry-run" in caught.value.hint


def test_a_note_that_is_not_text_is_refused_offline(world) -> None:
    with pytest.raises(InputError, match="note: 3 is not a string"):
        world.check("mark_as_rc", {"note": 3})


def test_require_rc_refuses_an_unmarked_binary_then_accepts_it_once_marked(world) -> None:
    settings = {"stage_type": "testflight", "require_rc": True}
    with pytest.raises(InputError) as caught:
        world.run("send_to_app_store", settings)
    assert "1.2.0 (45) is not marked as a release candidate" in caught.value.message
    assert "appstore-publish mark-rc '1.2.0 (45)'" in caught.value.hint
    assert world.asc.calls == []  # refused before anything remote

    world.run("mark_as_rc", {})
    world.app()
    world.builds(world.ready_build()["data"])
    world.build_reads(world.ready_build())
    outcome = world.run("send_to_app_store", settings)
    assert outcome.message == "build 1.2.0 (45) delivered to App Store Connect (TestFlight)"
