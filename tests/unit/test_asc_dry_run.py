"""The dry run as a transport (issue 14): writes are recorded and answered, never sent; what they "created" reads
back finished and shows up in the listings that would find it; reads go to App Store Connect only when allowed,
never with a fabricated id. Through a fake transport: no sockets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc import ApiKey, AppStoreConnect, AscNotFoundError
from publish.asc.dry_run import DryRunTransport, body_shape
from publish.asc.wire import MockTransport, WireRequest, WireResponse

_PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
KEY = ApiKey("DRYKEY1234", "57246542-96fe-1a63-e053-0824d011072a", _PEM)
BASE = "https://api.appstoreconnect.apple.com"

GROUPS = {"data": [{"type": "betaGroups", "id": "G1", "attributes": {"name": "QA", "isInternalGroup": False}}]}


def _server(answers: dict[str, Any]) -> MockTransport:
    """App Store Connect as far as a test needs it: a document per path, 404 for any other."""
    def handle(request: WireRequest) -> WireResponse:
        path = urlsplit(request.url).path
        if request.method != "GET":
            raise AssertionError(f"a dry run sent {request.method} {path}")
        if path not in answers:
            return WireResponse(404, json.dumps({"errors": [{"status": "404", "code": "NOT_FOUND"}]}).encode())
        return WireResponse(200, json.dumps(answers[path]).encode())
    return MockTransport(handle)


def _client(server: MockTransport, *, reads: bool = False, on_call: Any = None) -> AppStoreConnect:
    return AppStoreConnect(KEY, transport=server, dry_run=True, dry_run_reads=reads, on_call=on_call,
                           sleep=lambda s: None)


def _upload(client: AppStoreConnect) -> tuple[str, str]:
    upload = client.create_build_upload("A1", version="1.2", build_number="7", platform="IOS")
    file = client.create_build_upload_file(upload.id, file_name="App.ipa", file_size=1000)
    client.commit_build_upload_file(file.id)
    return upload.id, file.id


def test_writes_are_answered_with_numbered_ids_reported_and_never_sent() -> None:
    server, reported = _server({}), []
    client = _client(server, reads=True, on_call=lambda *call: reported.append(call))
    upload_id, file_id = _upload(client)
    assert (upload_id, file_id) == ("dry-run-buildUploads-1", "dry-run-buildUploadFiles-5")  # train, detail, build
    client.add_build_to_beta_groups("B1", ["G1"])
    assert server.requests == [] and client.call_count == 0
    assert [(m, urlsplit(u).path) for m, u, _ in reported] == [
        ("POST", "/v1/buildUploads"), ("POST", "/v1/buildUploadFiles"), ("PATCH", f"/v1/buildUploadFiles/{file_id}"),
        ("POST", "/v1/builds/B1/relationships/betaGroups")]
    assert reported[0][1].startswith(BASE)
    calls = client.dry_run_calls
    assert [c.sent for c in calls] == [False] * 4
    assert calls[0].shape == {"data": {"type": "buildUploads", "attributes": {
        "cfBundleShortVersionString": "string", "cfBundleVersion": "string", "platform": "string"},
        "relationships": {"app": {"data": {"type": "apps", "id": "A1"}}}}}


def test_a_fabricated_upload_reads_back_complete_with_its_file_train_and_build() -> None:
    client = _client(_server({}))
    upload_id, file_id = _upload(client)
    document = client.get_build_upload(upload_id, include_build=True)
    assert document.resource is not None and document.resource.attr("state")["state"] == "COMPLETE"
    build = document.find_included("builds", document.resource.related_id("build"))
    assert build is not None and build.attr("processingState") == "VALID" and build.attr("version") == "7"
    files = client.list_build_upload_files(upload_id)
    assert [(f.id, f.attr("assetDeliveryState")["state"]) for f in files] == [(file_id, "COMPLETE")]
    train = next(client.pre_release_versions("A1", platform="IOS"))
    assert train.attr("version") == "1.2"
    assert [b.id for b in client.list_builds("A1", pre_release_version_id=train.id)] == [build.id]
    assert [b.id for b in client.list_builds("A1", version="1.2", build_number="7")] == [build.id]
    assert client.list_builds("A1", build_number="8") == [] and client.list_builds("A2") == []
    detail = client.get_build_beta_detail(build.id)
    assert detail.attr("internalBuildState") == "READY_FOR_BETA_TESTING"


def test_offline_reads_answer_empty_and_make_no_call() -> None:
    server = _server({"/v1/betaGroups": GROUPS})
    client = _client(server)
    assert client.list_beta_groups("A1") == [] and client.find_app("com.example.app") is None
    assert client.get_app_store_version_build("V1") is None
    assert server.requests == [] and [c.method for c in client.dry_run_calls] == ["GET", "GET", "GET"]


def test_with_reads_a_dry_run_knows_a_group_from_app_store_connect() -> None:
    server = _server({"/v1/betaGroups": GROUPS})
    client = _client(server, reads=True)
    groups = client.list_beta_groups("A1")
    assert [(g.id, g.attr("isInternalGroup")) for g in groups] == [("G1", False)]
    assert server.requests[0].headers["Authorization"].startswith("Bearer ")  # signed like any call
    assert client.call_count == 1 and client.dry_run_calls[0].sent is True


def test_a_fabricated_build_joins_a_real_listing_and_its_id_never_reaches_the_server() -> None:
    real = {"data": [{"type": "builds", "id": "B0", "attributes": {"version": "6"}}]}
    server = _server({"/v1/builds": real, "/v1/preReleaseVersions": {"data": []}})
    client = _client(server, reads=True)
    _upload(client)
    builds = client.list_builds("A1", version="1.2")
    assert [b.id for b in builds] == ["dry-run-builds-4", "B0"]  # the new upload is the newest
    train_id = next(client.pre_release_versions("A1")).id
    before = len(server.requests)
    assert [b.id for b in client.list_builds("A1", pre_release_version_id=train_id)] == ["dry-run-builds-4"]
    assert client.get_build("dry-run-builds-4").attr("processingState") == "VALID"
    assert len(server.requests) == before  # both name a fabricated id: answered from memory alone


def test_a_later_page_of_a_real_listing_does_not_repeat_what_was_fabricated() -> None:
    pages = iter([{"data": [], "links": {"next": f"{BASE}/v1/builds?cursor=2"}}, {"data": []}])
    server = MockTransport(lambda request: WireResponse(200, json.dumps(next(pages)).encode()))
    client = _client(server, reads=True)
    _upload(client)
    assert [b.id for b in client.list_builds("A1")] == ["dry-run-builds-4"]
    assert len(server.requests) == 2


def test_a_patch_of_a_real_resource_shows_in_later_reads() -> None:
    server = _server({"/v1/builds/B1": {"data": {"type": "builds", "id": "B1",
                                                 "attributes": {"version": "3", "expired": False}}}})
    client = _client(server, reads=True)
    assert client.update_build("B1", expired=True).attr("expired") is True
    build = client.get_build("B1")
    assert (build.attr("version"), build.attr("expired")) == ("3", True)
    offline = _client(_server({}))
    offline.update_build("B1", uses_non_exempt_encryption=False)
    assert offline.get_build("B1").attr("usesNonExemptEncryption") is False


def test_a_review_submission_reads_back_submitted_with_its_items() -> None:
    client = _client(_server({}))
    version = client.create_app_store_version("A1", platform="IOS", version_string="1.2")
    assert client.get_app_store_version(version.id).attr("appStoreState") == "PREPARE_FOR_SUBMISSION"
    client.attach_build(version.id, "dry-run-builds-9")
    assert client.get_app_store_version_build(version.id) is None  # linked, but not a build this run created
    submission = client.create_review_submission("A1")
    item = client.create_review_submission_item(submission.id, version.id)
    assert client.get_review_submission(submission.id).attr("state") == "READY_FOR_REVIEW"
    client.update_review_submission(submission.id, submitted=True)
    read = client.get_review_submission(submission.id)
    assert read.attr("state") == "WAITING_FOR_REVIEW"
    assert [i.id for i in client.list_review_submission_items(submission.id)] == [item.id]
    assert [s.id for s in client.list_review_submissions("A1", states=["WAITING_FOR_REVIEW"])] == [submission.id]
    assert client.list_review_submissions("A1", states=["READY_FOR_REVIEW"]) == []


def test_a_build_attached_to_a_fabricated_version_reads_back() -> None:
    client = _client(_server({}))
    _upload(client)
    version = client.create_app_store_version("A1", platform="IOS", version_string="1.2")
    client.attach_build(version.id, "dry-run-builds-4")
    attached = client.get_app_store_version_build(version.id)
    assert attached is not None and attached.id == "dry-run-builds-4"


def test_a_deleted_resource_is_gone_from_reads() -> None:
    server = _server({"/v1/appStoreVersions/V1": {"data": {"type": "appStoreVersions", "id": "V1"}},
                      "/v1/apps/A1/appStoreVersions": {"data": [{"type": "appStoreVersions", "id": "V1"}]}})
    client = _client(server, reads=True)
    client.delete_app_store_version("V1")
    assert client.list_app_store_versions("A1") == []
    try:
        client.get_app_store_version("V1")
    except AscNotFoundError:
        pass
    else:
        raise AssertionError("a version deleted in the dry run still reads")
    assert [urlsplit(r.url).path for r in server.requests] == ["/v1/apps/A1/appStoreVersions"]


def test_the_shape_of_a_body_keeps_types_and_ids_not_values() -> None:
    body = {"data": {"type": "betaTesters", "attributes": {"email": "ann@example.com", "count": 2, "on": True,
                                                              "gone": None},
                     "relationships": {"builds": {"data": [{"type": "builds", "id": "B1"}]}}}}
    assert body_shape(body) == {"data": {"type": "betaTesters", "attributes": {
        "email": "string", "count": "number", "on": "boolean", "gone": "null"},
        "relationships": {"builds": {"data": [{"type": "builds", "id": "B1"}]}}}}
    assert "ann@example.com" not in json.dumps(body_shape(body))


def test_the_transport_alone_records_what_it_was_asked() -> None:
    transport = DryRunTransport()
    transport.send(WireRequest("POST", f"{BASE}/v1/betaTesters", (), {}, b'{"data": {"type": "betaTesters"}}'))
    transport.send(WireRequest("GET", f"{BASE}/v1/betaTesters", (("filter[email]", "a@example.com"),)))
    assert [(c.method, c.path) for c in transport.calls] == [
        ("POST", "/v1/betaTesters"), ("GET", "/v1/betaTesters?filter[email]=a%40example.com")]
    assert [c.method for c in transport.writes] == ["POST"]


def test_a_real_answer_that_is_not_a_document_is_judged_as_any_answer() -> None:
    from publish.asc import AscTransportError

    page = WireResponse(200, b"<html>proxy login</html>", {"Content-Type": "text/html"})
    server = MockTransport(lambda request: page)
    client = _client(server, reads=True)
    try:
        client.list_beta_groups("A1")
    except AscTransportError as error:
        assert "not valid JSON" in str(error) and "proxy" in (error.hint or "")
    else:
        raise AssertionError("a proxy's page was taken for an empty listing")


def test_each_call_not_sent_is_logged_as_what_it_would_do(caplog: Any) -> None:
    import logging

    client = _client(_server({}))
    with caplog.at_level(logging.INFO, logger="publish.asc"):
        client.update_build("B1", expired=True)
    assert 'dry run: would PATCH /v1/builds/B1 {"data": {"attributes": {"expired": true}' in caplog.text


def test_what_apple_does_after_a_review_write_reads_done_on_real_resources_too() -> None:
    """A version added to a review submission reads READY_FOR_REVIEW (H1) and a cancelled submission COMPLETE
    (past CANCELING, H11): a dry run that reads the real ones need not wait for what it never sent."""
    version = {"type": "appStoreVersions", "id": "V1", "attributes": {"appStoreState": "PREPARE_FOR_SUBMISSION",
                                                                      "versionString": "1.2"}}
    held = {"type": "reviewSubmissions", "id": "S0", "attributes": {"state": "WAITING_FOR_REVIEW"}}
    client = _client(_server({"/v1/appStoreVersions/V1": {"data": version},
                              "/v1/reviewSubmissions/S0": {"data": held}}), reads=True)
    draft = client.create_review_submission("A1")
    client.create_review_submission_item(draft.id, "V1")
    assert client.get_app_store_version("V1").attr("appStoreState") == "READY_FOR_REVIEW"
    assert client.get_app_store_version("V1").attr("versionString") == "1.2"  # the rest as App Store Connect has it
    client.update_review_submission("S0", canceled=True)
    assert client.get_review_submission("S0").attr("state") == "COMPLETE"
