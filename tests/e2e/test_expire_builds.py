"""`expire_previous_builds` on send_to_testflight (issue 13 part 3): which builds are expired, which never are, and
the refusals that come before any build is touched - end to end through the CLI against the simulator, plus the
pure choice of builds and the simulator's side (an expired build leaves its groups)."""

from __future__ import annotations


import pytest

from publish.asc import Resource
from publish.errors import InputError
from publish.plan.values import ExpiryPolicy, read_expiry
from publish.steps.expire_builds import choose
from flow_harness import INTERNAL, FlowWorld



def _flow(expire: str, extra: str = "") -> str:
    return f"""
- step: send_to_testflight
  api_key: main
  groups: ["{INTERNAL}"]
  expire_previous_builds: {expire}
{extra}"""


def _earlier(world: FlowWorld, *numbers: str, version: str = "1.0.0") -> dict[str, str]:
    """Builds already on App Store Connect, each in the internal group (as an earlier TestFlight run leaves it)."""
    ids = {}
    for number in numbers:
        build_id = world.server.add_build(world.app_id, version, number)
        with world.server.store.lock:
            world.server.store.require("builds", build_id).rels["betaGroups"] = [world.groups[INTERNAL]]
        ids[number] = build_id
    return ids


def _expired(world: FlowWorld) -> dict[str, bool]:
    return {b.attributes["version"]: b.attributes["expired"] for b in world.records("builds")}


def _patches(world: FlowWorld) -> list[str]:
    return [e.path for e in world.server.exchanges if e.method == "PATCH" and e.path.startswith("/v1/builds/")
            and "expired" in str(e.request)]


def test_true_expires_every_earlier_build_of_the_version_and_never_the_one_shipped(world: FlowWorld) -> None:
    ids = _earlier(world, "1", "2", "3")
    other_version = _earlier(world, "1", version="0.9.0")
    out = world.run(world.flow(_flow("true")), world.ipa("4"))
    assert out.code == 0, out.output
    builds = {b.id: b for b in world.records("builds")}
    assert [builds[ids[n]].attributes["expired"] for n in ("1", "2", "3")] == [True, True, True]
    shipped = next(b for b in builds.values() if b.attributes["version"] == "4")
    assert shipped.attributes["expired"] is False
    assert builds[other_version["1"]].attributes["expired"] is False  # another version: not touched
    for number in ("1", "2", "3"):
        assert f"expired build 1.0.0 ({number}) (id {ids[number]})" in out.stderr
    assert "expired 3 earlier build(s)" in out.result["steps"][0]["message"]
    # The simulator, as TestFlight: expired builds leave their groups; the new one is in it.
    assert [builds[ids[n]].rels["betaGroups"] for n in ("1", "2", "3")] == [[], [], []]
    assert shipped.rels["betaGroups"] == [world.groups[INTERNAL]]


def test_a_number_keeps_the_newest_builds_counting_the_one_shipped(world: FlowWorld) -> None:
    _earlier(world, "1", "2", "3", "10")  # compared as numbers: 10 is the newest, not the lowest
    out = world.run(world.flow(_flow("3")), world.ipa("11"))
    assert out.code == 0, out.output
    assert _expired(world) == {"1": True, "2": True, "3": False, "10": False, "11": False}
    assert "keeping build 1.0.0 (10): it is among the newest 3" in out.stderr


def test_a_build_on_a_version_in_review_stops_the_step_before_anything_is_expired_or_uploaded(
        world: FlowWorld) -> None:
    ids = _earlier(world, "1", "2")
    with world.server.store.lock:
        version = world.server.store.require("appStoreVersions",
                                             world.server.add_app_store_version(world.app_id, "1.0.0",
                                                                                state="WAITING_FOR_REVIEW"))
        version.rels["build"] = ids["1"]
    out = world.run(world.flow(_flow("true")), world.ipa("3"))
    assert out.code == 2, out.output
    assert "would expire a build Apple is reviewing or has approved: 1.0.0 (1) is on App Store version 1.0.0 " \
           "(WAITING_FOR_REVIEW)" in out.stderr
    assert "How to fix: keep more builds" in out.stderr
    assert "Traceback" not in out.output
    assert _patches(world) == []
    assert not world.records("buildUploads")  # refused before the upload, not after it
    assert _expired(world) == {"1": False, "2": False}


def test_a_build_on_an_editable_version_is_kept_with_a_log_line(world: FlowWorld) -> None:
    ids = _earlier(world, "1", "2")
    with world.server.store.lock:
        world.server.store.require("appStoreVersions", world.server.add_app_store_version(
            world.app_id, "1.0.0", state="PREPARE_FOR_SUBMISSION")).rels["build"] = ids["1"]
    out = world.run(world.flow(_flow("true")), world.ipa("3"))
    assert out.code == 0, out.output
    assert _expired(world) == {"1": False, "2": True, "3": False}
    assert "keeping build 1.0.0 (1): it is attached to App Store version 1.0.0 (PREPARE_FOR_SUBMISSION)" in out.stderr


def _in_beta_review(world: FlowWorld, build_id: str) -> None:
    with world.server.store.lock:
        world.server.store.add("betaAppReviewSubmissions", {"betaReviewState": "WAITING_FOR_REVIEW",
                                                            "submittedDate": None}, {"build": build_id})


