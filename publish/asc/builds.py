"""Typed helpers for builds and their trains (pre-release versions): listing, reading, expiring, the
export compliance answer (protocol.md C, F)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from publish.asc.resources import Document, Resource
from publish.asc.session import ALL_BUILD_STATES, PAGE_LIMIT, AscSession, boolean_attributes


class BuildsApi(AscSession):
    def list_builds(
        self,
        app_id: str,
        *,
        version: str | None = None,
        build_number: str | None = None,
        processing_states: Sequence[str] | None = None,
        platform: str | None = None,
        pre_release_version_id: str | None = None,
    ) -> list[Resource]:
        """Builds of an app, newest upload first. `version` is the marketing version (CFBundleShortVersionString),
        `build_number` the CFBundleVersion. (`/v1/apps/{id}/builds` accepts no filters, hence `/v1/builds`.)"""
        params: dict[str, Any] = {
            "filter[app]": app_id,
            "filter[preReleaseVersion.version]": version,
            "filter[version]": build_number,
            "filter[preReleaseVersion.platform]": platform,
            "filter[preReleaseVersion]": pre_release_version_id,
            "filter[processingState]": list(processing_states or ALL_BUILD_STATES),
            "sort": "-uploadedDate",
            "limit": PAGE_LIMIT,
        }
        return list(self.paginate("/v1/builds", params))

    def get_build(self, build_id: str, *, include: Sequence[str] | None = None) -> Resource:
        params = {"include": list(include)} if include else None
        return self._get_required(f"/v1/builds/{build_id}", params)

    def update_build(self, build_id: str, *, uses_non_exempt_encryption: bool | None = None,
                     expired: bool | None = None) -> Resource:
        attributes = boolean_attributes("update_build", uses_non_exempt_encryption=uses_non_exempt_encryption,
                                        expired=expired)
        return self._update("builds", build_id, attributes)

    def find_pre_release_version(self, app_id: str, version: str, platform: str = "IOS") -> Resource | None:
        params = {"filter[app]": app_id, "filter[version]": version, "filter[platform]": platform,
                  "limit": PAGE_LIMIT}
        for train in self.paginate("/v1/preReleaseVersions", params):
            if train.attr("version") == version and train.attr("platform", platform) == platform:
                return train
        return None

    def pre_release_versions(self, app_id: str, *, platform: str | None = "IOS") -> Iterator[Resource]:
        """The app's trains of one platform (None: of every platform), page by page as they are read (a caller
        that finds its train stops reading). Not filtered by version: only the form first uploaded is queryable
        (protocol.md H.8)."""
        params = {"filter[app]": app_id, "filter[platform]": platform, "limit": PAGE_LIMIT}
        return self.paginate("/v1/preReleaseVersions", params)

    def build_pages(self, params: Mapping[str, Any]) -> Iterator[Document]:
        """Pages of `GET /v1/builds` for a caller's own query (filters, include, sort), so that included resources
        (the train, the beta detail) come with each page."""
        return self.paginate_documents("/v1/builds", params)

    def get_build_document(self, build_id: str, params: Mapping[str, Any] | None = None) -> Document:
        """The build with what `params` includes (groups, testers, localizations ...); `data` null if it is gone."""
        return self.get_document(f"/v1/builds/{build_id}", params)
