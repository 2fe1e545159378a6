"""TestFlight (protocol.md section D): groups, testers, "What to Test", beta details, notifications, beta review,
with App Store Connect's rules (a build must be VALID; external testing needs export compliance)."""

from __future__ import annotations

import re
from typing import Any

from publish.sandbox.app import Call, Reply, Sandbox
from publish.sandbox.model import ApiError, Record, conflict, iso
from publish.sandbox.uploads import add_default_beta_localization, count_beta_read

LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
WHATS_NEW_MAX = 4000  # bytes of UTF-8 (H17), characters with the switch off
NOT_READY = "The build is not in a valid processing state for this operation."
OTHER_IN_REVIEW = ("You can't submit a build for testing if another build is already in review. Wait until your "
                   "other build has been reviewed, and resubmit this build.")
IN_REVIEW_STATES = ("WAITING_FOR_REVIEW", "IN_REVIEW")
REVIEW_CONTACT = ("contactFirstName", "contactLastName", "contactPhone", "contactEmail")


def linked(call: Call, type_: str) -> list[Record]:
    """The records a to-many linkage body names; 409 when one does not exist."""
    records = []
    for index, item in enumerate(call.body["data"]):
        record = call.store.get(type_, item["id"])
        if record is None:
            raise ApiError(409, "ENTITY_ERROR.RELATIONSHIP.INVALID", f"There is no {type_} resource with id "
                           f"'{item['id']}'.", pointer=f"/data/{index}/id")
        records.append(record)
    return records


def require_testable(build: Record, *, what: str) -> None:
    attrs = build.attributes
    if attrs["expired"]:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Build {build.id} has expired; {what} needs a build that "
                       "has not expired. Upload a new build.")
    if attrs["processingState"] != "VALID":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Build {build.id} is {attrs['processingState']}; {what} "
                       "needs a VALID build. Wait until processing has finished.")


def require_export_compliance(build: Record, *, what: str) -> None:
    if build.attributes["usesNonExemptEncryption"] is None:
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Build {build.id} is missing export compliance; {what} needs "
                       "it. Set usesNonExemptEncryption with PATCH /v1/builds/{id} (or ITSAppUsesNonExemptEncryption "
                       "in Info.plist) first.")


def require_testflight_ready(sim: Sandbox, build: Record, *, external: bool) -> None:
    """H2: VALID is not yet ready: until TestFlight's own state has caught up, Apple answers 422."""
    lagging = build.internal.get("beta_lag", 0) > 0 or (external and build.internal.get("compliance_lag", 0) > 0)
    if lagging:
        raise ApiError(422, "ENTITY_UNPROCESSABLE", NOT_READY if external else
                       f"{NOT_READY} The build is not in state for internal testing.")


def _add_unique(values: list[str], new: str) -> None:
    if new not in values:
        values.append(new)


def _remove_link(record: Record, rel: str, other_id: str) -> None:
    """Forget a to-many link; forgetting one that is not there is not an error (Apple answers 204 as well)."""
    if other_id in record.rels.get(rel, []):
        record.rels[rel].remove(other_id)


def _tester_joins_app(tester: Record, app_id: str) -> None:
    _add_unique(tester.rels.setdefault("apps", []), app_id)


# groups <-> builds ---------------------------------------------------------------------------------------------
def _add_build_to_group(sim: Sandbox, store_build: Record, group: Record) -> None:
    if group.rels["app"] != store_build.rels["app"]:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"Beta group {group.id} belongs to another app than "
                       f"build {store_build.id}.")
    require_testable(store_build, what="adding it to a beta group")
    if not group.attributes.get("isInternalGroup"):
        require_export_compliance(store_build, what="external testing")
    require_testflight_ready(sim, store_build, external=not group.attributes.get("isInternalGroup"))
    if group.attributes.get("isInternalGroup") and group.attributes.get("hasAccessToAllBuilds"):
        return  # such groups get every build anyway
    _add_unique(store_build.rels.setdefault("betaGroups", []), group.id)


def _builds_and_groups(call: Call, target: str) -> list[tuple[Record, Record]]:
    """The (build, group) pairs a linkage request names, from either side: /v1/builds/{id}/relationships/betaGroups
    (target "builds") or /v1/betaGroups/{id}/relationships/builds (target "betaGroups")."""
    if target == "builds":
        build = call.target("builds")
        return [(build, group) for group in linked(call, "betaGroups")]
    group = call.target("betaGroups")
    return [(build, group) for build in linked(call, "builds")]


