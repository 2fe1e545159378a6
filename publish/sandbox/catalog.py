"""Apps, builds and pre-release versions (protocol.md section B), and the rules of their writable attributes."""

from __future__ import annotations

from typing import Any

from publish.sandbox.app import Call, Reply, Sandbox
from publish.sandbox.model import Record, conflict


def app_bundle_id_filter(record: Record, values: list[str]) -> bool:
    # Apple's filter[bundleId] is not an exact match (it also returns e.g. the app's extensions' prefixes), so
    # clients must compare attributes.bundleId themselves (protocol.md B1). Prefix match reproduces that.
    bundle_id = record.attributes["bundleId"]
    return any(bundle_id.startswith(v) for v in values)


def email_filter(record: Record, values: list[str]) -> bool:
    return record.attributes.get("email", "").lower() in {v.lower() for v in values}


def upload_state_filter(record: Record, values: list[str]) -> bool:
    return record.attributes["state"]["state"] in values


def update_app(call: Call) -> Reply:
    call.check_update_id()
    app = call.target("apps")
    attributes = call.attributes
    if "bundleId" in attributes and attributes["bundleId"] != app.attributes["bundleId"]:
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "An app's bundle ID cannot be changed once it is set.",
                       pointer="/data/attributes/bundleId")
    for name, value in attributes.items():
        if value is not None:
            app.attributes[name] = value
    return call.ok(app)


def update_build(call: Call) -> Reply:
    call.check_update_id()
    build = call.target("builds")
    attributes = call.attributes
    if "expired" in attributes and attributes["expired"] is not None:
        if attributes["expired"] is False and build.attributes["expired"]:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "An expired build cannot be made available again; "
                           "upload a new build.", pointer="/data/attributes/expired")
        if attributes["expired"] and not build.attributes["expired"]:
            # As on TestFlight: an expired build leaves its groups and testers (testers can no longer install it).
            build.rels["betaGroups"] = []
            build.rels["individualTesters"] = []
        build.attributes["expired"] = attributes["expired"]
    if attributes.get("usesNonExemptEncryption") is not None:
        if build.attributes["processingState"] != "VALID":
            raise conflict("ENTITY_ERROR.STATE_INVALID", f"Build {build.id} is "
                           f"{build.attributes['processingState']}; export compliance can be set once it is VALID.",
                           pointer="/data/attributes/usesNonExemptEncryption")
        if build.attributes["usesNonExemptEncryption"] is None and call.sim.realism.beta_state_lags_valid:
            build.internal["compliance_lag"] = call.sim.realism.beta_state_reads  # H2: external state lags
        build.attributes["usesNonExemptEncryption"] = attributes["usesNonExemptEncryption"]
    return call.ok(build)


def beta_detail_states(sim: Sandbox, detail: Record) -> dict[str, Any]:
    """internal/externalBuildState follow from the build, its groups and its beta review (protocol.md D2/D4)."""
    build = sim.store.get("builds", detail.rels["build"])
    if build is None:
        return {}
    attrs = build.attributes
    if attrs["expired"]:
        return {"internalBuildState": "EXPIRED", "externalBuildState": "EXPIRED"}
    if attrs["processingState"] == "PROCESSING":
        return {"internalBuildState": "PROCESSING", "externalBuildState": "PROCESSING"}
    if attrs["processingState"] in ("FAILED", "INVALID"):
        return {"internalBuildState": "PROCESSING_EXCEPTION", "externalBuildState": "PROCESSING_EXCEPTION"}
    if build.internal.get("beta_lag", 0) > 0:
        # H2: VALID, but TestFlight has not caught up yet; groups and beta review are refused meanwhile
        return {"internalBuildState": "PROCESSING", "externalBuildState": "PROCESSING"}
    if attrs["usesNonExemptEncryption"] is None:
        return {"internalBuildState": "MISSING_EXPORT_COMPLIANCE", "externalBuildState": "MISSING_EXPORT_COMPLIANCE"}
    groups = [sim.store.get("betaGroups", g) for g in build.rels.get("betaGroups", [])]
    app_groups = list(sim.store.where("betaGroups", app=build.rels["app"]))
    internal_testing = any(g and g.attributes.get("isInternalGroup") for g in groups) or any(
        g.attributes.get("isInternalGroup") and g.attributes.get("hasAccessToAllBuilds") for g in app_groups)
    external_groups = any(g and not g.attributes.get("isInternalGroup") for g in groups)
    review = next(sim.store.where("betaAppReviewSubmissions", build=build.id), None)
    external = "READY_FOR_BETA_SUBMISSION"
    if review is not None:
        external = {"WAITING_FOR_REVIEW": "WAITING_FOR_BETA_REVIEW", "IN_REVIEW": "IN_BETA_REVIEW",
                    "REJECTED": "BETA_REJECTED", "APPROVED": "BETA_APPROVED"}[review.attributes["betaReviewState"]]
        if external == "BETA_APPROVED" and external_groups:
            external = "IN_BETA_TESTING"
    if build.internal.get("compliance_lag", 0) > 0:
        external = "MISSING_EXPORT_COMPLIANCE"  # H2: the export compliance PATCH has not reached TestFlight yet
    return {"internalBuildState": "IN_BETA_TESTING" if internal_testing else "READY_FOR_BETA_TESTING",
            "externalBuildState": external}


def update_build_beta_detail(call: Call) -> Reply:
    call.check_update_id()
    detail = call.target("buildBetaDetails")
    if call.attributes.get("autoNotifyEnabled") is not None:
        detail.attributes["autoNotifyEnabled"] = call.attributes["autoNotifyEnabled"]
    return call.ok(detail)


HANDLERS = {
    ("patch", "/v1/apps/{id}"): update_app,
    ("patch", "/v1/builds/{id}"): update_build,
    ("patch", "/v1/buildBetaDetails/{id}"): update_build_beta_detail,
}

FILTERS = {
    ("apps", "bundleId"): app_bundle_id_filter,
    ("betaTesters", "email"): email_filter,
    ("buildUploads", "state"): upload_state_filter,
}

