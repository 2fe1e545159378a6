"""Every error class: what the message shows (status, code, title, detail, source) and the advice it gives."""

from __future__ import annotations

import random
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.asc import (
    ApiKey,
    AppStoreConnect,
    AscApiError,
    AscAuthError,
    AscConflictError,
    AscForbiddenError,
    AscNotFoundError,
    AscRateLimitError,
    AscServerError,
    AscValidationError,
)
from publish.asc.errors import AscErrorItem, api_error, parse_error_items
from publish.errors import RemoteError

BASE = "https://api.appstoreconnect.apple.com"
PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def client() -> AppStoreConnect:
    return AppStoreConnect(ApiKey("K1", "issuer", PEM), sleep=lambda s: None, random=random.Random(0), max_retries=0)


def body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"id": "e1", "status": str(status), "code": code, "title": title, "detail": detail, **extra}]}


CASES = [
    (401, AscAuthError, "NOT_AUTHORIZED", "GET", "/v1/apps/1", ["revoked", "key ID", "issuer ID", "clock"]),
    (403, AscForbiddenError, "FORBIDDEN_ERROR", "GET", "/v1/apps/1", ["App Manager or Admin", "revoked"]),
    (404, AscNotFoundError, "NOT_FOUND", "GET", "/v1/apps/1", ["does not exist", "same team"]),
    (409, AscConflictError, "ENTITY_ERROR.ATTRIBUTE.INVALID", "POST", "/v1/buildUploads",
     ["bump the build number", "CFBundleVersion"]),
    (409, AscConflictError, "ENTITY_ERROR.ATTRIBUTE.INVALID", "POST", "/v1/appStoreVersions",
     ["CFBundleShortVersionString"]),
    (409, AscConflictError, "ENTITY_ERROR", "POST", "/v1/reviewSubmissionItems", ["cancel_previous_submission"]),
    (422, AscValidationError, "ENTITY_UNPROCESSABLE", "POST", "/v1/buildUploads", ["flow file", "bug"]),
    (400, AscValidationError, "PARAMETER_ERROR.INVALID", "GET", "/v1/apps", ["flow file"]),
    (429, AscRateLimitError, "RATE_LIMIT_EXCEEDED", "GET", "/v1/apps/1", ["hourly", "rolling hour"]),
    (500, AscServerError, "UNEXPECTED_ERROR", "GET", "/v1/apps/1", ["Try again later", "system-status"]),
    (405, AscApiError, "METHOD_NOT_ALLOWED", "DELETE", "/v1/apps/1", []),
]


@pytest.mark.parametrize("status, cls, code, method, path, advice", CASES)
@responses.activate
def test_each_status_becomes_its_class_with_message_and_advice(
    status: int, cls: type[AscApiError], code: str, method: str, path: str, advice: list[str]
) -> None:
    source = {"parameter": "filter[bundleId]"} if status == 400 else {"pointer": "/data/attributes/cfBundleVersion"}
    responses.add(method, f"{BASE}{path}", status=status,
                  json=body(status, code, "The thing failed.", f"Detail for {status}.", source=source))
    with pytest.raises(cls) as caught:
        client().request(method, path, json={"data": {}} if method == "POST" else None)
    error = caught.value
    assert type(error) is cls and isinstance(error, RemoteError) and error.exit_code == 1
    assert error.status == status
    text = str(error)
    for part in (str(status), code, "The thing failed.", f"Detail for {status}.", f"{method} {path}"):
        assert part in text
    if status == 400:
        assert "parameter filter[bundleId]" in text
    else:
        assert "pointer /data/attributes/cfBundleVersion" in text
    for words in advice:
        assert words in (error.hint or "")
    assert error.errors[0] == AscErrorItem.from_json(body(status, code, "The thing failed.",
                                                          f"Detail for {status}.", source=source)["errors"][0])


def test_has_code_matches_dotted_prefixes_only() -> None:
    error = api_error(409, body(409, "ENTITY_ERROR.ATTRIBUTE.INVALID", "t", "d"), method="POST", path="/v1/x")
    assert error.has_code("ENTITY_ERROR")
    assert error.has_code("ENTITY_ERROR.ATTRIBUTE")
    assert error.has_code("ENTITY_ERROR.ATTRIBUTE.INVALID")
    assert not error.has_code("ENTITY_ERROR.ATTRIBUTE.INV")
    assert not error.has_code("ENTITY")


def test_several_errors_and_associated_errors_are_all_shown() -> None:
    payload = {"errors": [
        {"status": "409", "code": "ENTITY_ERROR.ATTRIBUTE.INVALID", "title": "An attribute value is invalid.",
         "detail": "The version string is already used.", "source": {"pointer": "/data/attributes/versionString"},
         "meta": {"associatedErrors": {"/v1/appStoreVersions/123": [
             {"code": "ENTITY_ERROR.ATTRIBUTE.REQUIRED", "detail": "copyright is required"}]}}},
        {"status": "409", "code": "STATE_ERROR", "title": "Wrong state.", "detail": "Cannot change now."},
    ]}
    error = api_error(409, payload, method="POST", path="/v1/appStoreVersions")
    text = str(error)
    assert "  - 409 ENTITY_ERROR.ATTRIBUTE.INVALID: An attribute value is invalid. The version string" in text
    assert "/v1/appStoreVersions/123: ENTITY_ERROR.ATTRIBUTE.REQUIRED copyright is required" in text
    assert "  - 409 STATE_ERROR: Wrong state. Cannot change now." in text
    assert "already added" not in error.detail_text() and "Cannot change now." in error.detail_text()


def test_non_json_error_bodies_are_summarised() -> None:
    page = "<html><head><style>p{}</style><title>Gateway</title></head><body><h1>504 Gateway Time-out</h1></body></html>"
    items = parse_error_items(504, page.encode(), "Gateway Timeout")
    assert items[0].code == "HTTP_504" and items[0].title == "Gateway Timeout"
    assert "504 Gateway Time-out" in items[0].detail and "<h1>" not in items[0].detail and "p{}" not in items[0].detail
    assert "proxy" in items[0].detail
    empty = parse_error_items(502, b"", "Bad Gateway")
    assert empty[0].detail == "The answer had no body."
    odd_json = parse_error_items(500, b'{"message": "oops"}', "")
    assert odd_json[0].code == "HTTP_500"
    huge = parse_error_items(500, ("x" * 5000).encode(), "")
    assert len(huge[0].detail) < 400


def test_lenient_error_items() -> None:
    item = AscErrorItem.from_json({"code": "X"}, default_status=418)
    assert item.status == "418" and item.title == "" and item.source_pointer is None
    assert item.describe() == "418 X"
