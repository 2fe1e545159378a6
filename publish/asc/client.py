"""The App Store Connect API client as the steps and commands see it: one session (`session.AscSession`: the
transport pipeline, retries, pagination and the generic verbs) with the typed helpers of every area this product
uses mixed in. Each area is its own module so that none grows past what one reader keeps in mind:

- `apps`: the app by bundle ID;
- `builds`: builds and their trains, expiry, export compliance;
- `build_uploads`: the Build Upload API (uploads and their files);
- `testflight`: groups, testers, What to Test, notifications, beta app review;
- `app_store`: versions, localizations, phased release, review submissions, release requests.

Knows nothing of steps or the CLI.
"""

from __future__ import annotations

from publish.asc.app_store import AppStoreApi
from publish.asc.apps import AppsApi
from publish.asc.build_uploads import BuildUploadsApi
from publish.asc.builds import BuildsApi
from publish.asc.observe import OnCall, shown_url
from publish.asc.session import encode_params, new_session
from publish.asc.testflight import TestFlightApi

__all__ = ["AppStoreConnect", "OnCall", "encode_params", "new_session", "shown_url"]


class AppStoreConnect(AppsApi, BuildsApi, BuildUploadsApi, TestFlightApi, AppStoreApi):
    """App Store Connect API client: `AscSession` for the pipeline (its docstring), the area modules for the
    helpers. Construct it with an `ApiKey`; everything it depends on (transport, clock, sleep, random) is
    injectable."""
