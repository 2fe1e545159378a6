""".ci/run stays what CI relies on: the README's test command first (its exit code decides), then the linters and
the image test; the image test skips with a reason where buildah cannot run and never hides a broken image."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command_first_and_keeps_its_exit_code() -> None:
    run = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert ".venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q" in readme
    pytest_at = run.index(".venv/bin/python -m pytest -q")
    assert "-e '.[test]'" in run[:pytest_at]
    assert pytest_at < run.index("bash .ci/lint.sh") < run.index("bash .ci/image-test.sh")
    assert re.search(r'\[ "\$tests" -ne 0 \] && exit "\$tests"\n.*\n?exit "\$image"', run)
    assert run.index('exit "$tests"') < run.index('exit "$lint"') < run.index('exit "$image"')


def test_lint_script_runs_every_linter_the_issue_names() -> None:
    lint = (REPO / ".ci" / "lint.sh").read_text()
    for needle in ("actionlint", "vendor.github-workflows", "vendor.github-actions", "zizmor", "hadolint",
                   "--check-metaschema", "publish validate"):
        assert needle in lint, needle


def test_image_test_skips_with_a_reason_when_buildah_cannot_run(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("buildah", "mmdebstrap"):
        (fake / tool).write_text("#!/bin/sh\necho 'cannot create user namespace' >&2\nexit 125\n")
        (fake / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "IMAGE_TEST_OUT": str(tmp_path / "out")}
    done = subprocess.run(["bash", str(REPO / ".ci" / "image-test.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert "SKIPPED: buildah cannot run here: cannot create user namespace" in done.stdout
