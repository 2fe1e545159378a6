"""External beta review as App Store Connect really takes it (protocol.md H.3, H.4): the test information Apple
needs, and the rule of one build in beta review per app, decided before anything is uploaded.

- H.4: without Beta App Review details (contact name, phone, e-mail; a demo account when sign-in is required) and
  beta app information (feedback e-mail, description) Apple answers the submission with a bare 500; without What
  to Test in the app's primary locale it refuses it. So: the step's `test_information` is checked offline, then
  merged with what App Store Connect already holds (read first), and anything still missing fails the step
  *before the upload*, naming the settings to add. It is written just before the submission. The demo account
  password is a secret reference ({env: ...} / {file: ...}); it is only ever sent to Apple, never logged.
- H.3: "You can't submit a build for testing if another build is already in review." `if_another_build_in_review`
  chooses: `fail` (default: before changing anything, naming the other build), `wait` (bounded by
  processing_timeout) or `expire_other` (expire it - Apple cannot undo that - then submit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, Resource
from publish.errors import InputError, RemoteError
from publish.spec import SecretRef
from publish.secrets import read_value
from publish.steps.base import StepContext
from publish.upload.lifecycle import Waiting

OTHER_REVIEW_CHOICES = ("fail", "wait", "expire_other")
IN_REVIEW = ("WAITING_FOR_REVIEW", "IN_REVIEW")
# Beta App Review detail: Apple attribute -> where it goes in the step
CONTACT = {"contactFirstName": "test_information.contact.first_name",
           "contactLastName": "test_information.contact.last_name",
           "contactPhone": "test_information.contact.phone",
           "contactEmail": "test_information.contact.email"}
APP_INFORMATION = {"feedbackEmail": "test_information.feedback_email",
                   "description": "test_information.description"}
_EXAMPLE = ("test_information: {description: What the app does, feedback_email: beta@example.com, contact: "
            "{first_name: Ann, last_name: Lee, phone: '+1 555 0100', email: ann@example.com}}")


@dataclass
class TestInformation:
    """What the step gives for beta review (None: not given; App Store Connect's value is kept)."""

    review_detail: dict[str, Any] = field(default_factory=dict)  # Apple attribute names
    app_information: dict[str, str] = field(default_factory=dict)
    demo_password: SecretRef | None = None

    @property
    def given(self) -> bool:
        return bool(self.review_detail or self.app_information or self.demo_password)


def read_test_information(settings: Mapping[str, Any]) -> TestInformation:
    """The step's `test_information`, checked offline (types, e-mails, the password a secret reference)."""
    raw = settings.get("test_information")
    info = TestInformation()
    if raw is None:
        return info
    if not isinstance(raw, Mapping):
        raise InputError(f"test_information: {raw!r} is not a mapping", hint="write " + _EXAMPLE)
    for key, attribute in (("description", "description"), ("feedback_email", "feedbackEmail")):
        value = _text(raw, key, "test_information")
        if value is not None:
            info.app_information[attribute] = value
    contact = raw.get("contact") or {}
    if not isinstance(contact, Mapping):
        raise InputError(f"test_information.contact: {contact!r} is not a mapping", hint="write " + _EXAMPLE)
    for attribute, where in CONTACT.items():
        value = _text(contact, where.rsplit(".", 1)[1], "test_information.contact")
        if value is not None:
            info.review_detail[attribute] = value
    notes = _text(raw, "notes", "test_information")
    if notes is not None:
        info.review_detail["notes"] = notes
    demo = raw.get("demo_account")
    if demo is not None:
        if not isinstance(demo, Mapping):
            raise InputError(f"test_information.demo_account: {demo!r} is not a mapping",
                             hint="write demo_account: {required: true, name: demo@example.com, password: "
                             "{env: DEMO_PASSWORD}}")
        required = demo.get("required", True)
        if not isinstance(required, bool):
            raise InputError(f"test_information.demo_account.required: {required!r} is not true or false")
        info.review_detail["demoAccountRequired"] = required
        name = _text(demo, "name", "test_information.demo_account")
        if name is not None:
            info.review_detail["demoAccountName"] = name
        info.demo_password = _secret(demo.get("password"))
        if required and (name is None or info.demo_password is None):
            raise InputError("test_information.demo_account: a required demo account needs a name and a password",
                             hint="add name: and password: {env: DEMO_PASSWORD} (Apple's reviewers sign in with it)")
    for key in ("feedback_email",):
        email = info.app_information.get("feedbackEmail")
        if email is not None and "@" not in email:
            raise InputError(f"test_information.{key}: {email!r} is not an e-mail address")
    email = info.review_detail.get("contactEmail")
    if email is not None and "@" not in email:
        raise InputError(f"test_information.contact.email: {email!r} is not an e-mail address")
    return info


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise InputError(f"{where}.{key}: {value!r} is not a non-empty text", hint="write " + _EXAMPLE)
    return str(value).strip()


def _secret(value: Any) -> SecretRef | None:
    if value is None:
        return None
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, Mapping) and (value.get("env") or value.get("file")):
        return SecretRef(env=value.get("env"), file=value.get("file"), encoding=value.get("encoding"))
    raise InputError("test_information.demo_account.password must be a secret reference, never written inline",
                     hint="write password: {env: DEMO_PASSWORD} and set that variable from your CI's secrets")


