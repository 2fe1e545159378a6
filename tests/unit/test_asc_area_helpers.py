"""The typed helpers that replaced raw paths in steps and commands (issue 14): each sends the call it names, with
the query or body Apple expects, through a fake transport."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc import ApiKey, AppStoreConnect
from publish.asc.wire import MockTransport, WireRequest, WireResponse

_PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
KEY = ApiKey("AREAKEY123", "57246542-96fe-1a63-e053-0824d011072a", _PEM)


def _client(pages: dict[str, list[dict[str, Any]]]) -> tuple[AppStoreConnect, MockTransport]:
    """A client whose transport answers each path with its pages in turn (a `links.next` between them)."""
    served: dict[str, int] = {}

    def handle(request: WireRequest) -> WireResponse:
        path = urlsplit(request.url).path
        if request.method == "POST":
            data = json.loads(request.body or b"{}")["data"]
            return WireResponse(201, json.dumps({"data": {**data, "id": "R1"}}).encode())
        index = served.get(path, 0)
        served[path] = index + 1
        document = dict(pages[path][index])
        if index + 1 < len(pages[path]):
            document["links"] = {"next": f"https://api.appstoreconnect.apple.com{path}?cursor={index + 1}"}
        return WireResponse(200, json.dumps(document).encode())

    transport = MockTransport(handle)
    return AppStoreConnect(KEY, transport=transport, sleep=lambda s: None), transport


def _query(request: WireRequest) -> dict[str, str]:
    return dict(request.params)


def test_pre_release_versions_are_read_lazily_by_platform_and_not_by_version() -> None:
    pages = {"/v1/preReleaseVersions": [{"data": [{"type": "preReleaseVersions", "id": "T1"}]},
                                        {"data": [{"type": "preReleaseVersions", "id": "T2"}]}]}
    client, transport = _client(pages)
    trains = client.pre_release_versions("A1", platform="MAC_OS")
    assert next(trains).id == "T1" and len(transport.requests) == 1  # the second page only when asked for
    assert _query(transport.requests[0]) == {"filter[app]": "A1", "filter[platform]": "MAC_OS", "limit": "200"}
    assert [t.id for t in trains] == ["T2"]


def test_build_pages_keep_what_each_page_includes() -> None:
    page = {"data": [{"type": "builds", "id": "B1",
                      "relationships": {"preReleaseVersion": {"data": {"type": "preReleaseVersions", "id": "T1"}}}}],
            "included": [{"type": "preReleaseVersions", "id": "T1", "attributes": {"version": "1.0"}}]}
    client, transport = _client({"/v1/builds": [page]})
    pages = list(client.build_pages({"filter[app]": "A1", "include": "preReleaseVersion"}))
    assert pages[0].find_included("preReleaseVersions", "T1") is not None
    assert _query(transport.requests[0]) == {"filter[app]": "A1", "include": "preReleaseVersion"}


def test_the_build_document_and_the_app_store_version_pages_go_where_they_say() -> None:
    client, transport = _client({"/v1/builds/B1": [{"data": {"type": "builds", "id": "B1"}}],
                                 "/v1/apps/A1/appStoreVersions": [{"data": []}, {"data": []}]})
    assert client.get_build_document("B1", {"include": "betaGroups"}).resource.id == "B1"  # type: ignore[union-attr]
    assert len(list(client.app_store_version_pages("A1", {"filter[platform]": "IOS"}))) == 2
    assert [urlsplit(r.url).path for r in transport.requests] == [
        "/v1/builds/B1", "/v1/apps/A1/appStoreVersions", "/v1/apps/A1/appStoreVersions"]


def test_beta_testers_are_looked_up_by_every_email_at_once() -> None:
    client, transport = _client({"/v1/betaTesters": [{"data": [{"type": "betaTesters", "id": "P1"}]}]})
    assert [t.id for t in client.list_beta_testers(["a@example.com", "b@example.com"], app_id="A1")] == ["P1"]
    assert _query(transport.requests[0]) == {"filter[email]": "a@example.com,b@example.com", "filter[apps]": "A1",
                                             "limit": "200"}


def test_a_release_request_names_the_version_and_nothing_else() -> None:
    client, transport = _client({})
    assert client.create_release_request("V1").type == "appStoreVersionReleaseRequests"
    sent = transport.requests[0]
    assert (sent.method, urlsplit(sent.url).path) == ("POST", "/v1/appStoreVersionReleaseRequests")
    assert json.loads(sent.body or b"") == {"data": {"type": "appStoreVersionReleaseRequests", "relationships": {
        "appStoreVersion": {"data": {"type": "appStoreVersions", "id": "V1"}}}}}


def test_boolean_patches_send_only_the_flags_given_and_refuse_none() -> None:
    sent: list[Any] = []

    def handle(request: WireRequest) -> WireResponse:
        sent.append(json.loads(request.body or b"{}")["data"]["attributes"])
        return WireResponse(200, json.dumps({"data": {"type": "builds", "id": "B1"}}).encode())

    client = AppStoreConnect(KEY, transport=MockTransport(handle), sleep=lambda s: None)
    client.update_build("B1", uses_non_exempt_encryption=False)
    client.update_review_submission("S1", canceled=True)
    assert sent == [{"usesNonExemptEncryption": False}, {"canceled": True}]
    for call in (lambda: client.update_build("B1"), lambda: client.update_review_submission("S1")):
        try:
            call()
        except ValueError as error:
            assert " needs " in str(error) and " or " in str(error)
        else:
            raise AssertionError("a PATCH without attributes was sent")
    assert len(sent) == 2
