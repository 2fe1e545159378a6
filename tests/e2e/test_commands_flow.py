"""The state commands on a state store filled by real flow runs (`appstore-publish run`) against the simulator.

Covers `versions --remote` merging, RC gating of send_to_app_store, download verification, delete confirmation
(and --expire-build), profiles, and two concurrent runs writing history into one state directory.
"""

from __future__ import annotations

import io
import json
import multiprocessing
from importlib.resources import files
from pathlib import Path

import jsonschema

from flow_harness import BUNDLE_ID, INTERNAL, FlowWorld
from publish.cli import CliContext, main
from publish.sandbox.sample_ipa import build_ipa
from publish.state import StateStore

TESTFLIGHT_ONLY = f"""
- step: send_to_testflight
  api_key: main
  groups: [{INTERNAL}]
"""

APP_STORE_RC = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  require_rc: true
"""


def cli(world: FlowWorld, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    """A state command on the world's state directory: (exit code, stdout, stderr)."""
    out = world.cli([*argv, "--state-dir", str(world.state_dir)], stdin=stdin)
    return out.code, out.stdout, out.stderr


def run(world: FlowWorld, flow: Path, ipa: Path, *extra: str) -> tuple[int, str, str]:
    """`appstore-publish run` against the world's simulator: (exit code, stdout, stderr)."""
    out = world.run(flow, ipa, *extra)
    return out.code, out.stdout, out.stderr


