"""The action on every exit path, GitHub-natively: located `::error` annotations for flow-file problems, outputs
(`status`, `error`) and a summary whatever happens, `::group::` per step, debug from RUNNER_DEBUG, the run-option
inputs and the Apple-Actions aliases, hints naming inputs, unusable GITHUB_OUTPUT / GITHUB_STEP_SUMMARY, the
image's argument passthrough and the drop from root to the workspace's owner."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.sandbox.sample_ipa import build_ipa
from publish.workflow_commands import annotation, escape_property, output_block, workspace_relative
from publish.workspace_owner import Identity, OwnerError, become_owner_of
from action_harness import entrypoint, github_env, parse_outputs, run_action, run_entrypoint_forked

REPO = Path(__file__).resolve().parents[2]
BAD_FLOW = """\
version: 1
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testfligth
        groups: QA
"""


@pytest.fixture(scope="module")
def ipa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ipa(tmp_path_factory.mktemp("ipa") / "App.ipa", bundle_id="com.example.app", version="3.0.0",
                     build_number="9", uses_non_exempt_encryption=False)


@pytest.fixture(scope="module")
def key_pem() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def outputs_of(tmp_path: Path) -> dict[str, str]:
    return parse_outputs((tmp_path / "output").read_text())


def test_an_invalid_flow_is_annotated_line_by_line_exits_2_and_still_reports(tmp_path: Path, ipa: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "publish.yaml").write_text(BAD_FLOW)
    (tmp_path / "App.ipa").write_bytes(ipa.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, out, err = run_action(github_env(tmp_path, **{"flow": "ci/publish.yaml", "ipa": "App.ipa"}))
    assert code == 2
    assert "Traceback" not in out + err
    annotations = [line for line in err.splitlines() if line.startswith("::error ")]
    assert annotations and all(line.startswith("::error file=ci/publish.yaml,line=") for line in annotations)
    assert any(",line=5,col=" in line and "send_to_testfligth" in line for line in annotations)
    outputs = outputs_of(tmp_path)
    assert outputs["status"] == "failed" and "not a valid publish flow" in outputs["error"]
    summary = (tmp_path / "summary").read_text()
    assert "Failed before any step ran" in summary and "send_to_testfligth" in summary


@pytest.mark.parametrize(("inputs", "message"), [
    ({}, "input ipa is required"),
    ({"ipa": "missing.ipa"}, "missing.ipa does not exist"),
    ({"ipa": "App.ipa", "concurrency": "100"}, "input concurrency must be a whole number from 1 to 64"),
    ({"ipa": "App.ipa", "poll-interval": "nan"}, "input poll-interval must be a number of seconds"),
    ({"ipa": "App.ipa", "poll-interval": "1e308"}, "input poll-interval must be a number of seconds"),
    ({"ipa": "App.ipa", "restart": "sometimes"}, "input restart must be true or false"),
    ({"ipa": "App.ipa", "groups": "QA, QA"}, "the one-step flow made from the inputs is not a valid publish flow"),
    ({"ipa": "App.ipa", "state-dir": "x" * 5000}, "input state-dir is too long"),
    ({"ipa": "App.ipa", "state-dir": "a/" + "y" * 300}, "input state-dir is too long"),
    ({"ipa": "."}, "input ipa: . is a directory, not an .ipa file"),
    ({"ipa": "App.ipa", "sandbox-data": "App.ipa"}, "input sandbox-data: App.ipa is not UTF-8 text"),
    ({"ipa": "App.ipa", "app-path": "Other.ipa"}, "inputs ipa and app-path are both set"),
    ({"ipa": "App.ipa", "sandbox-data": "s.json", "api-base-url": "http://127.0.0.1:1"},
     "inputs sandbox-data and api-base-url are both set"),
])
def test_every_early_error_leaves_failed_outputs_a_summary_and_an_annotation(
        tmp_path: Path, ipa: Path, inputs: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "App.ipa").write_bytes(ipa.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, out, err = run_action(github_env(tmp_path, **inputs))
    assert code == 2, err
    assert message in err and "Traceback" not in out + err
    assert any(line.startswith("::error title=appstore-publish failed::") and message in line
               for line in err.splitlines())
    outputs = outputs_of(tmp_path)
    assert outputs["status"] == "failed" and message in outputs["error"]
    assert "Failed before any step ran" in (tmp_path / "summary").read_text()


def test_github_output_that_is_a_directory_is_refused_before_anything_is_done(tmp_path: Path, ipa: Path) -> None:
    env = github_env(tmp_path, ipa=str(ipa), **{"dry-run": "true", "state-dir": str(tmp_path / "state")})
    env["GITHUB_OUTPUT"] = str(tmp_path / "outdir")
    (tmp_path / "outdir").mkdir()
    code, out, err = run_action(env)
    assert code == 2 and "Traceback" not in out + err
    assert "GITHUB_OUTPUT names a directory" in err and "nothing was published" in err
    assert not (tmp_path / "state").exists()


def test_unwritable_step_summary_is_refused_up_front(tmp_path: Path, ipa: Path) -> None:
    env = github_env(tmp_path, ipa=str(ipa), **{"dry-run": "true", "state-dir": str(tmp_path / "state")})
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "no-such-dir" / "summary")
    code, _, err = run_action(env)
    assert code == 2
    assert "cannot append to GITHUB_STEP_SUMMARY" in err and "Traceback" not in err
    outputs = outputs_of(tmp_path)  # the output file still works: it says what happened
    assert outputs["status"] == "failed" and "GITHUB_STEP_SUMMARY" in outputs["error"]


def test_outputs_lost_after_the_run_are_printed_and_fail_the_step(tmp_path: Path, ipa: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """/dev/full opens but every write fails: the run's result must still be in the log."""
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is absent on this system")
    env = github_env(tmp_path, ipa=str(ipa), **{"dry-run": "true", "state-dir": str(tmp_path / "state"),
                                                "api-key-id": "KEY123ABCD"})
    env["GITHUB_OUTPUT"] = "/dev/full"
    monkeypatch.setenv("ASC_PRIVATE_KEY", "")
    code, out, err = run_action(env)
    assert code in (1, 2) and "Traceback" not in out + err
    assert "could not write the step outputs to GITHUB_OUTPUT (/dev/full)" in err
    assert "status" in err.split("could not write the step outputs")[1]


