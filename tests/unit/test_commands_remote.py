"""versions --remote merging and delete --expire-build lookups, against recorded-shape App Store Connect answers."""

from __future__ import annotations


import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc.auth import ApiKey
from publish.asc.client import AppStoreConnect
from publish.commands._builds import find_build_ids, list_app_builds
from publish.commands.versions import merge, sort_rows
from publish.errors import RemoteError

BASE = "https://api.appstoreconnect.apple.com"


@pytest.fixture
def client() -> AppStoreConnect:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return AppStoreConnect(ApiKey("KEYID12345", "issuer-uuid", pem), sleep=lambda s: None)


def build(build_id: str, number: str, prv: str, *, beta: str | None, asv: str | None, expired=False) -> dict:
    relationships = {
        "preReleaseVersion": {"data": {"type": "preReleaseVersions", "id": prv}},
        "buildBetaDetail": {"data": {"type": "buildBetaDetails", "id": beta} if beta else None},
        "appStoreVersion": {"data": {"type": "appStoreVersions", "id": asv} if asv else None},
    }
    return {
        "type": "builds",
        "id": build_id,
        "attributes": {
            "version": number,
            "uploadedDate": "2024-05-01T10:00:00-07:00",
            "processingState": "VALID",
            "expired": expired,
        },
        "relationships": relationships,
    }


def local(version: str, number: str, build_id: str | None = None) -> dict:
    return {
        "bundle_id": "com.example.app", "version": version, "build_number": number, "display_name": "Example",
        "fingerprint": f"fp-{version}-{number}", "local": True, "rc": False, "rc_note": None, "kept": False,
        "first_seen": None, "last_seen": None, "state": "inspected",
        "recorded_remote": {"build_id": build_id} if build_id else {}, "remote": None,
    }


@responses.activate
def test_list_app_builds_reads_states_from_included_resources_across_pages(client: AppStoreConnect) -> None:
    page1 = {
        "data": [build("B3", "3", "P2", beta="D3", asv="V2")],
        "included": [
            {"type": "preReleaseVersions", "id": "P2", "attributes": {"version": "1.1"}},
            {"type": "buildBetaDetails", "id": "D3",
             "attributes": {"internalBuildState": "IN_BETA_TESTING", "externalBuildState": "BETA_APPROVED"}},
            {"type": "appStoreVersions", "id": "V2", "attributes": {"appVersionState": "WAITING_FOR_REVIEW"}},
        ],
        "links": {"next": f"{BASE}/v1/builds?cursor=abc&filter%5Bapp%5D=A1"},
    }
    page2 = {
        "data": [build("B1", "1", "P1", beta=None, asv=None, expired=True)],
        "included": [{"type": "preReleaseVersions", "id": "P1", "attributes": {"version": "1.0"}}],
        "links": {},
    }
    responses.get(f"{BASE}/v1/builds", json=page1, match=[responses.matchers.query_param_matcher({
        "filter[app]": "A1", "include": "preReleaseVersion,buildBetaDetail,appStoreVersion",
        "sort": "-uploadedDate", "limit": "200"})])
    responses.get(f"{BASE}/v1/builds", json=page2, match=[responses.matchers.query_param_matcher({
        "cursor": "abc", "filter[app]": "A1"})])
    builds = list_app_builds(client, "A1")
    assert len(responses.calls) == 2  # one call per page, not one per build
    assert builds[0] == {
        "version": "1.1", "build_number": "3", "build_id": "B3", "uploaded_date": "2024-05-01T10:00:00-07:00",
        "processing_state": "VALID", "expired": False, "testflight_internal_state": "IN_BETA_TESTING",
        "testflight_external_state": "BETA_APPROVED", "app_store_version_id": "V2",
        "app_store_version_state": "WAITING_FOR_REVIEW",
    }
    assert builds[1]["version"] == "1.0" and builds[1]["expired"] is True
    assert builds[1]["testflight_internal_state"] is None and builds[1]["app_store_version_id"] is None


def test_merge_matches_by_build_id_then_numbers_and_keeps_remote_only_builds() -> None:
    rows = [local("1.0", "1", build_id="B1"), local("1.0", "2"), local("0.9", "9")]
    remote = [
        {"version": "1.0", "build_number": "1", "build_id": "B1", "processing_state": "VALID"},
        {"version": "1.0", "build_number": "2", "build_id": "B2", "processing_state": "PROCESSING"},
        {"version": "2.0", "build_number": "5", "build_id": "B5", "processing_state": "VALID"},
    ]
    merged = sort_rows(merge(rows, "com.example.app", remote))
    assert [(r["version"], r["build_number"], r["local"]) for r in merged] == [
        ("2.0", "5", False), ("1.0", "2", True), ("1.0", "1", True), ("0.9", "9", True),
    ]
    assert merged[0]["remote"]["build_id"] == "B5" and merged[0]["fingerprint"] is None
    assert merged[1]["remote"]["processing_state"] == "PROCESSING"
    assert merged[3]["remote"] is None  # local only


@responses.activate
def test_find_build_ids_uses_recorded_ids_then_looks_up_and_names_missing(client: AppStoreConnect) -> None:
    responses.get(f"{BASE}/v1/apps", json={"data": [
        {"type": "apps", "id": "A1", "attributes": {"bundleId": "com.example.app"}}]})

    def builds_answer(request):
        query = parse_qs(urlsplit(request.url).query)
        wanted = query.get("filter[version]") == ["2"] and query.get("filter[preReleaseVersion.version]") == ["1.0"]
        data = [build("B2", "2", "P1", beta=None, asv=None)] if wanted else []
        return 200, {}, json.dumps({"data": data})

    responses.add_callback(responses.GET, f"{BASE}/v1/builds", callback=builds_answer)
    binaries = [
        {"fingerprint": "f1", "bundle_id": "com.example.app", "version": "1.0", "build_number": "1",
         "remote": {"build_id": "B1"}},
        {"fingerprint": "f2", "bundle_id": "com.example.app", "version": "1.0", "build_number": "2", "remote": {}},
    ]
    assert find_build_ids(client, binaries) == {"f1": "B1", "f2": "B2"}
    missing = binaries + [{"fingerprint": "f3", "bundle_id": "com.example.app", "version": "3.0",
                           "build_number": "30", "remote": {}}]
    with pytest.raises(RemoteError, match=r"no build for com.example.app 3.0 \(30\); nothing was expired"):
        find_build_ids(client, missing)
