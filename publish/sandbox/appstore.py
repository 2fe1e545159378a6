"""App Store release and review (protocol.md section E): versions, their build, localizations, phased release,
release requests and review submissions, with App Store Connect's rules."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from publish.sandbox.app import Call, Reply, Sandbox
from publish.sandbox.jsonapi import version_key
from publish.sandbox.model import ApiError, Record, conflict, iso

VERSION = re.compile(r"^\d+(\.\d+){0,2}$")
# States in which a version's metadata and build can still be changed.
EDITABLE = {"PREPARE_FOR_SUBMISSION", "DEVELOPER_REJECTED", "REJECTED", "METADATA_REJECTED", "INVALID_BINARY"}
# A version in one of these is still on its way to the store: no second version may be created meanwhile.
IN_FLIGHT = EDITABLE | {"READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "PENDING_DEVELOPER_RELEASE",
                        "PENDING_APPLE_RELEASE", "ACCEPTED", "PROCESSING_FOR_DISTRIBUTION",
                        "WAITING_FOR_EXPORT_COMPLIANCE"}
RELEASED = {"READY_FOR_DISTRIBUTION", "REPLACED_WITH_NEW_VERSION"}
# appStoreState (deprecated) for each appVersionState
LEGACY_STATE = {"READY_FOR_DISTRIBUTION": "READY_FOR_SALE", "PROCESSING_FOR_DISTRIBUTION": "PROCESSING_FOR_APP_STORE"}
OPEN_SUBMISSION = {"READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES", "CANCELING",
                   "COMPLETING"}
PHASED_MOVES = {"INACTIVE": {"ACTIVE"}, "ACTIVE": {"PAUSED", "COMPLETE"}, "PAUSED": {"ACTIVE", "COMPLETE"},
                "COMPLETE": set()}


def set_version_state(version: Record, state: str) -> None:
    version.attributes["appVersionState"] = state
    version.attributes["appStoreState"] = LEGACY_STATE.get(state, state)


def create_version(sim: Sandbox, app_id: str, version_string: str, platform: str, *,
                   state: str = "PREPARE_FOR_SUBMISSION", attributes: dict[str, Any] | None = None) -> Record:
    attributes = attributes or {}
    version = sim.store.add("appStoreVersions", {
        "platform": platform, "versionString": version_string, "createdDate": iso(sim.clock()),
        "releaseType": attributes.get("releaseType") or "AFTER_APPROVAL",
        "earliestReleaseDate": attributes.get("earliestReleaseDate"),
        "copyright": attributes.get("copyright"), "reviewType": attributes.get("reviewType") or "APP_STORE",
        "downloadable": True,
    }, {"app": app_id, "build": None})
    set_version_state(version, state)
    app = sim.store.require("apps", app_id)
    sim.store.add("appStoreVersionLocalizations", {"locale": app.attributes["primaryLocale"]},
                  {"appStoreVersion": version.id})
    return version


def _check_version_string(value: str) -> None:
    if not VERSION.match(value):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"versionString '{value}' must be one to three "
                       "period-separated integers (like 1.2.3).", pointer="/data/attributes/versionString")


def _check_release(attributes: dict[str, Any], sim: Sandbox) -> None:
    release_type = attributes.get("releaseType")
    date = attributes.get("earliestReleaseDate")
    if release_type == "SCHEDULED" and not date:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.REQUIRED", "releaseType SCHEDULED needs an earliestReleaseDate.",
                       pointer="/data/attributes/earliestReleaseDate")
    if date:
        if release_type not in ("SCHEDULED", None):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "earliestReleaseDate is only allowed with releaseType "
                           "SCHEDULED.", pointer="/data/attributes/earliestReleaseDate")
        try:
            when = datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"earliestReleaseDate '{date}' is not an ISO 8601 "
                           "date-time.", pointer="/data/attributes/earliestReleaseDate") from None
        if when <= sim.clock():
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"earliestReleaseDate {date} is in the past; choose a "
                           "future date.", pointer="/data/attributes/earliestReleaseDate")


def _versions(sim: Sandbox, app_id: str, platform: str) -> list[Record]:
    return [v for v in sim.store.where("appStoreVersions", app=app_id) if v.attributes["platform"] == platform]


def _check_new_version_string(sim: Sandbox, app_id: str, platform: str, value: str, exclude: str | None = None) -> None:
    for other in _versions(sim, app_id, platform):
        if other.id == exclude:
            continue
        if other.attributes["versionString"] == value:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Version {value} already exists for {platform} "
                           f"(appStoreVersions/{other.id}).", pointer="/data/attributes/versionString")
        if other.attributes["appVersionState"] in RELEASED and version_key(value) < version_key(
                other.attributes["versionString"]):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"versionString {value} must be higher than the "
                           f"released version {other.attributes['versionString']}.",
                           pointer="/data/attributes/versionString")


def create_app_store_version(call: Call) -> Reply:
    app = call.related_record("app", "apps")
    attributes = call.attributes
    platform, version_string = attributes["platform"], attributes["versionString"]
    _check_version_string(version_string)
    _check_new_version_string(call.sim, app.id, platform, version_string)
    for other in _versions(call.sim, app.id, platform):
        if other.attributes["appVersionState"] in IN_FLIGHT:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"You cannot create a new version of the App in the "
                           f"current state: version {other.attributes['versionString']} "
                           f"({other.attributes['appVersionState']}, appStoreVersions/{other.id}) is still open for "
                           f"{platform}. Change its versionString with PATCH instead.",
                           pointer="/data/attributes/versionString")
    _check_release(attributes, call.sim)
    build = call.related_record("build", "builds", required=False)
    version = create_version(call.sim, app.id, version_string, platform, attributes=attributes)
    if build is not None:
        _attach(call.sim, version, build)
    return call.created(version)


def _attach(sim: Sandbox, version: Record, build: Record) -> None:
    state = version.attributes["appVersionState"]
    if state not in EDITABLE:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is {state}; "
                       "its build can no longer be changed.", pointer="/data/relationships/build")
    if build.rels["app"] != version.rels["app"]:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"Build {build.id} belongs to another app.",
                       pointer="/data/relationships/build")
    train = sim.store.require("preReleaseVersions", build.rels["preReleaseVersion"])
    if train.attributes["platform"] != version.attributes["platform"]:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"Build {build.id} is for {train.attributes['platform']}, "
                       f"the version for {version.attributes['platform']}.", pointer="/data/relationships/build")
    if train.attributes["version"] != version.attributes["versionString"]:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"Build {build.id} has version "
                       f"{train.attributes['version']}; App Store version {version.attributes['versionString']} needs "
                       "a build with the same CFBundleShortVersionString.", pointer="/data/relationships/build")
    if build.attributes["processingState"] != "VALID" or build.attributes["expired"]:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"Build {build.id} is "
                       f"{'expired' if build.attributes['expired'] else build.attributes['processingState']}; only a "
                       "VALID build that has not expired can be attached.", pointer="/data/relationships/build")
    version.rels["build"] = build.id


def update_app_store_version(call: Call) -> Reply:
    call.check_update_id()
    version = call.target("appStoreVersions")
    attributes = {k: v for k, v in call.attributes.items() if v is not None}
    state = version.attributes["appVersionState"]
    if attributes and state not in EDITABLE:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is {state} and "
                       "can no longer be edited.")
    if "versionString" in attributes:
        _check_version_string(attributes["versionString"])
        _check_new_version_string(call.sim, version.rels["app"], version.attributes["platform"],
                                  attributes["versionString"], exclude=version.id)
        if version.rels.get("build"):
            build_train = call.store.require("preReleaseVersions",
                                             call.store.require("builds", version.rels["build"]).rels[
                                                 "preReleaseVersion"])
            if build_train.attributes["version"] != attributes["versionString"]:
                version.rels["build"] = None  # the attached build no longer fits
    merged = {"releaseType": version.attributes.get("releaseType"), **attributes}
    if "earliestReleaseDate" in attributes or merged.get("releaseType") == "SCHEDULED":
        merged.setdefault("earliestReleaseDate", version.attributes.get("earliestReleaseDate"))
        _check_release(merged, call.sim)
    for name, value in attributes.items():
        version.attributes[name] = value
    if attributes.get("releaseType") in ("MANUAL", "AFTER_APPROVAL"):
        version.attributes["earliestReleaseDate"] = None
    build = call.related_record("build", "builds", required=False)
    if build is not None:
        _attach(call.sim, version, build)
    return call.ok(version)


def delete_app_store_version(call: Call) -> Reply:
    version = call.target("appStoreVersions")
    if version.attributes["appVersionState"] != "PREPARE_FOR_SUBMISSION":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is "
                       f"{version.attributes['appVersionState']}; only a version in PREPARE_FOR_SUBMISSION can be "
                       "deleted.")
    for kind in ("appStoreVersionLocalizations", "appStoreVersionPhasedReleases"):
        for record in list(call.store.where(kind, appStoreVersion=version.id)):
            call.store.remove(record)
    call.store.remove(version)
    return Reply(204)


def attach_build(call: Call) -> Reply:
    version = call.target("appStoreVersions")
    build = call.store.get("builds", call.body["data"]["id"])
    if build is None:
        raise ApiError(409, "ENTITY_ERROR.RELATIONSHIP.INVALID", f"There is no build with id "
                       f"'{call.body['data']['id']}'.", pointer="/data/id")
    _attach(call.sim, version, build)
    return Reply(204)


# localizations -------------------------------------------------------------------------------------------------
def _editable_version(call: Call, version: Record) -> None:
    if version.attributes["appVersionState"] not in EDITABLE:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is "
                       f"{version.attributes['appVersionState']}; its localizations can no longer be edited.")


def create_localization(call: Call) -> Reply:
    version = call.related_record("appStoreVersion", "appStoreVersions")
    _editable_version(call, version)
    locale = call.attributes["locale"]
    if any(loc.attributes["locale"] == locale
           for loc in call.store.where("appStoreVersionLocalizations", appStoreVersion=version.id)):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Version {version.attributes['versionString']} already has a "
                       f"{locale} localization; update it with PATCH.", pointer="/data/attributes/locale")
    values = {k: v for k, v in call.attributes.items()}
    localization = call.store.add("appStoreVersionLocalizations", values, {"appStoreVersion": version.id})
    return call.created(localization)


def update_localization(call: Call) -> Reply:
    call.check_update_id()
    localization = call.target("appStoreVersionLocalizations")
    _editable_version(call, call.store.require("appStoreVersions", localization.rels["appStoreVersion"]))
    for name, value in call.attributes.items():
        localization.attributes[name] = value
    return call.ok(localization)


def delete_localization(call: Call) -> Reply:
    localization = call.target("appStoreVersionLocalizations")
    version = call.store.require("appStoreVersions", localization.rels["appStoreVersion"])
    _editable_version(call, version)
    app = call.store.require("apps", version.rels["app"])
    if localization.attributes["locale"] == app.attributes["primaryLocale"]:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "The localization in the app's primary locale cannot be "
                       "deleted.")
    call.store.remove(localization)
    return Reply(204)


# phased release and release request ----------------------------------------------------------------------------
def create_phased_release(call: Call) -> Reply:
    version = call.related_record("appStoreVersion", "appStoreVersions")
    existing = next(call.store.where("appStoreVersionPhasedReleases", appStoreVersion=version.id), None)
    if existing is not None:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Version {version.attributes['versionString']} already has "
                       f"a phased release (appStoreVersionPhasedReleases/{existing.id}).",
                       pointer="/data/relationships/appStoreVersion")
    if version.attributes["appVersionState"] in RELEASED:
        raise conflict("ENTITY_ERROR.STATE_INVALID", "A released version cannot get a phased release.")
    state = call.attributes.get("phasedReleaseState") or "INACTIVE"
    phased = call.store.add("appStoreVersionPhasedReleases", {"phasedReleaseState": state, "totalPauseDuration": 0,
                                                              "currentDayNumber": 0},
                            {"appStoreVersion": version.id})
    return call.created(phased)


def update_phased_release(call: Call) -> Reply:
    call.check_update_id()
    phased = call.target("appStoreVersionPhasedReleases")
    wanted = call.attributes.get("phasedReleaseState")
    current = phased.attributes["phasedReleaseState"]
    if wanted is not None and wanted != current:
        if wanted not in PHASED_MOVES[current]:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"A phased release cannot go from {current} to {wanted}.",
                           pointer="/data/attributes/phasedReleaseState")
        phased.attributes["phasedReleaseState"] = wanted
        if wanted == "ACTIVE" and not phased.attributes.get("startDate"):
            phased.attributes["startDate"] = iso(call.sim.clock())
            phased.attributes["currentDayNumber"] = 1
    return call.ok(phased)


def delete_phased_release(call: Call) -> Reply:
    phased = call.target("appStoreVersionPhasedReleases")
    if phased.attributes["phasedReleaseState"] != "INACTIVE":
        raise conflict("ENTITY_ERROR.STATE_INVALID", "A phased release that has started cannot be deleted; PATCH "
                       "it to COMPLETE to release to everyone.")
    call.store.remove(phased)
    return Reply(204)


def create_release_request(call: Call) -> Reply:
    version = call.related_record("appStoreVersion", "appStoreVersions")
    if version.attributes["appVersionState"] != "PENDING_DEVELOPER_RELEASE":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is "
                       f"{version.attributes['appVersionState']}; only a version in PENDING_DEVELOPER_RELEASE can be "
                       "released.", pointer="/data/relationships/appStoreVersion")
    _release(call.sim, version)
    request = call.store.add("appStoreVersionReleaseRequests", {}, {"appStoreVersion": version.id})
    return call.created(request)


def _release(sim: Sandbox, version: Record) -> None:
    for other in _versions(sim, version.rels["app"], version.attributes["platform"]):
        if other.id != version.id and other.attributes["appVersionState"] == "READY_FOR_DISTRIBUTION":
            set_version_state(other, "REPLACED_WITH_NEW_VERSION")
    set_version_state(version, "READY_FOR_DISTRIBUTION")


# review submissions --------------------------------------------------------------------------------------------
def create_review_submission(call: Call) -> Reply:
    app = call.related_record("app", "apps")
    platform = call.attributes.get("platform") or "IOS"
    for other in call.store.where("reviewSubmissions", app=app.id):
        if other.attributes["platform"] == platform and other.attributes["state"] in OPEN_SUBMISSION:
            raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission with id {other.id} still in progress "
                           f"({other.attributes['state']}); reuse it or cancel it first.",
                           pointer="/data/relationships/app")
    submission = call.store.add("reviewSubmissions", {"platform": platform, "state": "READY_FOR_REVIEW",
                                                      "submittedDate": None},
                                {"app": app.id, "appStoreVersionForReview": None})
    return call.created(submission)


def _items(sim: Sandbox, submission: Record) -> list[Record]:
    return [i for i in sim.store.where("reviewSubmissionItems", reviewSubmission=submission.id)
            if i.attributes["state"] != "REMOVED"]


def update_review_submission(call: Call) -> Reply:
    call.check_update_id()
    submission = call.target("reviewSubmissions")
    attributes = call.attributes
    state = submission.attributes["state"]
    if attributes.get("platform") is not None and attributes["platform"] != submission.attributes["platform"]:
        if state != "READY_FOR_REVIEW" or _items(call.sim, submission):
            raise conflict("ENTITY_ERROR.STATE_INVALID", "The platform can only change on an empty draft.",
                           pointer="/data/attributes/platform")
        submission.attributes["platform"] = attributes["platform"]
    if attributes.get("canceled"):
        if state not in ("READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES"):
            raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission {submission.id} is {state} and cannot be "
                           "canceled.", pointer="/data/attributes/canceled")
        # a draft is simply closed; a submitted one takes a while to be pulled out of review
        submission.attributes["state"] = "COMPLETE" if state == "READY_FOR_REVIEW" else "CANCELING"
        submission.polls = 0
        for item in _items(call.sim, submission):
            item.attributes["state"] = "REMOVED"
            version = call.store.get("appStoreVersions", item.rels["appStoreVersion"])
            if version is not None and version.attributes["appVersionState"] in (
                    "READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW"):
                set_version_state(version, "PREPARE_FOR_SUBMISSION" if state == "READY_FOR_REVIEW"
                                  else "DEVELOPER_REJECTED")
    elif attributes.get("submitted"):
        if state != "READY_FOR_REVIEW":
            raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission {submission.id} is {state}; only a draft "
                           "(READY_FOR_REVIEW) can be submitted.", pointer="/data/attributes/submitted")
        _check_submittable(call.sim, submission)
        submission.attributes["state"] = "WAITING_FOR_REVIEW"
        submission.attributes["submittedDate"] = iso(call.sim.clock())
        for item in _items(call.sim, submission):
            item.attributes["state"] = "ACCEPTED"
            set_version_state(call.store.require("appStoreVersions", item.rels["appStoreVersion"]),
                              "WAITING_FOR_REVIEW")
    return call.ok(submission)


def _check_submittable(sim: Sandbox, submission: Record) -> None:
    items = _items(sim, submission)
    if not items:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission {submission.id} has no items; add the App "
                       "Store version with POST /v1/reviewSubmissionItems first.", pointer="/data/attributes/submitted")
    associated: dict[str, list[dict[str, str]]] = {}
    for item in items:
        version = sim.store.require("appStoreVersions", item.rels["appStoreVersion"])
        problems = []
        build = sim.store.get("builds", version.rels.get("build") or "")
        if build is None:
            problems.append({"code": "ENTITY_ERROR.RELATIONSHIP.REQUIRED",
                             "detail": "You must select a build before submitting this version for review."})
        elif build.attributes["usesNonExemptEncryption"] is None:
            problems.append({"code": "ENTITY_ERROR.ATTRIBUTE.REQUIRED",
                             "detail": f"Build {build.id} is missing export compliance (usesNonExemptEncryption)."})
        if problems:
            associated[f"/v1/appStoreVersions/{version.id}"] = problems
    if associated:
        raise ApiError(409, "ENTITY_ERROR.STATE_INVALID", "The review submission cannot be submitted: "
                       + " ".join(p["detail"] for ps in associated.values() for p in ps),
                       pointer="/data/attributes/submitted", meta={"associatedErrors": associated})


def observe_review_submission(sim: Sandbox, submission: Record) -> None:
    if submission.attributes["state"] == "CANCELING" and submission.polls >= sim.processing_polls:
        submission.attributes["state"] = "COMPLETE"


def create_review_submission_item(call: Call) -> Reply:
    submission = call.related_record("reviewSubmission", "reviewSubmissions")
    others = set((call.data.get("relationships") or {})) - {"reviewSubmission", "appStoreVersion"}
    if others:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"The simulator submits App Store versions only; "
                       f"{', '.join(sorted(others))} are not supported.", pointer="/data/relationships")
    version = call.related_record("appStoreVersion", "appStoreVersions")
    if submission.attributes["state"] != "READY_FOR_REVIEW":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission with id {submission.id} still in progress "
                       f"({submission.attributes['state']}); items can only be added to a draft.",
                       pointer="/data/relationships/reviewSubmission")
    if version.rels["app"] != submission.rels["app"] or (
            version.attributes["platform"] != submission.attributes["platform"]):
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", "The version belongs to another app or platform than the "
                       "review submission.", pointer="/data/relationships/appStoreVersion")
    for item in call.store.where("reviewSubmissionItems", appStoreVersion=version.id):
        holder = call.store.get("reviewSubmissions", item.rels["reviewSubmission"])
        if item.attributes["state"] != "REMOVED" and holder is not None and (
                holder.attributes["state"] in OPEN_SUBMISSION):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"appStoreVersion with id {version.id} was already added "
                           f"to another reviewSubmission with id {holder.id}",
                           pointer="/data/relationships/appStoreVersion")
    if version.attributes["appVersionState"] not in EDITABLE:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is "
                       f"{version.attributes['appVersionState']} and cannot be added for review.",
                       pointer="/data/relationships/appStoreVersion")
    item = call.store.add("reviewSubmissionItems", {"state": "READY_FOR_REVIEW"},
                          {"reviewSubmission": submission.id, "appStoreVersion": version.id})
    submission.rels["appStoreVersionForReview"] = version.id
    set_version_state(version, "READY_FOR_REVIEW")
    return call.created(item)


def delete_review_submission_item(call: Call) -> Reply:
    item = call.target("reviewSubmissionItems")
    submission = call.store.require("reviewSubmissions", item.rels["reviewSubmission"])
    if submission.attributes["state"] != "READY_FOR_REVIEW":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission {submission.id} is "
                       f"{submission.attributes['state']}; items can only be removed from a draft.")
    version = call.store.get("appStoreVersions", item.rels["appStoreVersion"])
    if version is not None and version.attributes["appVersionState"] == "READY_FOR_REVIEW":
        set_version_state(version, "PREPARE_FOR_SUBMISSION")
    if submission.rels.get("appStoreVersionForReview") == item.rels["appStoreVersion"]:
        submission.rels["appStoreVersionForReview"] = None
    call.store.remove(item)
    return Reply(204)


def finish_review(sim: Sandbox, submission: Record, *, approve: bool = True) -> None:
    """What App Review does (tests and `sandbox serve` users trigger it): approve or reject every version."""
    if submission.attributes["state"] not in ("WAITING_FOR_REVIEW", "IN_REVIEW"):
        raise ValueError(f"review submission {submission.id} is {submission.attributes['state']}, not under review")
    submission.attributes["state"] = "COMPLETE" if approve else "UNRESOLVED_ISSUES"
    for item in _items(sim, submission):
        item.attributes["state"] = "APPROVED" if approve else "REJECTED"
        version = sim.store.require("appStoreVersions", item.rels["appStoreVersion"])
        if not approve:
            set_version_state(version, "REJECTED")
        elif version.attributes["releaseType"] == "MANUAL":
            set_version_state(version, "PENDING_DEVELOPER_RELEASE")
        elif version.attributes["releaseType"] == "SCHEDULED":
            set_version_state(version, "PENDING_APPLE_RELEASE")
        else:
            _release(sim, version)


HANDLERS = {
    ("post", "/v1/appStoreVersions"): create_app_store_version,
    ("patch", "/v1/appStoreVersions/{id}"): update_app_store_version,
    ("delete", "/v1/appStoreVersions/{id}"): delete_app_store_version,
    ("patch", "/v1/appStoreVersions/{id}/relationships/build"): attach_build,
    ("post", "/v1/appStoreVersionLocalizations"): create_localization,
    ("patch", "/v1/appStoreVersionLocalizations/{id}"): update_localization,
    ("delete", "/v1/appStoreVersionLocalizations/{id}"): delete_localization,
    ("post", "/v1/appStoreVersionPhasedReleases"): create_phased_release,
    ("patch", "/v1/appStoreVersionPhasedReleases/{id}"): update_phased_release,
    ("delete", "/v1/appStoreVersionPhasedReleases/{id}"): delete_phased_release,
    ("post", "/v1/appStoreVersionReleaseRequests"): create_release_request,
    ("post", "/v1/reviewSubmissions"): create_review_submission,
    ("patch", "/v1/reviewSubmissions/{id}"): update_review_submission,
    ("post", "/v1/reviewSubmissionItems"): create_review_submission_item,
    ("delete", "/v1/reviewSubmissionItems/{id}"): delete_review_submission_item,
}

OBSERVERS = {"reviewSubmissions": observe_review_submission}
