"""The simulator's Build Upload API over raw HTTP: the whole flow, part URL rules, commit checks, processing
outcomes. Every exchange is checked against the OpenAPI contract by the `sandbox` fixture."""

from __future__ import annotations

import hashlib

import requests

import pytest

from sandbox_api import Api


@pytest.fixture(autouse=True)
def spec_only_uploads(sandbox) -> None:  # noqa: F811 - the fixture above
    """These tests check the Build Upload API as its description has it; Apple's habits of protocol.md H (client
    checksums refused, propagation delay, bare numeric codes, version forms) have their own tests in
    tests/test_realism_testflight.py."""
    sandbox.realism = sandbox.realism.without("commit_refuses_checksums", "propagation_delay",
                                              "processing_failure_codes", "version_forms", "beta_state_lags_valid",
                                              "default_beta_localization")


def test_whole_upload_flow_creates_a_valid_build(sandbox, api: Api, ipa_factory) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    ipa = ipa_factory(version="1.2.3", build="45", pad_to=200_000)
    data = ipa.read_bytes()
    upload_id = api.create_upload(app_id, "1.2.3", "45")
    created = api.get(f"/v1/buildUploads/{upload_id}").json()["data"]["attributes"]
    assert created["state"]["state"] == "AWAITING_UPLOAD"
    file = api.reserve(upload_id, len(data))
    operations = file["attributes"]["uploadOperations"]
    assert len(operations) == -(-len(data) // (64 * 1024)) > 1
    assert [op["offset"] for op in operations] == [n * 64 * 1024 for n in range(len(operations))]
    assert sum(op["length"] for op in operations) == len(data)
    assert all("Expires=" in op["url"] and "Signature=" in op["url"] for op in operations)
    # parts may go in any order
    api.put_parts(list(reversed(operations)), data)
    committed = api.commit(file["id"], hashlib.md5(data).hexdigest())
    assert committed.status_code == 200
    assert committed.json()["data"]["attributes"]["assetDeliveryState"]["state"] == "UPLOAD_COMPLETE"

    first = api.get(f"/v1/buildUploads/{upload_id}").json()["data"]
    assert first["attributes"]["state"]["state"] == "PROCESSING"
    assert "build" not in first.get("relationships", {})  # linkage only with include=build
    done = api.get(f"/v1/buildUploads/{upload_id}", include="build").json()
    assert done["data"]["attributes"]["state"]["state"] == "COMPLETE"
    build_id = done["data"]["relationships"]["build"]["data"]["id"]
    assert [i["id"] for i in done["included"]] == [build_id]
    assert done["included"][0]["attributes"]["processingState"] == "PROCESSING"

    builds = api.get("/v1/builds", **{"filter[app]": app_id, "filter[preReleaseVersion.version]": "1.2.3",
                                      "filter[version]": "45", "sort": "-uploadedDate"}).json()
    assert [b["id"] for b in builds["data"]] == [build_id]
    assert api.get(f"/v1/builds/{build_id}").json()["data"]["attributes"]["processingState"] == "VALID"
    train = api.get("/v1/preReleaseVersions", **{"filter[app]": app_id, "filter[version]": "1.2.3",
                                                 "filter[platform]": "IOS"}).json()["data"]
    assert [t["attributes"]["version"] for t in train] == ["1.2.3"]
    detail = api.get(f"/v1/builds/{build_id}/buildBetaDetail").json()["data"]["attributes"]
    assert detail["internalBuildState"] == "READY_FOR_BETA_TESTING"  # the sample IPA declares no encryption
    assert sandbox.blobs.files_on_disk() == []  # temp files go once processed


def test_latest_upload_query_of_protocol_b2(sandbox, api: Api, ipa_factory) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    for build in ("7", "9", "10"):
        api.uploaded_build(app_id, ipa_factory(build=build), "1.0.0", build, valid=False)
    api.create_upload(app_id, "1.0.0", "11")  # AWAITING_UPLOAD has no uploadedDate and is filtered out
    page = api.get(f"/v1/apps/{app_id}/buildUploads", **{
        "filter[cfBundleShortVersionString]": "1.0.0", "filter[platform]": "IOS",
        "filter[state]": "PROCESSING,FAILED,COMPLETE", "sort": "-cfBundleVersion", "limit": "1"}).json()
    assert [u["attributes"]["cfBundleVersion"] for u in page["data"]] == ["10"]  # numeric, not text, order
    assert page["meta"]["paging"] == {"total": 3, "limit": 1}
    assert "cursor=" in page["links"]["next"]


def test_processing_fails_on_mismatches_and_build_numbers(sandbox, api: Api, ipa_factory) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    sandbox.add_build(app_id, "2.0.0", "5")
    cases = [
        (ipa_factory(bundle_id="com.example.other", version="2.0.0", build="6"), "2.0.0", "6", "ITMS-90054"),
        (ipa_factory(version="2.0.1", build="6"), "2.0.0", "6", "ITMS-90060"),
        (ipa_factory(version="2.0.0", build="7"), "2.0.0", "6", "ITMS-90061"),
        (ipa_factory(version="2.0.0", build="5"), "2.0.0", "5", "ITMS-90189"),
        (ipa_factory(version="2.0.0", build="4"), "2.0.0", "4", "ITMS-90062"),
    ]
    for ipa, version, build, code in cases:
        upload_id, response = api.upload(app_id, ipa, version, build)
        assert response.status_code == 200, response.text
        state = api.poll_upload(upload_id)["data"]["attributes"]["state"]
        assert state["state"] == "FAILED", (code, state)
        assert [e["code"] for e in state["errors"]] == [code]
        assert state["errors"][0]["description"]
    assert len(api.get("/v1/builds", **{"filter[app]": app_id}).json()["data"]) == 1


def test_not_a_zip_fails_processing(sandbox, api: Api, tmp_path) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    junk = tmp_path / "junk.ipa"
    junk.write_bytes(b"not a zip at all" * 100)
    upload_id, response = api.upload(app_id, junk, "1.0.0", "1")
    assert response.status_code == 200
    state = api.poll_upload(upload_id)["data"]["attributes"]["state"]
    assert state["state"] == "FAILED" and state["errors"][0]["code"] == "ITMS-90023"


def test_commit_refuses_missing_parts_and_wrong_checksum(sandbox, api: Api, ipa_factory) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    data = ipa_factory(pad_to=150_000).read_bytes()
    upload_id = api.create_upload(app_id)
    file = api.reserve(upload_id, len(data))
    operations = file["attributes"]["uploadOperations"]
    api.put_parts(operations[1:], data)
    missing = api.commit(file["id"])
    assert missing.status_code == 409
    assert missing.json()["errors"][0]["code"].startswith("ENTITY_ERROR")
    assert "parts 1 of" in missing.json()["errors"][0]["detail"]
    api.put_parts(operations[:1], data)
    wrong = api.commit(file["id"], hashlib.md5(b"other").hexdigest())
    assert wrong.status_code == 409
    assert wrong.json()["errors"][0]["source"] == {"pointer": "/data/attributes/sourceFileChecksums/file/hash"}
    assert api.commit(file["id"], hashlib.md5(data).hexdigest()).status_code == 200
    # no parts after the commit
    op = operations[0]
    late = requests.put(op["url"], data=data[:op["length"]], headers={"Content-Type": "application/octet-stream"})
    assert late.status_code == 409


def test_part_urls_are_presigned_and_exact(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    upload_id = api.create_upload(app_id)
    op = api.reserve(upload_id, 1000)["attributes"]["uploadOperations"][0]
    body = b"x" * op["length"]
    octets = {"Content-Type": "application/octet-stream"}
    with_auth = requests.put(op["url"], data=body, headers={**octets, "Authorization": "Bearer abc"})
    assert with_auth.status_code == 400 and "Authorization" in with_auth.json()["errors"][0]["detail"]
    assert requests.put(op["url"], data=body[:-1], headers=octets).status_code == 400
    assert requests.put(op["url"], data=body, headers={"Content-Type": "text/plain"}).status_code == 400
    tampered = op["url"].replace("Signature=", "Signature=0")
    assert requests.put(tampered, data=body, headers=octets).status_code == 403
    assert requests.put(op["url"].replace("/1?", "/2?"), data=body, headers=octets).status_code in (403, 404)
    assert requests.put(op["url"], data=body, headers=octets).status_code == 200
    assert requests.put(op["url"], data=body, headers=octets).status_code == 200  # resending a part is fine


def test_part_url_expires(api: Api, sandbox) -> None:
    now = [1_800_000_000.0]
    sandbox.blobs.clock = lambda: now[0]
    app_id = sandbox.add_app("com.example.app", "Example")
    op = api.reserve(api.create_upload(app_id), 10)["attributes"]["uploadOperations"][0]
    now[0] += 8 * 24 * 3600
    expired = requests.put(op["url"], data=b"x" * 10, headers={"Content-Type": "application/octet-stream"})
    assert expired.status_code == 403 and "expired" in expired.json()["errors"][0]["detail"]


def test_upload_rules_at_create_and_reserve(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    bad_version = api.post("/v1/buildUploads", {"data": {
        "type": "buildUploads", "attributes": {"cfBundleShortVersionString": "1.0 beta", "cfBundleVersion": "1",
                                               "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
    assert bad_version.status_code == 409
    assert bad_version.json()["errors"][0]["source"]["pointer"] == "/data/attributes/cfBundleShortVersionString"
    no_app = api.post("/v1/buildUploads", {"data": {
        "type": "buildUploads", "attributes": {"cfBundleShortVersionString": "1.0", "cfBundleVersion": "1",
                                               "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": "999"}}}}})
    assert no_app.status_code == 409 and no_app.json()["errors"][0]["code"] == "ENTITY_ERROR.RELATIONSHIP.INVALID"
    upload_id = api.create_upload(app_id)
    api.reserve(upload_id, 100)
    second = api.post("/v1/buildUploadFiles", {"data": {
        "type": "buildUploadFiles",
        "attributes": {"fileName": "b.ipa", "fileSize": 5, "uti": "com.apple.ipa", "assetType": "ASSET"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload_id}}}}})
    assert second.status_code == 409
    listed = api.get(f"/v1/buildUploads/{upload_id}/buildUploadFiles").json()["data"]
    assert len(listed) == 1
    assert api.delete(f"/v1/buildUploads/{upload_id}").status_code == 204
    assert api.get(f"/v1/buildUploads/{upload_id}").status_code == 404
    assert sandbox.blobs.files_on_disk() == []
