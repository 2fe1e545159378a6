"""App Store Connect failures as typed exceptions whose messages say what Apple answered and what to do.

Apple's error body (OpenAPI `ErrorResponse`): `{"errors":[{"status":"409","code":"ENTITY_ERROR.ATTRIBUTE.INVALID",
"title":..., "detail":..., "source":{"pointer":...}|{"parameter":...}, "meta":{"associatedErrors":{...}}}]}`.
Codes are dotted hierarchies, matched by prefix (`has_code`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from publish.errors import RemoteError

KEYS_PAGE = "App Store Connect > Users and Access > Integrations > App Store Connect API"


@dataclass(frozen=True)
class AscErrorItem:
    status: str
    code: str
    title: str
    detail: str
    source_pointer: str | None = None
    source_parameter: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, default_status: int | str = "") -> AscErrorItem:
        raw_source, raw_meta = obj.get("source"), obj.get("meta")
        source: Mapping[str, Any] = raw_source if isinstance(raw_source, Mapping) else {}
        meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
        return cls(
            status=str(obj.get("status") or default_status),
            code=str(obj.get("code") or ""),
            title=str(obj.get("title") or ""),
            detail=str(obj.get("detail") or ""),
            source_pointer=_str_or_none(source.get("pointer")),
            source_parameter=_str_or_none(source.get("parameter")),
            meta=dict(meta),
        )

    def describe(self) -> str:
        text = f"{self.status} {self.code}".strip()
        title = self.title.strip()
        detail = self.detail.strip()
        if title:
            text += f": {title}"
        if detail and detail != title:
            text += f" {detail}" if title.endswith((".", ":", "!")) else f" - {detail}"
        where = []
        if self.source_pointer:
            where.append(f"pointer {self.source_pointer}")
        if self.source_parameter:
            where.append(f"parameter {self.source_parameter}")
        if where:
            text += f" (at {', '.join(where)})"
        associated = self.meta.get("associatedErrors")
        if isinstance(associated, Mapping):
            for resource, problems in associated.items():
                for problem in problems if isinstance(problems, list) else []:
                    if isinstance(problem, Mapping):
                        text += f"\n      {resource}: {problem.get('code', '')} {problem.get('detail', '')}".rstrip()
        return text


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


class AscTransportError(RemoteError):
    """The request did not get an answer (connection refused/reset, timeout, TLS) even after retries."""


class AscAmbiguousWriteError(AscTransportError):
    """A create or update may or may not have happened (the connection broke or the server failed mid-write).

    It is never retried blindly: the caller re-reads the state on App Store Connect before writing again, so a
    retried create never makes a duplicate.
    """

    def __init__(self, message: str, *, hint: str | None = None, method: str = "", path: str = "",
                 cause: Exception | None = None) -> None:
        super().__init__(message, hint=hint)
        self.method = method
        self.path = path
        self.cause = cause


class AscApiError(RemoteError):
    """App Store Connect answered with an error status."""

    def __init__(self, status: int, errors: list[AscErrorItem], *, method: str = "", path: str = "",
                 retry_after: float | None = None) -> None:
        self.status = status
        self.errors = list(errors)
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(self._message(), hint=self.advice())

    def _message(self) -> str:
        call = f"{self.method} {self.path}".strip() or "the request"
        lines = [item.describe() for item in self.errors] or [f"{self.status} (no error details in the answer)"]
        if len(lines) == 1:
            return f"App Store Connect refused {call} (HTTP {self.status}): {lines[0]}"
        return f"App Store Connect refused {call} (HTTP {self.status}):\n" + "\n".join(f"  - {line}" for line in lines)

    def has_code(self, prefix: str) -> bool:
        """True when an error's code is `prefix` or below it in Apple's dotted hierarchy (ENTITY_ERROR matches
        ENTITY_ERROR.ATTRIBUTE.INVALID)."""
        prefix = prefix.rstrip(".")
        return any(e.code == prefix or e.code.startswith(prefix + ".") for e in self.errors)

    def detail_text(self) -> str:
        """All titles and details, for callers that recognise Apple's messages (e.g. 'already added to another
        reviewSubmission with id X')."""
        return "\n".join(f"{e.title} {e.detail}".strip() for e in self.errors)

    def advice(self) -> str | None:
        return None


