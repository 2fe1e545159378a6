"""Apple-ID flows end to end through the CLI and the action's entrypoint against the simulator, with a fake
iTMSTransporter on PATH: an Apple ID alone uploads and makes no App Store Connect call; a flow asking for more
stops before the upload with the list; with an API key in the environment the same step also distributes."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from flow_harness import BUNDLE_ID, INTERNAL, ISSUER_ID, KEY_ID, FlowWorld
from transporter_fakes import calls, fake_tool
from action_harness import github_env, parse_outputs, run_action

from publish.cli import CliContext, main

PASSWORD = "hjkl-mnop-qrst-uvwx"


def apple_flow(world: FlowWorld, step_lines: str, *, name: str = "apple.yml") -> Path:
    path = world.directory / name
    path.write_text(
        "version: 1\n"
        "apple_ids:\n"
        "  login:\n    apple_id: ci@example.com\n    app_specific_password: {env: APPLE_PASSWORD}\n"
        "profiles:\n"
        f"  - bundle_id: {BUNDLE_ID}\n"
        "    flow:\n"
        "      - step: send_to_testflight\n"
        "        apple_id: login\n"
        + "".join(f"        {line}\n" for line in step_lines.strip().splitlines() if line.strip()))
    return path


def with_asset_description(ipa: Path) -> Path:
    import plistlib

    (ipa.parent / "AppStoreInfo.plist").write_bytes(plistlib.dumps({"bundle-identifier": BUNDLE_ID}))
    return ipa


def cli(world: FlowWorld, argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, env=env))
    return code, out.getvalue(), err.getvalue()


def run_argv(world: FlowWorld, flow: Path, ipa: Path, *extra: str) -> list[str]:
    return ["run", str(flow), "--ipa", str(ipa), "--api-base-url", world.server.url, "--state-dir",
            str(world.state_dir), "--poll-interval", "0.01", *extra]


def env_for(world: FlowWorld, **more: str) -> dict[str, str]:
    return {"PATH": str(world.directory / "bin"), "HOME": str(world.directory), "APPLE_PASSWORD": PASSWORD, **more}


def no_password_anywhere(world: FlowWorld, *texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
    for path in world.directory.rglob("*"):
        if path.is_file() and path.name != "calls.jsonl":  # the fake tool's own record of its environment
            assert PASSWORD.encode() not in path.read_bytes(), f"password left in {path}"


def test_an_apple_id_alone_uploads_and_calls_no_api(world: FlowWorld) -> None:
    fake_tool(world.directory / "bin")
    ipa = with_asset_description(world.ipa("7"))
    flow = apple_flow(world, "xcode_version: \"16.2\"")
    result = world.directory / "result.json"
    code, out, err = cli(world, run_argv(world, flow, ipa, "--result-json", str(result)), env_for(world))
    assert code == 0, err
    [call] = calls(world.directory / "bin")
    argv = call["argv"]
    assert argv[argv.index("-assetFile") + 1] == str(ipa)
    assert argv[argv.index("-u") + 1] == "ci@example.com" and PASSWORD not in " ".join(argv)
    assert world.server.exchanges == []  # no App Store Connect call at all
    assert "uploaded 1.0.0 (7) with itmstransporter as Apple ID 'login'" in err
    assert "xcode_version 16.2 is ignored" in err  # on Linux there is no Xcode to select
    no_password_anywhere(world, out, err)
    # the same run again: the upload is recorded as done, nothing is sent twice
    code, out, err = cli(world, run_argv(world, flow, ipa), env_for(world))
    assert code == 0, err
    assert len(calls(world.directory / "bin")) == 1 and "skipping send_to_testflight" in err


def test_a_flow_asking_for_more_than_an_upload_stops_before_it(world: FlowWorld) -> None:
    fake_tool(world.directory / "bin")
    ipa = with_asset_description(world.ipa("8"))
    flow = apple_flow(world, f"groups: [\"{INTERNAL}\"]\nwhat_to_test: Login\nnotify_testers: true")
    code, out, err = cli(world, run_argv(world, flow, ipa), env_for(world))
    assert code == 2, err
    assert "These need an API key:" in err and "Nothing was uploaded." in err
    for setting in ("groups", "what_to_test", "notify_testers"):
        assert f"step 1 (send_to_testflight), {setting}:" in err
    assert "Traceback" not in err
    assert calls(world.directory / "bin") == [] and world.server.exchanges == []


def test_without_the_asset_description_linux_transporter_is_refused_before_it_runs(world: FlowWorld) -> None:
    fake_tool(world.directory / "bin")
    ipa = world.ipa("9")
    code, _, err = cli(world, run_argv(world, apple_flow(world, ""), ipa), env_for(world))
    assert code == 2, err
    assert "needs an asset description" in err and "cannot be made without Xcode" in err
    assert calls(world.directory / "bin") == []


def test_with_an_api_key_in_the_environment_the_apple_id_step_also_distributes(world: FlowWorld) -> None:
    """Transporter uploads; the key from fastlane's variables finds the build and adds it to the group."""
    fake_tool(world.directory / "bin")
    ipa = with_asset_description(world.ipa("10"))
    flow = apple_flow(world, f"groups: [\"{INTERNAL}\"]")
    env = env_for(world, APP_STORE_CONNECT_API_KEY_KEY_ID=KEY_ID, APP_STORE_CONNECT_API_KEY_ISSUER_ID=ISSUER_ID,
                  APP_STORE_CONNECT_API_KEY_KEY=world.private_pem)
    stop = threading.Event()

    def apple_processes_the_upload() -> None:  # what App Store Connect does once Transporter has delivered
        while not stop.is_set():
            if calls(world.directory / "bin"):
                world.server.add_build(world.app_id, "1.0.0", "10")
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=apple_processes_the_upload, daemon=True)
    watcher.start()
    try:
        code, out, err = cli(world, run_argv(world, flow, ipa), env)
    finally:
        stop.set()
        watcher.join(5)
    assert code == 0, err
    assert len(calls(world.directory / "bin")) == 1
    assert f"groups: {INTERNAL}" in err
    assert not any(e.path.startswith("/v1/buildUpload") for e in world.server.exchanges)  # Transporter uploaded
    no_password_anywhere(world, out, err)


