"""Hostile IPAs (issue 15, "IPAs"): `check` and `run` agree, refusing each with one clear message and exit 2, and
the run sends nothing to App Store Connect."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from publish.cli import CliContext, main
from publish.ipa import IpaError, inspect_ipa, run_preflight
from publish.ipa.preflight import MAX_VERSION_DIGITS
from publish.sandbox.hostile_ipa import declare_entries
from publish.sandbox.sample_ipa import build_ipa


def check(ipa: Path) -> tuple[int, str]:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    code = main(["check", str(ipa)], ctx=ctx)
    return code, ctx.stdout.getvalue() + ctx.stderr.getvalue()


def test_a_5000_digit_build_number_is_refused_by_check(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "a.ipa", build_number="9" * 5000, extensions=())
    code, output = check(ipa)
    assert code == 2
    assert "build number (CFBundleVersion) '9999" in output
    assert f"has a number of 5000 digits; App Store Connect takes at most {MAX_VERSION_DIGITS} digits" in output
    assert "9" * 100 not in output  # quoted short, not 5000 digits long


@pytest.mark.parametrize("version, build", [("1." + "0" * 19, "1"), ("1.0", "1." + "1" * 19 + ".0")])
def test_an_overlong_component_anywhere_is_refused(tmp_path: Path, version: str, build: str) -> None:
    ipa = build_ipa(tmp_path / "a.ipa", version=version, build_number=build, extensions=())
    ids = {f.id for f in run_preflight(ipa) if f.severity == "error"}
    assert ids & {"version.format", "build_number.format"}


def test_eighteen_digits_are_still_a_build_number(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "a.ipa", build_number="9" * MAX_VERSION_DIGITS, extensions=())
    assert not [f for f in run_preflight(ipa) if f.severity == "error"]


def test_a_5000_digit_build_number_is_refused_by_run_before_anything_is_sent(world) -> None:  # noqa: F811
    ipa = world.ipa("9" * 5000, extensions=(), name="long-build.ipa")
    outcome = world.run(world.flow("- step: send_to_testflight\n  api_key: main\n"), ipa)
    assert outcome.code == 2, outcome.output
    assert "has a number of 5000 digits" in outcome.stderr
    assert "Traceback" not in outcome.output and "ValueError" not in outcome.output
    assert world.records("buildUploads") == [] and world.records("builds") == []


def test_an_end_record_claiming_65535_entries_for_7_is_refused(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "a.ipa", extensions=(), icons=False, top_level_folder="Build")
    import zipfile

    with zipfile.ZipFile(ipa) as archive:
        count = len(archive.infolist())
    assert count == 7
    declare_entries(ipa, 65535)
    with pytest.raises(IpaError) as caught:
        inspect_ipa(ipa)
    assert caught.value.finding_id == "zip.corrupt"
    assert "declares 65535 entries but the central directory holds 7" in str(caught.value)
    code, output = check(ipa)
    assert code == 2 and "declares 65535 entries" in output


@pytest.mark.parametrize("claimed", [0, 6, 8, 1000])
def test_any_entry_count_that_differs_is_refused(tmp_path: Path, claimed: int) -> None:
    ipa = declare_entries(build_ipa(tmp_path / "a.ipa", extensions=()), claimed)
    with pytest.raises(IpaError, match=f"declares {claimed} entries"):
        inspect_ipa(ipa)


def test_an_entry_count_lie_is_refused_by_run_before_anything_is_sent(world) -> None:  # noqa: F811
    ipa = declare_entries(world.ipa("5", extensions=()), 65535)
    outcome = world.run(world.flow("- step: send_to_testflight\n  api_key: main\n"), ipa)
    assert outcome.code == 2, outcome.output
    assert "declares 65535 entries" in outcome.stderr
    assert world.records("buildUploads") == []
