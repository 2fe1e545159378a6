"""TestFlight on the simulator (protocol.md section D) over raw HTTP; the `sandbox` fixture checks the contract."""

from __future__ import annotations

import pytest

from sandbox_api import Api


@pytest.fixture(autouse=True)
def spec_only_testflight(sandbox) -> None:  # noqa: F811 - the fixture above
    """TestFlight as its description has it; Apple's habits of protocol.md H have their own tests in
    tests/test_realism_testflight.py."""
    sandbox.realism = sandbox.realism.without(
        "beta_state_lags_valid", "beta_review_needs_test_information", "notification_race",
        "default_beta_localization", "propagation_delay", "commit_refuses_checksums", "processing_failure_codes")


def _groups_body(*ids: str) -> dict:
    return {"data": [{"type": "betaGroups", "id": i} for i in ids]}


def test_export_compliance_then_groups_and_beta_review(sandbox, api: Api, ipa_factory) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    internal = sandbox.add_beta_group(app_id, "Team", internal=True)
    external = sandbox.add_beta_group(app_id, "Friends", internal=False)
    build_id = api.uploaded_build(app_id, ipa_factory(build="3", uses_non_exempt_encryption=None), "1.0.0", "3")
    detail = api.get("/v1/buildBetaDetails", **{"filter[build]": build_id}).json()["data"][0]
    assert detail["attributes"]["internalBuildState"] == "MISSING_EXPORT_COMPLIANCE"

    refused = api.post(f"/v1/builds/{build_id}/relationships/betaGroups", _groups_body(external))
    assert refused.status_code == 409 and "export compliance" in refused.json()["errors"][0]["detail"]
    assert api.post("/v1/betaAppReviewSubmissions", {"data": {"type": "betaAppReviewSubmissions", "relationships": {
        "build": {"data": {"type": "builds", "id": build_id}}}}}).status_code == 409

    patched = api.patch(f"/v1/builds/{build_id}", {"data": {"type": "builds", "id": build_id,
                                                            "attributes": {"usesNonExemptEncryption": False}}})
    assert patched.status_code == 200
    assert api.post(f"/v1/builds/{build_id}/relationships/betaGroups",
                    _groups_body(internal, external)).status_code == 204
    groups = api.get("/v1/betaGroups", **{"filter[app]": app_id, "filter[builds]": build_id}).json()["data"]
    assert sorted(g["id"] for g in groups) == sorted([internal, external])
    detail = api.get(f"/v1/builds/{build_id}/buildBetaDetail").json()["data"]["attributes"]
    assert detail == {"autoNotifyEnabled": True, "internalBuildState": "IN_BETA_TESTING",
                      "externalBuildState": "READY_FOR_BETA_SUBMISSION"}

    review = api.post("/v1/betaAppReviewSubmissions", {"data": {"type": "betaAppReviewSubmissions", "relationships": {
        "build": {"data": {"type": "builds", "id": build_id}}}}})
    assert review.status_code == 201
    assert review.json()["data"]["attributes"]["betaReviewState"] == "WAITING_FOR_REVIEW"
    again = api.post("/v1/betaAppReviewSubmissions", {"data": {"type": "betaAppReviewSubmissions", "relationships": {
        "build": {"data": {"type": "builds", "id": build_id}}}}})
    assert again.status_code == 409
    found = api.get("/v1/betaAppReviewSubmissions", **{"filter[build]": build_id}).json()["data"]
    assert [s["id"] for s in found] == [review.json()["data"]["id"]]
    api.get(f"/v1/betaAppReviewSubmissions/{found[0]['id']}")
    detail = api.get(f"/v1/builds/{build_id}/buildBetaDetail").json()["data"]["attributes"]
    assert detail["externalBuildState"] == "IN_BETA_TESTING"  # approved after the polls, in an external group

    assert api.delete(f"/v1/builds/{build_id}/relationships/betaGroups", _groups_body(external)).status_code == 204
    assert [g["id"] for g in api.get(f"/v1/betaGroups/{external}/builds").json()["data"]] == []


