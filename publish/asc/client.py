"""The App Store Connect API client: one pooled HTTPS session, JWT auth, careful retries, JSON:API documents, and
small typed helpers for the resources this product uses (protocol.md B-F). Knows nothing of steps or the CLI.

Retry policy (why it is safe):
- GET/HEAD/PUT/DELETE are idempotent: retried on connection errors, timeouts, 5xx and 429 with exponential backoff
  and full jitter, honouring `Retry-After`, at most `max_retries` times.
- POST/PATCH are never retried blindly. If the connection breaks or the server fails (5xx) mid-write, nobody knows
  whether it happened, so `AscAmbiguousWriteError` is raised and the caller re-reads the state before writing again.
  Only failures that prove nothing reached the server (connection refused, connect timeout, 429) are retried.
- A 401 means nothing was done: the token is re-signed and the call repeated once, whatever the method.
"""

from __future__ import annotations

import itertools
import json as jsonlib
import logging
import random as random_module
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from publish.asc.auth import ApiKey, TokenProvider
from publish.asc.errors import AscAmbiguousWriteError, AscApiError, AscTransportError, api_error
from publish.asc.resources import Document, Resource
from publish.asc.transport import (
    DEFAULT_BASE_URL,
    backoff_delay,
    is_loopback_host,
    origin,
    parse_rate_limit,
    parse_retry_after,
    validate_base_url,
)
from publish.errors import RemoteError

log = logging.getLogger(__name__)

OnCall = Callable[[str, str, Any], None]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
PAGE_LIMIT = 200
# Every build processing state: without the filter App Store Connect may leave builds still processing out.
ALL_BUILD_STATES = ("PROCESSING", "FAILED", "INVALID", "VALID")
POOL_SIZE = 10
USER_AGENT = "appstore-publish (+https://github.com/; python-requests)"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {_camel(key): value for key, value in attributes.items()}


def _linkage(type_: str, id_: str) -> dict[str, Any]:
    return {"data": {"type": type_, "id": str(id_)}}


