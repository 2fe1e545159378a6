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
from dataclasses import dataclass
from typing import Any

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, Resource
from publish.errors import InputError, RemoteError
from publish.plan.beta_review_info import APP_INFORMATION, CONTACT, EXAMPLE as _EXAMPLE, TestInformation
from publish.secrets import read_value
from publish.steps.base import StepContext
from publish.upload.lifecycle import Waiting

IN_REVIEW = ("WAITING_FOR_REVIEW", "IN_REVIEW")


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
        _repeatable(lambda: client.update_beta_app_review_detail(readiness.review_detail.id,
                                                                 **detail_changes))
        ctx.log.info("Beta App Review details: %s", ", ".join(sorted(k for k in detail_changes)))
    app_changes = {k: v for k, v in info.app_information.items()
                   if readiness.app_localization is None or readiness.app_localization.attr(k) != v}
    if not app_changes:
        return
    if readiness.app_localization is not None:
        _repeatable(lambda: client.update_beta_app_localization(readiness.app_localization.id,
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
            client.update_build(other.id, expired=True)  # in a dry run: recorded by the transport, not sent
            ctx.warn(f"{'dry run: would expire' if ctx.dry_run else 'expired'} build {describe(other)}, which "
                     "was in beta review, so this build can be submitted (if_another_build_in_review: expire_other)")
        return
    if choice == "wait" and ctx.dry_run:
        # Nothing will be submitted, so there is nothing to wait for: a dry run says what a run would wait for
        # (it could be hours, up to processing_timeout) and goes on.
        ctx.log.info("dry run: a run would wait here for the beta review of %s to end (if_another_build_in_review: "
                     "wait); a dry run does not wait", ", ".join(f"build {describe(other)}" for other in current))
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