def test_steps_are_grouped_debug_follows_runner_debug_and_hints_name_inputs(
        tmp_path: Path, ipa: Path, key_pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server_module = pytest.importorskip("publish.sandbox.server")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    seen: list[list[str]] = []
    real_main = entrypoint.cli_main
    monkeypatch.setattr(entrypoint, "cli_main", lambda argv, ctx: seen.append(argv) or real_main(argv, ctx=ctx))
    with server_module.SandboxServer(processing_polls=1) as server:
        server.register_key("KEY123ABCD", "issuer-1", public)
        server.add_app("com.example.app", "Example")
        inputs = {"app-path": str(ipa), "api-key-id": "KEY123ABCD", "issuer-id": "issuer-1",
                  "api-private-key": key_pem, "api-base-url": server.url, "state-dir": str(tmp_path / "state"),
                  "poll-interval": "0.05", "concurrency": "2"}
        env = github_env(tmp_path, **inputs)
        env["RUNNER_DEBUG"] = "1"
        code, out, err = run_action(env)
        assert code == 0, err
        assert seen[0][0] == "-v" and seen[0][seen[0].index("--concurrency") + 1] == "2"
        lines = err.splitlines()
        opened = [i for i, line in enumerate(lines) if line.startswith("::group::step 1/1: send_to_testflight")]
        closed = [i for i, line in enumerate(lines) if line == "::endgroup::"]
        assert len(opened) == 1 and len(closed) == 1 and opened[0] < closed[0]
        assert "send_to_testflight done in" in lines[closed[0] + 1]
        assert any("GET" in line or "POST" in line for line in lines[opened[0]:closed[0]])  # -v: calls logged
        first = outputs_of(tmp_path)
        assert first["status"] == "succeeded" and first["build-id"] and first["error"] == ""

        code, out, err = run_action(github_env(tmp_path, **inputs))  # again: the step is skipped
        assert code == 0, err
        assert "the input `restart: true`" in err and "--restart" not in err
        state_hint = run_action(github_env(tmp_path, **{**inputs, "state-dir": str(ipa)}))  # a file, not a dir
        assert state_hint[0] == 2 and "--state-dir" not in state_hint[2] + (tmp_path / "summary").read_text()
        assert "--state-dir" not in outputs_of(tmp_path)["error"]
        code, out, err = run_action(github_env(tmp_path, **inputs, restart="true"))
        assert "skipping" not in err  # restart runs the step again
        assert "::group::step 1/1" in err


def test_preflight_warnings_become_warning_annotations(tmp_path: Path, key_pem: str) -> None:
    """An IPA without the export-compliance answer is a pre-flight warning (not an error)."""
    unanswered = build_ipa(tmp_path / "Warn.ipa", bundle_id="com.example.app", version="3.0.0", build_number="10",
                           uses_non_exempt_encryption=None)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.importorskip("publish.sandbox.server").SandboxServer(processing_polls=1) as server:
        # A dry run reads App Store Connect: here the simulator, never Apple's address.
        server.register_key("KEY123ABCD", "issuer-1", public)
        server.add_app("com.example.app", "Example")
        env = github_env(tmp_path, ipa=str(unanswered), **{
            "api-key-id": "KEY123ABCD", "issuer-id": "issuer-1", "api-private-key": key_pem,
            "api-base-url": server.url, "dry-run": "true", "state-dir": str(tmp_path / "s")})
        code, out, err = run_action(env)
    # The step itself then stops at the unknown answer (exit 2, before any write): the warning came first.
    assert code == 2 and "export compliance is not known" in err, err
    result_warnings = [line for line in err.splitlines() if line.startswith("::warning title=pre-flight::")]
    assert result_warnings, err
    assert [e.method for e in server.exchanges if e.method != "GET"] == []


def test_workflow_command_escaping() -> None:
    line = annotation("error", "50% done\nnext line", file="a,b:c.yaml", line=3, col=7, title="t")
    assert line == "::error file=a%2Cb%3Ac.yaml,line=3,col=7,title=t::50%25 done%0Anext line"
    assert annotation("warning", "w") == "::warning::w"
    assert escape_property("x\r") == "x%0D"
    assert workspace_relative("/w/ci/f.yaml", "/w") == "ci/f.yaml"
    assert workspace_relative("/elsewhere/f.yaml", "/w") == "/elsewhere/f.yaml"
    block = output_block({"status": "x"})
    assert block.startswith("status<<ghadelimiter_") and block.endswith("\n")


def test_becoming_the_owner_only_lowers_privileges() -> None:
    calls: list[tuple[str, object]] = []

    def stat_owned_by(uid: int, gid: int):  # noqa: ANN202
        return lambda path: os.stat_result((0o40755, 0, 0, 0, uid, gid, 0, 0, 0, 0))

    def identity(euid: int, uid: int, gid: int, writable: bool = True) -> Identity:
        return Identity(geteuid=lambda: euid, setgroups=lambda g: calls.append(("groups", g)),
                        setgid=lambda g: calls.append(("gid", g)), setuid=lambda u: calls.append(("uid", u)),
                        stat=stat_owned_by(uid, gid), writable=lambda p: writable)
    env = {"HOME": "/root"}
    assert become_owner_of("/w", env, identity(1001, 4242, 4243)) is None and calls == []  # not root
    assert become_owner_of("/w", env, identity(0, 0, 0)) is None and calls == []  # root's own workspace
    assert become_owner_of("/w", env, identity(0, 4242, 4243, writable=False)) == (4242, 4243)
    assert calls == [("groups", []), ("gid", 4243), ("uid", 4242)]  # groups, then GID, then UID
    assert env["HOME"] != "/root" and Path(env["HOME"]).is_dir()
    os.rmdir(env["HOME"])

    def refuse(_: int) -> None:
        raise PermissionError(1, "Operation not permitted")
    with pytest.raises(OwnerError, match="cannot switch to UID 4242"):
        become_owner_of("/w", {}, Identity(geteuid=lambda: 0, setgroups=lambda g: None, setgid=refuse,
                                           stat=stat_owned_by(4242, 4242)))


def python_for_others() -> str:
    """An interpreter whose standard library UID 4242 can read (a pyenv under /root is not), else skip."""
    def readable(path: str) -> bool:
        parts = Path(path).resolve().parents
        return all(p.stat().st_mode & 0o001 for p in parts if p.exists())
    if readable(sys.base_prefix + "/lib/x"):  # this interpreter's own answer, without starting another to ask it
        return sys.executable
    probe = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.base_prefix, sys.version_info[:2])"],
                           capture_output=True, text=True)
    if probe.returncode == 0 and readable(probe.stdout.split()[0] + "/lib/x") and \
            probe.stdout.split(None, 1)[1].strip() == str(sys.version_info[:2]):
        return "/usr/bin/python3"
    pytest.skip("no Python whose standard library another UID can read (pyenv under /root)")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show the real switch to the workspace's owner")
