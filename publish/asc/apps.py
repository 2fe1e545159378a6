"""Typed helpers for apps (protocol.md B): finding the app by its bundle ID."""

from __future__ import annotations

from publish.asc.resources import Resource
from publish.asc.session import PAGE_LIMIT, AscSession


class AppsApi(AscSession):
    def find_app(self, bundle_id: str) -> Resource | None:
        """The app whose bundleId is exactly `bundle_id` (the filter also matches others, e.g. by prefix)."""
        for app in self.paginate("/v1/apps", {"filter[bundleId]": bundle_id, "limit": PAGE_LIMIT}):
            if app.attr("bundleId") == bundle_id:
                return app
        return None

    def get_app(self, app_id: str) -> Resource:
        return self._get_required(f"/v1/apps/{app_id}")
