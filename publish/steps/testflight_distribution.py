"""TestFlight distribution of a processed build (protocol.md D): the plan made of the step's settings, beta
groups found by name before any write, individual testers, notifications and the external beta review."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, AscApiError, Resource
from publish.errors import InputError
from publish.steps import beta_review
from publish.plan.schema_facts import default_processing_timeout
from publish.plan.settings import SendToAppStoreSettings, SendToTestflightSettings
from publish.plan.values import Tester
from publish.steps.base import StepContext
from publish.steps.safe_writes import create_once, set_values
from publish.steps.testflight import label, waiting
from publish.steps.testflight_state import BuildTestFlightState, read_build_with_testflight_state
from publish.steps.what_to_test import upsert_what_to_test
from publish.upload import lifecycle

@dataclass
class TestFlightPlan:
    """What to do on TestFlight in this run: the step's settings (checked by the plan), and what is learnt on the
    way before any write (the groups found by name, the test information read before the upload)."""

    settings: SendToTestflightSettings | SendToAppStoreSettings
    groups: list[Resource] = field(default_factory=list)
    review_readiness: beta_review.ReviewReadiness | None = None  # read before the upload

    @classmethod
    def of(cls, settings: SendToTestflightSettings | SendToAppStoreSettings) -> TestFlightPlan | None:
        """The plan of the step; None for a send_to_app_store that writes no TestFlight setting."""
        if isinstance(settings, SendToAppStoreSettings) and not settings.testflight_given:
            return None
        return cls(settings)

    def submits_for_review(self) -> bool:
        external = any(not g.attr("isInternalGroup") for g in self.groups)
        chosen = self.settings.submit_for_beta_review
        return chosen if chosen is not None else external

    @property
    def distributes(self) -> bool:
        return self.settings.distributes


def notes_for_app(ctx: StepContext, plan: TestFlightPlan) -> dict[str, str]:
    """What to Test per locale; a plain text goes to the app's primary locale rather than en-US."""
    primary = ctx.run.app_primary_locale
    if plan.settings.what_to_test_in_primary_locale and primary and len(plan.settings.what_to_test) == 1:
        return {primary: next(iter(plan.settings.what_to_test.values()))}
    return dict(plan.settings.what_to_test)


def check_beta_review_before_upload(ctx: StepContext, client: AppStoreConnect, app_id: str, plan: TestFlightPlan,
                                    existing_build: Resource | None) -> None:
    """H.3/H.4 before anything is uploaded: when the flow will submit for beta review, the test information and
    What to Test must be there, and (unless the flow says otherwise) no other build may be in review."""
    if not plan.submits_for_review():
        return
    if existing_build is not None and _already_in_review(client, existing_build.id):
        return  # submitted by an earlier run: nothing more is sent
    plan.review_readiness = beta_review.check_before_upload(
        ctx, client, app_id, plan.settings.test_information, notes_for_app(ctx, plan),
        plan.settings.if_another_build_in_review,
        existing_build.id if existing_build is not None else None)


def _already_in_review(client: AppStoreConnect, build_id: str) -> bool:
    return bool(client.list_beta_app_review_submissions(build_id))


def _group_kind(group: Resource) -> str:
    return "internal" if group.attr("isInternalGroup") else "external"


def resolve_groups(ctx: StepContext, client: AppStoreConnect, app_id: str, plan: TestFlightPlan) -> None:
    """Find the plan's groups by name; an unknown name is an error listing the app's groups (before any write)."""
    if not plan.settings.groups:
        return
    groups = client.list_beta_groups(app_id)
    by_name = {str(g.attr("name")): g for g in groups}
    missing = [name for name in plan.settings.groups if name not in by_name]
    if missing:
        listing = ", ".join(f"{name} ({_group_kind(g)})" for name, g in sorted(by_name.items())) or "none"
        close = [name for name in by_name for m in missing if name.lower() == m.lower()]
        raise InputError(
            f"beta group{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} not found for "
            f"{ctx.run.app_name or ctx.ipa.bundle_id}; the app's groups are: {listing}",
            hint=(f"did you mean {', '.join(repr(c) for c in close)}? Group names are case-sensitive. "
                  if close else "") + "Fix the names under `groups:` or create the group in App Store Connect > "
            "TestFlight",
        )
    plan.groups = [by_name[name] for name in plan.settings.groups]


