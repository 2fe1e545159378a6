"""Steps in a dry run (issue 14): App Store Connect is read as in a real run - so names, kinds and states are
checked for real and bad ones refused the same way - and nothing is written to it or to the state store. The
writes are recorded by the client's dry-run transport (publish/asc/dry_run.py); a step branches on dry_run only
for an effect outside the API (the list: test_steps_dry_run_branches.py)."""

from __future__ import annotations

import pytest

from publish.errors import InputError
from steps_fake_asc import apple_error, many, one, res

INTERNAL = res("betaGroups", "G-INT", name="Internal", isInternalGroup=True, hasAccessToAllBuilds=False)
BETA = res("betaGroups", "G-EXT", name="Beta", isInternalGroup=False)


def _writes_recorded(world) -> list[str]:
    return [f"{c.method} {c.path.split('?')[0]}" for c in world.client.dry_run_calls if c.method != "GET"]


def _processed_build(world) -> None:
    """App Store Connect has this binary's build, processed, and the app's groups Internal and Beta."""
    world.app()
    answer = world.ready_build()
    world.builds(answer["data"])
    world.build_reads(answer)
    world.asc.on("GET", "/v1/betaGroups", many(INTERNAL, BETA))


def test_a_dry_run_marks_nothing(world) -> None:
    # mark_as_rc writes only the state store, which a dry run never writes: its one "would" is that decision.
    world.dry_run = True
    outcome = world.run("mark_as_rc", {})

    assert outcome.message == "dry run: would mark 1.2.0 (45) as a release candidate"
    assert world.store.get_binary(world.ipa.fingerprint) is None


def test_release_in_a_dry_run_reads_the_version_and_writes_nothing(world) -> None:
    world.app()
    world.asc.on("GET", "/v1/apps/APP1/appStoreVersions", many(res("appStoreVersions", "V1", versionString="1.2",
                                                                   appVersionState="PENDING_DEVELOPER_RELEASE")))
    world.asc.on("GET", "/v1/appStoreVersions/V1/appStoreVersionPhasedRelease",
                 apple_error(404, "NOT_FOUND", "no phased release"))
    world.asc.on("GET", "/v1/appStoreVersions/V1", one(res("appStoreVersions", "V1", versionString="1.2",
                                                            appVersionState="PENDING_DEVELOPER_RELEASE")))
    world.dry_run = True

    outcome = world.run("release", {})

    assert world.asc.writes == [] and world.asc.sent("GET", "/v1/apps/APP1/appStoreVersions")
    assert _writes_recorded(world) == ["POST /v1/appStoreVersionReleaseRequests"]
    assert outcome.message == "version 1.2 released (READY_FOR_DISTRIBUTION)"  # as the read after a release shows
    assert world.store.get_binary(world.ipa.fingerprint) is None


def test_release_in_a_dry_run_refuses_an_app_app_store_connect_does_not_have(world) -> None:
    world.asc.on("GET", "/v1/apps", many())
    world.dry_run = True
    with pytest.raises(InputError, match="App Store Connect has no app with bundle ID"):
        world.run("release", {"action": "pause"})
    assert world.asc.writes == [] and _writes_recorded(world) == []


def test_send_to_testflight_in_a_dry_run_links_the_real_group_and_writes_nothing(world) -> None:
    _processed_build(world)
    world.dry_run = True

    outcome = world.run("send_to_testflight", {"groups": ["Internal"], "submit_for_beta_review": False})

    assert world.asc.writes == [] and world.asc.sent("GET", "/v1/betaGroups")
    assert "POST /v1/builds/BUILD1/relationships/betaGroups" in _writes_recorded(world)
    assert outcome.message == "build 1.2.0 (45) is on TestFlight; groups: Internal"
    assert world.store.get_binary(world.ipa.fingerprint) is None


def test_send_to_testflight_in_a_dry_run_refuses_an_unknown_group_as_a_real_run_does(world) -> None:
    _processed_build(world)
    world.dry_run = True
    with pytest.raises(InputError, match="did you mean 'Internal'") as refused:
        world.run("send_to_testflight", {"groups": ["internal"]})
    assert "Beta (external), Internal (internal)" in refused.value.message
    assert world.asc.writes == [] and _writes_recorded(world) == []


def test_submit_for_review_in_a_dry_run_refuses_a_build_app_store_connect_does_not_have(world) -> None:
    world.app()
    world.builds()
    world.dry_run = True
    with pytest.raises(InputError, match=r"build 1\.2\.0 \(45\) is not in App Store Connect"):
        world.run("submit_for_review", {})
    assert world.asc.writes == [] and _writes_recorded(world) == []
