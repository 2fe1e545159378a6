"""App Store release and review (protocol.md section E): versions, their build, localizations, phased release,
release requests and review submissions, with App Store Connect's rules - including those the OpenAPI description
does not say (protocol.md H5, H6, H8, H16), each behind its switch in `sim.realism`. Review submissions (H1, H11,
H12) are in app_store_review.py.

Time is counted in reads, as everywhere in the simulator: a version whose localizations were just written keeps its
releaseType locked for `release_type_locked_reads` reads of it (H16); a version added to a review submission turns
READY_FOR_REVIEW after `ready_for_review_after_reads` reads of it (H1, see observe_version)."""

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
# Metadata a new version takes over from the app's latest version (What's New is the new version's own).
CARRIED_OVER = ("description", "keywords", "marketingUrl", "supportUrl", "promotionalText")

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
    # Like App Store Connect, a new version has the languages of the app's latest version (its store page), and at
    # least the primary locale.
    app = sim.store.require("apps", app_id)
    earlier = [v for v in _versions(sim, app_id, platform) if v.id != version.id]
    latest = max(earlier, key=lambda v: _version_number(v.attributes["versionString"]), default=None)
    carried = list(sim.store.where("appStoreVersionLocalizations", appStoreVersion=latest.id)) if latest else []
    locales = {loc.attributes["locale"]: loc for loc in carried}
    primary = app.attributes["primaryLocale"]
    for locale in [primary, *[loc for loc in locales if loc != primary]]:
        source = locales.get(locale)
        values = {name: source.attributes.get(name) for name in CARRIED_OVER
                  if source is not None and source.attributes.get(name)}
        sim.store.add("appStoreVersionLocalizations", {"locale": locale, **values}, {"appStoreVersion": version.id})
    return version


def add_localization(sim: Sandbox, version_id: str, locale: str, **attributes: Any) -> Record:
    """A language on a version's store page (for tests, the demo and data files)."""
    return sim.store.add("appStoreVersionLocalizations", {"locale": locale, **attributes},
                         {"appStoreVersion": version_id})


def _version_number(value: str) -> tuple[int, ...]:
    """3.4 and 3.4.0 (and 03.4) are one version to App Store Connect (H8)."""
    numbers = [int(part) for part in value.split(".")] if VERSION.match(value) else [0]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _same_version(sim: Sandbox, held: str, given: str) -> bool:
    return held == given or (sim.realism.version_forms and _version_number(held) == _version_number(given))


def is_first_release(sim: Sandbox, version: Record) -> bool:
    """No other version of the app on this platform has ever been on the store (H6, H12)."""
    return not any(other.id != version.id and other.attributes["appVersionState"] in RELEASED
                   for other in _versions(sim, version.rels["app"], version.attributes["platform"]))


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
        if sim.realism.release_date_on_the_hour and when % 3600:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"earliestReleaseDate '{date}' is not valid: only hour "
                           "precision is allowed (minutes and seconds must be zero).",
                           pointer="/data/attributes/earliestReleaseDate")


def _versions(sim: Sandbox, app_id: str, platform: str) -> list[Record]:
    return [v for v in sim.store.where("appStoreVersions", app=app_id) if v.attributes["platform"] == platform]


def _check_new_version_string(sim: Sandbox, app_id: str, platform: str, value: str, exclude: str | None = None) -> None:
    for other in _versions(sim, app_id, platform):
        if other.id == exclude:
            continue
        if _same_version(sim, other.attributes["versionString"], value):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Version {value} already exists for {platform} "
                           f"as {other.attributes['versionString']} (appStoreVersions/{other.id}).",
                           pointer="/data/attributes/versionString")
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
    build = call.optional_related_record("build", "builds")
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
    if not _same_version(sim, train.attributes["version"], version.attributes["versionString"]):
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
    _check_release_type_unlocked(call.sim, version, attributes)
    if "versionString" in attributes:
        _check_version_string(attributes["versionString"])
        _check_new_version_string(call.sim, version.rels["app"], version.attributes["platform"],
                                  attributes["versionString"], exclude=version.id)
        if version.rels.get("build"):
            build_train = call.store.require("preReleaseVersions",
                                             call.store.require("builds", version.rels["build"]).rels[
                                                 "preReleaseVersion"])
            if not _same_version(call.sim, build_train.attributes["version"], attributes["versionString"]):
                version.rels["build"] = None  # the attached build no longer fits
    merged = {"releaseType": version.attributes.get("releaseType"), **attributes}
    if "earliestReleaseDate" in attributes or merged.get("releaseType") == "SCHEDULED":
        merged.setdefault("earliestReleaseDate", version.attributes.get("earliestReleaseDate"))
        _check_release(merged, call.sim)
    for name, value in attributes.items():
        version.attributes[name] = value
    if attributes.get("releaseType") in ("MANUAL", "AFTER_APPROVAL"):
        version.attributes["earliestReleaseDate"] = None
    build = call.optional_related_record("build", "builds")
    if build is not None:
        _attach(call.sim, version, build)
    return call.ok(version)