class AscAuthError(AscApiError):
    def advice(self) -> str:
        return (
            "App Store Connect did not accept the API token even after signing a fresh one. Check that the key ID "
            f"and issuer ID belong to the .p8 key ({KEYS_PAGE}; an individual key has no issuer ID), that the key "
            "has not been revoked there, and that this machine's clock is right (tokens are valid 20 minutes)."
        )


class AscForbiddenError(AscApiError):
    def advice(self) -> str:
        return (
            "The API key is not allowed to do this: its role is too low (uploads, TestFlight and App Store "
            f"submission need App Manager or Admin; see {KEYS_PAGE}), the key was revoked, or it has no access "
            "to this app. Agreements waiting in App Store Connect > Business can also cause this."
        )


class AscNotFoundError(AscApiError):
    def advice(self) -> str:
        return (
            "The resource does not exist or this key cannot see it: check the bundle ID / app, that the app "
            "belongs to the same team as the API key, and that the build or version was not removed meanwhile."
        )


# Apple's App Store refusals that the spec does not list (protocol.md H), recognised by their wording.
APP_STORE_REFUSALS = (
    ("not ready to be submitted", "App Store Connect is still preparing the version after it joined the review "
     "submission (H1): wait a minute and run again; the version stays in the submission."),
    ("still in progress", "Another review submission of the app is still open, or being cancelled or completed "
     "(H11): wait a minute or two and run again; if it is a draft of yours, remove it in App Store Connect > App "
     "Review or set cancel_previous_submission: true."),
    ("whatsnew' cannot be edited", "App Store Connect takes no What's New on an app's first App Store version (H6): "
     "leave whats_new out until the next version."),
    ("is not in valid state", "The version is not complete for review: an update needs What's New in every "
     "locale it has (H12), and a build with export compliance; see the associated errors above."),
    ("only hour precision", "App Store Connect schedules releases by the hour only (H5): give "
     "scheduled_release_date with zero minutes and seconds."),
    ("releasetype' cannot be edited", "App Store Connect briefly locks the release type after the version's "
     "localizations change (H16): run again in a minute."),
)


class AscConflictError(AscApiError):
    def advice(self) -> str:
        text = self.detail_text().lower()
        for words, advice in APP_STORE_REFUSALS:
            if words in text:
                return advice
        path = self.path
        text = self.detail_text().lower()
        if "another build is already in review" in text:
            return ("App Store Connect reviews one build of an app at a time (protocol.md H.3): wait for the other "
                    "review to end, or set `if_another_build_in_review: wait` or `expire_other` on the step.")
        if "auto-notify already enabled" in text:
            return "App Store Connect is already notifying the testers of this build; nothing more is needed."
        if "sourcefilechecksums" in text:
            return ("App Store Connect refuses a client checksum on the file commit (protocol.md H.7): commit with "
                    "`uploaded: true` alone. Nothing is lost: the parts it acknowledged are kept.")
        if "whatsnew" in text or "betabuildlocalization" in path.lower():
            return ("What to Test was refused: at most 4000 bytes of UTF-8, without '<' or emoji; a locale Apple "
                    "already created is updated, not created again. Fix `what_to_test` and run again.")
        if "buildUploadFiles" in path:
            return ("The build file's commit conflicts with its state on App Store Connect; the file's and the "
                    "upload's states decide what happened. Run again: acknowledged parts are not sent again.")
        if "state_invalid" in " ".join(e.code.lower() for e in self.errors) and "/builds" in path:
            return ("The build is not in a state that allows this yet (processing, expired or missing export "
                    "compliance): wait for App Store Connect to finish with it, then run again; the build is reused.")
        if "buildUpload" in path or "/builds" in path or "preReleaseVersion" in path:
            return (
                "The build conflicts with one already on App Store Connect: bump the build number "
                "(CFBundleVersion) above the highest one uploaded for this version, rebuild, and try again."
            )
        if "appStoreVersion" in path:
            return (
                "The App Store version conflicts with the state on App Store Connect: the version number may "
                "already be used or released (bump CFBundleShortVersionString), or the version is in a state "
                "that cannot be changed (e.g. waiting for review)."
            )
        if "reviewSubmission" in path:
            return (
                "A review submission for this app is already in progress or holds this item: wait for it or "
                "cancel it (cancel_previous_submission: true) and try again."
            )
        return "The request conflicts with the current state on App Store Connect; read the detail above."


