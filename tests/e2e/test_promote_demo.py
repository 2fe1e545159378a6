"""`appstore-publish demo` shows a promote (issue 13 part 1, "Done when"): the IPA is uploaded once to TestFlight,
marked as release candidate, and the same build is promoted to the App Store with a second `run --build`."""

from __future__ import annotations

import io
from pathlib import Path

from publish.cli import CliContext, main
from publish.state import StateStore


def test_the_demo_uploads_once_then_promotes_the_same_build_to_the_app_store(tmp_path: Path) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["demo", "--keep", str(tmp_path / "demo")], ctx=CliContext(stdout=stdout, stderr=stderr, env={}))
    out, err = stdout.getvalue(), stderr.getvalue()
    assert code == 0, out + err
    assert "$ appstore-publish run appstore-publish.yml --ipa Demo.ipa" in out
    assert "$ appstore-publish mark-rc '1.0.0 (1)'" in out
    assert "$ appstore-publish run appstore-publish.app-store.yml --build '1.0.0 (1)'" in out
    assert out.index("--ipa Demo.ipa") < out.index("mark-rc") < out.index("--build '1.0.0 (1)'")
    assert err.count("through the Build Upload API") == 1 and "nothing is uploaded" in err
    kept = tmp_path / "demo"
    assert "require_rc: true" in (kept / "appstore-publish.app-store.yml").read_text()
    with StateStore.open(kept / "state") as store:
        [binary] = store.find_binaries()  # one binary: the promote ran on the uploaded one
        assert binary["rc"] is True
        steps = store.history(fingerprint=binary["fingerprint"], kind="step")
        assert sorted((h["step_name"], h["status"]) for h in steps) == [("send_to_app_store", "succeeded"),
                                                                       ("send_to_testflight", "succeeded")]