def _check_release_type_unlocked(sim: Sandbox, version: Record, attributes: dict[str, Any]) -> None:
    """H16: right after its localizations were written, a version's release type cannot be changed for a while."""
    locked_until = version.internal.get("release_type_locked_until")
    if not sim.realism.release_type_first or locked_until is None or version.polls >= locked_until:
        return
    for name in ("releaseType", "earliestReleaseDate"):
        if name in attributes and attributes[name] != version.attributes.get(name):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Attribute '{name}' cannot be edited at this time; "
                           "try again later.", pointer=f"/data/attributes/{name}")


def observe_version(sim: Sandbox, version: Record) -> None:
    ready_at = version.internal.get("ready_at")
    if ready_at is not None and version.polls >= ready_at:
        version.internal.pop("ready_at")
        if version.attributes["appVersionState"] in EDITABLE:
            set_version_state(version, "READY_FOR_REVIEW")


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


def _check_whats_new(call: Call, version: Record) -> None:
    """H6: an app's first App Store version takes no What's New."""
    if call.sim.realism.no_whats_new_on_first_version and call.attributes.get("whatsNew") and \
            is_first_release(call.sim, version):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "Attribute 'whatsNew' cannot be edited at this time.",
                       pointer="/data/attributes/whatsNew")


def _localizations_written(sim: Sandbox, version: Record) -> None:
    version.internal["release_type_locked_until"] = version.polls + sim.realism.release_type_locked_reads


def create_localization(call: Call) -> Reply:
    version = call.related_record("appStoreVersion", "appStoreVersions")
    _editable_version(call, version)
    _check_whats_new(call, version)
    locale = call.attributes["locale"]
    if any(loc.attributes["locale"] == locale
           for loc in call.store.where("appStoreVersionLocalizations", appStoreVersion=version.id)):
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"Version {version.attributes['versionString']} already has a "
                       f"{locale} localization; update it with PATCH.", pointer="/data/attributes/locale")
    values = {k: v for k, v in call.attributes.items()}
    localization = call.store.add("appStoreVersionLocalizations", values, {"appStoreVersion": version.id})
    _localizations_written(call.sim, version)
    return call.created(localization)


def update_localization(call: Call) -> Reply:
    call.check_update_id()
    localization = call.target("appStoreVersionLocalizations")
    version = call.store.require("appStoreVersions", localization.rels["appStoreVersion"])
    _editable_version(call, version)
    _check_whats_new(call, version)
    for name, value in call.attributes.items():
        localization.attributes[name] = value
    _localizations_written(call.sim, version)
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
        version = call.store.require("appStoreVersions", phased.rels["appStoreVersion"])
        if version.attributes["appVersionState"] != "READY_FOR_DISTRIBUTION":
            # Apple starts a phased release itself when the version is released; until then it cannot be moved.
            raise conflict("ENTITY_ERROR.STATE_INVALID", f"Version {version.attributes['versionString']} is "
                           f"{version.attributes['appVersionState']}; its phased release can only be changed once "
                           "the version is released (READY_FOR_DISTRIBUTION).",
                           pointer="/data/attributes/phasedReleaseState")
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
    release_version(call.sim, version)
    request = call.store.add("appStoreVersionReleaseRequests", {}, {"appStoreVersion": version.id})
    return call.created(request)


def release_version(sim: Sandbox, version: Record) -> None:
    for other in _versions(sim, version.rels["app"], version.attributes["platform"]):
        if other.id != version.id and other.attributes["appVersionState"] == "READY_FOR_DISTRIBUTION":
            set_version_state(other, "REPLACED_WITH_NEW_VERSION")
    set_version_state(version, "READY_FOR_DISTRIBUTION")
    # A phased release waiting for the release starts with it: day 1 of 7.
    for phased in sim.store.where("appStoreVersionPhasedReleases", appStoreVersion=version.id):
        if phased.attributes["phasedReleaseState"] == "INACTIVE":
            phased.attributes.update(phasedReleaseState="ACTIVE", startDate=iso(sim.clock()), currentDayNumber=1)


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
}

OBSERVERS = {"appStoreVersions": observe_version}