def _filter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_filter_value(v) for v in value)
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters in order; lists become comma-separated values (the OpenAPI's form/explode=false style)."""
    return [(k, _filter_value(v)) for k, v in (params or {}).items() if v is not None]


def _never_sent(exc: BaseException) -> bool:
    """True when the request provably never reached the server (so even a POST may be sent again)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, NewConnectionError)
    return False


def new_session(*, loopback: bool = False) -> requests.Session:
    """A pooled session. For the loopback simulator, proxy variables from the environment are ignored (an
    HTTP_PROXY set for the CI network must not swallow requests to 127.0.0.1)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if loopback:
        session.trust_env = False
    return session


class AppStoreConnect:
    """App Store Connect API client. See the module docstring for the retry policy."""

    BACKOFF_BASE = 1.0
    BACKOFF_CAP = 30.0
    # A Retry-After longer than this is not slept through (a run must not hang for an hour on the rate limit):
    # the error is raised with the wait in its message instead.
    MAX_RETRY_AFTER = 120.0
    LOW_RATE_LIMIT = 100

    def __init__(
        self,
        api_key: ApiKey,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = (10, 60),
        max_retries: int = 5,
        dry_run: bool = False,
        on_call: OnCall | None = None,
        random: random_module.Random | None = None,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self._origin = origin(self.base_url)
        self._tokens = TokenProvider(api_key, clock)
        self.key_id = api_key.key_id
        self._session = session if session is not None else new_session(
            loopback=is_loopback_host(urlsplit(self.base_url).hostname or "")
        )
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.dry_run = dry_run
        self._on_call = on_call
        self._random = random if random is not None else random_module.Random()
        self._lock = threading.Lock()
        self._dry_run_ids = itertools.count(1)
        self._rate_limit_warned_at: int | None = None
        self.call_count = 0
        self.rate_limit_remaining: int | None = None
        self.rate_limit_limit: int | None = None

    def __repr__(self) -> str:
        return f"AppStoreConnect(base_url={self.base_url!r}, key_id={self.key_id!r}, dry_run={self.dry_run})"

    @property
    def tokens(self) -> TokenProvider:
        return self._tokens

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> AppStoreConnect:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ low level

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect: Sequence[int] = (200,),
    ) -> dict[str, Any] | None:
        """Send one API call and return the decoded JSON (None for 204 / an empty body).

        `path` is `/v1/...` (joined to the base URL) or a full URL on the same host (a `links.next`).
        Raises an `AscApiError` subclass for an error answer, `AscTransportError` when no answer came,
        `AscAmbiguousWriteError` when a POST/PATCH may or may not have been applied.
        """
        method = method.upper()
        url = self._url(path)
        query = encode_params(params)
        shown = self._shown(url, query)
        if self.dry_run:
            return self._dry_run(method, shown, json)
        return self._send(method, url, query, json, tuple(expect), shown)

    def _full_url(self, shown: str) -> str:
        scheme, _, _ = self._origin
        return f"{scheme}://{urlsplit(self.base_url).netloc}{shown}"

    def get_document(self, path: str, params: Mapping[str, Any] | None = None) -> Document:
        return Document.from_json(self.request("GET", path, params=params))

    def paginate_documents(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Document]:
        """Every page of a list, following `links.next` exactly as given."""
        document = self.get_document(path, params)
        seen: set[str] = set()
        while True:
            yield document
            next_url = document.next_url
            if not next_url or next_url in seen:
                return
            seen.add(next_url)
            document = self.get_document(next_url)

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Resource]:
        for document in self.paginate_documents(path, params):
            yield from document.resources

    # ------------------------------------------------------------------ transport

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if origin(path) != self._origin:
                raise AscTransportError(
                    f"App Store Connect sent a link to another host ({urlsplit(path).netloc}) than the API base URL "
                    f"({urlsplit(self.base_url).netloc}); refusing to send the API token there.",
                    hint="If you use a proxy or the simulator, make sure it reports its own address in links.",
                )
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def _shown(self, url: str, query: list[tuple[str, str]]) -> str:
        """The URL as logged and reported: path and query, without the base (it never holds a secret)."""
        parts = urlsplit(url)
        shown = parts.path
        extra = urlencode(query, safe="[],:")
        if parts.query:
            shown += "?" + parts.query + ("&" + extra if extra else "")
        elif extra:
            shown += "?" + extra
        return shown

    def _notify(self, method: str, shown: str, body: Any) -> None:
        """Report a call to `on_call` as (method, full URL with query, JSON body or None)."""
        if self._on_call is not None:
            self._on_call(method, self._full_url(shown), body)

    def _dry_run(self, method: str, shown: str, body: Any) -> dict[str, Any] | None:
        self._notify(method, shown, body)
        log.info("dry run: would %s %s%s", method, shown, f" {jsonlib.dumps(body, sort_keys=True)}" if body else "")
        if method not in ("POST", "PATCH") or not isinstance(body, Mapping):
            return None
        data = body.get("data")
        if not isinstance(data, Mapping) or "type" not in data:
            return None  # a relationship change: 204 No Content
        resource = {
            "type": data["type"],
            "id": data.get("id") or f"dry-run-{data['type']}-{next(self._dry_run_ids)}",
            "attributes": dict(data.get("attributes") or {}),
            "relationships": dict(data.get("relationships") or {}),
        }
        return {"data": resource}

    def _send(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        body: Any,
        expect: tuple[int, ...],
        shown: str,
    ) -> dict[str, Any] | None:
        idempotent = method in IDEMPOTENT_METHODS
        data = jsonlib.dumps(body).encode() if body is not None else None
        retries = 0
        reauthenticated = False
        while True:
            headers = {
                "Authorization": f"Bearer {self._tokens.token()}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
            if data is not None:
                headers["Content-Type"] = "application/json"
            self._notify(method, shown, body)
            with self._lock:
                self.call_count += 1
            started = time.monotonic()
            try:
                response = self._session.request(
                    method, url, params=query or None, data=data, headers=headers,
                    timeout=self._timeout, allow_redirects=False,
                )
            except requests.RequestException as exc:
                elapsed = time.monotonic() - started
                never_sent = _never_sent(exc)
                log.debug("%s %s -> %s after %.0f ms", method, shown, type(exc).__name__, elapsed * 1000)
                if (idempotent or never_sent) and retries < self.max_retries:
                    delay = backoff_delay(retries, self._random, base=self.BACKOFF_BASE, cap=self.BACKOFF_CAP)
                    log.warning("%s %s failed (%s); retrying in %.1f s", method, shown, _describe(exc), delay)
                    self._sleep(delay)
                    retries += 1
                    continue
                if not idempotent and not never_sent:
                    raise AscAmbiguousWriteError(
                        f"The connection broke during {method} {shown} ({_describe(exc)}); App Store Connect may "
                        "or may not have applied it.",
                        hint="Run again: the current state is read before anything is created again.",
                        method=method, path=shown, cause=exc,
                    ) from None
                raise AscTransportError(
                    f"Could not reach App Store Connect for {method} {shown}"
                    f"{f' after {retries + 1} attempts' if retries else ''}: {_describe(exc)}.",
                    hint=f"Check the network connection and the base URL ({self.base_url}); try again later.",
                ) from None

            elapsed = time.monotonic() - started
            status = response.status_code
            log.debug("%s %s -> %d in %.0f ms", method, shown, status, elapsed * 1000)
            if body is not None and log.isEnabledFor(logging.DEBUG):
                log.debug("  request body: %s", jsonlib.dumps(body, sort_keys=True))
            self._record_rate_limit(response)

            if status in expect:
                return self._decode(response, method, shown)
            if status == 401 and not reauthenticated:
                # The token may have expired in flight or been refused: nothing was done, so sign anew once.
                log.info("%s %s -> 401; signing a fresh token and trying once more", method, shown)
                self._tokens.invalidate()
                reauthenticated = True
                continue
            if status == 404 and method == "DELETE" and retries > 0:
                # An earlier attempt was applied but its answer was lost: the resource is gone, as asked.
                return None
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
                retryable = idempotent or status == 429  # a 429 was refused before anything happened
                if retryable and retries < self.max_retries and (retry_after or 0) <= self.MAX_RETRY_AFTER:
                    delay = backoff_delay(retries, self._random, base=self.BACKOFF_BASE, cap=self.BACKOFF_CAP)
                    if retry_after is not None:
                        delay = retry_after
                    log.warning("%s %s -> %d; retrying in %.1f s (attempt %d of %d)", method, shown, status,
                                delay, retries + 2, self.max_retries + 1)
                    self._sleep(delay)
                    retries += 1
                    continue
                error = api_error(status, response.content, method=method, path=shown, reason=response.reason or "",
                                  retry_after=retry_after)
                if status >= 500 and not idempotent:
                    raise AscAmbiguousWriteError(
                        f"{error.message}\nApp Store Connect may or may not have applied this {method}.",
                        hint="Run again: the current state is read before anything is created again.",
                        method=method, path=shown, cause=error,
                    ) from None
                raise error
            raise api_error(status, response.content, method=method, path=shown, reason=response.reason or "")

    def _decode(self, response: requests.Response, method: str, shown: str) -> dict[str, Any] | None:
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            decoded = response.json()
        except ValueError:
            message = (f"App Store Connect answered {method} {shown} with HTTP {response.status_code} but the body is "
                       f"not JSON (Content-Type {response.headers.get('Content-Type', 'unknown')}).")
            hint = "A proxy or captive portal may be in the way; check the base URL and the network."
            if method in IDEMPOTENT_METHODS:
                raise AscTransportError(message, hint=hint) from None
            raise AscAmbiguousWriteError(message, hint=hint, method=method, path=shown) from None
        if not isinstance(decoded, dict):
            raise AscTransportError(f"App Store Connect answered {method} {shown} with JSON that is not an object.")
        return decoded

    def _record_rate_limit(self, response: requests.Response) -> None:
        header = response.headers.get("X-Rate-Limit")
        if not header:
            return
        values = parse_rate_limit(header)
        remaining = values.get("user-hour-rem")
        limit = values.get("user-hour-lim")
        with self._lock:
            if limit is not None:
                self.rate_limit_limit = limit
            if remaining is None:
                return
            self.rate_limit_remaining = remaining
            low = remaining < self.LOW_RATE_LIMIT or (limit is not None and remaining < limit * 0.1)
            if not low:
                self._rate_limit_warned_at = None
                return
            # Warn when it first gets low, then every further 10% of what was left, not on every call.
            last = self._rate_limit_warned_at
            if last is not None and remaining > last * 0.9 and remaining != 0:
                return
            self._rate_limit_warned_at = remaining
        log.warning(
            "App Store Connect rate limit is low: %d of %s requests left for this API key in the rolling hour",
            remaining, limit if limit is not None else "?",
        )

    # ------------------------------------------------------------------ helpers for helpers

    def _resource(self, obj: dict[str, Any] | None, what: str) -> Resource:
        if obj is None and self.dry_run:
            raise RemoteError(f"dry run: {what} is not available without calling App Store Connect")
        document = Document.from_json(obj)
        if document.resource is None:
            raise RemoteError(f"App Store Connect answered {what} without a resource (data is missing).")
        return document.resource

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Resource | None:
        return self.get_document(path, params).resource

    def _get_required(self, path: str, params: Mapping[str, Any] | None = None) -> Resource:
        """A resource that must exist (a 404 raises AscNotFoundError). In dry-run mode nothing is read: None."""
        resource = self._get(path, params)
        if resource is None and not self.dry_run:
            raise RemoteError(f"App Store Connect answered GET {path} without a resource (data is null).")
        return resource  # type: ignore[return-value]

    def _get_optional(self, path: str, params: Mapping[str, Any] | None = None) -> Resource | None:
        """A to-one related resource that may not exist: data null (or a 404 on the related path) -> None."""
        try:
            return self._get(path, params)
        except AscApiError as error:
            if error.status == 404:
                return None
            raise

    def _create(self, type_: str, *, attributes: Mapping[str, Any] | None = None,
                relationships: Mapping[str, Any] | None = None) -> Resource:
        data: dict[str, Any] = {"type": type_}
        if attributes is not None:
            data["attributes"] = dict(attributes)
        if relationships:
            data["relationships"] = dict(relationships)
        path = f"/v1/{type_}"
        return self._resource(self.request("POST", path, json={"data": data}, expect=(201, 200)), f"POST {path}")

    def _update(self, type_: str, id_: str, attributes: Mapping[str, Any]) -> Resource:
        path = f"/v1/{type_}/{id_}"
        body = {"data": {"type": type_, "id": str(id_), "attributes": dict(attributes)}}
        return self._resource(self.request("PATCH", path, json=body, expect=(200,)), f"PATCH {path}")

    def _delete(self, path: str) -> None:
        self.request("DELETE", path, expect=(204, 200))

    def _link(self, method: str, path: str, type_: str, ids: Iterable[str]) -> None:
        ids = [str(i) for i in ids]
        if not ids:
            return
        self.request(method, path, json={"data": [{"type": type_, "id": i} for i in ids]}, expect=(204, 200))

    # ------------------------------------------------------------------ apps

    def find_app(self, bundle_id: str) -> Resource | None:
        """The app whose bundleId is exactly `bundle_id` (the filter also matches others, e.g. by prefix)."""
        for app in self.paginate("/v1/apps", {"filter[bundleId]": bundle_id, "limit": PAGE_LIMIT}):
            if app.attr("bundleId") == bundle_id:
                return app
        return None

    def get_app(self, app_id: str) -> Resource:
        return self._get_required(f"/v1/apps/{app_id}")

    # ------------------------------------------------------------------ builds

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
        attributes: dict[str, Any] = {}
        if uses_non_exempt_encryption is not None:
            attributes["usesNonExemptEncryption"] = bool(uses_non_exempt_encryption)
        if expired is not None:
            attributes["expired"] = bool(expired)
        if not attributes:
            raise ValueError("update_build needs uses_non_exempt_encryption or expired")
        return self._update("builds", build_id, attributes)

    def find_pre_release_version(self, app_id: str, version: str, platform: str = "IOS") -> Resource | None:
        params = {"filter[app]": app_id, "filter[version]": version, "filter[platform]": platform,
                  "limit": PAGE_LIMIT}
        for train in self.paginate("/v1/preReleaseVersions", params):
            if train.attr("version") == version and train.attr("platform", platform) == platform:
                return train
        return None

    # ------------------------------------------------------------------ build uploads

    def list_build_uploads(
        self,
        app_id: str,
        *,
        version: str | None = None,
        states: Sequence[str] | None = None,
        build_number: str | None = None,
        platform: str | None = None,
    ) -> list[Resource]:
        params: dict[str, Any] = {
            "filter[cfBundleShortVersionString]": version,
            "filter[cfBundleVersion]": build_number,
            "filter[platform]": platform,
            "filter[state]": list(states) if states else None,
            "limit": PAGE_LIMIT,
        }
        # AWAITING_UPLOAD uploads have no uploadedDate, so only sort by it when they are filtered out (as asc does).
        if states and "AWAITING_UPLOAD" not in states:
            params["sort"] = "-uploadedDate"
        return list(self.paginate(f"/v1/apps/{app_id}/buildUploads", params))

    def create_build_upload(self, app_id: str, *, version: str, build_number: str, platform: str = "IOS") -> Resource:
        return self._create(
            "buildUploads",
            attributes={"cfBundleShortVersionString": str(version), "cfBundleVersion": str(build_number),
                        "platform": platform},
            relationships={"app": _linkage("apps", app_id)},
        )

    def get_build_upload(self, upload_id: str, *, include_build: bool = False) -> Document:
        return self.get_document(f"/v1/buildUploads/{upload_id}", {"include": "build"} if include_build else None)

    def delete_build_upload(self, upload_id: str) -> None:
        self._delete(f"/v1/buildUploads/{upload_id}")

    def create_build_upload_file(self, upload_id: str, *, file_name: str, file_size: int, uti: str = "com.apple.ipa",
                                 asset_type: str = "ASSET") -> Resource:
        return self._create(
            "buildUploadFiles",
            attributes={"fileName": file_name, "fileSize": int(file_size), "uti": uti, "assetType": asset_type},
            relationships={"buildUpload": _linkage("buildUploads", upload_id)},
        )

    def get_build_upload_file(self, file_id: str) -> Resource:
        return self._get_required(f"/v1/buildUploadFiles/{file_id}")

    def list_build_upload_files(self, upload_id: str) -> list[Resource]:
        return list(self.paginate(f"/v1/buildUploads/{upload_id}/buildUploadFiles", {"limit": PAGE_LIMIT}))

    def commit_build_upload_file(self, file_id: str) -> Resource:
        """Mark the file uploaded with `{"uploaded": true}` alone, as every working client does: Apple refuses a
        client `sourceFileChecksums` here (409, protocol.md H.7) and computes its own; our digest stays local."""
        return self._update("buildUploadFiles", file_id, {"uploaded": True})

    # ------------------------------------------------------------------ TestFlight

    def list_beta_groups(self, app_id: str, *, name: str | None = None) -> list[Resource]:
        params = {"filter[app]": app_id, "filter[name]": name, "limit": PAGE_LIMIT}
        return list(self.paginate("/v1/betaGroups", params))

    def add_build_to_beta_groups(self, build_id: str, group_ids: Iterable[str]) -> None:
        self._link("POST", f"/v1/builds/{build_id}/relationships/betaGroups", "betaGroups", group_ids)

    def remove_build_from_beta_groups(self, build_id: str, group_ids: Iterable[str]) -> None:
        self._link("DELETE", f"/v1/builds/{build_id}/relationships/betaGroups", "betaGroups", group_ids)

    def find_beta_tester(self, email: str, app_id: str | None = None) -> Resource | None:
        """The tester with this email (compared case-insensitively), among the app's testers when app_id is given."""
        params = {"filter[email]": email, "filter[apps]": app_id, "limit": PAGE_LIMIT}
        wanted = email.strip().lower()
        for tester in self.paginate("/v1/betaTesters", params):
            if str(tester.attr("email", "")).strip().lower() == wanted:
                return tester
        return None

    def create_beta_tester(self, email: str, *, first_name: str | None = None, last_name: str | None = None,
                           build_ids: Iterable[str] = (), group_ids: Iterable[str] = ()) -> Resource:
        attributes: dict[str, Any] = {"email": email}
        if first_name is not None:
            attributes["firstName"] = first_name
        if last_name is not None:
            attributes["lastName"] = last_name
        relationships: dict[str, Any] = {}
        builds = [{"type": "builds", "id": str(i)} for i in build_ids]
        groups = [{"type": "betaGroups", "id": str(i)} for i in group_ids]
        if builds:
            relationships["builds"] = {"data": builds}
        if groups:
            relationships["betaGroups"] = {"data": groups}
        return self._create("betaTesters", attributes=attributes, relationships=relationships)

    def add_individual_testers(self, build_id: str, tester_ids: Iterable[str]) -> None:
        self._link("POST", f"/v1/builds/{build_id}/relationships/individualTesters", "betaTesters", tester_ids)

    def list_beta_build_localizations(self, build_id: str, *, locale: str | None = None) -> list[Resource]:
        params = {"filter[build]": build_id, "filter[locale]": locale, "limit": PAGE_LIMIT}
        return list(self.paginate("/v1/betaBuildLocalizations", params))

    def create_beta_build_localization(self, build_id: str, locale: str, whats_new: str | None) -> Resource:
        return self._create("betaBuildLocalizations", attributes={"locale": locale, "whatsNew": whats_new},
                            relationships={"build": _linkage("builds", build_id)})

    def update_beta_build_localization(self, loc_id: str, whats_new: str | None) -> Resource:
        return self._update("betaBuildLocalizations", loc_id, {"whatsNew": whats_new})

    def get_build_beta_detail(self, build_id: str) -> Resource:
        return self._get_required(f"/v1/builds/{build_id}/buildBetaDetail")

    def update_build_beta_detail(self, detail_id: str, *, auto_notify_enabled: bool) -> Resource:
        return self._update("buildBetaDetails", detail_id, {"autoNotifyEnabled": bool(auto_notify_enabled)})

    def create_build_beta_notification(self, build_id: str) -> Resource:
        return self._create("buildBetaNotifications", relationships={"build": _linkage("builds", build_id)})

    def list_beta_app_review_submissions(self, build_id: str) -> list[Resource]:
        params = {"filter[build]": build_id, "limit": PAGE_LIMIT}
        return list(self.paginate("/v1/betaAppReviewSubmissions", params))

    def create_beta_app_review_submission(self, build_id: str) -> Resource:
        return self._create("betaAppReviewSubmissions", relationships={"build": _linkage("builds", build_id)})

    def list_builds_in_beta_review(self, app_id: str) -> list[Resource]:
        """The app's unexpired builds waiting for or in beta review (Apple reviews one at a time: H.3), with
        their preReleaseVersion included (for the version number)."""
        params = {"filter[app]": app_id, "filter[expired]": "false", "include": "preReleaseVersion",
                  "filter[betaAppReviewSubmission.betaReviewState]": ["WAITING_FOR_REVIEW", "IN_REVIEW"],
                  "limit": PAGE_LIMIT}
        found: list[Resource] = []
        try:
            documents = list(self.paginate_documents("/v1/builds", params))
        except AscApiError as error:
            if error.status != 400:
                raise
            # A server without that filter: the app's recent builds with their beta detail say it too.
            params = {"filter[app]": app_id, "filter[expired]": "false", "sort": "-uploadedDate", "limit": 50,
                      "include": "preReleaseVersion,buildBetaDetail"}
            documents = [self.get_document("/v1/builds", params)]
            for document in documents:
                keep = []
                for build in document.resources:
                    detail = document.find_included("buildBetaDetails", build.related_id("buildBetaDetail"))
                    if detail is not None and detail.attr("externalBuildState") in ("WAITING_FOR_BETA_REVIEW",
                                                                                     "IN_BETA_REVIEW"):
                        keep.append(build)
                document.data = keep
        for document in documents:
            for build in document.resources:
                train_id = build.related_id("preReleaseVersion")
                train = document.find_included("preReleaseVersions", train_id) if train_id else None
                if train is not None:
                    build.attributes.setdefault("cfBundleShortVersionString", train.attr("version"))
                found.append(build)
        return found

    def get_beta_app_review_detail(self, app_id: str) -> Resource:
        return self._get_required(f"/v1/apps/{app_id}/betaAppReviewDetail")

    def update_beta_app_review_detail(self, detail_id: str, **attributes: Any) -> Resource:
        return self._update("betaAppReviewDetails", detail_id, _camel_attributes(attributes))

    def list_beta_app_localizations(self, app_id: str) -> list[Resource]:
        return list(self.paginate(f"/v1/apps/{app_id}/betaAppLocalizations", {"limit": PAGE_LIMIT}))

    def create_beta_app_localization(self, app_id: str, locale: str, **attributes: Any) -> Resource:
        return self._create("betaAppLocalizations", attributes={"locale": locale, **_camel_attributes(attributes)},
                            relationships={"app": _linkage("apps", app_id)})

    def update_beta_app_localization(self, localization_id: str, **attributes: Any) -> Resource:
        return self._update("betaAppLocalizations", localization_id, _camel_attributes(attributes))

    # ------------------------------------------------------------------ App Store versions

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

    def get_app_store_version(self, version_id: str) -> Resource:
        return self._get_required(f"/v1/appStoreVersions/{version_id}")

    def create_app_store_version(self, app_id: str, *, platform: str, version_string: str,
                                 release_type: str | None = None, earliest_release_date: str | None = None) -> Resource:
        attributes: dict[str, Any] = {"platform": platform, "versionString": version_string}
        if release_type is not None:
            attributes["releaseType"] = release_type
        if earliest_release_date is not None:
            attributes["earliestReleaseDate"] = earliest_release_date
        return self._create("appStoreVersions", attributes=attributes,
                            relationships={"app": _linkage("apps", app_id)})

    def update_app_store_version(self, version_id: str, **attributes: Any) -> Resource:
        """PATCH attributes given in snake_case (release_type="SCHEDULED", earliest_release_date=..., ...)."""
        if not attributes:
            raise ValueError("update_app_store_version needs at least one attribute")
        return self._update("appStoreVersions", version_id, _camel_attributes(attributes))

    def delete_app_store_version(self, version_id: str) -> None:
        self._delete(f"/v1/appStoreVersions/{version_id}")

    def get_app_store_version_build(self, version_id: str) -> Resource | None:
        return self._get_optional(f"/v1/appStoreVersions/{version_id}/build")

    def attach_build(self, version_id: str, build_id: str) -> None:
        self.request("PATCH", f"/v1/appStoreVersions/{version_id}/relationships/build",
                     json=_linkage("builds", build_id), expect=(204, 200))

    def list_app_store_version_localizations(self, version_id: str, *, locale: str | None = None) -> list[Resource]:
        params = {"filter[locale]": locale, "limit": PAGE_LIMIT}
        return list(self.paginate(f"/v1/appStoreVersions/{version_id}/appStoreVersionLocalizations", params))

    def create_app_store_version_localization(self, version_id: str, locale: str, **attributes: Any) -> Resource:
        return self._create(
            "appStoreVersionLocalizations",
            attributes={"locale": locale, **_camel_attributes(attributes)},
            relationships={"appStoreVersion": _linkage("appStoreVersions", version_id)},
        )

    def update_app_store_version_localization(self, loc_id: str, **attributes: Any) -> Resource:
        if not attributes:
            raise ValueError("update_app_store_version_localization needs at least one attribute")
        return self._update("appStoreVersionLocalizations", loc_id, _camel_attributes(attributes))

    # ------------------------------------------------------------------ phased release

    def get_phased_release(self, version_id: str) -> Resource | None:
        return self._get_optional(f"/v1/appStoreVersions/{version_id}/appStoreVersionPhasedRelease")

    def create_phased_release(self, version_id: str, state: str = "INACTIVE") -> Resource:
        return self._create(
            "appStoreVersionPhasedReleases",
            attributes={"phasedReleaseState": state},
            relationships={"appStoreVersion": _linkage("appStoreVersions", version_id)},
        )

    def update_phased_release(self, id: str, state: str) -> Resource:
        return self._update("appStoreVersionPhasedReleases", id, {"phasedReleaseState": state})

    def delete_phased_release(self, id: str) -> None:
        self._delete(f"/v1/appStoreVersionPhasedReleases/{id}")

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
                            relationships={"app": _linkage("apps", app_id)})

    def list_review_submission_items(self, submission_id: str) -> list[Resource]:
        """Items of a submission; each has `related_id("appStoreVersion")` filled in."""
        params = {"include": "appStoreVersion", "limit": PAGE_LIMIT}
        return list(self.paginate(f"/v1/reviewSubmissions/{submission_id}/items", params))

    def create_review_submission_item(self, submission_id: str, version_id: str) -> Resource:
        return self._create(
            "reviewSubmissionItems",
            relationships={
                "reviewSubmission": _linkage("reviewSubmissions", submission_id),
                "appStoreVersion": _linkage("appStoreVersions", version_id),
            },
        )

    def delete_review_submission_item(self, item_id: str) -> None:
        self._delete(f"/v1/reviewSubmissionItems/{item_id}")

    def update_review_submission(self, submission_id: str, *, submitted: bool | None = None,
                                 canceled: bool | None = None) -> Resource:
        attributes: dict[str, Any] = {}
        if submitted is not None:
            attributes["submitted"] = bool(submitted)
        if canceled is not None:
            attributes["canceled"] = bool(canceled)
        if not attributes:
            raise ValueError("update_review_submission needs submitted or canceled")
        return self._update("reviewSubmissions", submission_id, attributes)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS certificate verification failed"
    # The innermost cause says what happened (refused, reset, name not resolved); the URL it quotes holds no secret.
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    text = str(reason) or type(exc).__name__
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = f"connection failed: {text}"
    return text if len(text) <= 200 else text[:197] + "..."
