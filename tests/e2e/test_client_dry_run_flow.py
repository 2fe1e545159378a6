"""A dry run of a TestFlight flow needs no branch of its own to carry on after the upload: the build it distributes
is the one the dry-run transport made of the upload, read back as a real run reads it, and the testers are looked
up as in a real run - for real, since a dry run reads App Store Connect - without one write reaching it (issue 14)."""

from __future__ import annotations

import re

from flow_harness import APP_STORE_PHASED, INTERNAL, FlowWorld

from publish.steps.base import DRY_RUN_TAG

FLOW = f"""
- step: send_to_testflight
  api_key: main
  groups: [{INTERNAL}]
  testers: [ann@example.com]
"""


def test_a_dry_run_distributes_the_build_the_transport_made_of_its_upload(world: FlowWorld) -> None:
    out = world.run(world.flow(FLOW), world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output
    writes = [line.removeprefix("would call: ") for line in out.stdout.splitlines() if line.startswith("would call:")]
    assert any(c.startswith("POST /v1/buildUploads ") for c in writes), writes
    assert not any(c.startswith("GET ") for c in writes)  # reads are made, not listed as would-be calls
    # read back from what the dry run made (App Store Connect has never heard of it), not sent
    assert re.search(r"dry run: would GET /v1/buildUploads/dry-run-buildUploads-\d+\?include=build$", out.stderr,
                     re.MULTILINE), out.stderr
    build = re.search(r"/v1/builds/(dry-run-builds-\d+)/relationships/betaGroups", "\n".join(writes))
    assert build is not None, writes  # the group gets the fabricated build, not a hand-made stand-in
    sent = world.server.exchanges
    assert [e.method for e in sent if e.method != "GET"] == []
    assert any(e.path == "/v1/betaTesters" and "ann%40example.com" in e.query for e in sent)
    assert any(e.path.endswith("/betaGroups") for e in sent)  # the group's name checked for real
    assert out.result is not None and out.result["api_calls"] == len(sent)


APP_STORE_SUBMITTED = APP_STORE_PHASED + "  submit_for_review: true\n"


def _step_lines(stderr: str) -> list[str]:
    """What the steps themselves logged: not the runner's step boundaries, not the transport's would-be calls."""
    return [line for line in stderr.splitlines()
            if line and not line.startswith(("step ", "Flow ", "dry run: would GET", "dry run: would POST",
                                              "dry run: would PATCH", "dry run: would DELETE", "would call:"))]


def test_no_step_line_of_a_dry_run_reads_as_done(world: FlowWorld) -> None:
    """A step words what it did ("created review submission ...", "added to group: ..."): in a dry run each such
    line carries the tag, and the runner's end-of-step line says nothing was written."""
    flow = world.flow(FLOW + APP_STORE_SUBMITTED)
    out = world.run(flow, world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output
    lines = _step_lines(out.stderr)
    assert any("added to group: " in line for line in lines) and any("created review submission" in line
                                                                     for line in lines), out.stderr
    untagged = [line for line in lines if not line.startswith((DRY_RUN_TAG, "dry run: "))]
    assert untagged == [], out.stderr
    ends = [line for line in out.stderr.splitlines() if line.startswith("step ") and " done in " in line]
    assert len(ends) == 2 and all("(dry run: nothing written)" in line for line in ends), ends


def test_a_real_run_carries_no_dry_run_tag(world: FlowWorld) -> None:
    out = world.run(world.flow(FLOW + APP_STORE_SUBMITTED), world.ipa("1"))
    assert out.code == 0, out.output
    assert any("created review submission" in line for line in _step_lines(out.stderr)), out.stderr
    assert DRY_RUN_TAG not in out.stderr and "dry run" not in out.stderr