def _link_builds_and_groups(call: Call, target: str) -> Reply:
    for build, group in _builds_and_groups(call, target):
        _add_build_to_group(call.sim, build, group)
    return Reply(204)


def _unlink_builds_and_groups(call: Call, target: str) -> Reply:
    for build, group in _builds_and_groups(call, target):
        _remove_link(build, "betaGroups", group.id)
    return Reply(204)


def add_groups_to_build(call: Call) -> Reply:
    return _link_builds_and_groups(call, "builds")


def remove_groups_from_build(call: Call) -> Reply:
    return _unlink_builds_and_groups(call, "builds")


def add_builds_to_group(call: Call) -> Reply:
    return _link_builds_and_groups(call, "betaGroups")


def remove_builds_from_group(call: Call) -> Reply:
    return _unlink_builds_and_groups(call, "betaGroups")


def create_beta_group(call: Call) -> Reply:
    app = call.related_record("app", "apps")
    attributes = call.attributes
    name = attributes["name"].strip()
    if not name:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "A beta group needs a name.", pointer="/data/attributes/name")
    if any(g.attributes["name"] == name for g in call.store.where("betaGroups", app=app.id)):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"The app already has a beta group named '{name}'.",
                       pointer="/data/attributes/name")
    group = call.store.add("betaGroups", {
        "name": name, "createdDate": iso(call.sim.clock()),
        "isInternalGroup": bool(attributes.get("isInternalGroup")),
        "hasAccessToAllBuilds": bool(attributes.get("hasAccessToAllBuilds")),
        "publicLinkEnabled": bool(attributes.get("publicLinkEnabled")),
        "publicLinkLimitEnabled": bool(attributes.get("publicLinkLimitEnabled")),
        "publicLinkLimit": attributes.get("publicLinkLimit"),
        "feedbackEnabled": attributes.get("feedbackEnabled", True) is not False,
    }, {"app": app.id})
    for item in ((call.data.get("relationships") or {}).get("builds") or {}).get("data", []):
        _add_build_to_group(call.sim, call.store.require("builds", item["id"]), group)
    for item in ((call.data.get("relationships") or {}).get("betaTesters") or {}).get("data", []):
        tester = call.store.require("betaTesters", item["id"])
        _add_unique(tester.rels.setdefault("betaGroups", []), group.id)
        _tester_joins_app(tester, app.id)
    return call.created(group)


# testers -------------------------------------------------------------------------------------------------------
def create_beta_tester(call: Call) -> Reply:
    attributes = call.attributes
    email = attributes["email"].strip()
    rels = call.data.get("relationships") or {}
    groups = _named_records(call, rels, "betaGroups")
    builds = _named_records(call, rels, "builds")
    for build in builds:
        require_testable(build, what="adding a tester to it")
    # testers are unique per email across the team: creating one again adds the new relationships to it
    tester = next((t for t in call.store.all("betaTesters") if t.attributes["email"].lower() == email.lower()), None)
    if tester is None:
        tester = call.store.add("betaTesters", {
            "email": email, "firstName": attributes.get("firstName"), "lastName": attributes.get("lastName"),
            "inviteType": "EMAIL", "state": "INVITED"}, {"apps": [], "betaGroups": []})
    for group in groups:
        _add_unique(tester.rels["betaGroups"], group.id)
        _tester_joins_app(tester, group.rels["app"])
    for build in builds:
        _add_unique(build.rels.setdefault("individualTesters", []), tester.id)
        _tester_joins_app(tester, build.rels["app"])
    return call.created(tester)


def _named_records(call: Call, rels: dict[str, Any], type_: str) -> list[Record]:
    """The records a to-many relationship of a create body names; 409 when one of them does not exist."""
    records = [call.store.get(type_, item["id"]) for item in (rels.get(type_) or {}).get("data", [])]
    found = [record for record in records if record is not None]
    if len(found) != len(records):
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", "A beta group or build named in the relationships "
                       "does not exist.", pointer="/data/relationships")
    return found


def delete_beta_tester(call: Call) -> Reply:
    tester = call.target("betaTesters")
    for build in call.store.all("builds"):
        _remove_link(build, "individualTesters", tester.id)
    call.store.remove(tester)
    return Reply(204)


