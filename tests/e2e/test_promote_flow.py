"""Promote (issue 13 part 1): `run FLOW --build 'VERSION (NUMBER)'` runs the profile's flow on a build App Store
Connect already has, without an IPA and without an upload - end to end through the CLI against the simulator:
the build found and checked (and refused, with the builds that do exist, before any write), tied to the binary
the state store knows (RC mark, require_rc), and recorded so that history and versions show it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from flow_harness import EXTERNAL, INTERNAL, POLL_INTERVAL, FlowWorld, Outcome
from publish.state import StateStore
import speed_schemas

RESULT_SCHEMA = json.loads(resources.files("publish.schemas").joinpath("run-result.schema.json").read_text())

TESTFLIGHT = f"""
- step: send_to_testflight
  api_key: main
  what_to_test: Check the login screen
  groups: [{INTERNAL}]
"""
APP_STORE = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  release_type: manual
  submit_for_review: true
"""


def promote(world: FlowWorld, flow: Path, build: str, *extra: str) -> Outcome:
    result_path = world.directory / "result.json"
    result_path.unlink(missing_ok=True)
    return world.cli(["run", str(flow), "--build", build, "--api-base-url", world.server.url, "--state-dir",
                      str(world.state_dir), "--poll-interval", str(POLL_INTERVAL), "--result-json", str(result_path), *extra],
                     result_path=result_path)


def writes(world: FlowWorld) -> list[str]:
    return [f"{e.method} {e.path}" for e in world.server.exchanges if e.method != "GET"]


def uploaded(world: FlowWorld) -> Outcome:
    """1.2.3 (45) uploaded and on TestFlight through a run with the IPA, as the tested binary."""
    out = world.run(world.flow(TESTFLIGHT, name="testflight.yml"), world.ipa("45", version="1.2.3"))
    assert out.code == 0, out.output
    return out


def test_a_tested_build_goes_to_the_app_store_without_an_ipa_or_a_second_upload(world: FlowWorld) -> None:
    first = uploaded(world)
    uploads_before = len(world.records("buildUploads"))
    out = promote(world, world.flow(APP_STORE + "  require_rc: false\n", name="release.yml"), "1.2.3 (45)")
    assert out.code == 0, out.output
    assert len(world.records("buildUploads")) == uploads_before == 1  # nothing uploaded again
    build_id = first.result["ids"]["build_id"]
    version = next(v for v in world.records("appStoreVersions") if v.attributes["versionString"] == "1.2.3")
    assert version.rels["build"] == build_id
    assert [s.attributes["state"] for s in world.records("reviewSubmissions")] == ["WAITING_FOR_REVIEW"]
    result = out.result
    speed_schemas.validate(result, RESULT_SCHEMA)
    assert result["promote"] == {"build": "1.2.3 (45)", "build_id": build_id, "binary_known": True,
                                 "verified": True}
    assert result["fingerprint"] == first.result["fingerprint"]  # recorded against the tested binary
    assert result["ids"]["build_id"] == build_id and result["platform"] == "IOS"
    assert "nothing is uploaded" in out.stderr and "upload is skipped" in out.stderr
    assert "[com.example.flow]: succeeded (promoted: nothing uploaded)" in out.stdout
    # history and versions show the promote's steps on that binary
    with StateStore.open(world.state_dir) as store:
        steps = store.history(fingerprint=first.result["fingerprint"], kind="step")
        assert sorted(h["step_name"] for h in steps) == ["send_to_app_store", "send_to_testflight"]
        assert len(store.find_binaries()) == 1
    history = world.cli(["history", "--state-dir", str(world.state_dir)])
    assert history.code == 0 and "send_to_app_store" in history.stdout


def test_an_ipa_run_says_it_was_no_promote(world: FlowWorld) -> None:
    out = uploaded(world)
    assert out.result["promote"] is None
    speed_schemas.validate(out.result, RESULT_SCHEMA)


@pytest.mark.parametrize("label", ["1.2.3(45)", " 1.2.3 ( 45 ) ", "1.2.3 (045)", "01.2.3 (45)"])
def test_the_label_is_read_as_apple_compares_numbers(world: FlowWorld, label: str) -> None:
    first = uploaded(world)
    out = promote(world, world.flow(TESTFLIGHT.replace(INTERNAL, EXTERNAL), name="external.yml"), label)
    assert out.code == 0, out.output
    assert out.result["fingerprint"] == first.result["fingerprint"]
    assert out.result["promote"]["verified"] is True


