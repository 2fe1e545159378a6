"""The client parses every recorded App Store Connect response in ../shared/fixtures/real-world/asc-responses/
unchanged: first as documents, then served over (mocked) HTTP through the client and its typed helpers."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc import ApiKey, AppStoreConnect, AscTransportError, Document, Resource

BASE = "https://api.appstoreconnect.apple.com"
PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def recorded(shared_dir: Path) -> dict[str, Any]:
    folder = shared_dir / "fixtures" / "real-world" / "asc-responses"
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.skip(f"no recorded responses in {folder}")
    return {f.name: json.loads(f.read_text()) for f in files}


def client() -> AppStoreConnect:
    return AppStoreConnect(ApiKey("K1", "issuer", PEM), sleep=lambda s: None, random=random.Random(0))


def test_every_recorded_response_parses_as_a_document(recorded: dict[str, Any]) -> None:
    assert len(recorded) >= 40
    for name, raw in recorded.items():
        document = Document.from_json(raw)
        raw_data = raw["data"]
        expected = raw_data if isinstance(raw_data, list) else [raw_data]
        assert [(r.type, r.id) for r in document.resources] == [(d["type"], d["id"]) for d in expected], name
        for resource, source in zip(document.resources, expected, strict=True):
            assert resource.attributes == source.get("attributes", {}), name
            assert resource.relationships == source.get("relationships", {}), name
        assert len(document.included) == len(raw.get("included", [])), name
        assert document.links == raw.get("links", {}), name
        assert document.meta == raw.get("meta", {}), name
        for item in document.included:
            assert document.find_included(item.type, item.id) is item


@responses.activate
def test_every_recorded_response_goes_through_the_client(recorded: dict[str, Any]) -> None:
    c = client()
    for name, raw in recorded.items():
        path = f"/v1/recorded/{name.removesuffix('.json')}"
        responses.get(BASE + path, json=raw)
        document = c.get_document(path)
        assert document == Document.from_json(raw), name
        next_url = raw.get("links", {}).get("next")
        assert document.next_url == next_url
        if isinstance(raw["data"], list) and next_url and not next_url.startswith(BASE):
            # fastlane recorded these from the web API host; the client never sends the token to another host
            with pytest.raises(AscTransportError, match="another host"):
                list(c.paginate(path))
        elif isinstance(raw["data"], list):
            if next_url:  # the recorded first page, then a last page at the cursor it names
                responses.get(next_url, json={"data": [], "links": {"self": next_url}})
            assert [r.id for r in c.paginate(path)] == [d["id"] for d in raw["data"]]


def serve(path: str, raw: dict[str, Any]) -> None:
    responses.get(BASE + path, json=raw)


@responses.activate
def test_typed_helpers_on_recorded_lists(recorded: dict[str, Any]) -> None:
    c = client()
    serve("/v1/apps", recorded["testflight-apps.json"])
    app = c.find_app("com.joshholtz.FastlaneTest3")
    assert app is not None and app.id == "1013943394"
    serve("/v1/apps/1234/buildUploads", recorded["testflight-build_uploads.json"])
    (upload,) = c.list_build_uploads("1234", version="1.2.3")
    assert upload.attr("state")["state"] == "COMPLETE" and upload.attr("cfBundleVersion") == "45"
    serve("/v1/betaTesters", recorded["testflight-beta_testers.json"])
    tester = c.find_beta_tester("EMAIL2@email.com", "1234")
    assert tester is not None and tester.id == "987654321"
    serve("/v1/reviewSubmissions", recorded["tunes-review_submissions.json"])
    drafts = [s for s in c.list_review_submissions("1234") if s.attr("state") == "READY_FOR_REVIEW"]
    assert [s.id for s in drafts] == ["123456789"]
    serve("/v1/reviewSubmissions/123456789/items", recorded["tunes-review_submission_items.json"])
    items = c.list_review_submission_items("123456789")
    assert items[0].related_id("appStoreVersion") == "123456789-app-store-version"
    assert items[0].related_id("appEvent") is None
    serve("/v1/betaAppReviewSubmissions", recorded["testflight-beta_app_review_submissions.json"])
    assert all(isinstance(r, Resource) for r in c.list_beta_app_review_submissions("B1"))


@responses.activate
def test_typed_helpers_on_recorded_single_resources(recorded: dict[str, Any]) -> None:
    c = client()
    serve("/v1/apps/A1", recorded["testflight-app.json"])
    assert c.get_app("A1").type == "apps"
    serve("/v1/builds/B1", recorded["testflight-build.json"])
    build = c.get_build("B1")
    assert build.type == "builds" and build.attr("version") is not None
    serve("/v1/builds/B1/buildBetaDetail", recorded["testflight-build_beta_detail.json"])
    detail = c.get_build_beta_detail("B1")
    assert detail.attr("internalBuildState") == "IN_BETA_TESTING" and detail.attr("autoNotifyEnabled") is False
    assert detail.related_id("build") is None  # links only, no linkage without include
    serve("/v1/reviewSubmissions/RS1", recorded["tunes-review_submission.json"])
    submission = c.get_review_submission("RS1")
    assert submission.type == "reviewSubmissions"
    responses.patch(BASE + "/v1/reviewSubmissions/RS1", json=recorded["tunes-review_submission_submitted.json"])
    assert c.update_review_submission("RS1", submitted=True).attr("state") == \
        recorded["tunes-review_submission_submitted.json"]["data"]["attributes"]["state"]
    responses.post(BASE + "/v1/reviewSubmissionItems", status=201,
                   json=recorded["tunes-review_submission_item_created.json"])
    assert c.create_review_submission_item("RS1", "V1").id == "123456789-item"
