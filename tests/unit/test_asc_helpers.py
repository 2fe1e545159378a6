"""Typed helpers: the exact paths, filters and bodies of protocol.md, and how absent resources come back."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from responses import matchers

from publish.asc import ApiKey, AppStoreConnect, AscNotFoundError
from publish.asc.transport import resolve_base_url
from publish.errors import InputError

BASE = "https://api.appstoreconnect.apple.com"
PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def client() -> AppStoreConnect:
    return AppStoreConnect(ApiKey("K1", "issuer", PEM), sleep=lambda s: None, random=random.Random(0))


def sent() -> Any:
    return json.loads(responses.calls[-1].request.body)


def one(type_: str, id_: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": type_, "id": id_, "attributes": attributes}}


def query(**params: str) -> list[Any]:
    return [matchers.query_param_matcher(params)]


@responses.activate
def test_latest_upload_lookup_uses_state_filter_and_sort_like_fastlane() -> None:
    responses.get(f"{BASE}/v1/apps/A1/buildUploads", json={"data": []}, match=query(**{
        "filter[cfBundleShortVersionString]": "1.2.3", "filter[platform]": "IOS",
        "filter[state]": "PROCESSING,FAILED,COMPLETE", "sort": "-uploadedDate", "limit": "200"}))
    responses.get(f"{BASE}/v1/apps/A1/buildUploads", json={"data": []}, match=query(**{
        "filter[cfBundleVersion]": "45", "filter[state]": "AWAITING_UPLOAD", "limit": "200"}))
    c = client()
    assert c.list_build_uploads("A1", version="1.2.3", platform="IOS", states=["PROCESSING", "FAILED", "COMPLETE"]) == []
    # AWAITING_UPLOAD has no uploadedDate: no sort by it
    assert c.list_build_uploads("A1", build_number="45", states=["AWAITING_UPLOAD"]) == []


@responses.activate
def test_upload_file_reservation_and_commit_bodies() -> None:
    responses.post(f"{BASE}/v1/buildUploadFiles", status=201, json=one("buildUploadFiles", "F1", uploadOperations=[
        {"method": "PUT", "url": "https://blob.example/1", "offset": 0, "length": 10, "partNumber": 1}]))
    responses.patch(f"{BASE}/v1/buildUploadFiles/F1", json=one("buildUploadFiles", "F1"))
    c = client()
    reserved = c.create_build_upload_file("U1", file_name="App.ipa", file_size=10)
    assert reserved.attr("uploadOperations")[0]["partNumber"] == 1
    assert sent() == {"data": {"type": "buildUploadFiles",
                               "attributes": {"fileName": "App.ipa", "fileSize": 10, "uti": "com.apple.ipa",
                                              "assetType": "ASSET"},
                               "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": "U1"}}}}}
    c.commit_build_upload_file("F1")  # uploaded alone: Apple refuses client checksums here (protocol.md H.7)
    assert sent() == {"data": {"type": "buildUploadFiles", "id": "F1", "attributes": {"uploaded": True}}}


@responses.activate
def test_get_build_upload_with_build_included() -> None:
    responses.get(f"{BASE}/v1/buildUploads/U1", match=query(include="build"), json={
        "data": {"type": "buildUploads", "id": "U1", "attributes": {"state": {"state": "COMPLETE"}},
                 "relationships": {"build": {"data": {"type": "builds", "id": "B1"}}}},
        "included": [{"type": "builds", "id": "B1", "attributes": {"processingState": "PROCESSING"}}]})
    document = client().get_build_upload("U1", include_build=True)
    build_id = document.resource.related_id("build")
    assert build_id == "B1"
    assert document.find_included("builds", build_id).attr("processingState") == "PROCESSING"


@responses.activate
def test_relationship_calls_send_linkage_and_expect_204() -> None:
    responses.post(f"{BASE}/v1/builds/B1/relationships/betaGroups", status=204)
    responses.post(f"{BASE}/v1/builds/B1/relationships/individualTesters", status=204)
    responses.patch(f"{BASE}/v1/appStoreVersions/V1/relationships/build", status=204)
    c = client()
    c.add_build_to_beta_groups("B1", ["G1", "G2"])
    assert sent() == {"data": [{"type": "betaGroups", "id": "G1"}, {"type": "betaGroups", "id": "G2"}]}
    c.add_individual_testers("B1", ["T1"])
    assert sent() == {"data": [{"type": "betaTesters", "id": "T1"}]}
    c.attach_build("V1", "B1")
    assert sent() == {"data": {"type": "builds", "id": "B1"}}
    c.add_build_to_beta_groups("B1", [])  # nothing to add: no call
    assert len(responses.calls) == 3


@responses.activate
def test_absent_build_and_phased_release_are_none() -> None:
    responses.get(f"{BASE}/v1/appStoreVersions/V1/build", json={"data": None, "links": {"self": "x"}})
    responses.get(f"{BASE}/v1/appStoreVersions/V1/appStoreVersionPhasedRelease", status=404, json={"errors": [
        {"status": "404", "code": "NOT_FOUND", "title": "Not found", "detail": "none"}]})
    c = client()
    assert c.get_app_store_version_build("V1") is None
    assert c.get_phased_release("V1") is None


@responses.activate
def test_a_missing_required_resource_is_not_found() -> None:
    responses.get(f"{BASE}/v1/builds/B9", status=404, json={"errors": [
        {"status": "404", "code": "NOT_FOUND", "title": "The specified resource does not exist",
         "detail": "There is no resource of type 'builds' with id 'B9'"}]})
    with pytest.raises(AscNotFoundError, match="B9"):
        client().get_build("B9")


@responses.activate
def test_app_store_version_updates_are_camel_cased() -> None:
    responses.patch(f"{BASE}/v1/appStoreVersions/V1", json=one("appStoreVersions", "V1"))
    responses.post(f"{BASE}/v1/appStoreVersionLocalizations", status=201, json=one("appStoreVersionLocalizations", "L1"))
    c = client()
    c.update_app_store_version("V1", release_type="SCHEDULED", earliest_release_date="2026-07-01T16:00:00Z")
    assert sent()["data"] == {"type": "appStoreVersions", "id": "V1", "attributes": {
        "releaseType": "SCHEDULED", "earliestReleaseDate": "2026-07-01T16:00:00Z"}}
    c.create_app_store_version_localization("V1", "fr-FR", whats_new="Corrections", marketing_url="https://x.fr")
    assert sent()["data"]["attributes"] == {"locale": "fr-FR", "whatsNew": "Corrections", "marketingUrl": "https://x.fr"}


@responses.activate
def test_review_submissions_are_listed_with_their_version_and_items() -> None:
    responses.get(f"{BASE}/v1/reviewSubmissions", match=query(**{
        "filter[app]": "A1", "filter[platform]": "IOS", "filter[state]": "READY_FOR_REVIEW,WAITING_FOR_REVIEW",
        "include": "appStoreVersionForReview,items", "limit": "200"}), json={"data": [{
            "type": "reviewSubmissions", "id": "RS1", "attributes": {"state": "READY_FOR_REVIEW"},
            "relationships": {"appStoreVersionForReview": {"data": {"type": "appStoreVersions", "id": "V1"}},
                              "items": {"data": [{"type": "reviewSubmissionItems", "id": "I1"}]}}}]})
    (submission,) = client().list_review_submissions("A1", states=["READY_FOR_REVIEW", "WAITING_FOR_REVIEW"])
    assert submission.related_id("appStoreVersionForReview") == "V1"
    assert submission.related_ids("items") == ["I1"]


def test_updates_without_anything_to_change_are_programming_errors() -> None:
    c = client()
    with pytest.raises(ValueError):
        c.update_build("B1")
    with pytest.raises(ValueError):
        c.update_review_submission("RS1")
    with pytest.raises(ValueError):
        c.update_app_store_version("V1")


def test_resolve_base_url_flag_then_environment_then_default() -> None:
    assert resolve_base_url(None, {}) == BASE
    assert resolve_base_url(None, {"ASC_API_BASE_URL": "http://127.0.0.1:8080/"}) == "http://127.0.0.1:8080"
    assert resolve_base_url("http://localhost:1", {"ASC_API_BASE_URL": "http://127.0.0.1:8080"}) == "http://localhost:1"
    with pytest.raises(InputError, match="ASC_API_BASE_URL"):
        resolve_base_url(None, {"ASC_API_BASE_URL": "http://example.com"})