@pytest.mark.parametrize("label", ["1.2.3", "45", "1.2.3 (x)", "1.2.3 (45", "v1.2 (3)", "1.2.3.4 (5)", "",
                                   "1.2.3 (45) (46)", "9" * 80 + " (1)"])
def test_a_string_that_is_not_version_and_number_is_bad_input_naming_the_form(world: FlowWorld, label: str) -> None:
    out = promote(world, world.flow(APP_STORE), label)
    assert out.code == 2, out.output
    assert "expected VERSION (NUMBER)" in out.stderr and "'1.2.3 (45)'" in out.stderr
    assert "Traceback" not in out.output
    assert world.server.exchanges == [] or writes(world) == []
    assert not world.state_dir.exists()


def test_ipa_and_build_together_or_neither_is_a_usage_error(world: FlowWorld) -> None:
    flow = str(world.flow(APP_STORE))
    both = world.cli(["run", flow, "--ipa", str(world.ipa("1")), "--build", "1.0.0 (1)"])
    neither = world.cli(["run", flow])
    assert both.code == 2 and "--build" in both.stderr
    assert neither.code == 2 and "--ipa" in neither.stderr and "--build" in neither.stderr


def test_a_build_the_state_store_does_not_know_needs_the_profile_then_is_recorded_as_a_binary(
        world: FlowWorld) -> None:
    build_id = world.server.add_build(world.app_id, "2.0", "7")
    flow = world.flow(TESTFLIGHT)
    out = promote(world, flow, "2.0 (7)")
    assert out.code == 2
    assert "--profile" in out.stderr and "com.example.flow" in out.stderr and "knows no binary 2.0 (7)" in out.stderr
    assert writes(world) == [] and not world.state_dir.exists()

    out = promote(world, flow, "2.0 (7)", "--profile", "com.example.flow")
    assert out.code == 0, out.output
    assert out.result["promote"] == {"build": "2.0 (7)", "build_id": build_id, "binary_known": False,
                                     "verified": False}
    build = next(b for b in world.records("builds") if b.id == build_id)
    assert build.rels["betaGroups"] == [world.groups[INTERNAL]]
    with StateStore.open(world.state_dir) as store:
        [binary] = store.find_binaries()
        assert binary["fingerprint"] == out.result["fingerprint"] and binary["remote"]["build_id"] == build_id
        assert binary["info"]["source"] == "app_store_connect"
    versions = world.cli(["versions", "--state-dir", str(world.state_dir)])
    assert versions.code == 0 and versions.stdout.splitlines()[1].split()[:3] == ["com.example.flow", "2.0", "7"]
    shown = world.cli(["show", "2.0 (7)", "--state-dir", str(world.state_dir)])
    assert shown.code == 0 and "send_to_testflight" in shown.stdout, shown.output
    # Recorded, the build is known the next time: no --profile needed, the same binary, steps skipped as done.
    again = promote(world, flow, "2.0 (7)")
    assert again.code == 0, again.output
    assert again.result["fingerprint"] == out.result["fingerprint"]
    assert [s["status"] for s in again.result["steps"]] == ["skipped"]


def test_a_build_that_does_not_exist_is_refused_naming_the_builds_there_are_before_any_write(
        world: FlowWorld) -> None:
    uploaded(world)
    world.server.add_build(world.app_id, "1.2.3", "44")
    before = writes(world)
    out = promote(world, world.flow(APP_STORE), "1.2.3 (46)")
    assert out.code == 2, out.output  # not known here: which app is it? The store's builds of 1.2.3 are named
    assert "--profile" in out.stderr and "of version 1.2.3 it knows 1.2.3 (45) of com.example.flow" in out.stderr
    out = promote(world, world.flow(APP_STORE), "1.2.3 (46)", "--profile", "com.example.flow")
    assert out.code == 2, out.output
    assert "has no build 46 of version 1.2.3" in out.stderr
    assert "45 (VALID), 44 (VALID)" in out.stderr and "nothing was changed" in out.stderr
    assert writes(world) == before
    assert out.result["status"] == "failed" and "46" in out.result["error"]["message"]

    out = promote(world, world.flow(APP_STORE), "3.0 (1)", "--profile", "com.example.flow")
    assert out.code == 2 and "has no build of version 3.0" in out.stderr
    assert writes(world) == before