def test_a_missing_asset_description_stops_the_run_before_any_api_call(world: FlowWorld) -> None:
    """With a key in the environment the step would look the app and build up first: the check comes before."""
    fake_tool(world.directory / "bin")
    env = env_for(world, APP_STORE_CONNECT_API_KEY_KEY_ID=KEY_ID, APP_STORE_CONNECT_API_KEY_ISSUER_ID=ISSUER_ID,
                  APP_STORE_CONNECT_API_KEY_KEY=world.private_pem)
    code, _, err = cli(world, run_argv(world, apple_flow(world, f"groups: [\"{INTERNAL}\"]"), world.ipa("13")), env)
    assert code == 2, err
    assert "needs an asset description" in err
    assert world.server.exchanges == [] and calls(world.directory / "bin") == []


@pytest.mark.skipif(Path("/usr/local/itms/bin/iTMSTransporter").exists(), reason="Transporter is installed here")
def test_no_upload_tool_stops_the_run_before_any_api_call(world: FlowWorld) -> None:
    env = env_for(world, APP_STORE_CONNECT_API_KEY_KEY_ID=KEY_ID, APP_STORE_CONNECT_API_KEY_ISSUER_ID=ISSUER_ID,
                  APP_STORE_CONNECT_API_KEY_KEY=world.private_pem)
    code, _, err = cli(world, run_argv(world, apple_flow(world, ""), with_asset_description(world.ipa("14"))), env)
    assert code == 2, err
    assert "needs Apple's Transporter (iTMSTransporter) or Xcode's altool, and neither was found" in err
    assert world.server.exchanges == []


# ------------------------------------------------------------------------------------------------ the action


@pytest.fixture
def action_env(world: FlowWorld, tmp_path: Path) -> dict[str, str]:
    fake_tool(world.directory / "bin")
    ipa = with_asset_description(world.ipa("11"))
    env = github_env(tmp_path, **{"ipa": str(ipa), "apple-id": "ci@example.com", "app-specific-password": PASSWORD,
                                  "api-base-url": world.server.url, "state-dir": str(tmp_path / "state")})
    env.update(PATH=str(world.directory / "bin"), HOME=str(tmp_path))
    return env


def test_the_action_with_only_an_apple_id_uploads(world: FlowWorld, action_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    code, out, err = run_action(action_env)
    assert code == 0, err
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs["status"] == "succeeded"
    assert len(calls(world.directory / "bin")) == 1 and world.server.exchanges == []
    shown = "\n".join(line for line in (out + err).splitlines() if not line.startswith("::add-mask::"))
    assert PASSWORD not in shown and PASSWORD not in (tmp_path / "summary").read_text()


def test_the_action_with_an_apple_id_and_groups_says_a_key_is_needed(world: FlowWorld, action_env: dict[str, str],
                                                                    tmp_path: Path) -> None:
    action_env["INPUT_GROUPS"] = INTERNAL
    code, out, err = run_action(action_env)
    assert code == 2, err
    assert "groups: adding a build to a TestFlight group is an App Store Connect API call" in err
    assert calls(world.directory / "bin") == [] and world.server.exchanges == []
    assert parse_outputs((tmp_path / "output").read_text())["status"] == "failed"


def test_a_dry_run_with_only_an_apple_id_runs_no_tool_and_no_call(world: FlowWorld) -> None:
    fake_tool(world.directory / "bin")
    ipa = world.ipa("12", uses_non_exempt_encryption=None)
    code, _, err = cli(world, run_argv(world, apple_flow(world, ""), ipa, "--dry-run"), env_for(world))
    assert code == 0, err
    assert "dry run: would upload" in err and "no API key: nothing else is done" in err
    assert "Missing Compliance" in err  # Info.plist has no answer, and answering from the flow needs a key
    assert calls(world.directory / "bin") == [] and world.server.exchanges == []


def test_a_finished_apple_id_flow_run_again_without_the_tool_skips_its_upload(world: FlowWorld) -> None:
    """The run promises "run the same command again: the steps already done are skipped"; a step skipped as done
    uploads nothing, so the upload tool is not asked for (a re-run on a runner without Transporter)."""
    import shutil

    fake_tool(world.directory / "bin")
    ipa = with_asset_description(world.ipa("8"))
    flow = apple_flow(world, "")
    code, _, err = cli(world, run_argv(world, flow, ipa), env_for(world))
    assert code == 0, err
    shutil.rmtree(world.directory / "bin")  # no Transporter, no altool on PATH any more

    code, _, err = cli(world, run_argv(world, flow, ipa), env_for(world))
    assert code == 0, err
    assert "skipping send_to_testflight #1: already done" in err, err

    code, _, err = cli(world, run_argv(world, flow, ipa, "--restart"), env_for(world))
    assert code == 2, err  # a restart does upload again: then the missing tool is refused before anything runs
    assert "transporter" in err.lower(), err
