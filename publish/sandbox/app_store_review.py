"""App Store review submissions on the simulator (protocol.md E6): drafts, items, submit, cancel, and App Review's
verdict - with what App Store Connect does that the OpenAPI description does not say, each behind its switch:

* H1 (submit_waits_for_ready_for_review): after the item add the version turns READY_FOR_REVIEW only after
  `ready_for_review_after_reads` reads of it; a submit before that answers 409 "Version is not ready to be submitted
  yet, please try again later".
* H11 (review_submissions_in_motion): a cancelled draft passes through CANCELING, an approved submission through
  COMPLETING, for `in_motion_reads` reads of it; meanwhile a new submission or an item add answers 409
  "reviewSubmission with id X still in progress".
* H12 (whats_new_in_every_locale): an update (not the app's first release) is taken for review only with whatsNew
  in every locale, else the item add answers 409 "appStoreVersions '...' is not in valid state".
"""

from __future__ import annotations

from publish.sandbox.app import Call, Reply, Sandbox
from publish.sandbox.appstore import EDITABLE, is_first_release, observe_version, release_version, set_version_state
from publish.sandbox.model import ApiError, Record, conflict, iso

OPEN_SUBMISSION = {"READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES", "CANCELING",
                   "COMPLETING"}
IN_MOTION = {"CANCELING", "COMPLETING"}
NOT_READY = "Version is not ready to be submitted yet, please try again later"


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
        # A submitted one takes a while to be pulled out of review; so does a draft on the real service (H11).
        in_motion = state != "READY_FOR_REVIEW" or call.sim.realism.review_submissions_in_motion
        submission.attributes["state"] = "CANCELING" if in_motion else "COMPLETE"
        submission.polls = 0
        for item in _items(call.sim, submission):
            item.attributes["state"] = "REMOVED"
            call.store.require("appStoreVersions", item.rels["appStoreVersion"]).internal.pop("ready_at", None)
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
    if any(sim.store.require("appStoreVersions", item.rels["appStoreVersion"]).attributes["appVersionState"]
           != "READY_FOR_REVIEW" for item in items):
        # H1: the version needs a moment after the item add before it can be submitted.
        raise ApiError(409, "STATE_ERROR.ENTITY_STATE_INVALID", NOT_READY, pointer="/data/attributes/submitted")


def observe_review_submission(sim: Sandbox, submission: Record) -> None:
    reads = sim.realism.in_motion_reads if sim.realism.review_submissions_in_motion else sim.processing_polls
    if submission.attributes["state"] in IN_MOTION and submission.polls >= reads:
        submission.attributes["state"] = "COMPLETE"


def create_review_submission_item(call: Call) -> Reply:
    submission = call.related_record("reviewSubmission", "reviewSubmissions")
    others = set((call.data.get("relationships") or {})) - {"reviewSubmission", "appStoreVersion"}
    if others:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"The simulator submits App Store versions only; "
                       f"{', '.join(sorted(others))} are not supported.", pointer="/data/relationships")
    version = call.related_record("appStoreVersion", "appStoreVersions")
    if call.sim.realism.review_submissions_in_motion:
        for other in call.store.where("reviewSubmissions", app=submission.rels["app"]):
            if other.attributes["state"] in IN_MOTION and other.attributes["platform"] == (
                    submission.attributes["platform"]):
                raise conflict("STATE_ERROR.ENTITY_STATE_INVALID", f"reviewSubmission with id {other.id} still in "
                               f"progress ({other.attributes['state']}).",
                               pointer="/data/relationships/reviewSubmission")
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
    _check_whats_new_everywhere(call.sim, version)
    item = call.store.add("reviewSubmissionItems", {"state": "READY_FOR_REVIEW"},
                          {"reviewSubmission": submission.id, "appStoreVersion": version.id})
    submission.rels["appStoreVersionForReview"] = version.id
    if call.sim.realism.submit_waits_for_ready_for_review:
        version.internal["ready_at"] = version.polls + call.sim.realism.ready_for_review_after_reads
        observe_version(call.sim, version)  # with 0 reads to wait, it is ready at once
    else:
        set_version_state(version, "READY_FOR_REVIEW")
    return call.created(item)


def _check_whats_new_everywhere(sim: Sandbox, version: Record) -> None:
    """H12: an update goes to review only with What's New in every locale it has."""
    if not sim.realism.whats_new_in_every_locale or is_first_release(sim, version):
        return
    lacking = {f"/v1/appStoreVersionLocalizations/{loc.id}": [{
        "code": "ENTITY_ERROR.ATTRIBUTE.REQUIRED",
        "detail": f"The provided entity is missing a required attribute 'whatsNew' ({loc.attributes['locale']})."}]
        for loc in sim.store.where("appStoreVersionLocalizations", appStoreVersion=version.id)
        if not (loc.attributes.get("whatsNew") or "").strip()}
    if lacking:
        raise ApiError(409, "STATE_ERROR.ENTITY_STATE_INVALID", "This resource cannot be reviewed, please check "
                       "associated errors to see why.", title=f"appStoreVersions '{version.id}' is not in valid "
                       "state.", pointer="/data/relationships/appStoreVersion", meta={"associatedErrors": lacking})


def delete_review_submission_item(call: Call) -> Reply:
    item = call.target("reviewSubmissionItems")
    submission = call.store.require("reviewSubmissions", item.rels["reviewSubmission"])
    if submission.attributes["state"] != "READY_FOR_REVIEW":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"reviewSubmission {submission.id} is "
                       f"{submission.attributes['state']}; items can only be removed from a draft.")
    version = call.store.get("appStoreVersions", item.rels["appStoreVersion"])
    if version is not None:
        version.internal.pop("ready_at", None)
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
    # An approved submission passes through COMPLETING on the real service (H11).
    done = "COMPLETING" if sim.realism.review_submissions_in_motion else "COMPLETE"
    submission.attributes["state"] = done if approve else "UNRESOLVED_ISSUES"
    submission.polls = 0
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
            release_version(sim, version)


HANDLERS = {
    ("post", "/v1/reviewSubmissions"): create_review_submission,
    ("patch", "/v1/reviewSubmissions/{id}"): update_review_submission,
    ("post", "/v1/reviewSubmissionItems"): create_review_submission_item,
    ("delete", "/v1/reviewSubmissionItems/{id}"): delete_review_submission_item,
}

OBSERVERS = {"reviewSubmissions": observe_review_submission}