def read_other_review_choice(settings: Mapping[str, Any]) -> str:
    choice = settings.get("if_another_build_in_review", "fail")
    if choice not in OTHER_REVIEW_CHOICES:
        raise InputError(f"if_another_build_in_review: {choice!r} is not one of {', '.join(OTHER_REVIEW_CHOICES)}",
                         hint="fail (default) stops before any change; wait waits for the other review to end; "
                         "expire_other expires the other build, then submits")
    return str(choice)


# ------------------------------------------------------------------------------------------ before the upload


@dataclass
class ReviewReadiness:
    """What was read before the upload: App Store Connect's test information, and any other build in review."""

    review_detail: Resource | None
    app_localization: Resource | None
    primary_locale: str
    other_in_review: Resource | None


def _primary_locale(client: AppStoreConnect, app_id: str, known: str | None = None) -> str:
    """The app's primary locale: as read with the app earlier in the run, else read now."""
    return known or str(client.get_app(app_id).attr("primaryLocale") or "en-US")


def check_before_upload(ctx: StepContext, client: AppStoreConnect, app_id: str, info: TestInformation,
                        notes: Mapping[str, str], choice: str, this_build_id: str | None) -> ReviewReadiness:
    """Fail before the upload when beta review would be refused: test information missing here and on App Store
    Connect, no What to Test in the primary locale, or (with `fail`) another build in review."""
    primary = _primary_locale(client, app_id, ctx.run.app_primary_locale)
    detail = client.get_beta_app_review_detail(app_id)
    localization = next((loc for loc in client.list_beta_app_localizations(app_id)
                         if str(loc.attr("locale", "")).lower() == primary.lower()), None)
    missing = [where for attribute, where in CONTACT.items()
               if not info.review_detail.get(attribute) and not (detail.attr(attribute) if detail else None)]
    missing += [where for attribute, where in APP_INFORMATION.items()
                if not info.app_information.get(attribute)
                and not (localization.attr(attribute) if localization else None)]
    demo_required = info.review_detail.get("demoAccountRequired",
                                           bool(detail.attr("demoAccountRequired")) if detail else False)
    if demo_required and not info.demo_password and not (detail and detail.attr("demoAccountPassword")):
        missing.append("test_information.demo_account (name and password)")
    if missing:
        raise InputError(
            "external beta review needs test information that neither the flow nor App Store Connect has: "
            + ", ".join(missing),
            hint="add them to the step (" + _EXAMPLE + ") or fill in App Store Connect > TestFlight > Test "
            "Information; without them Apple answers the submission with a bare 500. Nothing was uploaded.",
        )
    if not any(locale.lower() == primary.lower() and text.strip() for locale, text in notes.items()):
        raise InputError(
            f"external beta review needs What to Test in the app's primary locale {primary}; the step gives "
            + (", ".join(notes) if notes else "none"),
            hint=f"add what_to_test: (a text is written in {primary}) or what_to_test: {{{primary}: ...}}. Nothing "
            "was uploaded.",
        )
    other = next((b for b in client.list_builds_in_beta_review(app_id) if b.id != this_build_id), None)
    if other is not None and choice == "fail":
        raise RemoteError(
            f"another build of this app, {describe(other)}, is already in beta review, and App Store Connect "
            "reviews one build at a time (\"You can't submit a build for testing if another build is already in "
            "review\")",
            hint="wait for that review to end and run again, or set `if_another_build_in_review: wait` (wait for "
            "it, up to processing_timeout) or `if_another_build_in_review: expire_other` (expire that build, then "
            "submit this one). Nothing was uploaded.",
        )
    return ReviewReadiness(detail, localization, primary, other)


def describe(build: Resource) -> str:
    version = build.attr("cfBundleShortVersionString")
    number = build.attr("version")
    return f"{version} ({number})" if version else f"build {number} (id {build.id})"


# ------------------------------------------------------------------------------------------ just before submitting


