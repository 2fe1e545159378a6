"""Fast start (issue 14): `--help` and `--version` import no command module and none of the heavy dependencies;
each command imports what it needs when it runs. Checked in a fresh interpreter (forked per command line), where
imports are real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from publish.commands import COMMANDS

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("requests", "cryptography", "jsonschema", "yaml", "jwt", "urllib3")


CHECKED_COMMANDS = sorted({c.name for c in COMMANDS})
COMMAND_LINES = [["--help"], ["--version"], *([name, "--help"] for name in CHECKED_COMMANDS)]
# One fresh interpreter imports publish.cli, then forks a child per command line: each child starts from exactly
# the modules a fresh `python -c "import json, sys; from publish.cli import main"` holds (the parent imports nothing
# more), so its imports are as real as in a process of its own, without ~25 interpreter starts (~1 s of CPU).
FORK_EACH = """\
import json, os, sys
from publish.cli import main
found = {}
for argv in json.loads(sys.argv[1]):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            main(argv)
            sys.stdout.flush()
            os.write(write_end, json.dumps(sorted(sys.modules)).encode())
        except BaseException:
            import traceback
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 16):
        chunks.append(chunk)
    os.close(read_end)
    found[" ".join(argv)] = json.loads(b"".join(chunks)) if os.waitpid(pid, 0)[1] == 0 else None
sys.__stderr__.write(json.dumps(found))
"""


@pytest.fixture(scope="module")
def modules_after() -> dict[str, set[str]]:
    """command line -> the modules imported once `main(argv)` returned."""
    completed = subprocess.run([sys.executable, "-c", FORK_EACH, json.dumps(COMMAND_LINES)], capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stderr.strip().splitlines()[-1])
    failed = sorted(line for line, modules in found.items() if modules is None)
    assert not failed, (failed, completed.stderr)
    return {line: set(modules) for line, modules in found.items()}


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(argv: list[str], modules_after: dict[str, set[str]]) -> None:
    modules = modules_after[" ".join(argv)]
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy
    commands = sorted(m for m in modules if m.startswith("publish.commands."))
    assert commands == [], commands
    # nor the project's own heavy layers
    assert not {"publish.asc", "publish.spec", "publish.runner", "publish.ipa", "publish.sandbox"} & modules
    assert "logging" not in modules and "typing" not in modules


@pytest.mark.parametrize("command", CHECKED_COMMANDS)
def test_a_commands_help_imports_only_its_own_module(command: str, modules_after: dict[str, set[str]]) -> None:
    """`demo --help` too: its module imports the simulator and `run` only when the demo runs."""
    modules = modules_after[f"{command} --help"]
    heavy = sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})
    assert heavy == [], heavy
    module = next(c.module for c in COMMANDS if c.name == command)
    others = {f"publish.commands.{c.module}" for c in COMMANDS} - {f"publish.commands.{module}"}
    assert not (others & modules), sorted(others & modules)
    # nor the state store (sqlite3, hashlib: `history --help` cost ~110 ms CPU against ~57 for `--help`)
    assert not {"publish.state", "sqlite3"} & modules, sorted({"publish.state", "sqlite3"} & modules)


def test_the_constants_copied_to_keep_run_light_are_the_real_ones() -> None:
    from publish.asc.transport import BASE_URL_ENV
    from publish.commands import _state_cli, run
    from publish.state import STATE_DIR_ENV

    assert run.BASE_URL_ENV == BASE_URL_ENV and run.STATE_DIR_ENV == STATE_DIR_ENV == _state_cli.STATE_DIR_ENV


def test_validate_plan_and_the_entrypoints_start_import_no_client(tmp_path: Path) -> None:
    """`validate` reads YAML and checks the schema, `plan` also reads the IPA; the key readers (cryptography, jwt)
    and the client (requests) cost each ~0.3 s and come in only with --check-secrets. The container's entrypoint,
    before it decides what to run, imports no more than the CLI's start does. One fresh interpreter for the three,
    in that order: the entrypoint, validate, plan."""
    from publish.sandbox.sample_ipa import build_ipa

    flow = REPO / "examples" / "testflight.yaml"
    ipa = build_ipa(tmp_path / "App.ipa", bundle_id="com.example.app")
    code = (
        "import importlib.util, io, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('entrypoint', {str(REPO / 'entrypoint.py')!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "at_start = sorted(sys.modules)\n"
        f"assert module.cli_main(['validate', {str(flow)!r}]) == 0\n"
        "after_validate = sorted(sys.modules)\n"
        "ctx = module.CliContext(stdout=io.StringIO(), env={})\n"
        f"assert module.cli_main(['plan', {str(flow)!r}, '--ipa', {str(ipa)!r}, '--json'], ctx=ctx) == 0\n"
        "assert json.loads(ctx.stdout.getvalue())['steps'], ctx.stdout.getvalue()\n"
        "sys.__stderr__.write(json.dumps([at_start, after_validate, sorted(sys.modules)]))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    at_start, after_validate, after_plan = (set(m) for m in json.loads(completed.stderr.strip().splitlines()[-1]))
    assert sorted(m for m in at_start if m.split(".")[0] in HEAVY) == []
    assert not {"publish.asc", "publish.secrets", "publish.spec"} & at_start
    assert "publish.spec" in after_validate and "jsonschema" in after_validate  # it did validate
    assert sorted({m.split(".")[0] for m in after_validate} & {"requests", "cryptography", "jwt", "urllib3"}) == []
    assert "publish.plan" in after_plan  # it did plan; the IPA's profile reader may use cryptography's x509
    assert sorted({m.split(".")[0] for m in after_plan} & {"requests", "jwt", "urllib3"}) == []
    assert not {"publish.asc", "publish.secrets"} & after_plan
