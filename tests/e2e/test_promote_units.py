"""Promote's pieces on their own: the build label, the profile choice from what the state store knows, the binary
the steps see, and the upload step's promise (a promoted build that cannot be read is an error, never an upload),
the last against the simulator with the real client."""

from __future__ import annotations

import pytest

from flow_harness import BUNDLE_ID, FlowWorld
from publish.asc import AppStoreConnect
from publish.errors import InputError, RemoteError
from publish.plan import build_settings
from publish.promote import (
    BuildLabel,
    PromotedBuild,
    choose_promoted_profile,
    fingerprint_of_build,
    parse_build_label,
    provisional_build,
)
from publish.redact import Redactor
from publish.secrets import resolve_api_key
from publish.spec import load_flow
from publish.steps.base import StepContext
from publish.steps.testflight import ensure_build


@pytest.mark.parametrize("text, version, number", [
    ("1.2.3 (45)", "1.2.3", "45"), ("1.2.3(45)", "1.2.3", "45"), ("  2 ( 1.0.7 ) ", "2", "1.0.7"),
])
def test_labels_are_version_and_number(text: str, version: str, number: str) -> None:
    assert parse_build_label(text) == BuildLabel(version, number)
    assert str(parse_build_label(text)) == f"{version} ({number})"


def test_numbers_compare_as_apple_compares_them() -> None:
    label = BuildLabel("1.2", "45")
    assert label.matches("1.2.0", "045") and label.matches("01.2", "45.0")
    assert not label.matches("1.2.1", "45") and not label.matches("1.2", "450")


@pytest.mark.parametrize("text", [None, "", "1.2.3", "(45)", "1.2.3 45", "1.2.3 (4 5)", "1..2 (3)", "1.2 (3.)",
                                  "1.2.3 (45)x", "a.b (c)", "1.2.3.4 (5)", "1.2 (" + "9" * 70 + ")"])
def test_anything_else_is_bad_input_with_the_expected_form(text: str | None) -> None:
    with pytest.raises(InputError) as caught:
        parse_build_label(text)
    assert caught.value.exit_code == 2
    assert "expected VERSION (NUMBER)" in caught.value.message and "--build '1.2.3 (45)'" in (caught.value.hint or "")
    assert len(caught.value.message) < 200  # a huge argument is not echoed whole


def _flow(tmp_path, *bundle_ids: str):
    profiles = "".join(f"  - bundle_id: {b}\n    flow:\n      - step: mark_as_rc\n" for b in bundle_ids)
    path = tmp_path / "flow.yml"
    path.write_text(f"version: 1\nprofiles:\n{profiles}")
    return load_flow(path)


def _binary(bundle_id: str, fingerprint: str = "f" * 64, **remote: str) -> dict:
    return {"bundle_id": bundle_id, "version": "1.0", "build_number": "3", "fingerprint": fingerprint,
            "display_name": "App", "file_size": 10, "info": {"platform": "MAC_OS", "uses_non_exempt_encryption": False},
            "remote": remote}


def test_the_profile_is_the_one_app_the_state_store_knows_the_build_of(tmp_path) -> None:
    flow = _flow(tmp_path, "com.a", "com.b")
    label = BuildLabel("1.0", "3")
    assert choose_promoted_profile(flow, label, None, [_binary("com.b")], "state").bundle_id == "com.b"
    assert choose_promoted_profile(flow, label, "com.a", [_binary("com.b")], "state").bundle_id == "com.a"
    with pytest.raises(InputError, match="several apps of this flow"):
        choose_promoted_profile(flow, label, None, [_binary("com.a"), _binary("com.b")], "state")
    with pytest.raises(InputError, match="which no profile of this flow is for") as caught:
        choose_promoted_profile(flow, label, None, [_binary("com.other")], "state")
    assert "--profile" in (caught.value.hint or "")
    with pytest.raises(InputError, match="--profile nope"):
        choose_promoted_profile(flow, label, "nope", [], "state")


def test_a_known_binary_is_what_the_steps_see_and_what_is_recorded(tmp_path) -> None:
    profile = _flow(tmp_path, "com.a").profiles[0]
    known = _binary("com.a", build_id="B1", app_id="A1")
    build = provisional_build(profile, BuildLabel("1.0", "3"), [known])
    assert (build.platform, build.fingerprint, build.build_id, build.known) == ("MAC_OS", "f" * 64, "B1", True)
    assert build.to_json() == known["info"]  # the inspection is kept, not replaced by a skeleton
    unknown = provisional_build(profile, BuildLabel("1.0", "3"), [])
    assert not unknown.known and unknown.to_json()["source"] == "app_store_connect"


def test_a_build_known_only_from_app_store_connect_has_a_stable_fingerprint_of_its_own() -> None:
    first = fingerprint_of_build("A1", "B1")
    assert first == fingerprint_of_build("A1", "B1") and len(first) == 64 and int(first, 16) >= 0
    assert first != fingerprint_of_build("A1", "B2")


def test_the_upload_step_never_uploads_for_a_promoted_build_it_cannot_read(world: FlowWorld) -> None:
    flow = load_flow(world.flow("- step: send_to_testflight\n  api_key: main\n"))
    settings = build_settings(flow.profiles[0].flow[0], flow.base_dir)
    key = resolve_api_key(flow, "main", env={}, base_dir=flow.base_dir, redactor=Redactor())
    client = AppStoreConnect(key, base_url=world.server.url, sleep=lambda _: None)
    binary = PromotedBuild(bundle_id=BUNDLE_ID, version="1.0.0", build_number="1", display_name="Flow App",
                           platform="IOS", fingerprint="e" * 64, uses_non_exempt_encryption=False, known=False,
                           build_id="gone-build")

    def no_uploader(*_: object) -> None:
        raise AssertionError("a promote asked for an uploader")

    ctx = StepContext(ipa=binary, profile=flow.profiles[0], store=None, client_for=lambda _: client,  # type: ignore[arg-type]
                      uploader_for=no_uploader, flow_dir=flow.base_dir)
    ctx.run.app_id, ctx.run.build_id = world.app_id, "gone-build"
    try:
        with pytest.raises(RemoteError, match="never uploads"):
            ensure_build(ctx, client, settings)  # type: ignore[arg-type]
    finally:
        client.close()
    assert world.records("buildUploads") == []
