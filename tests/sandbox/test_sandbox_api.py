"""The simulator's API surface over raw HTTP: authentication, rate limits, error shapes, query parameters, paging."""

from __future__ import annotations

import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox_api import ISSUER, KEY_ID, PUBLIC_PEM, Api, token


def _error(response: requests.Response) -> dict:
    errors = response.json()["errors"]
    assert len(errors) >= 1
    assert errors[0]["status"] == str(response.status_code)  # a string, as in Apple's ErrorResponse
    assert errors[0]["title"] and errors[0]["detail"]
    return errors[0]


@pytest.mark.parametrize("bearer, reason", [
    (None, "no header"),
    (token(lifetime=-10), "expired"),
    (token(lifetime=1201), "lifetime over 20 minutes"),
    (token(iss="someone-else"), "wrong issuer"),
    (token(aud="other"), "wrong audience"),
    (token(kid="UNKNOWN"), "unknown key"),
    (token(key=ec.generate_private_key(ec.SECP256R1())), "signed by another key"),
    (token(iss=None), "individual-key token for a team key"),
    (token(now=time.time() + 3600), "issued in the future"),
    (lambda: token(now=time.time() + 34, lifetime=1200), "20 minutes from a client clock 34 s ahead (H.14)"),
    ("not-a-jwt", "garbage"),
])
def test_bad_tokens_get_401(sandbox, bearer: str | None, reason: str) -> None:
    bearer = bearer() if callable(bearer) else bearer  # a clock-relative token is made now, not at collection time
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    response = requests.get(f"{sandbox.url}/v1/apps", headers=headers, timeout=5)
    assert response.status_code == 401, reason
    assert _error(response)["code"] == "NOT_AUTHORIZED"