def test_groups_need_a_valid_build_of_the_same_app(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    other_app = sandbox.add_app("com.other.app", "Other")
    group = sandbox.add_beta_group(app_id, "Team", internal=True)
    foreign = sandbox.add_beta_group(other_app, "Theirs", internal=True)
    processing = sandbox.add_build(app_id, "1.0", "1", processing_state="PROCESSING")
    assert api.post(f"/v1/builds/{processing}/relationships/betaGroups", _groups_body(group)).status_code == 409
    valid = sandbox.add_build(app_id, "1.0", "2")
    assert api.post(f"/v1/builds/{valid}/relationships/betaGroups", _groups_body(foreign)).status_code == 409
    assert api.post(f"/v1/builds/{valid}/relationships/betaGroups", _groups_body("nope")).status_code == 409
    reverse = api.post(f"/v1/betaGroups/{group}/relationships/builds",
                       {"data": [{"type": "builds", "id": valid}]})
    assert reverse.status_code == 204
    assert [b["id"] for b in api.get(f"/v1/betaGroups/{group}/builds").json()["data"]] == [valid]


def test_testers_what_to_test_and_notifications(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    group = sandbox.add_beta_group(app_id, "Friends", internal=False)
    build_id = sandbox.add_build(app_id, "1.0", "7")
    created = api.post("/v1/betaTesters", {"data": {"type": "betaTesters", "attributes": {
        "email": "ada@example.com", "firstName": "Ada", "lastName": None},
        "relationships": {"betaGroups": {"data": [{"type": "betaGroups", "id": group}]}}}})
    assert created.status_code == 201
    tester_id = created.json()["data"]["id"]
    found = api.get("/v1/betaTesters", **{"filter[email]": "ADA@example.com", "filter[apps]": app_id}).json()["data"]
    assert [t["id"] for t in found] == [tester_id]
    same = api.post("/v1/betaTesters", {"data": {"type": "betaTesters", "attributes": {"email": "ada@example.com"}}})
    assert same.json()["data"]["id"] == tester_id  # one tester per email
    bad_email = api.post("/v1/betaTesters", {"data": {"type": "betaTesters", "attributes": {"email": "nope"}}})
    assert bad_email.status_code == 422
    assert api.post(f"/v1/builds/{build_id}/relationships/individualTesters",
                    {"data": [{"type": "betaTesters", "id": tester_id}]}).status_code == 204
    linked = api.get(f"/v1/builds/{build_id}/relationships/individualTesters").json()["data"]
    assert linked == [{"type": "betaTesters", "id": tester_id}]

    body = {"data": {"type": "betaBuildLocalizations", "attributes": {"locale": "en-US", "whatsNew": "Try it"},
                     "relationships": {"build": {"data": {"type": "builds", "id": build_id}}}}}
    localization = api.post("/v1/betaBuildLocalizations", body)
    assert localization.status_code == 201
    assert api.post("/v1/betaBuildLocalizations", body).status_code == 409
    loc_id = localization.json()["data"]["id"]
    listed = api.get("/v1/betaBuildLocalizations", **{"filter[build]": build_id, "filter[locale]": "en-US"})
    assert [x["id"] for x in listed.json()["data"]] == [loc_id]
    updated = api.patch(f"/v1/betaBuildLocalizations/{loc_id}", {"data": {
        "type": "betaBuildLocalizations", "id": loc_id, "attributes": {"whatsNew": "New things"}}})
    assert updated.json()["data"]["attributes"]["whatsNew"] == "New things"
    mismatch = api.patch(f"/v1/betaBuildLocalizations/{loc_id}", {"data": {
        "type": "betaBuildLocalizations", "id": "other", "attributes": {"whatsNew": "x"}}})
    assert mismatch.status_code == 409

    detail_id = api.get(f"/v1/builds/{build_id}/buildBetaDetail").json()["data"]["id"]
    off = api.patch(f"/v1/buildBetaDetails/{detail_id}", {"data": {"type": "buildBetaDetails", "id": detail_id,
                                                                   "attributes": {"autoNotifyEnabled": False}}})
    assert off.json()["data"]["attributes"]["autoNotifyEnabled"] is False
    notified = api.post("/v1/buildBetaNotifications", {"data": {"type": "buildBetaNotifications", "relationships": {
        "build": {"data": {"type": "builds", "id": build_id}}}}})
    assert notified.status_code == 201 and notified.headers["Location"].endswith(notified.json()["data"]["id"])


def test_create_group_with_a_unique_name(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    body = {"data": {"type": "betaGroups", "attributes": {"name": "QA"},
                     "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}}
    created = api.post("/v1/betaGroups", body)
    assert created.status_code == 201
    assert created.json()["data"]["attributes"]["isInternalGroup"] is False
    assert api.post("/v1/betaGroups", body).status_code == 409
    listed = api.get(f"/v1/apps/{app_id}/betaGroups").json()["data"]
    assert [g["attributes"]["name"] for g in listed] == ["QA"]