def distribute(ctx: StepContext, client: AppStoreConnect, build: Resource, plan: TestFlightPlan) -> dict[str, Any]:
    """Apply the plan to a processed build. Returns outputs for the history."""
    app_id = ctx.run.app_id or ""
    if ctx.run.testflight_state is not None:
        state = ctx.run.testflight_state
    else:
        state = read_build_with_testflight_state(client, build.id)[1]
    ctx.run.testflight_state = None  # what follows changes it
    outputs: dict[str, Any] = {}
    upsert_what_to_test(ctx, client, build.id, notes_for_app(ctx, plan), state.localizations)

    # Notifications: follow the build's auto-notify setting unless the flow says not to notify.
    detail = state.beta_detail or client.get_build_beta_detail(build.id)
    auto_notify = bool(detail.attr("autoNotifyEnabled")) if detail is not None else True
    if plan.distributes and not plan.settings.notify_testers and auto_notify and detail is not None:
        set_values(ctx, "auto-notify", partial(client.update_build_beta_detail, detail.id, auto_notify_enabled=False))
        auto_notify = False

    external = [g for g in plan.groups if not g.attr("isInternalGroup")]
    submit_review = plan.submits_for_review()
    if plan.groups or submit_review:
        # H.2: VALID is not yet ready for TestFlight; wait for its beta state (no call when it already is ready)
        detail = lifecycle.wait_until_testflight_ready(
            client, build.id, waiting(ctx, plan.settings.processing_timeout), label=label(ctx),
            external=bool(external) or submit_review,
            compliance_set_now=ctx.run.export_compliance_set_for == build.id, known=detail)

    groups_added: list[Resource] = []
    for group in plan.groups:
        if group.attr("isInternalGroup") and group.attr("hasAccessToAllBuilds"):
            ctx.log.info("group '%s' is internal with access to all builds: it gets this build anyway",
                         group.attr("name"))
            continue
        if state.group_ids is not None and group.id in state.group_ids:
            ctx.log.info("group '%s' already has this build", group.attr("name"))
            continue
        groups_added.append(group)
    if groups_added:
        ids = [g.id for g in groups_added]
        budget = waiting(ctx, plan.settings.processing_timeout)
        try:
            lifecycle.retry_while_not_ready(budget, "the beta groups",
                                            lambda: client.add_build_to_beta_groups(build.id, ids),
                                            lambda: client.get_build_beta_detail(build.id))
        except AscAmbiguousWriteError:
            # Adding a build to a group it is in changes nothing, so the link can be sent again safely.
            client.add_build_to_beta_groups(build.id, ids)
        ctx.log.info("added to group%s: %s", "s" if len(ids) > 1 else "",
                     ", ".join(f"{g.attr('name')} ({_group_kind(g)})" for g in groups_added))
    outputs["groups"] = [str(g.attr("name")) for g in plan.groups]

    testers_added = add_testers(ctx, client, app_id, build.id, plan.settings.testers, state.tester_ids)
    if plan.settings.testers:
        outputs["testers"] = [t.email for t in plan.settings.testers]

    if submit_review:
        review = submit_beta_review(ctx, client, build.id, state, plan)
        outputs["beta_review_state"] = review.attr("betaReviewState")

    reached_now = testers_added or any(g.attr("isInternalGroup") for g in groups_added)
    if plan.settings.notify_testers and not auto_notify and reached_now:
        _notify_testers(ctx, client, build.id)
        outputs["notified"] = True
    return outputs


def _notify_testers(ctx: StepContext, client: AppStoreConnect, build_id: str) -> None:
    """Tell the testers the build is there (when App Store Connect does not notify them by itself)."""
    try:
        client.create_build_beta_notification(build_id)
        ctx.log.info("testers notified")
    except AscAmbiguousWriteError:
        # No call tells whether it went out; a missed e-mail is better than a double one.
        ctx.warn("the tester notification may not have been sent (the answer was lost)")
    except AscApiError as exc:
        # H.10: "Auto-notify already enabled": Apple is notifying the testers already; that is what we wanted
        if not (exc.status == 409 and (exc.has_code("STATE_ERROR.ENTITY_STATE_INVALID")
                                       or "auto-notify already enabled" in exc.detail_text().lower())):
            raise
        ctx.log.info("testers notified (App Store Connect was notifying them already)")


