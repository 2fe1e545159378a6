"""`download` writes a kept binary under the name of what it is (issue 13 leftover): a macOS package comes out as
.pkg, never as .ipa, and an IPA never as .pkg - refused before anything is written, with the right name to use."""

from __future__ import annotations

from flow_harness import BUNDLE_ID, FlowWorld
from publish.sandbox.sample_pkg import build_pkg

APP_STORE = """
- step: send_to_app_store
  api_key: main
  stage_type: testflight
"""


def test_a_kept_pkg_is_downloaded_as_a_pkg_and_never_named_ipa(world: FlowWorld) -> None:
    pkg = build_pkg(world.directory / "Mac.pkg", bundle_id=BUNDLE_ID, version="1.0.0", build_number="1",
                    display_name="Flow App")
    out = world.run(world.flow(APP_STORE), pkg)
    assert out.code == 0, out.output
    state = ["--state-dir", str(world.state_dir)]
    wrong = world.directory / "out" / "Mac.ipa"
    refused = world.cli(["download", "1.0.0", "--out", str(wrong), *state])
    assert refused.code == 2, refused.output
    assert "is a macOS installer package (.pkg)" in refused.stderr and f"--out {wrong.with_suffix('.pkg')}" in \
        refused.stderr
    assert not wrong.exists()
    right = world.directory / "Mac-downloaded.pkg"
    done = world.cli(["download", "1.0.0", "--out", str(right), *state])
    assert done.code == 0, done.output
    assert right.read_bytes() == pkg.read_bytes() and "a macOS installer package (.pkg) of" in done.stdout


def test_a_kept_ipa_is_not_named_pkg(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    assert world.run(world.flow(APP_STORE), ipa).code == 0
    state = ["--state-dir", str(world.state_dir)]
    refused = world.cli(["download", "1.0.0", "--out", str(world.directory / "App.pkg"), *state])
    assert refused.code == 2 and "is an IPA (.ipa)" in refused.stderr
    assert not (world.directory / "App.pkg").exists()
    other = world.directory / "App.bin"  # a name of the user's own choosing is theirs
    assert world.cli(["download", "1.0.0", "--out", str(other), *state]).code == 0
    assert other.read_bytes() == ipa.read_bytes()
