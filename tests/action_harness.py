"""The GitHub Action's entrypoint driven as the runner drives it: entrypoint.py loaded from the repository, inputs as
INPUT_* variables, $GITHUB_OUTPUT parsed back, and the check that a secret shows nowhere but in `::add-mask::`."""

from __future__ import annotations

import base64
import importlib.util
import io
import re
from pathlib import Path
from types import ModuleType

from suite_paths import REPO


def load_entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("action_entrypoint", REPO / "entrypoint.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = load_entrypoint()


def secret_forms(secret: str) -> list[str]:
    """The key, its base64, its escaped form, each body line, and the body on one line."""
    body = [line for line in secret.splitlines() if line and not line.startswith("-----")]
    return [secret.strip(), base64.b64encode(secret.encode()).decode(), secret.strip().replace("\n", "\\n"),
            "".join(body), *body]


def assert_no_leak(text: str, secret: str, where: str) -> None:
    for line in text.splitlines():
        if line.startswith("::add-mask::"):
            continue  # consumed by the runner, never shown
        for form in secret_forms(secret):
            assert form not in line, f"secret leaked into {where}: {line[:80]}"


def parse_outputs(text: str) -> dict[str, str]:
    values = {}
    for match in re.finditer(r"^([a-z-]+)<<(\S+)\n(.*?)\n?\2$", text, re.S | re.M):
        values[match.group(1)] = match.group(3)
    return values


def github_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    (tmp_path / "output").write_text("")
    (tmp_path / "summary").write_text("")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "output"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_WORKSPACE": str(tmp_path)}
    for name, value in inputs.items():
        env[f"INPUT_{name.upper()}"] = value  # as the runner does: hyphens kept
    return env


def run_action(env: dict[str, str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = entrypoint.run(env, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()