def test_a_build_in_beta_review_is_refused_unless_asked(world: FlowWorld) -> None:
    ids = _earlier(world, "1", "2")
    _in_beta_review(world, ids["2"])
    out = world.run(world.flow(_flow("true")), world.ipa("3"))
    assert out.code == 2, out.output
    assert "would expire a build in TestFlight beta review: 1.0.0 (2)" in out.stderr
    assert "expire_builds_in_beta_review: true" in out.stderr
    assert _patches(world) == []

    out = world.run(world.flow(_flow("true", "  expire_builds_in_beta_review: true")), world.ipa("3"))
    assert out.code == 0, out.output
    assert _expired(world) == {"1": True, "2": True, "3": False}


def test_a_second_run_expires_nothing_more(world: FlowWorld) -> None:
    _earlier(world, "1")
    flow, ipa = world.flow(_flow("true")), world.ipa("2")
    assert world.run(flow, ipa).code == 0
    patched = len(_patches(world))
    out = world.run(flow, ipa, "--restart")
    assert out.code == 0, out.output
    assert len(_patches(world)) == patched == 1
    assert "no earlier build of version 1.0.0 to expire" in out.stderr


@pytest.mark.parametrize("value, message", [
    ("0", "not 0"), ("-1", "not -1"), ('"all"', "not str"), ("1.5", "not 1.5"), ("[1]", "not list"),
])
def test_bad_values_are_refused_offline(world: FlowWorld, value: str, message: str) -> None:
    out = world.run(world.flow(_flow(value)), world.ipa("1"))
    assert out.code == 2, out.output
    assert "expire_previous_builds" in out.stderr
    assert "Traceback" not in out.output
    assert not [e for e in world.server.exchanges if e.method != "GET"]


def test_expiry_needs_the_processed_build(world: FlowWorld) -> None:
    out = world.run(world.flow(_flow("true", "  wait_for_processing: false")), world.ipa("1"))
    assert out.code == 2, out.output
    assert "wait_for_processing is false" in out.stderr


# ------------------------------------------------------------------------------------------ pure parts


def _build(id_: str, number: str, state: str = "VALID", expired: bool = False) -> Resource:
    return Resource("builds", id_, {"version": number, "processingState": state, "expired": expired}, {})


def test_choose_skips_builds_it_cannot_rank_or_that_are_not_valid() -> None:
    builds = [_build("a", "1"), _build("b", "2", "PROCESSING"), _build("c", "x7"), _build("d", "3", expired=True),
              _build("s", "4")]
    plan = choose(builds, "4", "s", ExpiryPolicy(keep=None))
    assert [b.id for b in plan.expire] == ["a"]
    assert {b.id for b, _ in plan.kept} == {"b", "c"}


def test_true_keeps_a_higher_build_number_than_the_one_shipped() -> None:
    """A build promoted after a newer one was uploaded: `true` means "earlier", so the newer one stays."""
    plan = choose([_build("a", "1"), _build("b", "9"), _build("s", "5")], "5", "s", ExpiryPolicy(keep=None))
    assert [b.id for b in plan.expire] == ["a"]
    assert [(b.id, why) for b, why in plan.kept] == [("b", "its build number is higher than the one shipped")]


def test_a_number_always_keeps_the_shipped_build_even_when_it_is_not_among_the_newest() -> None:
    plan = choose([_build("a", "1"), _build("b", "9"), _build("c", "8"), _build("s", "5")], "5", "s",
                  ExpiryPolicy(keep=2))
    assert [b.id for b in plan.expire] == ["c", "a"]
    assert [b.id for b, _ in plan.kept] == ["b"]


def test_choose_before_the_upload_knows_the_shipped_build_by_its_number() -> None:
    plan = choose([_build("a", "1"), _build("s", "4.0")], "4", None, ExpiryPolicy(keep=1))
    assert [b.id for b in plan.expire] == ["a"]


def test_read_expiry() -> None:
    assert read_expiry({}) is None
    assert read_expiry({"expire_previous_builds": False}) is None
    assert read_expiry({"expire_previous_builds": True}) == ExpiryPolicy(keep=None)
    assert read_expiry({"expire_previous_builds": 2, "expire_builds_in_beta_review": True}) == \
        ExpiryPolicy(keep=2, in_beta_review=True)
    with pytest.raises(InputError, match="expire_previous_builds is not"):
        read_expiry({"expire_builds_in_beta_review": True})
    with pytest.raises(InputError):
        read_expiry({"expire_previous_builds": 0})


def test_a_dry_run_reads_which_builds_it_would_expire_and_changes_nothing(world: FlowWorld) -> None:
    """The dry run reads the version's builds, so it names the very builds a real run expires (issue 14: it used
    to say only "would expire all but the newest 2"), and writes none of it."""
    ids = _earlier(world, "1", "2", "3")
    out = world.run(world.flow(_flow("2")), world.ipa("4"), "--dry-run")
    assert out.code == 0, out.output
    assert f"would call: PATCH /v1/builds/{ids['1']}" in out.stdout
    assert f"would call: PATCH /v1/builds/{ids['2']}" in out.stdout
    assert f"PATCH /v1/builds/{ids['3']}" not in out.stdout
    assert _expired(world) == {"1": False, "2": False, "3": False}
    assert [e.method for e in world.server.exchanges if e.method != "GET"] == []
