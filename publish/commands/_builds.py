"""App Store Connect build queries for `versions --remote` and `delete --expire-build` (client only, no flow)."""

from __future__ import annotations

from typing import Any

from publish.asc.client import AppStoreConnect
from publish.asc.resources import Document, Resource
from publish.errors import RemoteError

# One request lists up to 200 builds with their TestFlight and App Store states (instead of three calls a build).
_BUILDS_PARAMS = {
    "include": "preReleaseVersion,buildBetaDetail,appStoreVersion",
    "sort": "-uploadedDate",
    "limit": "200",
}


def _summarize(build: Resource, page: Document) -> dict[str, Any]:
    pre_release = page.find_included("preReleaseVersions", build.related_id("preReleaseVersion"))
    beta = page.find_included("buildBetaDetails", build.related_id("buildBetaDetail"))
    store_version = page.find_included("appStoreVersions", build.related_id("appStoreVersion"))
    return {
        "version": pre_release.attr("version") if pre_release else None,
        "build_number": build.attr("version"),
        "build_id": build.id,
        "uploaded_date": build.attr("uploadedDate"),
        "processing_state": build.attr("processingState"),
        "expired": build.attr("expired"),
        "testflight_internal_state": beta.attr("internalBuildState") if beta else None,
        "testflight_external_state": beta.attr("externalBuildState") if beta else None,
        "app_store_version_id": store_version.id if store_version else build.related_id("appStoreVersion"),
        "app_store_version_state": (
            (store_version.attr("appVersionState") or store_version.attr("appStoreState")) if store_version else None
        ),
    }


def list_app_builds(client: AppStoreConnect, app_id: str) -> list[dict[str, Any]]:
    builds = []
    for page in client.build_pages({"filter[app]": app_id, **_BUILDS_PARAMS}):
        builds += [_summarize(build, page) for build in page.resources]
    return builds


def find_build_ids(client: AppStoreConnect, binaries: list[dict[str, Any]]) -> dict[str, str]:
    """fingerprint -> build id of each binary in App Store Connect; a RemoteError naming any not found."""
    found: dict[str, str] = {}
    missing: list[str] = []
    apps: dict[str, Resource | None] = {}
    for binary in binaries:
        recorded = (binary.get("remote") or {}).get("build_id")
        if recorded:
            found[binary["fingerprint"]] = str(recorded)
            continue
        bundle_id = binary["bundle_id"]
        if bundle_id not in apps:
            apps[bundle_id] = client.find_app(bundle_id)
        app = apps[bundle_id]
        match = None
        if app is not None:
            builds = client.list_builds(app.id, version=binary["version"], build_number=binary["build_number"])
            match = builds[0] if builds else None
        if match is None:
            missing.append(f"{bundle_id} {binary['version']} ({binary['build_number']})")
        else:
            found[binary["fingerprint"]] = match.id
    if missing:
        raise RemoteError(
            f"App Store Connect has no build for {', '.join(missing)}; nothing was expired or deleted",
            hint="check the API key's team, or delete without --expire-build to forget the version only locally",
        )
    return found