def write_test_information(ctx: StepContext, client: AppStoreConnect, app_id: str, info: TestInformation,
                           readiness: ReviewReadiness) -> None:
    """PATCH what the step gives and App Store Connect does not hold yet (absolute values: safe to repeat)."""
    detail_changes = {k: v for k, v in info.review_detail.items()
                      if readiness.review_detail is None or readiness.review_detail.attr(k) != v}
    if info.demo_password is not None:
        detail_changes["demoAccountPassword"] = read_value(
            info.demo_password, what="test_information.demo_account.password", env=ctx.env,
            base_dir=ctx.flow_dir, register=ctx.register_secret, secret=True)
    if detail_changes and readiness.review_detail is not None:
        _repeatable(lambda: client.update_beta_app_review_detail(readiness.review_detail.id,  # type: ignore[union-attr]
                                                                 **detail_changes))
        ctx.log.info("Beta App Review details: %s", ", ".join(sorted(k for k in detail_changes)))
    app_changes = {k: v for k, v in info.app_information.items()
                   if readiness.app_localization is None or readiness.app_localization.attr(k) != v}
    if not app_changes:
        return
    if readiness.app_localization is not None:
        _repeatable(lambda: client.update_beta_app_localization(readiness.app_localization.id,  # type: ignore[union-attr]
                                                                **app_changes))
    else:
        try:
            client.create_beta_app_localization(app_id, readiness.primary_locale, **app_changes)
        except AscAmbiguousWriteError:
            found = next((loc for loc in client.list_beta_app_localizations(app_id)
                          if str(loc.attr("locale", "")).lower() == readiness.primary_locale.lower()), None)
            if found is None:
                client.create_beta_app_localization(app_id, readiness.primary_locale, **app_changes)
    ctx.log.info("beta app information (%s): %s", readiness.primary_locale, ", ".join(sorted(app_changes)))


def _repeatable(update: Any) -> None:
    try:
        update()
    except AscAmbiguousWriteError:
        update()  # absolute values: sending them twice leaves the same state


def clear_other_review(ctx: StepContext, client: AppStoreConnect, app_id: str, build_id: str, choice: str,
                       waiting: Waiting) -> None:
    """H.3 just before submitting: wait for, or expire, another build in beta review (`fail` was decided before
    the upload; a build that entered review since then is reported the same way)."""
    def others() -> list[Resource]:
        return [b for b in client.list_builds_in_beta_review(app_id) if b.id != build_id]

    current = others()
    if not current:
        return
    if choice == "expire_other":
        for other in current:
            client.update_build(other.id, expired=True)
            ctx.warn(f"expired build {describe(other)}, which was in beta review, so this build can be submitted "
                     "(if_another_build_in_review: expire_other)")
        return
    if choice == "wait":
        for other in current:
            def still_in_review(other: Resource = other) -> bool:
                return any(s.attr("betaReviewState") in IN_REVIEW
                           for s in client.list_beta_app_review_submissions(other.id))

            def timed_out(_: bool, other: Resource = other) -> Exception:
                return RemoteError(f"build {describe(other)} is still in beta review after waiting",
                                   hint="run again later, raise processing_timeout, or set "
                                   "`if_another_build_in_review: expire_other`")

            waiting.until(f"finish the beta review of build {describe(other)}", still_in_review,
                          lambda in_review: not in_review, timed_out)
        return
    raise RemoteError(f"another build of this app, {describe(current[0])}, entered beta review meanwhile",
                      hint="run again once its review ended, or set `if_another_build_in_review: wait` or "
                      "`expire_other`")


def explain_refused_submission(client: AppStoreConnect, app_id: str, info: TestInformation) -> RemoteError:
    """H.4: Apple's bare 500 on the beta review POST, as the missing information it means."""
    primary = _primary_locale(client, app_id)
    detail = client.get_beta_app_review_detail(app_id)
    localization = next((loc for loc in client.list_beta_app_localizations(app_id)
                         if str(loc.attr("locale", "")).lower() == primary.lower()), None)
    missing = [where for attribute, where in CONTACT.items() if not (detail.attr(attribute) if detail else None)]
    missing += [where for attribute, where in APP_INFORMATION.items()
                if not (localization.attr(attribute) if localization else None)]
    if detail is not None and detail.attr("demoAccountRequired") and not detail.attr("demoAccountName"):
        missing.append("test_information.demo_account")
    if missing:
        return RemoteError("App Store Connect refused the beta review submission with a bare 500: it lacks the "
                           "test information " + ", ".join(missing),
                           hint="add them to the step (" + _EXAMPLE + ") or in App Store Connect > TestFlight > "
                           "Test Information, then run again (the build is reused)")
    return RemoteError("App Store Connect answered the beta review submission with 500 (An unexpected error "
                       "occurred) although the test information is complete",
                       hint="run again in a few minutes: the build is reused and the submission is checked first")
