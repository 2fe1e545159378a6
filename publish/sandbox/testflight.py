"""TestFlight (protocol.md section D): groups, testers, "What to Test", beta details, notifications, beta review,
with App Store Connect's rules (a build must be VALID; external testing needs export compliance)."""

from __future__ import annotations

import re

from publish.sandbox.app import Call, Reply, Sandbox
from publish.sandbox.model import ApiError, Record, conflict, iso

LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
WHATS_NEW_MAX = 4000


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


def _add_unique(values: list[str], new: str) -> None:
    if new not in values:
        values.append(new)


def _tester_joins_app(tester: Record, app_id: str) -> None:
    _add_unique(tester.rels.setdefault("apps", []), app_id)


# groups <-> builds ---------------------------------------------------------------------------------------------
def _add_build_to_group(store_build: Record, group: Record) -> None:
    if group.rels["app"] != store_build.rels["app"]:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", f"Beta group {group.id} belongs to another app than "
                       f"build {store_build.id}.")
    require_testable(store_build, what="adding it to a beta group")
    if not group.attributes.get("isInternalGroup"):
        require_export_compliance(store_build, what="external testing")
    if group.attributes.get("isInternalGroup") and group.attributes.get("hasAccessToAllBuilds"):
        return  # such groups get every build anyway
    _add_unique(store_build.rels.setdefault("betaGroups", []), group.id)


def add_groups_to_build(call: Call) -> Reply:
    build = call.target("builds")
    for group in linked(call, "betaGroups"):
        _add_build_to_group(build, group)
    return Reply(204)


def remove_groups_from_build(call: Call) -> Reply:
    build = call.target("builds")
    for group in linked(call, "betaGroups"):
        if group.id in build.rels.get("betaGroups", []):
            build.rels["betaGroups"].remove(group.id)
    return Reply(204)


def add_builds_to_group(call: Call) -> Reply:
    group = call.target("betaGroups")
    for build in linked(call, "builds"):
        _add_build_to_group(build, group)
    return Reply(204)


def remove_builds_from_group(call: Call) -> Reply:
    group = call.target("betaGroups")
    for build in linked(call, "builds"):
        if group.id in build.rels.get("betaGroups", []):
            build.rels["betaGroups"].remove(group.id)
    return Reply(204)


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
        _add_build_to_group(call.store.require("builds", item["id"]), group)
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
    groups = [call.store.get("betaGroups", i["id"]) for i in (rels.get("betaGroups") or {}).get("data", [])]
    builds = [call.store.get("builds", i["id"]) for i in (rels.get("builds") or {}).get("data", [])]
    if None in groups or None in builds:
        raise conflict("ENTITY_ERROR.RELATIONSHIP.INVALID", "A beta group or build named in the relationships "
                       "does not exist.", pointer="/data/relationships")
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


def delete_beta_tester(call: Call) -> Reply:
    tester = call.target("betaTesters")
    for build in call.store.all("builds"):
        if tester.id in build.rels.get("individualTesters", []):
            build.rels["individualTesters"].remove(tester.id)
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
        if tester.id in build.rels.get("individualTesters", []):
            build.rels["individualTesters"].remove(tester.id)
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
        if group.id in tester.rels.get("betaGroups", []):
            tester.rels["betaGroups"].remove(group.id)
    return Reply(204)


# What to Test --------------------------------------------------------------------------------------------------
def _check_whats_new(value: str | None) -> None:
    if value is not None and len(value) > WHATS_NEW_MAX:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"whatsNew is {len(value)} characters; the limit is "
                       f"{WHATS_NEW_MAX}.", pointer="/data/attributes/whatsNew")


def create_beta_build_localization(call: Call) -> Reply:
    build = call.related_record("build", "builds")
    locale = call.attributes["locale"]
    if not LOCALE.match(locale):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"'{locale}' is not a locale App Store Connect knows "
                       "(like en-US or fr-FR).", pointer="/data/attributes/locale")
    if any(loc.attributes["locale"] == locale for loc in call.store.where("betaBuildLocalizations", build=build.id)):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Build {build.id} already has a {locale} localization; "
                       "update it with PATCH /v1/betaBuildLocalizations/{id}.", pointer="/data/attributes/locale")
    _check_whats_new(call.attributes.get("whatsNew"))
    localization = call.store.add("betaBuildLocalizations", {"locale": locale,
                                                             "whatsNew": call.attributes.get("whatsNew")},
                                  {"build": build.id})
    return call.created(localization)


def update_beta_build_localization(call: Call) -> Reply:
    call.check_update_id()
    localization = call.target("betaBuildLocalizations")
    if "whatsNew" in call.attributes:
        _check_whats_new(call.attributes["whatsNew"])
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
    notification = call.store.add("buildBetaNotifications", {}, {"build": build.id})
    return call.created(notification)


def create_beta_app_review_submission(call: Call) -> Reply:
    build = call.related_record("build", "builds")
    require_testable(build, what="beta app review")
    require_export_compliance(build, what="beta app review")
    existing = next(call.store.where("betaAppReviewSubmissions", build=build.id), None)
    if existing is not None:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Build {build.id} was already submitted for beta review "
                       f"(betaAppReviewSubmissions/{existing.id}).", pointer="/data/relationships/build")
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
}

OBSERVERS = {"betaAppReviewSubmissions": observe_beta_review}