class AscValidationError(AscApiError):
    def advice(self) -> str:
        text = self.detail_text().lower()
        if "not in a valid processing state" in text or "not in state for internal testing" in text:
            return ("App Store Connect has processed the build (VALID) but TestFlight has not caught up with it yet "
                    "(protocol.md H.2): this is Apple's timing, not your flow. Run again in a few minutes (the "
                    "build is reused), or raise processing_timeout so the step waits longer.")
        return (
            "App Store Connect rejected the request's content (see the pointer/parameter above). If the value "
            "comes from your flow file, fix it there; otherwise this is a bug in appstore-publish: please report "
            "it with this message."
        )


class AscRateLimitError(AscApiError):
    def advice(self) -> str:
        wait = f" (App Store Connect asked to wait {self.retry_after:.0f} s)" if self.retry_after else ""
        return (
            "The API key used up its hourly request quota (X-Rate-Limit, counted over a rolling hour)"
            f"{wait}: wait for the window to free up, or run with a different API key."
        )


class AscServerError(AscApiError):
    def advice(self) -> str:
        return (
            "App Store Connect had an internal problem and retries did not help. Try again later; "
            "https://developer.apple.com/system-status/ shows Apple's outages."
        )


def error_class(status: int) -> type[AscApiError]:
    if status == 401:
        return AscAuthError
    if status == 403:
        return AscForbiddenError
    if status == 404:
        return AscNotFoundError
    if status == 409:
        return AscConflictError
    if status in (400, 422):
        return AscValidationError
    if status == 429:
        return AscRateLimitError
    if status >= 500:
        return AscServerError
    return AscApiError


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


def parse_error_items(status: int, body: bytes | str | Mapping[str, Any] | None, reason: str = "") -> list[AscErrorItem]:
    """Apple's `errors[]`, or one synthesized item for a body that is not Apple's JSON (a proxy's HTML page).
    `body` is the raw answer, or an already decoded JSON object."""
    document: Any
    if isinstance(body, Mapping):
        document, text = body, json.dumps(body)
    else:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        try:
            document = json.loads(text) if text.strip() else None
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply to be Apple's
            document = None
    if isinstance(document, Mapping) and isinstance(document.get("errors"), list):
        items = [AscErrorItem.from_json(e, default_status=status) for e in document["errors"] if isinstance(e, Mapping)]
        if items:
            return items
    summary = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", text)))).strip()
    if len(summary) > 300:
        summary = summary[:297] + "..."
    detail = summary or "The answer had no body."
    if document is None and text.strip():
        detail = f"The answer was not App Store Connect's JSON (a proxy or gateway in between?): {detail}"
    return [AscErrorItem(status=str(status), code=f"HTTP_{status}", title=reason or "", detail=detail)]


def api_error(status: int, body: bytes | str | Mapping[str, Any] | None, *, method: str, path: str, reason: str = "",
              retry_after: float | None = None) -> AscApiError:
    items = parse_error_items(status, body, reason)
    return error_class(status)(status, items, method=method, path=path, retry_after=retry_after)


# --------------------------------------------------------------------------- FAILED processing (protocol.md H.15)

