"""A dry run of a TestFlight flow needs no branch of its own to carry on after the upload: the build it distributes
is the one the dry-run transport made of the upload, read back as a real run reads it, and the testers are looked
up as in a real run - all without one exchange with App Store Connect (issue 14). Passes once the dry-run branches
of publish/steps are removed (the last commit of the client branch)."""

from __future__ import annotations

import re

from flow_harness import INTERNAL, FlowWorld

FLOW = f"""
- step: send_to_testflight
  api_key: main
  groups: [{INTERNAL}]
  testers: [ann@example.com]
"""


def test_a_dry_run_distributes_the_build_the_transport_made_of_its_upload(world: FlowWorld) -> None:
    out = world.run(world.flow(FLOW), world.ipa("1"), "--dry-run")
    assert out.code == 0, out.output
    calls = [line.removeprefix("would call: ") for line in out.stdout.splitlines() if line.startswith("would call:")]
    upload = next(c for c in calls if c.startswith("POST /v1/buildUploads "))
    read_back = [c for c in calls if re.match(r"GET /v1/buildUploads/dry-run-buildUploads-\d+\?include=build$", c)]
    assert upload and read_back, calls
    build = re.search(r"/v1/builds/(dry-run-builds-\d+)/relationships/betaGroups", "\n".join(calls))
    assert build is not None, calls  # the group gets the fabricated build, not a hand-made stand-in
    assert any(c.startswith(f"GET /v1/builds/{build.group(1)}?include=") for c in calls)
    assert any(c.startswith("GET /v1/betaTesters?filter[email]=ann%40example.com") for c in calls)
    assert world.server.exchanges == [] and out.result is not None and out.result["api_calls"] == 0
