"""`next-build-number` / `latest-build-number` against the simulator over loopback HTTP, through the CLI: builds and
build uploads both hold numbers, compared as Apple compares them, in any form of the version (H.8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from flow_harness import BUNDLE_ID, ISSUER_ID, KEY_ID, FlowWorld, Outcome
from publish.asc.auth import ApiKey
from publish.asc.client import AppStoreConnect
from publish.upload.numbers import HOLDING_UPLOAD_STATES

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "build-numbers.schema.json").read_text())
STEP = "- step: send_to_testflight\n  api_key: main\n"


@pytest.fixture
def client(world: FlowWorld) -> Iterator[AppStoreConnect]:
    with AppStoreConnect(ApiKey(KEY_ID, ISSUER_ID, world.private_pem), base_url=world.server.url,
                         sleep=lambda s: None) as client:
        yield client


def ask(world: FlowWorld, command: str, *args: str, env: dict[str, str] | None = None) -> Outcome:
    flow = world.directory / "flow.yml"
    if not flow.exists():
        world.flow(STEP)
    return world.cli([command, *args, "--flow", str(flow), "--api-base-url", world.server.url], env=env)


def ask_json(world: FlowWorld, command: str, *args: str) -> dict:
    outcome = ask(world, command, *args, "--json")
    assert outcome.code == 0, outcome.output
    document = json.loads(outcome.stdout)
    jsonschema.validate(document, SCHEMA)
    return document


def open_upload(client: AppStoreConnect, app_id: str, version: str, number: str, platform: str = "IOS") -> str:
    """A build upload that got no file (a cancelled run): AWAITING_UPLOAD, yet its number is taken."""
    return client.create_build_upload(app_id, version=version, build_number=number, platform=platform).id


def test_numbers_compare_as_integers_and_a_version_is_found_in_the_form_first_uploaded(world: FlowWorld) -> None:
    for number in ("9", "10", "2"):
        world.server.add_build(world.app_id, "1.0", number)
    assert world.server.realism.version_forms  # the train can only be queried as "1.0"
    outcome = ask(world, "next-build-number", BUNDLE_ID, "1.0.0")
    assert (outcome.code, outcome.stdout) == (0, "11\n"), outcome.output  # not "3" (text order) nor "1" (missed)
    assert ask(world, "latest-build-number", BUNDLE_ID, "1.0.0").stdout == "10\n"
    document = ask_json(world, "latest-build-number", BUNDLE_ID, "1.0.0")
    assert document["version"] == "1.0.0" and document["version_in_app_store_connect"] == "1.0"
    assert document["latest"]["kind"] == "build" and document["latest"]["state"] == "VALID"
    assert document["counted"] == {"builds": 3, "build_uploads": 0}


def test_dotted_build_numbers_compare_component_by_component(world: FlowWorld) -> None:
    for number in ("1.2.9", "1.2.10", "1.10", "1.9.99"):
        world.server.add_build(world.app_id, "2.0", number)
    document = ask_json(world, "next-build-number", BUNDLE_ID, "2.0")
    assert document["latest"]["build_number"] == "1.10" and document["next"] == "1.11"
    world.server.add_build(world.app_id, "2.0", "1.10.0.1")
    assert ask(world, "next-build-number", BUNDLE_ID, "2.0").stdout == "1.10.0.2\n"


def test_an_upload_still_awaiting_its_file_holds_its_number(world: FlowWorld, client: AppStoreConnect) -> None:
    world.server.add_build(world.app_id, "1.0", "4")
    upload_id = open_upload(client, world.app_id, "1.0", "7")
    document = ask_json(world, "next-build-number", BUNDLE_ID, "1.0.0")
    assert document["latest"] == {"build_number": "7", "kind": "build_upload", "id": upload_id,
                                  "state": "AWAITING_UPLOAD", "version": "1.0"}
    assert document["next"] == "8" and document["counted"] == {"builds": 1, "build_uploads": 1}


def test_an_upload_in_the_other_form_of_the_version_counts_before_any_build_exists(
        world: FlowWorld, client: AppStoreConnect) -> None:
    """No train yet, so nothing says which form Apple holds: the uploads of every form are compared."""
    open_upload(client, world.app_id, "3.1", "5")
    assert ask(world, "next-build-number", BUNDLE_ID, "3.1.0").stdout == "6\n"
    assert ask(world, "next-build-number", BUNDLE_ID, "3.1.1").stdout == "1\n"  # another version


def test_a_failed_upload_frees_its_number(world: FlowWorld, client: AppStoreConnect) -> None:
    world.server.add_build(world.app_id, "1.0", "3")
    upload_id = open_upload(client, world.app_id, "1.0", "9")
    with world.server.store.lock:
        record = next(u for u in world.records("buildUploads") if u.id == upload_id)
        record.attributes["state"] = {"errors": [], "warnings": [], "infos": [], "state": "FAILED"}
    assert "FAILED" not in HOLDING_UPLOAD_STATES
    assert ask(world, "next-build-number", BUNDLE_ID, "1.0").stdout == "4\n"


def test_the_whole_app_without_a_version_and_only_the_platform_asked(world: FlowWorld,
                                                                      client: AppStoreConnect) -> None:
    world.server.add_build(world.app_id, "1.0", "12")
    world.server.add_build(world.app_id, "2.0", "3")
    world.server.add_build(world.app_id, "2.0", "40", platform="TV_OS")
    open_upload(client, world.app_id, "2.1", "13")
    document = ask_json(world, "next-build-number", BUNDLE_ID)
    assert document["version"] is None and document["version_in_app_store_connect"] is None
    assert document["latest"]["build_number"] == "13" and document["latest"]["version"] == "2.1"
    assert document["next"] == "14" and document["counted"] == {"builds": 2, "build_uploads": 1}
    assert ask(world, "latest-build-number", BUNDLE_ID, "--platform", "TV_OS").stdout == "40\n"
    assert ask(world, "latest-build-number", BUNDLE_ID, "1.0").stdout == "12\n"


def test_nothing_used_yet_gives_the_initial_number_and_no_latest(world: FlowWorld) -> None:
    assert ask(world, "next-build-number", BUNDLE_ID, "1.0").stdout == "1\n"
    assert ask(world, "next-build-number", BUNDLE_ID, "1.0", "--initial", "100").stdout == "100\n"
    latest = ask(world, "latest-build-number", BUNDLE_ID, "1.0")
    assert (latest.code, latest.stdout) == (0, "")
    assert "holds no build number yet" in latest.stderr
    document = ask_json(world, "latest-build-number", BUNDLE_ID, "1.0")
    assert document["latest"] is None and document["next"] == "1"


def test_reads_only_and_counts_its_calls(world: FlowWorld) -> None:
    world.server.add_build(world.app_id, "1.0", "1")
    before = len(world.server.exchanges)
    document = ask_json(world, "next-build-number", BUNDLE_ID, "1.0")
    exchanges = world.server.exchanges[before:]
    assert {e.method for e in exchanges} == {"GET"}
    # apps, preReleaseVersions, builds, buildUploads
    assert document["api_calls"] == len(exchanges) == 4


def test_github_output_sets_both_numbers(world: FlowWorld, tmp_path: Path, client: AppStoreConnect) -> None:
    world.server.add_build(world.app_id, "1.0", "41")
    open_upload(client, world.app_id, "1.0", "42")
    output = tmp_path / "github_output"
    output.write_text("")
    outcome = ask(world, "next-build-number", BUNDLE_ID, "1.0", "--github-output", env={"GITHUB_OUTPUT": str(output)})
    assert (outcome.code, outcome.stdout) == (0, "43\n"), outcome.output
    text = output.read_text()
    lines = text.splitlines()
    for name, value in (("latest-build-number", "42"), ("next-build-number", "43")):
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}<<"))
        assert lines[start + 1] == value and lines[start + 2] == lines[start].split("<<", 1)[1]


def test_the_api_key_is_the_flows_only_key_for_an_app_without_a_profile(world: FlowWorld) -> None:
    other = world.server.add_app("com.example.other", "Other", sku="OTHER")
    world.server.add_build(other, "1.0", "5")
    assert ask(world, "next-build-number", "com.example.other", "1.0").stdout == "6\n"


@pytest.mark.parametrize("args, message, fix", [
    (("1.0-beta",), "'1.0-beta' is not a version", "give the version like 1.2 or 1.2.3"),
    (("v2.0",), "'v2.0' is not a version", "(without the leading 'v')"),
    (("1.2.3.4",), "'1.2.3.4' is not a version", "or leave it out for the whole app"),
    (("1.0", "--initial", "one"), "--initial 'one' is not a build number", "give one like 1 or 45"),
])
def test_bad_input_is_refused_before_any_call(world: FlowWorld, args: tuple[str, ...], message: str,
                                              fix: str) -> None:
    before = len(world.server.exchanges)
    outcome = ask(world, "next-build-number", BUNDLE_ID, *args)
    assert outcome.code == 2 and outcome.stdout == ""
    assert outcome.stderr.startswith(f"error: {message}") and fix in outcome.stderr, outcome.stderr
    assert "Traceback" not in outcome.stderr and len(world.server.exchanges) == before


@pytest.mark.parametrize("bundle_id", ["com example app", "app", "com.example.app/../x", "x" * 200 + ".y"])
def test_a_bundle_id_that_is_not_one_is_refused_before_any_call(world: FlowWorld, bundle_id: str) -> None:
    before = len(world.server.exchanges)
    outcome = ask(world, "latest-build-number", bundle_id, "1.0")
    assert outcome.code == 2 and "is not a bundle ID" in outcome.stderr and "How to fix:" in outcome.stderr
    assert len(world.server.exchanges) == before and len(outcome.stderr) < 600


def test_an_unknown_bundle_id_is_exit_2_naming_it(world: FlowWorld) -> None:
    outcome = ask(world, "next-build-number", "com.example.nothere", "1.0")
    assert outcome.code == 2 and outcome.stdout == ""
    assert "App Store Connect has no app with bundle ID com.example.nothere" in outcome.stderr
    assert "belongs to the team" in outcome.stderr and "Traceback" not in outcome.stderr


def test_github_output_outside_github_actions_is_refused_before_any_call(world: FlowWorld) -> None:
    before = len(world.server.exchanges)
    outcome = ask(world, "next-build-number", BUNDLE_ID, "1.0", "--github-output", env={})
    assert outcome.code == 2 and "GITHUB_OUTPUT is not set" in outcome.stderr
    assert len(world.server.exchanges) == before


def test_the_private_key_never_shows(world: FlowWorld, client: AppStoreConnect) -> None:
    open_upload(client, world.app_id, "1.0", "2")
    outcome = ask(world, "next-build-number", BUNDLE_ID, "1.0", "--json", "-v")
    body = "".join(line for line in world.private_pem.splitlines() if "PRIVATE KEY" not in line)
    assert outcome.code == 0 and body[:40] not in outcome.output


def test_the_readmes_docker_step_is_a_command_line_that_parses() -> None:
    """The README's `uses: docker://...` step hands its `args` to the image's CLI: they must stay valid."""
    import re
    import shlex

    import yaml

    from publish.cli import parse

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    steps = []
    for block in re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M):
        for job in (yaml.safe_load(block) or {}).get("jobs", {}).values() if "docker://" in block else ():
            steps += [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith("docker://")]
    assert steps
    for step in steps:
        args = parse(shlex.split(step["with"]["args"]))
        assert args.command == "next-build-number" and args.github_output
