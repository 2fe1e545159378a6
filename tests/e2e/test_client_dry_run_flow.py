"""A dry run of a TestFlight flow needs no branch of its own to carry on after the upload: the build it distributes
is the one the dry-run transport made of the upload, read back as a real run reads it, and the testers are looked
up as in a real run - for real, since a dry run reads App Store Connect - without one write reaching it (issue 14)."""

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
