"""Fault injection: 5xx, 429 after N calls, lost responses, dropped part connections, bandwidth cap, latency."""

from __future__ import annotations

import time

import pytest
import requests

from publish.sandbox.faults import Faults
from sandbox_api import Api, token

OCTETS = {"Content-Type": "application/octet-stream"}


def _create_upload_body(app_id: str, build: str = "1") -> dict:
    return {"data": {"type": "buildUploads", "attributes": {
        "cfBundleShortVersionString": "1.0", "cfBundleVersion": build, "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}}


def test_server_errors_change_nothing(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    sandbox.faults.error_rate_5xx = 1.0
    failed = api.post("/v1/buildUploads", _create_upload_body(app_id))
    assert failed.status_code in (500, 503)
    assert failed.json()["errors"][0]["status"] == str(failed.status_code)
    sandbox.faults.error_rate_5xx = 0.0
    assert api.get(f"/v1/apps/{app_id}/buildUploads").json()["data"] == []


def test_lost_response_still_creates(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    sandbox.faults.lost_response_rate = 1.0
    assert api.post("/v1/buildUploads", _create_upload_body(app_id)).status_code == 500
    sandbox.faults.lost_response_rate = 0.0
    assert len(api.get(f"/v1/apps/{app_id}/buildUploads").json()["data"]) == 1  # a blind retry would duplicate it


def test_rate_limit_after_n_calls(sandbox, api: Api) -> None:
    sandbox.faults.rate_limit_after = 2
    statuses = [api.get("/v1/apps") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 200]
    assert statuses[2].headers["Retry-After"] == "1"
    assert statuses[2].json()["errors"][0]["code"] == "RATE_LIMIT_EXCEEDED"


def test_dropped_part_connection_then_resend(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    upload_id = api.create_upload(app_id)
    file = api.reserve(upload_id, 50_000)
    op = file["attributes"]["uploadOperations"][0]
    sandbox.faults.drop_part_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        requests.put(op["url"], data=b"x" * op["length"], headers=OCTETS, timeout=5)
    sandbox.faults.drop_part_rate = 0.0
    assert api.commit(file["id"]).status_code == 409  # the dropped part does not count
    assert requests.put(op["url"], data=b"x" * op["length"], headers=OCTETS, timeout=5).status_code == 200
    assert api.commit(file["id"]).status_code == 200


def test_part_server_error(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    op = api.reserve(api.create_upload(app_id), 10)["attributes"]["uploadOperations"][0]
    sandbox.faults.error_rate_5xx = 1.0
    assert requests.put(op["url"], data=b"x" * 10, headers=OCTETS, timeout=5).status_code == 503


def test_bandwidth_cap_and_latency(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    op = api.reserve(api.create_upload(app_id), 20_000)["attributes"]["uploadOperations"][0]
    sandbox.faults.bandwidth_bytes_per_sec = 200_000
    started = time.monotonic()
    assert requests.put(op["url"], data=b"x" * op["length"], headers=OCTETS, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.08  # 20 KB at 200 KB/s (loopback alone: ~1 ms)
    sandbox.faults.bandwidth_bytes_per_sec = None
    sandbox.faults.latency_ms = 50
    started = time.monotonic()
    api.get("/v1/apps")
    assert time.monotonic() - started >= 0.05


def test_same_seed_same_faults() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = Faults(error_rate_5xx=0.5, seed=seed)
        return [faults.chance(faults.error_rate_5xx) for _ in range(32)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)


def test_expired_token_fault_refuses_a_valid_token_and_changes_nothing(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    assert api.get("/v1/apps").status_code == 200  # only a token already accepted once can expire in flight
    sandbox.faults.expired_token_rate = 1.0
    refused = api.post("/v1/buildUploads", _create_upload_body(app_id))
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "NOT_AUTHORIZED"
    sandbox.faults.expired_token_rate = 0.0
    assert api.get(f"/v1/apps/{app_id}/buildUploads").json()["data"] == []


def test_expired_token_fault_never_refuses_a_freshly_signed_token(sandbox, api: Api) -> None:
    """A token runs out after it was used, not before: the client's one re-signed repeat after a 401 must get
    through, or the fault would fake a key problem (a second 401 after a fresh token is a real one)."""
    assert api.get("/v1/apps").status_code == 200
    sandbox.faults.expired_token_rate = 1.0
    assert api.get("/v1/apps").status_code == 401
    assert api.get("/v1/apps").status_code == 401  # an expired token stays expired
    fresh = Api(sandbox, bearer=token(jti="fresh"))
    assert fresh.get("/v1/apps").status_code == 200  # first seen: just signed, so not expired
    assert fresh.get("/v1/apps").status_code == 401  # seen before: may run out like any other
