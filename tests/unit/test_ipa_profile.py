"""Provisioning profiles: CMS SignedData parsing, type classification, malformed DER."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from asn1crypto import cms

from publish.ipa import IpaError, parse_provisioning_profile
from publish.sandbox.sample_ipa import profile_der


@pytest.fixture(scope="session")
def real_profiles(real_world: Callable[[str], Path]) -> Path:
    return real_world("profiles")


@pytest.mark.parametrize(("file_name", "name", "uuid", "expires"), [
    ("AppStore_tools.fastlane.app.mobileprovision", "match AppStore tools.fastlane.app 1449198835",
     "736590c3-dfe8-4c25-b2eb-2404b8e65fb8", datetime(2016, 12, 3, 3, 2, 8, tzinfo=timezone.utc)),
    ("test.mobileprovision", "tools.fastlane.app AppStore", "98264c6b-5151-4349-8d0f-66691e48ae35",
     datetime(2016, 11, 7, 20, 58, 52, tzinfo=timezone.utc)),
])
def test_real_app_store_profiles_are_app_store_and_expired(real_profiles: Path, file_name: str, name: str, uuid: str,
                                                          expires: datetime) -> None:
    profile = parse_provisioning_profile((real_profiles / file_name).read_bytes(), source=file_name)
    assert profile.type == "app-store"
    assert (profile.name, profile.uuid, profile.expiration_date) == (name, uuid, expires)
    assert profile.is_expired(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert (profile.team_id, profile.team_name) == ("439BBM9367", "Felix Krause")
    assert profile.app_id == "tools.fastlane.app" and profile.application_identifier == "439BBM9367.tools.fastlane.app"
    assert profile.devices_count == 0 and not profile.get_task_allow and not profile.provisions_all_devices
    assert profile.entitlements["beta-reports-active"] is True
    assert profile.certificates and all(c.common_name for c in profile.certificates)
    assert profile.matches_bundle_id("tools.fastlane.app") and not profile.matches_bundle_id("tools.fastlane.app2")
    assert profile.to_json()["expiration_date"] == expires.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(("kind", "devices", "all_devices", "get_task_allow"), [
    ("app-store", 0, False, False), ("ad-hoc", 3, False, False), ("development", 3, False, True),
    ("enterprise", 0, True, False)])
def test_generated_profile_types_round_trip(kind: str, devices: int, all_devices: bool, get_task_allow: bool) -> None:
    der = profile_der(bundle_id="com.acme.app", profile_type=kind)
    assert cms.ContentInfo.load(der)["content_type"].native == "signed_data"
    profile = parse_provisioning_profile(der)
    assert profile.type == kind
    assert (profile.devices_count, profile.provisions_all_devices, profile.get_task_allow) == (
        devices, all_devices, get_task_allow)
    assert profile.app_id == "com.acme.app" and profile.team_id == "A1B2C3D4E5"
    role = "Apple Development" if kind == "development" else "Apple Distribution"
    assert profile.certificates[0].common_name == f"{role}: Example Team (A1B2C3D4E5)"
    assert profile.certificates[0].team_id == "A1B2C3D4E5"


def test_wildcard_app_ids() -> None:
    profile = parse_provisioning_profile(profile_der(bundle_id="com.acme.*"))
    assert profile.app_id == "com.acme.*"
    assert profile.matches_bundle_id("com.acme.app") and not profile.matches_bundle_id("org.acme.app")
    assert parse_provisioning_profile(profile_der(bundle_id="*")).matches_bundle_id("anything.at.all")


@pytest.mark.parametrize("data", [
    b"",
    b"not der at all",
    b"\x30\x82\xff\xff\x06\x09",  # a SEQUENCE claiming 65535 bytes it does not have
    b"\x30\x03\x02\x01\x01",  # valid DER, but not a ContentInfo
])
def test_malformed_der_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(IpaError) as caught:
        parse_provisioning_profile(data, source="x.mobileprovision")
    assert caught.value.finding_id == "profile.corrupt"
    assert "x.mobileprovision" in str(caught.value) and "Developer portal" in str(caught.value)


def test_truncated_and_tampered_profiles() -> None:
    der = profile_der()
    with pytest.raises(IpaError):
        parse_provisioning_profile(der[: len(der) // 2])
    plist_start = der.find(b"<?xml")
    tampered = der[:plist_start] + b"<?xmX" + der[plist_start + 5:]
    with pytest.raises(IpaError) as caught:
        parse_provisioning_profile(tampered)
    assert "not a valid plist" in str(caught.value)


def test_envelope_that_is_not_signed_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    with pytest.raises(IpaError) as caught:
        parse_provisioning_profile(data)
    assert "not signed data" in str(caught.value)
