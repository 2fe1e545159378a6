"""Pre-flight refuses a bundle ID App Store Connect cannot take (Apple: letters, digits, hyphens and periods only):
`check` passed 'com.exämple.app' and the run would have spent an upload on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from publish.ipa.preflight import has_errors, run_preflight
from publish.sandbox.sample_ipa import build_ipa


@pytest.mark.parametrize("bundle_id", ["com.ex\u00e4mple.app", "com.example.my_app", "com.example app"])
def test_a_bundle_id_outside_apples_characters_is_an_error(tmp_path: Path, bundle_id: str) -> None:
    ipa = build_ipa(tmp_path / "App.ipa", bundle_id=bundle_id)
    findings = run_preflight(ipa)
    format_findings = [f for f in findings if f.id == "bundle_id.format"]
    assert format_findings and has_errors(findings)
    assert repr(bundle_id) in format_findings[0].message and "PRODUCT_BUNDLE_IDENTIFIER" in format_findings[0].message


@pytest.mark.parametrize("bundle_id", ["com.example.app", "com.Example-Co.App2", "io.x"])
def test_a_well_formed_bundle_id_has_no_such_finding(tmp_path: Path, bundle_id: str) -> None:
    ipa = build_ipa(tmp_path / "App.ipa", bundle_id=bundle_id)
    assert not [f for f in run_preflight(ipa) if f.id == "bundle_id.format"]
