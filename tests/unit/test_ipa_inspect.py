"""IPA inspection and pre-flight over the real-world fixtures and generated sample IPAs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from publish.ipa import IpaError, inspect_ipa, run_preflight
from publish.sandbox.sample_ipa import DEFECTS, ExtensionSpec, build_ipa

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def real_ipas(real_world: Callable[[str], Path]) -> Path:
    return real_world("ipas")


def error_ids(findings) -> list[str]:
    return [f.id for f in findings if f.severity == "error"]


# -- real-world fixtures -------------------------------------------------------------------------------


def test_very_capable_app_is_development_signed(real_ipas: Path) -> None:
    info = inspect_ipa(real_ipas / "very-capable-app.ipa")
    assert (info.bundle_id, info.version, info.build_number) == ("org.fastlane.very-capable-app", "1.0", "1")
    assert info.app_path == "Payload/very-capable-app.app/" and info.top_level_folder is None
    assert info.platform == "IOS" and info.device_families == [1, 2] and info.minimum_os == "11.2"
    assert info.has_code_signature
    profile = info.profile
    assert profile is not None
    assert profile.type == "development"
    assert profile.name == "org.fastlane.very-capable-app Development"
    assert profile.uuid == "12345678-1234-1234-1234-123456789012"
    assert profile.app_id == "org.fastlane.very-capable-app" and profile.team_id == "TestFixture"
    assert profile.devices_count == 1 and profile.get_task_allow
    assert profile.expiration_date == datetime(2019, 4, 7, 1, 27, 21, tzinfo=timezone.utc)
    assert profile.certificates and profile.certificates[0].common_name == "TestFixture"
    ids = error_ids(run_preflight(real_ipas / "very-capable-app.ipa", now=NOW))
    assert "profile.development" in ids and "profile.expired" in ids and "entitlements.get_task_allow" in ids
    assert "layout.payload_in_subfolder" not in ids and "signature.missing" not in ids


@pytest.mark.parametrize("name", ["ContainsWatchApp.ipa", "iOSAppOnly.ipa", "IncorrectlySigned.ipa"])
def test_payload_under_top_level_folder_is_read_but_refused(real_ipas: Path, name: str) -> None:
    folder = name.removesuffix(".ipa")
    info = inspect_ipa(real_ipas / name)
    assert info.top_level_folder == folder
    assert info.app_path == f"{folder}/Payload/Sample.app/"
    assert (info.bundle_id, info.version, info.build_number) == ("com.example.Sample", "1.2.0", "1")
    findings = run_preflight(real_ipas / name, now=NOW)
    layout = [f for f in findings if f.id == "layout.payload_in_subfolder"]
    assert layout and layout[0].severity == "error"
    assert f"cd {folder} && zip -qr" in layout[0].message  # says how to fix it


def test_watch_app_is_listed_with_its_version(real_ipas: Path) -> None:
    info = inspect_ipa(real_ipas / "ContainsWatchApp.ipa")
    [watch] = info.extensions
    assert watch.kind == "watch_app" and watch.name == "Sample WatchKit App.app"
    assert (watch.bundle_id, watch.version, watch.build_number) == ("com.example.Sample.watchkitapp", "1.2.0", "1")
    assert watch.platforms == ["WatchOS"]
    assert "plist.missing" not in error_ids(run_preflight(real_ipas / "ContainsWatchApp.ipa", now=NOW))


def test_incorrectly_signed_watch_app_lacks_info_plist(real_ipas: Path) -> None:
    info = inspect_ipa(real_ipas / "IncorrectlySigned.ipa")
    [watch] = info.extensions
    assert watch.kind == "watch_app" and not watch.has_info_plist and watch.bundle_id is None
    findings = run_preflight(real_ipas / "IncorrectlySigned.ipa", now=NOW)
    missing = [f for f in findings if f.id == "plist.missing"]
    assert missing and "Sample WatchKit App.app/Info.plist is missing" in missing[0].message
    assert "Info-Watch.plist" in missing[0].message
    assert "layout.payload_in_subfolder" in error_ids(findings)


def test_not_an_ipa_and_no_app_bundle(real_ipas: Path) -> None:
    with pytest.raises(IpaError) as not_zip:
        inspect_ipa(real_ipas / "not-an-ipa.ipa")
    assert not_zip.value.finding_id == "zip.not_a_zip" and not_zip.value.exit_code == 2
    assert "not a zip archive" in str(not_zip.value)
    with pytest.raises(IpaError) as no_app:
        inspect_ipa(real_ipas / "no-app-bundle.ipa")
    assert no_app.value.finding_id == "layout.no_app" and "holds no .app bundle" in str(no_app.value)
    assert error_ids(run_preflight(real_ipas / "not-an-ipa.ipa")) == ["zip.not_a_zip"]
    assert error_ids(run_preflight(real_ipas / "no-app-bundle.ipa")) == ["layout.no_app"]


# -- generated IPAs ---------------------------------------------------------------------------------


def test_valid_sample_passes_preflight(tmp_path: Path) -> None:
    path = build_ipa(tmp_path / "ok.ipa", bundle_id="com.acme.game", version="2.3.1", build_number="45",
                     display_name="Acme Game", extensions=("Widgets", "Share"), watch_app=True)
    assert run_preflight(path, expected_bundle_id="com.acme.game", now=NOW) == []
    info = inspect_ipa(path)
    assert (info.bundle_id, info.version, info.build_number, info.display_name) == (
        "com.acme.game", "2.3.1", "45", "Acme Game")
    assert info.profile is not None and info.profile.type == "app-store" and info.profile.app_id == "com.acme.game"
    assert info.profile.team_id == "A1B2C3D4E5" and info.profile.certificates[0].common_name.startswith(
        "Apple Distribution:")
    assert info.uses_non_exempt_encryption is False and info.has_code_signature
    assert [(b.kind, b.bundle_id) for b in info.extensions] == [
        ("extension", "com.acme.game.share"), ("extension", "com.acme.game.widgets"),
        ("watch_app", "com.acme.game.watchkitapp"), ("watch_extension", "com.acme.game.watchkitapp.widgets")]
    assert info.icon_path == "Payload/AcmeGame.app/AppIcon60x60@3x.png"
    assert info.fingerprint == inspect_ipa(path).fingerprint and len(info.fingerprint) == 64


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = build_ipa(tmp_path / "a.ipa", profile_type="ad-hoc")
    b = build_ipa(tmp_path / "b.ipa", profile_type="ad-hoc")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_is_reported(tmp_path: Path, defect: str) -> None:
    kwargs, finding_id = DEFECTS[defect]
    path = build_ipa(tmp_path / f"{defect}.ipa", **kwargs)
    findings = run_preflight(path, now=NOW)
    assert finding_id in error_ids(findings), findings
    for finding in findings:
        assert len(finding.message) > 40  # a sentence saying what is wrong and how to fix it


def test_expiring_soon_is_a_warning(tmp_path: Path) -> None:
    path = build_ipa(tmp_path / "soon.ipa", profile_expires=NOW + timedelta(days=3), extensions=())
    findings = run_preflight(path, now=NOW)
    assert [(f.id, f.severity) for f in findings] == [("profile.expiring_soon", "warning")]
    assert run_preflight(path, now=NOW - timedelta(days=10)) == []


def test_bundle_id_not_matching_the_publish_profile(tmp_path: Path) -> None:
    path = build_ipa(tmp_path / "x.ipa", bundle_id="com.example.app")
    findings = run_preflight(path, expected_bundle_id="com.example.other", now=NOW)
    assert error_ids(findings) == ["bundle_id.profile_mismatch"]
    assert "com.example.other" in findings[0].message


def test_wildcard_profile_covers_the_bundle(tmp_path: Path) -> None:
    ok = build_ipa(tmp_path / "w.ipa", bundle_id="com.example.app", profile_app_id="com.example.*", extensions=())
    assert run_preflight(ok, now=NOW) == []
    star = build_ipa(tmp_path / "s.ipa", profile_app_id="*", extensions=())
    assert run_preflight(star, now=NOW) == []
    other = build_ipa(tmp_path / "o.ipa", profile_app_id="org.other.*", extensions=())
    assert error_ids(run_preflight(other, now=NOW)) == ["profile.app_id_mismatch"]


def test_extension_build_number_mismatch(tmp_path: Path) -> None:
    path = build_ipa(tmp_path / "b.ipa", extensions=(ExtensionSpec("Share", build_number="7"),))
    [finding] = run_preflight(path, now=NOW)
    assert finding.id == "extension.version_mismatch" and "CFBundleVersion" in finding.message


@pytest.mark.parametrize(("platform", "expected"), [("IOS", "IOS"), ("TV_OS", "TV_OS"), ("VISION_OS", "VISION_OS")])
def test_platform(tmp_path: Path, platform: str, expected: str) -> None:
    info = inspect_ipa(build_ipa(tmp_path / "p.ipa", platform=platform, extensions=()))
    assert info.platform == expected


def test_pad_to_reaches_the_exact_size_and_stays_inspectable(tmp_path: Path) -> None:
    path = build_ipa(tmp_path / "padded.ipa", pad_to=3_000_000)
    assert path.stat().st_size == 3_000_000
    info = inspect_ipa(path)
    assert info.file_size == 3_000_000 and info.bundle_id == "com.example.app"
    assert run_preflight(path, now=NOW) == []
    with pytest.raises(ValueError):
        build_ipa(tmp_path / "tiny.ipa", pad_to=1000)