def validated(text: str, schema_name: str) -> dict:
    document = json.loads(text)
    schema = json.loads(files("publish.schemas").joinpath(f"{schema_name}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)
    return document


def test_versions_remote_merges_local_runs_with_app_store_connect_builds(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT_ONLY)
    for build in ("1", "2"):
        code, out, err = run(world, flow, world.ipa(build, version="1.0"))
        assert code == 0, out + err
    # Uploaded by another machine (another state directory): known only to App Store Connect here.
    code, out, err = run(world, flow, world.ipa("3", version="1.0"), "--state-dir", str(world.directory / "elsewhere"))
    assert code == 0, out + err

    code, out, err = cli(world, "versions", "--remote", "--flow", str(flow), "--api-base-url", world.server.url, "--json")
    assert code == 0, err
    doc = validated(out, "versions")
    assert doc["remote_checked"] is True
    rows = {(r["version"], r["build_number"]): r for r in doc["versions"]}
    assert list(rows) == [("1.0", "3"), ("1.0", "2"), ("1.0", "1")]
    assert rows[("1.0", "3")]["local"] is False and rows[("1.0", "3")]["fingerprint"] is None
    for key in (("1.0", "1"), ("1.0", "2")):
        row = rows[key]
        assert row["local"] is True and row["kept"] is True
        assert row["state"] == "send_to_testflight succeeded"
        assert row["remote"]["build_id"] == row["recorded_remote"]["build_id"]
        assert row["remote"]["processing_state"] == "VALID"
        assert row["remote"]["expired"] is False
        assert row["remote"]["testflight_internal_state"]  # read from the included buildBetaDetail
        assert row["remote"]["uploaded_date"]

    code, out, _ = cli(world, "versions", "--remote", "--flow", str(flow), "--api-base-url", world.server.url)
    assert code == 0
    assert "App Store Connect only" in out and "both" in out and "VALID" in out

    # Local-only listing needs no key.
    code, out, _ = cli(world, "versions", "--json")
    assert [r["build_number"] for r in validated(out, "versions")["versions"]] == ["2", "1"]


def test_profiles_named_and_iconed_from_latest_binary(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT_ONLY)
    code, out, err = cli(world, "profiles", str(flow), "--json")
    assert code == 0, err
    (empty,) = validated(out, "profiles")["profiles"]
    assert empty["versions"] == 0 and empty["latest"] is None and empty["app_name"] is None
    assert run(world, flow, world.ipa("5", version="2.0"))[0] == 0
    code, out, err = cli(world, "profiles", str(flow), "--json")
    (profile,) = validated(out, "profiles")["profiles"]
    assert profile["bundle_id"] == BUNDLE_ID and profile["name"] == "Flow App"
    assert profile["app_name"] == "Flow App" and profile["icon_name"]
    assert profile["versions"] == 1 and profile["steps"] == ["send_to_testflight"]
    assert profile["latest"]["version"] == "2.0" and profile["latest"]["state"] == "send_to_testflight succeeded"
    code, out, _ = cli(world, "profiles", str(flow))
    assert code == 0 and "Flow App" in out and "2.0 (5)" in out


def test_require_rc_refuses_until_marked(world: FlowWorld) -> None:
    flow = world.flow(APP_STORE_RC)
    ipa = world.ipa("1", version="3.0")
    code, out, err = run(world, flow, ipa)
    assert code != 0
    assert "not marked as a release candidate" in out + err
    code, out, err = cli(world, "mark-rc", "3.0", "--note", "QA signed off")
    assert code == 0, err
    code, out, err = run(world, flow, ipa)
    assert code == 0, out + err

    code, out, _ = cli(world, "history", "3.0(1)", "--json")
    entries = validated(out, "history")["history"]
    steps = [(e["step_name"], e["status"]) for e in entries if e["kind"] == "step"]
    assert steps[0] == ("send_to_app_store", "succeeded") and ("send_to_app_store", "failed") in steps
    rc = [e for e in entries if e["kind"] == "rc"]
    assert rc and rc[0]["detail"] == {"note": "QA signed off"}
    code, out, _ = cli(world, "show", "3.0", "--json")
    doc = validated(out, "show")
    assert doc["rc"] is True and doc["remote"].get("app_store_version_id")
    # The build is attached to its App Store version: --remote reports that version's state.
    row = _remote_build(world, flow, "3.0")
    assert row["rc"] is True
    assert row["remote"]["app_store_version_id"] == doc["remote"]["app_store_version_id"]
    assert row["remote"]["app_store_version_state"] == "PREPARE_FOR_SUBMISSION"


def test_download_verifies_kept_binary(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT_ONLY)
    ipa = world.ipa("1", version="4.0")
    assert run(world, flow, ipa)[0] == 0
    out_file = world.directory / "downloaded.ipa"
    code, out, err = cli(world, "download", "4.0", "--out", str(out_file))
    assert code == 0, err
    assert out_file.read_bytes() == ipa.read_bytes()

    with StateStore.open(world.state_dir) as store:
        (binary,) = store.find_binaries(version="4.0")
        kept = store.artifact_path(binary["fingerprint"])
    data = bytearray(kept.read_bytes())
    data[len(data) // 2] ^= 0xFF
    kept.write_bytes(bytes(data))
    corrupt_out = world.directory / "corrupt.ipa"
    code, _, err = cli(world, "download", "4.0", "--out", str(corrupt_out))
    assert code == 1 and "is corrupt" in err and not corrupt_out.exists()


def test_download_when_not_kept(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT_ONLY, keep_binaries=False)
    assert run(world, flow, world.ipa("1", version="4.1"))[0] == 0
    code, _, err = cli(world, "download", "4.1", "--out", str(world.directory / "x.ipa"))
    assert code == 2 and "Apple offers no download of uploaded builds" in err


def test_delete_confirmation_then_expire_build(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT_ONLY)
    assert run(world, flow, world.ipa("1", version="5.0"))[0] == 0
    with StateStore.open(world.state_dir) as store:
        (binary,) = store.find_binaries(version="5.0")
    build_id = binary["remote"]["build_id"]

    code, _, err = cli(world, 
        "delete", "5.0", "--expire-build", "--flow", str(flow), "--api-base-url", world.server.url, stdin="5.1\n"
    )
    assert code == 2 and "nothing was deleted" in err
    with StateStore.open(world.state_dir) as store:
        assert store.get_binary(binary["fingerprint"]) is not None
    assert _remote_build(world, flow, "5.0")["remote"]["expired"] is False

    code, out, err = cli(world, 
        "delete", "5.0", "--expire-build", "--flow", str(flow), "--api-base-url", world.server.url, stdin="5.0 (1)\n"
    )
    assert code == 0, err
    assert f"Expired build {build_id}" in out and "Nothing was removed from App Store Connect" in out
    with StateStore.open(world.state_dir) as store:
        assert store.get_binary(binary["fingerprint"]) is None
        assert [e["kind"] for e in store.history(version="5.0")][:2] == ["delete", "expire"]
    remote = _remote_build(world, flow, "5.0")
    assert remote["local"] is False and remote["remote"]["expired"] is True


def _remote_build(world: FlowWorld, flow: Path, version: str) -> dict:
    code, out, err = cli(world, "versions", "--remote", "--flow", str(flow), "--api-base-url", world.server.url, "--json")
    assert code == 0, err
    (row,) = [r for r in validated(out, "versions")["versions"] if r["version"] == version]
    return row


RUNS_PER_PROCESS = 3


def _run_builds(world_dir: str, server_url: str, flow: str, version: str, queue) -> None:
    codes = []
    for build in range(1, RUNS_PER_PROCESS + 1):
        ipa = build_ipa(
            Path(world_dir) / f"C-{version}-{build}.ipa", bundle_id=BUNDLE_ID, version=version,
            build_number=str(build), display_name="Flow App",
        )
        ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
        code = main(
            ["run", flow, "--ipa", str(ipa), "--api-base-url", server_url, "--poll-interval", "0.01",
             "--state-dir", str(Path(world_dir) / "state")],
            ctx=ctx,
        )
        codes.append((code, ctx.stderr.getvalue()[-500:]))
    queue.put(codes)


def test_two_concurrent_runs_lose_no_history(world: FlowWorld) -> None:
    flow = world.flow(TESTFLIGHT_ONLY)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    runners = [
        ctx.Process(target=_run_builds, args=(str(world.directory), world.server.url, str(flow), version, queue))
        for version in ("6.0", "7.0")
    ]
    for process in runners:
        process.start()
    results = [queue.get(timeout=120) for _ in runners]
    for process in runners:
        process.join(30)
        assert process.exitcode == 0
    for codes in results:
        assert [c for c, _ in codes] == [0] * RUNS_PER_PROCESS, codes

    code, out, _ = cli(world, "history", "--limit", "0", "--json")
    entries = validated(out, "history")["history"]
    steps = [e for e in entries if e["kind"] == "step"]
    assert len(steps) == 2 * RUNS_PER_PROCESS
    assert {(e["version"], e["build_number"]) for e in steps} == {
        (v, str(b)) for v in ("6.0", "7.0") for b in range(1, RUNS_PER_PROCESS + 1)
    }
    assert all(e["status"] == "succeeded" and e["asc_ids"] for e in steps)
    # The two runs were writing at the same time: some step of one overlaps some step of the other.
    spans = {v: [(e["started_at"], e["finished_at"]) for e in steps if e["version"] == v] for v in ("6.0", "7.0")}
    assert any(a0 < b1 and b0 < a1 for a0, a1 in spans["6.0"] for b0, b1 in spans["7.0"])
    code, out, _ = cli(world, "versions", "--json")
    assert len(validated(out, "versions")["versions"]) == 2 * RUNS_PER_PROCESS