def find_testers(client: AppStoreConnect, emails: Sequence[str], app_id: str | None) -> dict[str, Resource]:
    """The app's testers with these e-mails (lower-cased keys), in one paged call."""
    wanted = {e.strip().lower() for e in emails}
    found: dict[str, Resource] = {}
    for tester in client.list_beta_testers(emails, app_id=app_id):
        email = str(tester.attr("email", "")).strip().lower()
        if email in wanted:
            found.setdefault(email, tester)
    return found


def add_testers(ctx: StepContext, client: AppStoreConnect, app_id: str, build_id: str, testers: Sequence[Tester],
                already: set[str] | None) -> int:
    if not testers:
        return 0
    existing = find_testers(client, [t.email for t in testers], app_id)
    to_link: list[str] = []
    created = 0
    for tester in testers:
        found = existing.get(tester.email.lower())
        if found is None:
            try:
                create_once(
                    ctx, f"tester {tester.email}",
                    partial(client.create_beta_tester, tester.email, first_name=tester.first_name,
                            last_name=tester.last_name, build_ids=[build_id]),
                    partial(client.find_beta_tester, tester.email, app_id),
                )
                created += 1
                continue
            except AscApiError as exc:
                if exc.status != 409:
                    raise
                # Known to the team but not yet to this app: find them team-wide and link them.
                found = client.find_beta_tester(tester.email)
                if found is None:
                    raise
        if already is None or found.id not in already:
            to_link.append(found.id)
    if to_link:
        try:
            client.add_individual_testers(build_id, to_link)
        except AscAmbiguousWriteError:
            client.add_individual_testers(build_id, to_link)  # linking twice changes nothing
    ctx.log.info("individual testers: %d added, %d created, %d already had the build", len(to_link), created,
                 len(testers) - len(to_link) - created)
    return len(to_link) + created


def submit_beta_review(ctx: StepContext, client: AppStoreConnect, build_id: str,
                       state: BuildTestFlightState, plan: TestFlightPlan | None = None) -> Resource:
    existing = state.beta_review
    if existing is None and not state.beta_review_known:
        existing = next(iter(client.list_beta_app_review_submissions(build_id)), None)
    if existing is not None:
        ctx.log.info("beta app review: already submitted (%s)", existing.attr("betaReviewState") or "state unknown")
        ctx.run.beta_review_submission_id = existing.id
        return existing
    app_id = ctx.run.app_id or ""
    if plan is not None:
        readiness = plan.review_readiness
        if readiness is None:  # not checked before an upload (e.g. the build was reused): check now
            readiness = beta_review.check_before_upload(ctx, client, app_id, plan.settings.test_information,
                                                        notes_for_app(ctx, plan),
                                                        plan.settings.if_another_build_in_review,
                                                        build_id)
        beta_review.write_test_information(ctx, client, app_id, plan.settings.test_information, readiness)
        beta_review.clear_other_review(ctx, client, app_id, build_id, plan.settings.if_another_build_in_review,
                                       waiting(ctx, plan.settings.processing_timeout))
    try:
        budget = waiting(ctx, plan.settings.processing_timeout if plan is not None else default_processing_timeout())
        review = create_once(
            ctx, "beta app review submission",
            lambda: lifecycle.retry_while_not_ready(budget, "the beta review submission",
                                                    lambda: client.create_beta_app_review_submission(build_id),
                                                    lambda: client.get_build_beta_detail(build_id)),
            lambda: next(iter(client.list_beta_app_review_submissions(build_id)), None),
        )
    except AscAmbiguousWriteError:
        # H.4: a 500 here is how Apple says "test information missing", not only "maybe applied"
        if next(iter(client.list_beta_app_review_submissions(build_id)), None) is None and plan is not None:
            raise beta_review.explain_refused_submission(client, app_id, plan.settings.test_information) from None
        raise
    ctx.run.beta_review_submission_id = review.id
    ctx.log.info("submitted for beta app review (%s)", review.attr("betaReviewState") or "WAITING_FOR_REVIEW")
    return review
