"""Table-driven: every file in tests/flows/bad/ is rejected by `appstore-publish validate` with exit code 2 and the
messages its `# expect:` lines give (a fragment starting with ':' is anchored to the file name, so it pins the line
and column)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cli_parsers import PARSERS
from publish.cli import CliContext, main

BAD = Path(__file__).resolve().parents[1] / "flows" / "bad"
CASES = sorted(BAD.glob("*.yaml"))


def expectations(path: Path) -> list[str]:
    prefix = "# expect: "
    found = [line[len(prefix):] for line in path.read_text().splitlines() if line.startswith(prefix)]
    return [f"{path}{e}" if e.startswith(":") else e for e in found]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30
    assert all(expectations(path) for path in CASES)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_flow_is_rejected_with_a_precise_message(path: Path) -> None:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    code = main(["validate", str(path)], ctx=ctx, build=PARSERS)
    stderr = ctx.stderr.getvalue()
    assert code == 2, stderr
    assert ctx.stdout.getvalue() == ""
    for fragment in expectations(path):
        assert fragment in stderr, f"expected {fragment!r} in:\n{stderr}"


@pytest.mark.parametrize("name, secret", [("inline-demo-password.yaml", "hunter2secret")])
def test_an_inline_secret_is_never_quoted_back(name: str, secret: str) -> None:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["validate", str(BAD / name)], ctx=ctx, build=PARSERS) == 2
    assert secret not in ctx.stderr.getvalue() + ctx.stdout.getvalue()