def add_individual_testers(call: Call) -> Reply:
    build = call.target("builds")
    require_testable(build, what="adding testers to it")
    for tester in linked(call, "betaTesters"):
        _add_unique(build.rels.setdefault("individualTesters", []), tester.id)
        _tester_joins_app(tester, build.rels["app"])
    return Reply(204)


def remove_individual_testers(call: Call) -> Reply:
    build = call.target("builds")
    for tester in linked(call, "betaTesters"):
        _remove_link(build, "individualTesters", tester.id)
    return Reply(204)


def add_testers_to_group(call: Call) -> Reply:
    group = call.target("betaGroups")
    for tester in linked(call, "betaTesters"):
        _add_unique(tester.rels.setdefault("betaGroups", []), group.id)
        _tester_joins_app(tester, group.rels["app"])
    return Reply(204)


def remove_testers_from_group(call: Call) -> Reply:
    group = call.target("betaGroups")
    for tester in linked(call, "betaTesters"):
        _remove_link(tester, "betaGroups", group.id)
    return Reply(204)


# What to Test --------------------------------------------------------------------------------------------------
def _check_whats_new(sim: Sandbox, value: str | None) -> None:
    if value is None:
        return
    if not sim.realism.default_beta_localization:
        if len(value) > WHATS_NEW_MAX:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"whatsNew is {len(value)} characters; the limit is "
                           f"{WHATS_NEW_MAX}.", pointer="/data/attributes/whatsNew")
        return
    size = len(value.encode("utf-8"))
    if size > WHATS_NEW_MAX:  # H17: Apple counts bytes
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"The value for whatsNew is too long: {size} bytes; it "
                       f"can be at most {WHATS_NEW_MAX}.", pointer="/data/attributes/whatsNew")
    refused = next((c for c in value if c == "<" or ord(c) > 0xFFFF), None)
    if refused is not None:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"The value for whatsNew contains an invalid character "
                       f"({refused!r}).", pointer="/data/attributes/whatsNew")


def create_beta_build_localization(call: Call) -> Reply:
    build = call.related_record("build", "builds")
    locale = call.attributes["locale"]
    if not LOCALE.match(locale):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"'{locale}' is not a locale App Store Connect knows "
                       "(like en-US or fr-FR).", pointer="/data/attributes/locale")
    if str(build.internal.get("default_locale") or "").lower() == locale.lower():
        add_default_beta_localization(call.sim, build)  # H17: Apple made it meanwhile; this POST collides
    if any(loc.attributes["locale"].lower() == locale.lower()
           for loc in call.store.where("betaBuildLocalizations", build=build.id)):
        raise conflict("ENTITY_ERROR.DUPLICATE", f"Build {build.id} already has a {locale} localization; "
                       "update it with PATCH /v1/betaBuildLocalizations/{id}.", pointer="/data/attributes/locale")
    _check_whats_new(call.sim, call.attributes.get("whatsNew"))
    localization = call.store.add("betaBuildLocalizations", {"locale": locale,
                                                             "whatsNew": call.attributes.get("whatsNew")},
                                  {"build": build.id})
    return call.created(localization)


def update_beta_build_localization(call: Call) -> Reply:
    call.check_update_id()
    localization = call.target("betaBuildLocalizations")
    if "whatsNew" in call.attributes:
        _check_whats_new(call.sim, call.attributes["whatsNew"])
        localization.attributes["whatsNew"] = call.attributes["whatsNew"]
    return call.ok(localization)


def delete_beta_build_localization(call: Call) -> Reply:
    call.store.remove(call.target("betaBuildLocalizations"))
    return Reply(204)


# notifications and beta review ---------------------------------------------------------------------------------
def create_build_beta_notification(call: Call) -> Reply:
    build = call.related_record("build", "builds")
    require_testable(build, what="notifying testers")
    require_export_compliance(build, what="notifying testers")
    detail = next(call.store.where("buildBetaDetails", build=build.id), None)
    reached = build.rels.get("betaGroups") or build.rels.get("individualTesters")
    if call.sim.realism.notification_race and detail is not None and reached \
            and not detail.attributes.get("didNotify"):
        # H10: Apple is already notifying the testers it just got (even with autoNotifyEnabled false)
        detail.attributes["didNotify"] = True
        raise ApiError(409, "STATE_ERROR.ENTITY_STATE_INVALID", "Auto-notify already enabled",
                       title="The request cannot be fulfilled because of the state of another resource.")
    notification = call.store.add("buildBetaNotifications", {}, {"build": build.id})
    if detail is not None:
        detail.attributes["didNotify"] = True
    return call.created(notification)


