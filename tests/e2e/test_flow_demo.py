"""`appstore-publish demo`: a complete flow against the in-process simulator, through the same path as `run`."""

from __future__ import annotations

import io
import time
from pathlib import Path

from publish.cli import CliContext, main
from publish.state import StateStore


def test_demo_runs_a_complete_flow_quickly_and_keeps_its_files(tmp_path: Path) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(["demo", "--keep", str(tmp_path / "demo")], ctx=CliContext(stdout=stdout, stderr=stderr, env={}))
    elapsed = time.monotonic() - started
    out, err = stdout.getvalue(), stderr.getvalue()
    assert code == 0, out + err
    assert elapsed < 10
    assert "send_to_testflight   succeeded" in out and "send_to_app_store    succeeded" in out
    assert "added to groups: QA Team (internal), Public Beta (external)" in err
    assert "submitted for beta app review" in err and "submitted version 1.0.0 for App Store review" in err
    kept = tmp_path / "demo"
    assert (kept / "appstore-publish.yml").is_file() and (kept / "Demo.ipa").is_file()
    with StateStore.open(kept / "state") as store:
        assert [h["status"] for h in store.history(kind="step")] == ["succeeded", "succeeded"]
    # The throwaway key is never printed.
    key_lines = [line for line in next(kept.glob("AuthKey_*.p8")).read_text().splitlines() if "-----" not in line]
    assert all(line not in out + err for line in key_lines)


def test_demo_keep_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    stderr = io.StringIO()
    code = main(["demo", "--keep", str(tmp_path)], ctx=CliContext(stdout=io.StringIO(), stderr=stderr, env={}))
    assert code == 2 and "not empty" in stderr.getvalue()
    assert (tmp_path / "precious.txt").read_text() == "keep me"
