"""Fast start (issue 14): `--help` and `--version` import no command module and none of the heavy dependencies;
each command imports what it needs when it runs. Checked in a fresh interpreter, where imports are real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from publish.commands import COMMANDS

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("requests", "cryptography", "jsonschema", "yaml", "jwt", "urllib3")


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import json, sys\n"
        "from publish.cli import main\n"
        f"main({argv!r})\n"
        "sys.__stderr__.write(json.dumps(sorted(sys.modules)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return set(json.loads(completed.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(argv: list[str]) -> None:
    modules = _modules_after(argv)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy
    commands = sorted(m for m in modules if m.startswith("publish.commands."))
    assert commands == [], commands
    # nor the project's own heavy layers
    assert not {"publish.asc", "publish.spec", "publish.runner", "publish.ipa", "publish.sandbox"} & modules
    assert "logging" not in modules and "typing" not in modules


@pytest.mark.parametrize("command", sorted({c.name for c in COMMANDS} - {"demo"}))
def test_a_commands_help_imports_only_its_own_module(command: str) -> None:
    """`demo --help` is left out: its module (not this area's) imports the simulator at the top."""
    modules = _modules_after([command, "--help"])
    heavy = sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})
    assert heavy == [], heavy
    module = next(c.module for c in COMMANDS if c.name == command)
    others = {f"publish.commands.{c.module}" for c in COMMANDS} - {f"publish.commands.{module}"}
    assert not (others & modules), sorted(others & modules)


def test_the_constants_copied_to_keep_run_light_are_the_real_ones() -> None:
    from publish.asc.transport import BASE_URL_ENV
    from publish.commands import run
    from publish.state import STATE_DIR_ENV

    assert run.BASE_URL_ENV == BASE_URL_ENV and run.STATE_DIR_ENV == STATE_DIR_ENV


def test_validate_and_the_entrypoints_start_import_no_client_and_no_crypto() -> None:
    """`validate` reads YAML and checks the schema; the key readers (cryptography, jwt) and the client (requests)
    cost it ~0.3 s and come in only with --check-secrets. The container's entrypoint, before it decides what to
    run, imports no more than the CLI's start does. One fresh interpreter for both: the entrypoint first."""
    flow = REPO / "examples" / "testflight.yaml"
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('entrypoint', {str(REPO / 'entrypoint.py')!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "at_start = sorted(sys.modules)\n"
        f"assert module.cli_main(['validate', {str(flow)!r}]) == 0\n"
        "sys.__stderr__.write(json.dumps([at_start, sorted(sys.modules)]))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert completed.returncode == 0, completed.stderr
    at_start, after_validate = (set(m) for m in json.loads(completed.stderr.strip().splitlines()[-1]))
    assert sorted(m for m in at_start if m.split(".")[0] in HEAVY) == []
    assert not {"publish.asc", "publish.secrets", "publish.spec"} & at_start
    assert "publish.spec" in after_validate and "jsonschema" in after_validate  # it did validate
    assert sorted({m.split(".")[0] for m in after_validate} & {"requests", "cryptography", "jwt", "urllib3"}) == []
    assert "publish.asc" not in after_validate