def review_detail(sim: Sandbox, app_id: str) -> Record:
    """The app's one betaAppReviewDetail (Apple has it from the start, empty)."""
    found = next(sim.store.where("betaAppReviewDetails", app=app_id), None)
    if found is None:
        found = sim.store.add("betaAppReviewDetails", {"contactFirstName": None, "contactLastName": None,
                                                       "contactPhone": None, "contactEmail": None,
                                                       "demoAccountName": None, "demoAccountPassword": None,
                                                       "demoAccountRequired": False, "notes": None},
                              {"app": app_id})
    return found


def add_beta_test_information(sim: Sandbox, app_id: str, *, locale: str | None = None,
                              feedback_email: str = "beta@example.com",
                              description: str = "An app under test.") -> None:
    """Seed what an app that has been through beta review before already has (for tests and the demo)."""
    with sim.store.lock:
        app = sim.store.require("apps", app_id)
        review_detail(sim, app_id).attributes.update({
            "contactFirstName": "Ann", "contactLastName": "Tester", "contactPhone": "+1 555 0100",
            "contactEmail": "ann@example.com"})
        sim.store.add("betaAppLocalizations", {"locale": locale or app.attributes.get("primaryLocale") or "en-US",
                                               "feedbackEmail": feedback_email, "description": description},
                      {"app": app_id})


def get_app_review_detail(call: Call) -> Reply:
    detail = review_detail(call.sim, call.target("apps").id)
    return call.ok(detail)


def update_app_review_detail(call: Call) -> Reply:
    call.check_update_id()
    detail = call.target("betaAppReviewDetails")
    for name, value in call.attributes.items():
        detail.attributes[name] = value
    return call.ok(detail)


def create_beta_app_localization(call: Call) -> Reply:
    app = call.related_record("app", "apps")
    locale = call.attributes["locale"]
    if any(loc.attributes["locale"].lower() == locale.lower()
           for loc in call.store.where("betaAppLocalizations", app=app.id)):
        raise conflict("ENTITY_ERROR.DUPLICATE", f"The app already has beta app information in {locale}; update "
                       "it with PATCH /v1/betaAppLocalizations/{id}.", pointer="/data/attributes/locale")
    localization = call.store.add("betaAppLocalizations", {
        name: call.attributes.get(name) for name in ("locale", "feedbackEmail", "description", "marketingUrl",
                                                     "privacyPolicyUrl", "tvOsPrivacyPolicy")}, {"app": app.id})
    return call.created(localization)


def update_beta_app_localization(call: Call) -> Reply:
    call.check_update_id()
    localization = call.target("betaAppLocalizations")
    for name, value in call.attributes.items():
        if name != "locale":
            localization.attributes[name] = value
    return call.ok(localization)


def _missing_test_information(sim: Sandbox, build: Record) -> list[str]:
    app = sim.store.require("apps", build.rels["app"])
    detail = review_detail(sim, app.id).attributes
    missing = [name for name in REVIEW_CONTACT if not detail.get(name)]
    if detail.get("demoAccountRequired"):
        missing += [n for n in ("demoAccountName", "demoAccountPassword") if not detail.get(n)]
    primary = str(app.attributes.get("primaryLocale") or "en-US").lower()
    info = [loc for loc in sim.store.where("betaAppLocalizations", app=app.id)
            if str(loc.attributes["locale"]).lower() == primary]
    if not info or not info[0].attributes.get("feedbackEmail"):
        missing.append("feedbackEmail")
    if not info or not info[0].attributes.get("description"):
        missing.append("description")
    return missing


def _other_build_in_review(sim: Sandbox, build: Record) -> Record | None:
    for other in sim.store.where("betaAppReviewSubmissions"):
        other_build = sim.store.get("builds", other.rels.get("build", ""))
        if (other_build is not None and other_build.id != build.id
                and other_build.rels.get("app") == build.rels.get("app") and not other_build.attributes["expired"]
                and other.attributes["betaReviewState"] in IN_REVIEW_STATES):
            return other_build
    return None


