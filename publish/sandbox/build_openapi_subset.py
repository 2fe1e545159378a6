"""Extract from Apple's OpenAPI description the operations the simulator serves, plus every component schema they
reference, into publish/sandbox/openapi-subset.json (a generated file, committed so the package ships without ../shared).

    python -m publish.sandbox.build_openapi_subset [PATH/TO/app-store-connect-openapi.json]

tests/test_sandbox_openapi.py checks that the committed subset equals what this script extracts now.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SUBSET_PATH = Path(__file__).with_name("openapi-subset.json")
DEFAULT_SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "asc" / "app-store-connect-openapi.json"

# (method, path template): exactly what the simulator serves; anything else is 404 (or 405 on a known path).
OPERATIONS: tuple[tuple[str, str], ...] = (
    # apps
    ("get", "/v1/apps"),
    ("get", "/v1/apps/{id}"),
    ("patch", "/v1/apps/{id}"),
    ("get", "/v1/apps/{id}/builds"),
    ("get", "/v1/apps/{id}/buildUploads"),
    ("get", "/v1/apps/{id}/preReleaseVersions"),
    ("get", "/v1/apps/{id}/betaGroups"),
    ("get", "/v1/apps/{id}/appStoreVersions"),
    ("get", "/v1/apps/{id}/reviewSubmissions"),
    # pre-release versions and builds
    ("get", "/v1/preReleaseVersions"),
    ("get", "/v1/preReleaseVersions/{id}"),
    ("get", "/v1/preReleaseVersions/{id}/app"),
    ("get", "/v1/preReleaseVersions/{id}/builds"),
    ("get", "/v1/builds"),
    ("get", "/v1/builds/{id}"),
    ("patch", "/v1/builds/{id}"),
    ("get", "/v1/builds/{id}/app"),
    ("get", "/v1/builds/{id}/preReleaseVersion"),
    ("get", "/v1/builds/{id}/buildBetaDetail"),
    ("get", "/v1/builds/{id}/betaBuildLocalizations"),
    ("get", "/v1/builds/{id}/betaAppReviewSubmission"),
    ("get", "/v1/builds/{id}/appStoreVersion"),
    ("get", "/v1/builds/{id}/individualTesters"),
    ("post", "/v1/builds/{id}/relationships/betaGroups"),
    ("delete", "/v1/builds/{id}/relationships/betaGroups"),
    ("get", "/v1/builds/{id}/relationships/individualTesters"),
    ("post", "/v1/builds/{id}/relationships/individualTesters"),
    ("delete", "/v1/builds/{id}/relationships/individualTesters"),
    # build uploads
    ("post", "/v1/buildUploads"),
    ("get", "/v1/buildUploads/{id}"),
    ("delete", "/v1/buildUploads/{id}"),
    ("get", "/v1/buildUploads/{id}/buildUploadFiles"),
    ("post", "/v1/buildUploadFiles"),
    ("get", "/v1/buildUploadFiles/{id}"),
    ("patch", "/v1/buildUploadFiles/{id}"),
    # TestFlight
    ("get", "/v1/betaGroups"),
    ("post", "/v1/betaGroups"),
    ("get", "/v1/betaGroups/{id}"),
    ("get", "/v1/betaGroups/{id}/builds"),
    ("get", "/v1/betaGroups/{id}/betaTesters"),
    ("post", "/v1/betaGroups/{id}/relationships/builds"),
    ("delete", "/v1/betaGroups/{id}/relationships/builds"),
    ("post", "/v1/betaGroups/{id}/relationships/betaTesters"),
    ("delete", "/v1/betaGroups/{id}/relationships/betaTesters"),
    ("get", "/v1/betaTesters"),
    ("post", "/v1/betaTesters"),
    ("get", "/v1/betaTesters/{id}"),
    ("delete", "/v1/betaTesters/{id}"),
    ("get", "/v1/betaBuildLocalizations"),
    ("post", "/v1/betaBuildLocalizations"),
    ("get", "/v1/betaBuildLocalizations/{id}"),
    ("patch", "/v1/betaBuildLocalizations/{id}"),
    ("delete", "/v1/betaBuildLocalizations/{id}"),
    ("get", "/v1/buildBetaDetails"),
    ("get", "/v1/buildBetaDetails/{id}"),
    ("patch", "/v1/buildBetaDetails/{id}"),
    ("post", "/v1/buildBetaNotifications"),
    ("get", "/v1/betaAppReviewSubmissions"),
    ("post", "/v1/betaAppReviewSubmissions"),
    ("get", "/v1/betaAppReviewSubmissions/{id}"),
    ("get", "/v1/apps/{id}/betaAppReviewDetail"),
    ("get", "/v1/apps/{id}/betaAppLocalizations"),
    ("get", "/v1/betaAppReviewDetails/{id}"),
    ("patch", "/v1/betaAppReviewDetails/{id}"),
    ("get", "/v1/betaAppLocalizations"),
    ("post", "/v1/betaAppLocalizations"),
    ("get", "/v1/betaAppLocalizations/{id}"),
    ("patch", "/v1/betaAppLocalizations/{id}"),
    # App Store
    ("post", "/v1/appStoreVersions"),
    ("get", "/v1/appStoreVersions/{id}"),
    ("patch", "/v1/appStoreVersions/{id}"),
    ("delete", "/v1/appStoreVersions/{id}"),
    ("get", "/v1/appStoreVersions/{id}/build"),
    ("get", "/v1/appStoreVersions/{id}/relationships/build"),
    ("patch", "/v1/appStoreVersions/{id}/relationships/build"),
    ("get", "/v1/appStoreVersions/{id}/appStoreVersionLocalizations"),
    ("get", "/v1/appStoreVersions/{id}/appStoreVersionPhasedRelease"),
    ("post", "/v1/appStoreVersionLocalizations"),
    ("get", "/v1/appStoreVersionLocalizations/{id}"),
    ("patch", "/v1/appStoreVersionLocalizations/{id}"),
    ("delete", "/v1/appStoreVersionLocalizations/{id}"),
    ("post", "/v1/appStoreVersionPhasedReleases"),
    ("patch", "/v1/appStoreVersionPhasedReleases/{id}"),
    ("delete", "/v1/appStoreVersionPhasedReleases/{id}"),
    ("post", "/v1/appStoreVersionReleaseRequests"),
    ("get", "/v1/reviewSubmissions"),
    ("post", "/v1/reviewSubmissions"),
    ("get", "/v1/reviewSubmissions/{id}"),
    ("patch", "/v1/reviewSubmissions/{id}"),
    ("get", "/v1/reviewSubmissions/{id}/items"),
    ("post", "/v1/reviewSubmissionItems"),
    ("delete", "/v1/reviewSubmissionItems/{id}"),
)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                found.add(ref.rsplit("/", 1)[1])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """The subset document: served operations, and the closure of the component schemas they reference."""
    paths: dict[str, dict[str, Any]] = {}
    for method, template in OPERATIONS:
        try:
            paths.setdefault(template, {})[method] = spec["paths"][template][method]
        except KeyError:
            raise SystemExit(f"{method.upper()} {template} is not in the OpenAPI description; fix OPERATIONS") from None
    all_schemas = spec["components"]["schemas"]
    wanted = _refs(paths) | {"ErrorResponse"}
    todo = list(wanted)
    while todo:
        for name in _refs(all_schemas[todo.pop()]) - wanted:
            wanted.add(name)
            todo.append(name)
    return {
        "openapi": spec["openapi"],
        "info": {**spec.get("info", {}), "description": "Subset served by the appstore-publish simulator."},
        "paths": {template: dict(sorted(ops.items())) for template, ops in sorted(paths.items())},
        "components": {"schemas": {name: all_schemas[name] for name in sorted(wanted)}},
    }


def render(subset: dict[str, Any]) -> str:
    return json.dumps(subset, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else DEFAULT_SOURCE
    SUBSET_PATH.write_text(render(extract(json.loads(source.read_text()))))
    print(f"wrote {SUBSET_PATH} from {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
