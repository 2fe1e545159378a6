"""App Store release and review on the simulator (protocol.md section E) over raw HTTP; contract-checked."""

from __future__ import annotations

import json

import pytest

from publish.sandbox.appstore import set_version_state
from sandbox_api import Api


def _version_body(app_id: str, version: str, **attributes) -> dict:
    return {"data": {"type": "appStoreVersions", "attributes": {"platform": "IOS", "versionString": version,
                                                                **attributes},
                     "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}}


def _submission(api: Api, app_id: str) -> str:
    created = api.post("/v1/reviewSubmissions", {"data": {"type": "reviewSubmissions", "attributes": {
        "platform": "IOS"}, "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
    assert created.status_code == 201, created.text
    assert created.json()["data"]["attributes"]["state"] == "READY_FOR_REVIEW"
    return created.json()["data"]["id"]


def _add_item(api: Api, submission_id: str, version_id: str):
    return api.post("/v1/reviewSubmissionItems", {"data": {"type": "reviewSubmissionItems", "relationships": {
        "reviewSubmission": {"data": {"type": "reviewSubmissions", "id": submission_id}},
        "appStoreVersion": {"data": {"type": "appStoreVersions", "id": version_id}}}}})


def _patch_submission(api: Api, submission_id: str, **attributes):
    return api.patch(f"/v1/reviewSubmissions/{submission_id}", {"data": {
        "type": "reviewSubmissions", "id": submission_id, "attributes": attributes}})


def test_version_build_localization_and_review_submission(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example", primary_locale="en-GB")
    sandbox.add_app_store_version(app_id, "1.0.0")  # released earlier
    build_id = sandbox.add_build(app_id, "1.1.0", "12")
    other_build = sandbox.add_build(app_id, "1.2.0", "1")

    assert api.post("/v1/appStoreVersions", _version_body(app_id, "0.9.0")).status_code == 409  # below released
    created = api.post("/v1/appStoreVersions", _version_body(app_id, "1.1.0", releaseType="MANUAL"))
    assert created.status_code == 201
    version_id = created.json()["data"]["id"]
    assert created.json()["data"]["attributes"]["appVersionState"] == "PREPARE_FOR_SUBMISSION"
    second = api.post("/v1/appStoreVersions", _version_body(app_id, "1.2.0"))
    assert second.status_code == 409 and "cannot create a new version" in second.json()["errors"][0]["detail"]

    found = api.get(f"/v1/apps/{app_id}/appStoreVersions", **{
        "filter[platform]": "IOS", "filter[versionString]": "1.1.0",
        "include": "build,appStoreVersionPhasedRelease"}).json()["data"]
    assert [v["id"] for v in found] == [version_id]
    assert api.get(f"/v1/appStoreVersions/{version_id}/build").json()["data"] is None

    attach = {"data": {"type": "builds", "id": other_build}}
    wrong = api.patch(f"/v1/appStoreVersions/{version_id}/relationships/build", attach)
    assert wrong.status_code == 409  # 1.2.0 build on a 1.1.0 version
    attach["data"]["id"] = build_id
    assert api.patch(f"/v1/appStoreVersions/{version_id}/relationships/build", attach).status_code == 204
    assert api.get(f"/v1/appStoreVersions/{version_id}/build").json()["data"]["id"] == build_id
    linkage = api.get(f"/v1/appStoreVersions/{version_id}/relationships/build").json()["data"]
    assert linkage == {"type": "builds", "id": build_id}

    locs = api.get(f"/v1/appStoreVersions/{version_id}/appStoreVersionLocalizations",
                   **{"filter[locale]": "en-GB"}).json()["data"]
    assert len(locs) == 1  # the primary locale's localization comes with the version
    loc_id = locs[0]["id"]
    updated = api.patch(f"/v1/appStoreVersionLocalizations/{loc_id}", {"data": {
        "type": "appStoreVersionLocalizations", "id": loc_id, "attributes": {"whatsNew": "Faster"}}})
    assert updated.json()["data"]["attributes"]["whatsNew"] == "Faster"
    assert api.delete(f"/v1/appStoreVersionLocalizations/{loc_id}").status_code == 409

    scheduled = api.patch(f"/v1/appStoreVersions/{version_id}", {"data": {
        "type": "appStoreVersions", "id": version_id,
        "attributes": {"releaseType": "SCHEDULED", "earliestReleaseDate": "2001-01-01T00:00:00Z"}}})
    assert scheduled.status_code == 409  # in the past

    submission_id = _submission(api, app_id)
    assert _add_item(api, submission_id, version_id).status_code == 201
    too_early = _patch_submission(api, submission_id, submitted=True)  # H1: not ready right after the item add
    assert too_early.status_code == 409 and "not ready to be submitted" in too_early.json()["errors"][0]["detail"]
    assert _version_states(api, version_id, 2) == ["PREPARE_FOR_SUBMISSION", "READY_FOR_REVIEW"]
    drafts = api.get("/v1/reviewSubmissions", **{"filter[app]": app_id, "filter[platform]": "IOS",
                                                 "filter[state]": "READY_FOR_REVIEW",
                                                 "include": "appStoreVersionForReview,items"}).json()
    assert drafts["data"][0]["relationships"]["appStoreVersionForReview"]["data"]["id"] == version_id
    assert {i["type"] for i in drafts["included"]} == {"appStoreVersions", "reviewSubmissionItems"}
    submitted = _patch_submission(api, submission_id, submitted=True)
    assert submitted.status_code == 200
    assert submitted.json()["data"]["attributes"]["state"] == "WAITING_FOR_REVIEW"
    assert submitted.json()["data"]["attributes"]["submittedDate"]

    sandbox.finish_review(submission_id)
    assert api.get(f"/v1/appStoreVersions/{version_id}").json()["data"]["attributes"][
        "appVersionState"] == "PENDING_DEVELOPER_RELEASE"
    assert _submission_states(api, submission_id, 2) == ["COMPLETING", "COMPLETE"]  # H11
    release = api.post("/v1/appStoreVersionReleaseRequests", {"data": {
        "type": "appStoreVersionReleaseRequests",
        "relationships": {"appStoreVersion": {"data": {"type": "appStoreVersions", "id": version_id}}}}})
    assert release.status_code == 201
    state = api.get(f"/v1/appStoreVersions/{version_id}").json()["data"]["attributes"]
    assert (state["appVersionState"], state["appStoreState"]) == ("READY_FOR_DISTRIBUTION", "READY_FOR_SALE")


def test_submission_needs_an_item_whose_version_has_a_build(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    submission_id = _submission(api, app_id)
    empty = _patch_submission(api, submission_id, submitted=True)
    assert empty.status_code == 409
    version_id = api.post("/v1/appStoreVersions", _version_body(app_id, "1.0")).json()["data"]["id"]
    assert _add_item(api, submission_id, version_id).status_code == 201
    no_build = _patch_submission(api, submission_id, submitted=True)
    assert no_build.status_code == 409
    assert f"/v1/appStoreVersions/{version_id}" in no_build.json()["errors"][0]["meta"]["associatedErrors"]
    # a second draft for the same platform is refused while this one is open
    again = api.post("/v1/reviewSubmissions", {"data": {"type": "reviewSubmissions", "attributes": {
        "platform": "IOS"}, "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
    assert again.status_code == 409 and "still in progress" in again.json()["errors"][0]["detail"]
    canceled = _patch_submission(api, submission_id, canceled=True)
    assert canceled.json()["data"]["attributes"]["state"] == "CANCELING"  # H11: even a draft takes a moment
    assert _submission_or_none(api, app_id) is None  # "still in progress" meanwhile
    assert _submission_states(api, submission_id, 2) == ["CANCELING", "COMPLETE"]
    assert api.get(f"/v1/appStoreVersions/{version_id}").json()["data"]["attributes"][
        "appVersionState"] == "PREPARE_FOR_SUBMISSION"
    # the version is free again for a new submission
    assert _add_item(api, _submission(api, app_id), version_id).status_code == 201


def test_cancel_a_submitted_review(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    build_id = sandbox.add_build(app_id, "2.0", "1")
    version = api.post("/v1/appStoreVersions", {"data": {
        "type": "appStoreVersions", "attributes": {"platform": "IOS", "versionString": "2.0"},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}},
                          "build": {"data": {"type": "builds", "id": build_id}}}}})
    version_id = version.json()["data"]["id"]
    submission_id = _submission(api, app_id)
    _add_item(api, submission_id, version_id)
    assert _version_states(api, version_id, 2)[-1] == "READY_FOR_REVIEW"
    assert _patch_submission(api, submission_id, submitted=True).status_code == 200
    assert _add_item(api, submission_id, version_id).status_code == 409  # no items once submitted
    assert _submission_or_none(api, app_id) is None  # nor a second submission while one is in review
    assert api.delete(f"/v1/appStoreVersions/{version_id}").status_code == 409  # not PREPARE_FOR_SUBMISSION
    canceling = _patch_submission(api, submission_id, canceled=True).json()["data"]["attributes"]["state"]
    assert canceling == "CANCELING"
    states = [api.get(f"/v1/reviewSubmissions/{submission_id}").json()["data"]["attributes"]["state"]
              for _ in range(2)]
    assert states[-1] == "COMPLETE"


def _version_states(api: Api, version_id: str, reads: int) -> list[str]:
    return [api.get(f"/v1/appStoreVersions/{version_id}").json()["data"]["attributes"]["appVersionState"]
            for _ in range(reads)]


def _submission_states(api: Api, submission_id: str, reads: int) -> list[str]:
    return [api.get(f"/v1/reviewSubmissions/{submission_id}").json()["data"]["attributes"]["state"]
            for _ in range(reads)]


def _submission_or_none(api: Api, app_id: str) -> str | None:
    response = api.post("/v1/reviewSubmissions", {"data": {"type": "reviewSubmissions", "attributes": {
        "platform": "IOS"}, "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
    return response.json()["data"]["id"] if response.status_code == 201 else None


def test_phased_release_and_version_edits(sandbox, api: Api) -> None:
    app_id = sandbox.add_app("com.example.app", "Example")
    version_id = api.post("/v1/appStoreVersions", _version_body(app_id, "3.0")).json()["data"]["id"]
    renamed = api.patch(f"/v1/appStoreVersions/{version_id}", {"data": {
        "type": "appStoreVersions", "id": version_id, "attributes": {"versionString": "3.1"}}})
    assert renamed.json()["data"]["attributes"]["versionString"] == "3.1"
    body = {"data": {"type": "appStoreVersionPhasedReleases", "attributes": {"phasedReleaseState": "INACTIVE"},
                     "relationships": {"appStoreVersion": {"data": {"type": "appStoreVersions", "id": version_id}}}}}
    phased = api.post("/v1/appStoreVersionPhasedReleases", body)
    assert phased.status_code == 201
    assert api.post("/v1/appStoreVersionPhasedReleases", body).status_code == 409
    phased_id = phased.json()["data"]["id"]
    got = api.get(f"/v1/appStoreVersions/{version_id}/appStoreVersionPhasedRelease").json()["data"]
    assert got["id"] == phased_id

    def move(state: str):
        return api.patch(f"/v1/appStoreVersionPhasedReleases/{phased_id}", {"data": {
            "type": "appStoreVersionPhasedReleases", "id": phased_id, "attributes": {"phasedReleaseState": state}}})

    assert move("PAUSED").status_code == 409
    # A phased release moves only once its version is released (Apple starts it with the release).
    assert move("ACTIVE").status_code == 409
    with sandbox.store.lock:
        set_version_state(sandbox.store.require("appStoreVersions", version_id), "READY_FOR_DISTRIBUTION")
    assert move("ACTIVE").json()["data"]["attributes"]["startDate"]
    assert api.delete(f"/v1/appStoreVersionPhasedReleases/{phased_id}").status_code == 409
    assert move("COMPLETE").status_code == 200
    assert api.delete(f"/v1/appStoreVersions/{version_id}").status_code == 409  # released: no longer deletable


# ---------------------------------------------------------------- protocol.md H: each switch turns its habit on/off


def _update_in_review_draft(sandbox, api: Api) -> tuple[str, str, str]:
    """(app, version 1.1 of an app whose 1.0 is on the store, a draft submission)."""
    app_id = sandbox.add_app("com.example.app", "Example")
    sandbox.add_app_store_version(app_id, "1.0")
    build_id = sandbox.add_build(app_id, "1.1", "1")
    version_id = api.post("/v1/appStoreVersions", {"data": {
        "type": "appStoreVersions", "attributes": {"platform": "IOS", "versionString": "1.1"},
        "relationships": {"app": {"data": {"type": "apps", "id": app_id}},
                          "build": {"data": {"type": "builds", "id": build_id}}}}}).json()["data"]["id"]
    return app_id, version_id, _submission(api, app_id)


def _localization(api: Api, version_id: str) -> str:
    return api.get(f"/v1/appStoreVersions/{version_id}/appStoreVersionLocalizations").json()["data"][0]["id"]


def _write_whats_new(api: Api, loc_id: str, text: str):
    return api.patch(f"/v1/appStoreVersionLocalizations/{loc_id}", {"data": {
        "type": "appStoreVersionLocalizations", "id": loc_id, "attributes": {"whatsNew": text}}})


def test_h12_update_needs_whats_new_everywhere_and_h1_ready_after_reads(sandbox, api: Api) -> None:
    _, version_id, submission_id = _update_in_review_draft(sandbox, api)
    refused = _add_item(api, submission_id, version_id)
    assert refused.status_code == 409
    error = refused.json()["errors"][0]
    assert "is not in valid state" in error["title"] and "whatsNew" in json.dumps(error["meta"])
    assert _write_whats_new(api, _localization(api, version_id), "Faster").status_code == 200
    assert _add_item(api, submission_id, version_id).status_code == 201
    sandbox.realism = sandbox.realism.without("submit_waits_for_ready_for_review")
    assert _patch_submission(api, submission_id, submitted=True).status_code == 409  # added while the switch was on
    assert _version_states(api, version_id, 2)[-1] == "READY_FOR_REVIEW"


@pytest.mark.parametrize("switch", ["whats_new_in_every_locale", "submit_waits_for_ready_for_review"])
def test_h1_h12_switched_off(sandbox, api: Api, switch: str) -> None:
    sandbox.realism = sandbox.realism.without(switch)
    _, version_id, submission_id = _update_in_review_draft(sandbox, api)
    if switch == "submit_waits_for_ready_for_review":
        assert _write_whats_new(api, _localization(api, version_id), "Faster").status_code == 200
    assert _add_item(api, submission_id, version_id).status_code == 201
    submitted = _patch_submission(api, submission_id, submitted=True)
    assert (submitted.status_code == 200) is (switch == "submit_waits_for_ready_for_review")


@pytest.mark.parametrize("on", [True, False])
def test_h5_h6_h16_switches(sandbox, api: Api, on: bool) -> None:
    if not on:
        sandbox.realism = sandbox.realism.without("release_date_on_the_hour", "no_whats_new_on_first_version",
                                                  "release_type_first")
    app_id = sandbox.add_app("com.example.app", "Example")
    version_id = api.post("/v1/appStoreVersions", _version_body(app_id, "1.0")).json()["data"]["id"]
    first = _write_whats_new(api, _localization(api, version_id), "First!")  # H6: a first release
    assert first.status_code == (409 if on else 200)
    assert not on or "cannot be edited at this time" in first.json()["errors"][0]["detail"]
    api.patch(f"/v1/appStoreVersionLocalizations/{_localization(api, version_id)}", {"data": {
        "type": "appStoreVersionLocalizations", "id": _localization(api, version_id),
        "attributes": {"description": "An app."}}})

    def schedule(date: str):
        return api.patch(f"/v1/appStoreVersions/{version_id}", {"data": {
            "type": "appStoreVersions", "id": version_id,
            "attributes": {"releaseType": "SCHEDULED", "earliestReleaseDate": date}}})

    locked = schedule("2031-01-01T10:00:00Z")  # H16: the localization was written just now
    assert locked.status_code == (409 if on else 200)
    if on:
        assert "releaseType" in locked.json()["errors"][0]["detail"]
        _version_states(api, version_id, 2)  # a while later
    off_the_hour = schedule("2031-01-01T10:30:00Z")  # H5
    assert off_the_hour.status_code == (409 if on else 200)
    assert schedule("2031-01-01T11:00:00Z").status_code == 200
