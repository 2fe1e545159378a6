"""A macOS package and an IPA share one set of version and provisioning-profile checks (publish/ipa/findings.py):
the same limits and the same finding ids, whichever binary carries the problem."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from publish.ipa.findings import MAX_VERSION_DIGITS
from publish.ipa.pkg_preflight import run_pkg_preflight
from publish.ipa.preflight import run_preflight
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.sample_pkg import build_pkg


def _errors(findings: list) -> dict[str, str]:
    return {f.id: f.message for f in findings if f.severity == "error"}


def test_a_package_with_a_5000_digit_build_number_is_refused_as_an_ipa_is(tmp_path: Path) -> None:
    pkg = _errors(run_pkg_preflight(build_pkg(tmp_path / "a.pkg", build_number="9" * 5000)))
    ipa = _errors(run_preflight(build_ipa(tmp_path / "a.ipa", build_number="9" * 5000, extensions=())))
    assert "build_number.format" in pkg
    assert f"has a number of 5000 digits; App Store Connect takes at most {MAX_VERSION_DIGITS}" in pkg[
        "build_number.format"]
    assert "9" * 100 not in pkg["build_number.format"]  # quoted short, not 5000 digits long
    assert pkg["build_number.format"] == ipa["build_number.format"]


def test_eighteen_digits_are_still_a_package_build_number(tmp_path: Path) -> None:
    pkg = build_pkg(tmp_path / "a.pkg", build_number="9" * MAX_VERSION_DIGITS)
    assert "build_number.format" not in _errors(run_pkg_preflight(pkg))


def test_an_expired_profile_reads_the_same_in_a_package_and_an_ipa(tmp_path: Path) -> None:
    dates = {"profile_created": datetime(2023, 1, 1, tzinfo=timezone.utc),
             "profile_expires": datetime(2024, 1, 1, tzinfo=timezone.utc)}
    pkg = _errors(run_pkg_preflight(build_pkg(tmp_path / "a.pkg", **dates)))
    ipa = _errors(run_preflight(build_ipa(tmp_path / "a.ipa", extensions=(), **dates)))
    assert pkg["profile.expired"].startswith("The app: the provisioning profile")
    assert "expired on 2024-01-01 00:00 UTC" in pkg["profile.expired"]
    assert ipa["profile.expired"].startswith("The app: the provisioning profile")