def test_revoked_key_gets_401_and_read_only_key_403_on_writes(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    assert api.get("/v1/apps").status_code == 200
    sandbox.set_key_read_only(KEY_ID)
    assert api.get(f"/v1/apps/{app_id}").status_code == 200
    refused = api.post("/v1/buildUploads", {"data": {
        "type": "buildUploads", "attributes": {"cfBundleShortVersionString": "1.0", "cfBundleVersion": "1",
                                               "platform": "IOS"},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
    assert refused.status_code == 403 and _error(refused)["code"] == "FORBIDDEN_ERROR"
    sandbox.revoke_key(KEY_ID)
    revoked = api.get("/v1/apps")
    assert revoked.status_code == 401 and "revoked" in _error(revoked)["detail"]


def test_individual_key_uses_sub_user(sandbox) -> None:
    sandbox.register_key("PERSONAL", None, PUBLIC_PEM)
    assert Api(sandbox, token(kid="PERSONAL", iss=None)).get("/v1/apps").status_code == 200
    assert Api(sandbox, token(kid="PERSONAL", iss=ISSUER)).get("/v1/apps").status_code == 401


def test_scoped_token_only_reaches_its_scope(sandbox) -> None:
    scoped = Api(sandbox, token(scope=["GET /v1/apps?filter[bundleId]=com.example.app"]))
    assert scoped.get("/v1/apps", **{"filter[bundleId]": "com.example.app", "limit": "5"}).status_code == 200
    assert scoped.get("/v1/builds").status_code == 403


def test_rate_limit_header_counts_down_then_429() -> None:
    from publish.sandbox.server import SandboxServer

    with SandboxServer(rate_limit_per_hour=3) as server:
        server.register_key(KEY_ID, ISSUER, PUBLIC_PEM)
        client = Api(server)
        seen = [client.get("/v1/apps").headers["X-Rate-Limit"] for _ in range(3)]
        assert seen == [f"user-hour-lim:3;user-hour-rem:{n};" for n in (2, 1, 0)]
        refused = client.get("/v1/apps")
        assert refused.status_code == 429 and _error(refused)["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(refused.headers["Retry-After"]) > 0


def test_unknown_path_404_and_wrong_method_405(api: Api) -> None:
    missing = api.get("/v1/notAResource")
    assert missing.status_code == 404 and _error(missing)["code"] == "NOT_FOUND"
    assert api.get("/v1/apps/123").status_code == 404
    wrong = api.call("PUT", "/v1/apps")
    assert wrong.status_code == 405 and _error(wrong)["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in wrong.headers["Allow"]


def test_invalid_bodies_get_422_with_pointer(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    response = api.post("/v1/buildUploads", {"data": {
        "type": "buildUploads", "attributes": {"cfBundleVersion": "1", "platform": "ANDROID", "extra": 1},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
    assert response.status_code == 422
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert {"/data/attributes/cfBundleShortVersionString", "/data/attributes/platform",
            "/data/attributes/extra"} <= pointers
    assert all(e["code"] == "ENTITY_UNPROCESSABLE" for e in response.json()["errors"])
    not_json = api.call("POST", "/v1/buildUploads", data=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    nullable = api.patch(f"/v1/apps/{app_id}", {"data": {"type": "apps", "id": app_id,
                                                          "attributes": {"contentRightsDeclaration": None}}})
    assert nullable.status_code == 200  # OpenAPI 3.0 nullable is honoured


def test_query_parameters_are_checked(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    illegal = api.get(f"/v1/apps/{app_id}/builds", **{"filter[version]": "1"})  # only limit here (protocol B3)
    assert illegal.status_code == 400 and _error(illegal)["code"] == "PARAMETER_ERROR.ILLEGAL"
    assert _error(illegal)["source"] == {"parameter": "filter[version]"}
    bad_enum = api.get("/v1/builds", **{"filter[processingState]": "DONE"})
    assert bad_enum.status_code == 400 and _error(bad_enum)["code"] == "PARAMETER_ERROR.INVALID"
    assert api.get("/v1/apps", limit="201").status_code == 400
    assert api.get("/v1/reviewSubmissions").status_code == 400  # filter[app] is required


def test_bundle_id_filter_returns_near_matches(sandbox, api: Api) -> None:
    sandbox.add_app("com.example.app", "Example")
    sandbox.add_app("com.example.app.beta", "Example Beta")
    sandbox.add_app("com.other", "Other")
    found = api.get("/v1/apps", **{"filter[bundleId]": "com.example.app"}).json()["data"]
    assert sorted(a["attributes"]["bundleId"] for a in found) == ["com.example.app", "com.example.app.beta"]


def test_paging_follows_links_next(sandbox, api: Api) -> None:
    for n in range(7):
        sandbox.add_app(f"com.example.app{n}", f"App {n}")
    seen, url, pages = [], f"{sandbox.url}/v1/apps?limit=3", 0
    while url:
        document = api.session.get(url, timeout=5).json()
        seen += [a["id"] for a in document["data"]]
        assert document["meta"]["paging"] == {"total": 7, "limit": 3}
        url, pages = document["links"].get("next"), pages + 1
    assert pages == 3 and len(set(seen)) == 7


def test_resources_look_like_apples(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    document = api.get(f"/v1/apps/{app_id}").json()
    assert document["links"]["self"] == f"{sandbox.url}/v1/apps/{app_id}"
    app = document["data"]
    assert app["links"]["self"] == f"{sandbox.url}/v1/apps/{app_id}"
    assert app["relationships"]["builds"] == {"links": {
        "self": f"{sandbox.url}/v1/apps/{app_id}/relationships/builds",
        "related": f"{sandbox.url}/v1/apps/{app_id}/builds"}}
    assert app["attributes"]["primaryLocale"] == "en-US"


def test_connections_are_kept_alive(sandbox, api: Api) -> None:
    sandbox.add_app("com.example.app", "Example")
    for _ in range(5):
        assert api.get("/v1/apps").status_code == 200
    pool = api.session.get_adapter(sandbox.url).poolmanager
    assert sum(p.num_connections for p in pool.pools._container.values()) == 1