def create_beta_app_review_submission(call: Call) -> Reply:
    build = call.related_record("build", "builds")
    require_testable(build, what="beta app review")
    require_export_compliance(build, what="beta app review")
    existing = next(call.store.where("betaAppReviewSubmissions", build=build.id), None)
    if existing is not None:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Build {build.id} was already submitted for beta review "
                       f"(betaAppReviewSubmissions/{existing.id}).", pointer="/data/relationships/build")
    realism = call.sim.realism
    require_testflight_ready(call.sim, build, external=True)
    if realism.one_build_in_beta_review and _other_build_in_review(call.sim, build) is not None:
        raise conflict("ENTITY_ERROR.STATE_INVALID", OTHER_IN_REVIEW, pointer="/data/relationships/build")
    if realism.beta_review_needs_test_information:
        if _missing_test_information(call.sim, build):
            # H4: Apple explains nothing here
            raise ApiError(500, "UNEXPECTED_ERROR", "An unexpected error occurred.")
        app = call.store.require("apps", build.rels["app"])
        primary = str(app.attributes.get("primaryLocale") or "en-US")
        if not any(str(loc.attributes["locale"]).lower() == primary.lower() and loc.attributes.get("whatsNew")
                   for loc in call.store.where("betaBuildLocalizations", build=build.id)):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.REQUIRED", f"What to Test (whatsNew) in the app's primary locale "
                           f"{primary} is required to submit build {build.id} for beta review.",
                           pointer="/data/relationships/build")
    submission = call.store.add("betaAppReviewSubmissions", {"betaReviewState": "WAITING_FOR_REVIEW",
                                                            "submittedDate": iso(call.sim.clock())},
                                {"build": build.id}, submitted_at=call.sim.clock())
    return call.created(submission)


def observe_beta_review(sim: Sandbox, submission: Record) -> None:
    """Beta review is quick and usually approves: after as many polls as processing takes."""
    if submission.attributes["betaReviewState"] != "WAITING_FOR_REVIEW":
        return
    seconds = sim.processing_seconds
    if submission.polls >= sim.processing_polls or (
            seconds is not None and sim.clock() - submission.internal["submitted_at"] >= seconds):
        submission.attributes["betaReviewState"] = "APPROVED"


HANDLERS = {
    ("post", "/v1/builds/{id}/relationships/betaGroups"): add_groups_to_build,
    ("delete", "/v1/builds/{id}/relationships/betaGroups"): remove_groups_from_build,
    ("post", "/v1/builds/{id}/relationships/individualTesters"): add_individual_testers,
    ("delete", "/v1/builds/{id}/relationships/individualTesters"): remove_individual_testers,
    ("post", "/v1/betaGroups"): create_beta_group,
    ("post", "/v1/betaGroups/{id}/relationships/builds"): add_builds_to_group,
    ("delete", "/v1/betaGroups/{id}/relationships/builds"): remove_builds_from_group,
    ("post", "/v1/betaGroups/{id}/relationships/betaTesters"): add_testers_to_group,
    ("delete", "/v1/betaGroups/{id}/relationships/betaTesters"): remove_testers_from_group,
    ("post", "/v1/betaTesters"): create_beta_tester,
    ("delete", "/v1/betaTesters/{id}"): delete_beta_tester,
    ("post", "/v1/betaBuildLocalizations"): create_beta_build_localization,
    ("patch", "/v1/betaBuildLocalizations/{id}"): update_beta_build_localization,
    ("delete", "/v1/betaBuildLocalizations/{id}"): delete_beta_build_localization,
    ("post", "/v1/buildBetaNotifications"): create_build_beta_notification,
    ("post", "/v1/betaAppReviewSubmissions"): create_beta_app_review_submission,
    ("get", "/v1/apps/{id}/betaAppReviewDetail"): get_app_review_detail,
    ("patch", "/v1/betaAppReviewDetails/{id}"): update_app_review_detail,
    ("post", "/v1/betaAppLocalizations"): create_beta_app_localization,
    ("patch", "/v1/betaAppLocalizations/{id}"): update_beta_app_localization,
}


def observe_beta_detail(sim: Sandbox, detail: Record) -> None:
    build = sim.store.get("builds", detail.rels.get("build", ""))
    if build is not None:
        count_beta_read(sim, build)


OBSERVERS = {"betaAppReviewSubmissions": observe_beta_review, "buildBetaDetails": observe_beta_detail}
