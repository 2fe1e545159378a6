"""The style gates of issue 14 (.ci/python-gates.sh) run in CI and fail it when broken: the coverage floor set in
.ci/run holds against the measured figure, and the size gate refuses a module over 400 lines outside the
simulator. (ruff and mypy are run as configured in pyproject.toml; their verdicts are their own.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
GATES = REPO / ".ci" / "python-gates.sh"
VENV_BIN = Path(sys.executable).parent


def _gates(*names: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(GATES), *names], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "VENV": str(VENV_BIN.parent), **env})


def test_ci_sets_a_whole_number_floor_and_runs_every_gate() -> None:
    run = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^export COVERAGE_FLOOR=\d+$", run, re.M)
    assert "\n.venv/bin/python -m pytest -q -p no:cacheprovider\n" in run  # the verdict run stays untraced
    lint = (REPO / ".ci" / "lint.sh").read_text()
    assert "check python-gates bash .ci/python-gates.sh\n" in lint  # all four gates
    gates = GATES.read_text()
    assert "--cov=publish" in gates


@pytest.fixture(scope="module")
def coverage_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Coverage data of a small module of which the run executes about half (measured once: the gate only reads
    it)."""
    if not (VENV_BIN / "coverage").exists():
        pytest.skip("coverage is not installed next to this Python (pip install -e '.[test]')")
    tmp_path = tmp_path_factory.mktemp("coverage")
    module = tmp_path / "half.py"
    module.write_text("def used():\n    return 1\n\n\ndef unused():\n    a = 1\n    b = 2\n    return a + b\n\n\nused()\n")
    data = tmp_path / "coverage-data"
    subprocess.run([str(VENV_BIN / "coverage"), "run", f"--data-file={data}", str(module)], check=True,
                   cwd=tmp_path, timeout=60)
    return data


def test_the_coverage_gate_fails_under_the_floor(coverage_data: Path) -> None:
    done = _gates("coverage", COVERAGE_DATA=str(coverage_data), COVERAGE_FLOOR="95")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gates: coverage: FAILED" in done.stdout
    assert "(floor 95 %)" in done.stdout


def test_the_coverage_gate_passes_at_or_over_the_floor(coverage_data: Path) -> None:
    done = _gates("coverage", COVERAGE_DATA=str(coverage_data), COVERAGE_FLOOR="50")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gates: coverage: ok" in done.stdout


def test_the_coverage_gate_fails_without_data(tmp_path: Path) -> None:
    done = _gates("coverage", COVERAGE_DATA=str(tmp_path / "none"), COVERAGE_FLOOR="50")
    assert done.returncode == 1
    assert "no coverage data" in done.stdout


def test_the_size_gate_refuses_a_long_module_but_not_in_the_simulator(tmp_path: Path) -> None:
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "routes.py").write_text("x = 1\n" * 900)
    (tmp_path / "short.py").write_text("x = 1\n" * 400)
    assert _gates("size", GATES_SOURCES=str(tmp_path)).returncode == 0
    (tmp_path / "long.py").write_text("x = 1\n" * 401)
    done = _gates("size", GATES_SOURCES=str(tmp_path))
    assert done.returncode == 1
    assert "long.py: 401 lines" in done.stdout
    assert "routes.py" not in done.stdout


def test_an_unknown_gate_is_a_usage_error() -> None:
    done = _gates("typo")
    assert done.returncode == 2
    assert "unknown gate 'typo'" in done.stdout