def test_the_container_entrypoint_writes_files_owned_by_the_workspace_owner(tmp_path: Path) -> None:
    """As in the container: root starts `entrypoint.py sandbox keygen`, the files it writes belong to 4242."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    os.chown(workspace, 4242, 4243)
    tmp_path.chmod(0o755)
    python = python_for_others()
    site_packages = [p for p in sys.path if p.endswith("site-packages")]
    env = {**os.environ, "GITHUB_WORKSPACE": str(workspace), "PYTHONPATH": os.pathsep.join([str(REPO),
                                                                                           *site_packages])}
    done = subprocess.run([python, str(REPO / "entrypoint.py"), "sandbox", "keygen", "--out", "keys"],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    made = list((workspace / "keys").iterdir())
    assert made and {(p.stat().st_uid, p.stat().st_gid) for p in [workspace / "keys", *made]} == {(4242, 4243)}


def test_arguments_go_to_the_cli_and_no_arguments_mean_the_action(tmp_path: Path) -> None:
    flow = tmp_path / "publish.yaml"
    flow.write_text((REPO / "examples" / "testflight.yaml").read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO), "GITHUB_WORKSPACE": str(tmp_path)}
    for key in [k for k in env if k.startswith(("INPUT_", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"))]:
        del env[key]

    def container(*args: str) -> subprocess.CompletedProcess[str]:
        return run_entrypoint_forked(args, cwd=tmp_path, env=env)
    valid = container("validate", "publish.yaml")
    assert valid.returncode == 0, valid.stderr
    invalid_flow = tmp_path / "bad.yaml"
    invalid_flow.write_text(BAD_FLOW)
    invalid = container("validate", "bad.yaml")
    assert invalid.returncode == 2 and "send_to_testfligth" in invalid.stderr
    shell = container("sh", "-c", "echo from-the-job-shell")  # GitLab's job script, Jenkins' `cat`
    assert shell.returncode == 0 and shell.stdout.strip() == "from-the-job-shell"
    action = container()
    assert action.returncode == 2 and "input ipa is required" in action.stderr


def test_sandbox_data_input_publishes_to_the_simulator_inside_the_action(tmp_path: Path, ipa: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from publish.cli import main as cli

    assert cli(["sandbox", "keygen", "--out", str(tmp_path / "sandbox")]) == 0
    (tmp_path / "App.ipa").write_bytes(ipa.read_bytes())
    (tmp_path / "publish.yaml").write_text("""\
version: 1
api_keys:
  simulator:
    fastlane_json: {file: sandbox/api_key.json}
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testflight
        api_key: simulator
        groups: [Team]
""")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_action(github_env(tmp_path, **{"flow": "publish.yaml", "ipa": "App.ipa",
                                                        "sandbox-data": "sandbox/sandbox-data.json",
                                                        "poll-interval": "0.05"}))
    assert code == 0, err
    assert "App Store Connect simulator at http://127.0.0.1:" in out
    outputs = outputs_of(tmp_path)
    assert outputs["status"] == "succeeded" and outputs["build-id"]
    assert "Build in TestFlight" in (tmp_path / "summary").read_text()
    assert json.loads(json.dumps(outputs))  # plain strings


def test_action_stream_translates_only_whole_flags() -> None:
    buffer = io.StringIO()
    stream = entrypoint.ActionStream(buffer)
    stream.write("use --restart to run it; --state-dir DIR; --restarts stays; x--ipa stays\n")
    assert buffer.getvalue() == ("use the input `restart: true` to run it; the input `state-dir` DIR; --restarts "
                                 "stays; x--ipa stays\n")
    stream.write("::add-mask::secret --restart part\n")
    assert buffer.getvalue().endswith("::add-mask::secret --restart part\n")
