"""A build's whole TestFlight state (groups, testers, beta detail, What to Test, beta review) read with one GET
and `include` (protocol.md D), so the distribution compares against it instead of reading each part again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from publish.asc import AppStoreConnect, Document, Resource

# One GET of the build returns its whole TestFlight state (protocol.md D; `include` per the OpenAPI).
BUILD_TESTFLIGHT_INCLUDES = ("betaGroups", "individualTesters", "buildBetaDetail", "betaAppReviewSubmission",
                             "betaBuildLocalizations")
_INCLUDE_LIMIT = 50


@dataclass
class BuildTestFlightState:
    """The build's TestFlight state from one GET with includes (or from separate reads when not included)."""

    group_ids: set[str] | None  # None: not known (not included)
    tester_ids: set[str] | None
    beta_detail: Resource | None
    localizations: list[Resource] | None
    beta_review: Resource | None
    beta_review_known: bool


def read_build_with_testflight_state(client: AppStoreConnect, build_id: str) \
        -> tuple[Resource | None, BuildTestFlightState]:
    params: dict[str, Any] = {"include": list(BUILD_TESTFLIGHT_INCLUDES)}
    for rel in ("betaGroups", "individualTesters", "betaBuildLocalizations"):
        params[f"limit[{rel}]"] = _INCLUDE_LIMIT
    document = client.get_build_document(build_id, params)
    build = document.resource
    if build is None:
        return None, BuildTestFlightState(None, None, None, None, None, False)

    def linked(rel: str) -> list[str] | None:
        """Ids linked through `rel`; None when the answer does not say (not included, or cut at the limit)."""
        relationship = build.relationships.get(rel)
        if not isinstance(relationship, Mapping) or "data" not in relationship:
            return None
        ids = build.related_ids(rel)
        return None if isinstance(relationship["data"], list) and len(ids) >= _INCLUDE_LIMIT else ids

    groups, testers, loc_ids = linked("betaGroups"), linked("individualTesters"), linked("betaBuildLocalizations")
    detail_ids, review_ids = linked("buildBetaDetail"), linked("betaAppReviewSubmission")
    localizations = None
    if loc_ids is not None:
        found = [document.find_included("betaBuildLocalizations", i) for i in loc_ids]
        localizations = [r for r in found if r is not None] if all(found) else None
    review = _included(document, "betaAppReviewSubmissions", review_ids)
    return build, BuildTestFlightState(
        group_ids=set(groups) if groups is not None else None,
        tester_ids=set(testers) if testers is not None else None,
        beta_detail=_included(document, "buildBetaDetails", detail_ids),
        localizations=localizations,
        beta_review=review,
        beta_review_known=review_ids is not None and (not review_ids or review is not None),
    )


def _included(document: Document, type_: str, ids: Sequence[str] | None) -> Resource | None:
    if not ids:
        return None
    return document.find_included(type_, ids[0])