# Apple's numeric codes in a FAILED build upload's `state.errors[].code` (bare, or as ITMS-9xxxx), each with what
# to change. Closed trains first: they are the ones a build number bump does not fix.
_CLOSED_TRAIN = ("The version train is closed: App Store Connect takes no new builds for a version that was already "
                 "approved or released. Raise CFBundleShortVersionString (MARKETING_VERSION in Xcode) above the "
                 "released version, rebuild and upload again.")
PROCESSING_ADVICE: dict[str, str] = {
    "90062": _CLOSED_TRAIN,
    "90186": _CLOSED_TRAIN,
    "90478": _CLOSED_TRAIN,
    "90725": ("The app was built with an SDK App Store Connect no longer accepts. Build with the Xcode version "
              "Apple currently requires (see developer.apple.com/news/upcoming-requirements), then upload again "
              "with a new build number."),
    "90054": ("The IPA's bundle identifier does not match the app record: set PRODUCT_BUNDLE_IDENTIFIER to the "
              "app's bundle ID (App Store Connect > App Information), rebuild and upload again."),
    "90055": ("The bundle identifier of the IPA (or one of its extensions) does not match the app record or its "
              "parent app: extensions must be <app bundle ID>.<suffix>; fix the identifiers and rebuild."),
    "90683": ("Info.plist lacks a purpose string (an NS...UsageDescription key) for a protected resource the app "
              "or one of its libraries uses: add the key Apple names above with a user-facing reason, rebuild "
              "and upload again."),
    "90189": ("Redundant binary: this build number was already uploaded for this version. Raise CFBundleVersion "
              "(CURRENT_PROJECT_VERSION), rebuild and upload again."),
    "90060": ("CFBundleShortVersionString must be one to three period-separated integers (like 1.2.3) and match "
              "what was declared for the upload: fix MARKETING_VERSION and rebuild."),
    "90061": ("CFBundleVersion must be one to three period-separated integers and match what was declared for the "
              "upload: fix CURRENT_PROJECT_VERSION and rebuild."),
    "90023": ("The uploaded file is not a valid IPA (or its app bundle is missing something Apple requires, such "
              "as the app icon): export the archive again from Xcode (Distribute App > App Store Connect)."),
    "90057": ("Info.plist misses keys App Store Connect requires (named above): add them in the Xcode target's "
              "Info settings and rebuild."),
    "90035": ("The code signature is invalid: sign with an Apple Distribution certificate and an App Store "
              "provisioning profile, then export again."),
    "90161": ("The provisioning profile is invalid for App Store distribution: use an App Store profile of the "
              "same team and bundle ID, then export again."),
    "90717": ("The App Store icon must not have an alpha channel or transparency: export the 1024x1024 icon "
              "without alpha, rebuild and upload again."),
}


def processing_code(code: str) -> str:
    """`ITMS-90062`, `90062` and `STATE_ERROR.90062` all name Apple's processing error 90062."""
    match = re.search(r"(\d{5})", code or "")
    return match.group(1) if match else (code or "")


def processing_failed(what: str, where: str, errors: Any) -> RemoteError:
    """App Store Connect refused a build while processing it: Apple's errors, each with its own advice."""
    lines, advice = [], []
    for item in errors if isinstance(errors, list) else []:
        if not isinstance(item, Mapping):
            continue
        code = str(item.get("code") or "UNKNOWN")
        number = processing_code(code)
        shown = f"ITMS-{number}" if number.isdigit() and not code.startswith("ITMS-") else code
        lines.append(f"  - {shown}: {item.get('description') or '(no description)'}")
        if number in PROCESSING_ADVICE and PROCESSING_ADVICE[number] not in advice:
            advice.append(PROCESSING_ADVICE[number])
    detail = "\n".join(lines) if lines else "  (App Store Connect gave no reason)"
    hint = " ".join(advice) if advice else (
        "Fix what Apple reports above in the Xcode project (for example, the IPA's bundle ID and version must "
        "match the app record), rebuild with a new build number and upload again.")
    return RemoteError(f"App Store Connect rejected the upload of {what}: {where} FAILED:\n{detail}", hint=hint)
