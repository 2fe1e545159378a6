"""Typed helpers for the App Store (protocol.md E): versions, their build and localizations, phased
release and review submissions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from publish.asc.resources import Document, Resource
from publish.asc.session import PAGE_LIMIT, AscSession, boolean_attributes, camel_attributes, linkage
from publish.errors import InputError


class AppStoreApi(AscSession):
    def list_app_store_versions(self, app_id: str, *, platform: str | None = "IOS", version_string: str | None = None,
                                states: Sequence[str] | None = None) -> list[Resource]:
        """`states` filters on appVersionState (PREPARE_FOR_SUBMISSION, READY_FOR_REVIEW, ...)."""
        params: dict[str, Any] = {
            "filter[platform]": platform,
            "filter[versionString]": version_string,
            "filter[appVersionState]": list(states) if states else None,
            "limit": PAGE_LIMIT,
        }
        return list(self.paginate(f"/v1/apps/{app_id}/appStoreVersions", params))

    def app_store_version_pages(self, app_id: str, params: Mapping[str, Any] | None = None) -> Iterator[Document]:
        """Pages of the app's versions for a caller's own query, so included builds and phased releases come
        with each page."""
        return self.paginate_documents(f"/v1/apps/{app_id}/appStoreVersions", params)

    def get_app_store_version(self, version_id: str) -> Resource:
        return self._get_required(f"/v1/appStoreVersions/{version_id}")

    def create_app_store_version(self, app_id: str, *, platform: str, version_string: str,
                                 release_type: str | None = None, earliest_release_date: str | None = None) -> Resource:
        attributes: dict[str, Any] = {"platform": platform, "versionString": version_string}
        if release_type is not None:
            attributes["releaseType"] = release_type
        if earliest_release_date is not None:
            attributes["earliestReleaseDate"] = _on_the_hour(earliest_release_date)
        return self._create("appStoreVersions", attributes=attributes,
                            relationships={"app": linkage("apps", app_id)})

    def update_app_store_version(self, version_id: str, **attributes: Any) -> Resource:
        """PATCH attributes given in snake_case (release_type="SCHEDULED", earliest_release_date=..., ...)."""
        if not attributes:
            raise ValueError("update_app_store_version needs at least one attribute")
        if attributes.get("earliest_release_date") is not None:
            attributes = {**attributes, "earliest_release_date": _on_the_hour(attributes["earliest_release_date"])}
        return self._update("appStoreVersions", version_id, camel_attributes(attributes))

    def delete_app_store_version(self, version_id: str) -> None:
        self._delete(f"/v1/appStoreVersions/{version_id}")

    def get_app_store_version_build(self, version_id: str) -> Resource | None:
        return self._get_optional(f"/v1/appStoreVersions/{version_id}/build")

    def attach_build(self, version_id: str, build_id: str) -> None:
        self.request("PATCH", f"/v1/appStoreVersions/{version_id}/relationships/build",
                     json=linkage("builds", build_id), expect=(204, 200))

    def list_app_store_version_localizations(self, version_id: str, *, locale: str | None = None) -> list[Resource]:
        params = {"filter[locale]": locale, "limit": PAGE_LIMIT}
        return list(self.paginate(f"/v1/appStoreVersions/{version_id}/appStoreVersionLocalizations", params))

    def create_app_store_version_localization(self, version_id: str, locale: str, **attributes: Any) -> Resource:
        return self._create(
            "appStoreVersionLocalizations",
            attributes={"locale": locale, **camel_attributes(attributes)},
            relationships={"appStoreVersion": linkage("appStoreVersions", version_id)},
        )

    def update_app_store_version_localization(self, loc_id: str, **attributes: Any) -> Resource:
        if not attributes:
            raise ValueError("update_app_store_version_localization needs at least one attribute")
        return self._update("appStoreVersionLocalizations", loc_id, camel_attributes(attributes))

    # ------------------------------------------------------------------ phased release

    def get_phased_release(self, version_id: str) -> Resource | None:
        return self._get_optional(f"/v1/appStoreVersions/{version_id}/appStoreVersionPhasedRelease")

    def create_phased_release(self, version_id: str, state: str = "INACTIVE") -> Resource:
        return self._create(
            "appStoreVersionPhasedReleases",
            attributes={"phasedReleaseState": state},
            relationships={"appStoreVersion": linkage("appStoreVersions", version_id)},
        )

    def update_phased_release(self, id: str, state: str) -> Resource:
        return self._update("appStoreVersionPhasedReleases", id, {"phasedReleaseState": state})

    def delete_phased_release(self, id: str) -> None:
        self._delete(f"/v1/appStoreVersionPhasedReleases/{id}")

    def create_release_request(self, version_id: str) -> Resource:
        """Release a version that waits in PENDING_DEVELOPER_RELEASE (Apple refuses it in any other state)."""
        return self._create("appStoreVersionReleaseRequests",
                            relationships={"appStoreVersion": linkage("appStoreVersions", version_id)})

    # ------------------------------------------------------------------ review submissions

    def list_review_submissions(self, app_id: str, *, platform: str | None = "IOS",
                                states: Sequence[str] | None = None) -> list[Resource]:
        """Review submissions of the app (`filter[app]` is required by Apple). Each has
        `related_id("appStoreVersionForReview")` and `related_ids("items")` filled in."""
        params: dict[str, Any] = {
            "filter[app]": app_id,
            "filter[platform]": platform,
            "filter[state]": list(states) if states else None,
            "include": ["appStoreVersionForReview", "items"],
            "limit": PAGE_LIMIT,
        }
        return list(self.paginate("/v1/reviewSubmissions", params))

    def get_review_submission(self, submission_id: str) -> Resource:
        return self._get_required(f"/v1/reviewSubmissions/{submission_id}",
                                  {"include": ["appStoreVersionForReview", "items"]})

    def create_review_submission(self, app_id: str, *, platform: str = "IOS") -> Resource:
        return self._create("reviewSubmissions", attributes={"platform": platform},
                            relationships={"app": linkage("apps", app_id)})

    def list_review_submission_items(self, submission_id: str) -> list[Resource]:
        """Items of a submission; each has `related_id("appStoreVersion")` filled in."""
        params = {"include": "appStoreVersion", "limit": PAGE_LIMIT}
        return list(self.paginate(f"/v1/reviewSubmissions/{submission_id}/items", params))

    def create_review_submission_item(self, submission_id: str, version_id: str) -> Resource:
        return self._create(
            "reviewSubmissionItems",
            relationships={
                "reviewSubmission": linkage("reviewSubmissions", submission_id),
                "appStoreVersion": linkage("appStoreVersions", version_id),
            },
        )

    def delete_review_submission_item(self, item_id: str) -> None:
        self._delete(f"/v1/reviewSubmissionItems/{item_id}")

    def update_review_submission(self, submission_id: str, *, submitted: bool | None = None,
                                 canceled: bool | None = None) -> Resource:
        attributes = boolean_attributes("update_review_submission", submitted=submitted, canceled=canceled)
        return self._update("reviewSubmissions", submission_id, attributes)


def _on_the_hour(value: str) -> str:
    """App Store Connect refuses an earliestReleaseDate with minutes or seconds (protocol.md H5); whatever computed
    the date, such a value is never sent."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"earliestReleaseDate {value!r} is not an ISO 8601 date-time",
                         hint='give it like "2026-07-01T16:00:00Z"') from None
    if when.minute or when.second or when.microsecond:
        hour = when.replace(minute=0, second=0, microsecond=0)
        raise InputError(f"earliestReleaseDate {value} is not on the hour; App Store Connect schedules releases by "
                         "the hour only", hint=f"use {hour.isoformat()} or the hour after it")
    return value