@pytest.mark.parametrize("state, expired, said", [
    ("PROCESSING", False, "is still being processed"),
    ("FAILED", False, "is FAILED"),
    ("INVALID", False, "is INVALID"),
    ("VALID", True, "is expired"),
])
def test_a_build_no_step_can_use_is_refused_before_any_write(world: FlowWorld, state: str, expired: bool,
                                                             said: str) -> None:
    build_id = world.server.add_build(world.app_id, "1.5", "3", processing_state=state)
    if expired:
        with world.server.store.lock:
            world.server.store.require("builds", build_id).attributes["expired"] = True
    out = promote(world, world.flow(TESTFLIGHT + APP_STORE), "1.5 (3)", "--profile", "Flow App")
    assert out.code == 2, out.output
    assert said in out.stderr and build_id in out.stderr and "1.5 (3)" in out.stderr
    assert writes(world) == [] and "Traceback" not in out.output


def test_require_rc_means_the_exact_binary_that_was_tested(world: FlowWorld) -> None:
    uploaded(world)
    release = world.flow(TESTFLIGHT.replace(INTERNAL, EXTERNAL) + APP_STORE + "  require_rc: true\n",
                         name="release.yml")
    before = writes(world)
    out = promote(world, release, "1.2.3 (45)")
    assert out.code == 2, out.output
    assert "require_rc: true" in out.stderr and "not marked as a release candidate" in out.stderr
    assert writes(world) == before  # refused before step 1, not at step 2

    marked = world.cli(["mark-rc", "1.2.3 (45)", "--state-dir", str(world.state_dir)])
    assert marked.code == 0, marked.output
    out = promote(world, release, "1.2.3 (45)")
    assert out.code == 0, out.output
    assert [s["status"] for s in out.result["steps"]] == ["succeeded", "succeeded"]


def test_require_rc_refuses_a_build_the_state_store_cannot_tie_to_a_tested_binary(world: FlowWorld) -> None:
    world.server.add_build(world.app_id, "2.0", "7")
    out = promote(world, world.flow(APP_STORE + "  require_rc: true\n"), "2.0 (7)", "--profile", "com.example.flow")
    assert out.code == 2, out.output
    assert "cannot be shown to be the binary that was tested" in out.stderr
    assert writes(world) == []


def test_a_mark_as_rc_step_before_require_rc_is_what_marks_it(world: FlowWorld) -> None:
    uploaded(world)
    flow = world.flow("- step: mark_as_rc\n" + APP_STORE + "  require_rc: true\n", name="rc.yml")
    out = promote(world, flow, "1.2.3 (45)")
    assert out.code == 0, out.output


def test_a_binary_recorded_as_another_build_is_not_promoted_as_this_one(world: FlowWorld) -> None:
    first = uploaded(world)
    with StateStore.open(world.state_dir) as store:
        store.update_remote(first.result["fingerprint"], build_id="some-other-build")
    before = writes(world)
    out = promote(world, world.flow(APP_STORE), "1.2.3 (45)")
    assert out.code == 2, out.output
    assert "was uploaded as build some-other-build" in out.stderr
    assert writes(world) == before


def test_a_dry_run_promote_looks_the_build_up_for_real_and_writes_nothing(world: FlowWorld) -> None:
    """Issue 14: the dry run reads App Store Connect, so it finds (and checks) the very build a real promote would,
    and refuses a build that is not there exactly like a real run."""
    uploaded(world)
    before = writes(world)
    out = promote(world, world.flow(APP_STORE), "1.2.3 (45)", "--dry-run")
    assert out.code == 0, out.output
    assert "promote: build 1.2.3 (45) (id " in out.stderr and "is in App Store Connect and processed" in out.stderr
    assert "would call: POST /v1/appStoreVersions " in out.stdout
    missing = promote(world, world.flow(APP_STORE), "1.2.3 (46)", "--profile", "com.example.flow", "--dry-run")
    assert missing.code == 2 and "has no build 46 of version 1.2.3" in missing.stderr
    assert writes(world) == before


def test_a_flow_without_an_upload_step_still_ties_the_build_to_its_record(world: FlowWorld) -> None:
    build_id = world.server.add_build(world.app_id, "2.0", "7")
    flow = world.flow("- step: mark_as_rc\n")
    out = promote(world, flow, "2.0 (7)", "--profile", "com.example.flow")
    assert out.code == 0, out.output
    with StateStore.open(world.state_dir) as store:
        [binary] = store.find_binaries()
        assert binary["remote"]["build_id"] == build_id and binary["rc"] is True
    again = promote(world, world.flow(APP_STORE + "  require_rc: true\n", name="release.yml"), "2.0 (7)")
    assert again.code == 0, again.output  # marked by the first promote: that very build is the release candidate
    assert again.result["promote"]["verified"] is True and "not which App Store Connect build" not in again.stderr


def test_a_promote_calls_no_upload_endpoint_and_costs_less_than_the_upload_it_follows(world: FlowWorld) -> None:
    import io

    from publish.cli import CliContext
    from publish.commands.run import run_command

    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    counted: dict[str, list[str]] = {"ipa": [], "build": []}

    def run(kind: str, flow: Path, **binary: object) -> int:
        return run_command(ctx, flow_path=flow, api_base_url=world.server.url, state_dir=world.state_dir,
                           poll_interval=POLL_INTERVAL, on_call=lambda method, url, body: counted[kind].append(
                               f"{method} {url}"), **binary)  # type: ignore[arg-type]

    assert run("ipa", world.flow(TESTFLIGHT, name="tf.yml"), ipa_path=world.ipa("45", version="1.2.3")) == 0
    assert run("build", world.flow(APP_STORE, name="release.yml"), build="1.2.3 (45)") == 0
    assert [c for c in counted["ipa"] if "/v1/buildUploads" in c]
    assert not [c for c in counted["build"] if "/v1/buildUpload" in c]
    assert len(counted["build"]) < len(counted["ipa"])


def test_a_macos_package_build_is_promoted_on_its_platform(world: FlowWorld) -> None:
    from publish.sandbox.sample_pkg import build_pkg

    pkg = build_pkg(world.directory / "Mac.pkg", bundle_id="com.example.flow", version="1.2.3", build_number="45",
                    display_name="Flow App")
    world.server.add_build(world.app_id, "1.2.3", "45")  # the iOS app's build with the same numbers
    first = world.run(world.flow(TESTFLIGHT, name="tf.yml"), pkg)
    assert first.code == 0, first.output
    out = promote(world, world.flow(APP_STORE), "1.2.3 (45)")
    assert out.code == 0, out.output
    assert out.result["platform"] == "MAC_OS" and out.result["ids"]["build_id"] == first.result["ids"]["build_id"]
    [version] = [v for v in world.records("appStoreVersions") if v.attributes["versionString"] == "1.2.3"]
    assert version.attributes["platform"] == "MAC_OS" and version.rels["build"] == first.result["ids"]["build_id"]


def test_a_build_on_two_platforms_that_the_state_store_cannot_tell_apart_is_refused(world: FlowWorld) -> None:
    world.server.add_build(world.app_id, "3.0", "1")
    world.server.add_build(world.app_id, "3.0", "1", platform="MAC_OS")
    out = promote(world, world.flow(APP_STORE), "3.0 (1)", "--profile", "com.example.flow")
    assert out.code == 2 and "on several platforms (IOS, MAC_OS)" in out.stderr or \
        "on several platforms (MAC_OS, IOS)" in out.stderr, out.output
    assert writes(world) == []


def test_a_binary_never_uploaded_from_here_is_not_taken_for_the_build(world: FlowWorld) -> None:
    failed = world.run(world.flow("- step: send_to_testflight\n  api_key: main\n  groups: [Nobody]\n"),
                       world.ipa("45", version="1.2.3"))
    assert failed.code == 2  # recorded, but refused before its upload
    build_id = world.server.add_build(world.app_id, "1.2.3", "45")  # uploaded by someone else
    out = promote(world, world.flow(APP_STORE), "1.2.3 (45)")
    assert out.code == 0, out.output
    assert "not which App Store Connect build it became" in out.stderr
    assert out.result["promote"] == {"build": "1.2.3 (45)", "build_id": build_id, "binary_known": False,
                                     "verified": False}
    assert out.result["fingerprint"] != failed.result["fingerprint"]
