"""Putting an App Store version into a review submission and submitting it (protocol.md E6), as App Store Connect
really behaves (H1, H11, H12).

Order and why:
1. Read the app's submissions, including those in motion (CANCELING, COMPLETING). One in motion is on its way out:
   it is neither reused nor counted as blocking; Apple refuses a new submission (or an item) with "reviewSubmission
   with id X still in progress" until it has settled, which is waited out, bounded (codemagic: 120 s).
2. Before anything is created: an update must have What's New in every locale (H12), else the item add is refused
   with a bare "not in valid state"; the refusal is ours, naming the locales.
3. Reuse our draft or an empty one; refuse (or, with cancel_previous, cancel) a draft holding other items; stop on
   one under review - or, with cancel_in_review, withdraw one WAITING_FOR_REVIEW (PATCH canceled:true) and wait,
   bounded, through CANCELING (H11) before going on. One IN_REVIEW is never withdrawn by this tool: the spec lets
   `canceled` be sent in any state, but nothing recorded says Apple pulls a submission a reviewer has started,
   and doing it would lose the review in progress; that stays a decision for App Store Connect > App Review.
4. After the item add the version is not yet READY_FOR_REVIEW: submitting at once is refused with "Version is not
   ready to be submitted yet, please try again later" (H1). Poll the version until it is (fastlane: 10 x 15 s), then
   submit; that refusal, if it still comes, is "wait and retry", bounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, AscApiError, AscNotFoundError, Resource
from publish.errors import PublishError, RemoteError
from publish.steps.app_store_waits import (
    IN_MOTION_BUDGET,
    READY_FOR_REVIEW_BUDGET,
    Patience,
    patience,
    retry_refused,
    wait_until,
)
from publish.steps.app_store_whats_new import require_whats_new_everywhere
from publish.steps.appstore import UNDER_REVIEW_STATES, SubmissionConflict, version_state
from publish.steps.base import StepContext
from publish.steps.safe_writes import create_once, set_values

OPEN_SUBMISSION_STATES = ("READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "UNRESOLVED_ISSUES")
IN_MOTION_STATES = ("CANCELING", "COMPLETING")
_ANOTHER_SUBMISSION = re.compile(r"already added to another reviewSubmission with id\s+'?([\w-]+)", re.IGNORECASE)
_STILL_IN_PROGRESS = re.compile(r"reviewSubmission with id\s+'?([\w-]+)'?\s+(?:is\s+)?still in progress",
                                re.IGNORECASE)
_NOT_READY = re.compile(r"not ready to be submitted", re.IGNORECASE)


def submit_for_review(ctx: StepContext, client: AppStoreConnect, app_id: str, version: Resource, *,
                      cancel_previous: bool, first_release: bool, whats_new: Mapping[str, str] | None = None,
                      deadline: float | None = None, cancel_in_review: bool = False) -> Resource:
    """Submit `version` for App Review and return the submission. `whats_new` is the What's New per locale the
    version has, when the caller has just read it (else it is read here); `deadline` is the step's (clock value)."""
    platform = ctx.ipa.platform
    submissions = client.list_review_submissions(app_id, platform=platform,
                                                 states=[*OPEN_SUBMISSION_STATES, *IN_MOTION_STATES])
    draft: Resource | None = None
    for submission in submissions:
        state = submission.attr("state")
        holds_ours = submission.related_id("appStoreVersionForReview") == version.id
        if state in IN_MOTION_STATES:
            ctx.log.info("review submission %s is %s (on its way out): not reused", submission.id, state)
            continue
        if state in UNDER_REVIEW_STATES and holds_ours:
            ctx.log.info("version %s is already submitted for review (submission %s, %s)", ctx.ipa.version,
                         submission.id, state)
            ctx.run.review_submission_id = submission.id
            return submission
        if state == "WAITING_FOR_REVIEW" and cancel_in_review:
            withdraw_from_review(ctx, client, submission, patience(ctx, IN_MOTION_BUDGET, deadline))
            continue
        if state in (*UNDER_REVIEW_STATES, "UNRESOLVED_ISSUES"):
            what = {"UNRESOLVED_ISSUES": "has unresolved issues (Apple is waiting for your reply)",
                    "IN_REVIEW": "is in review", "WAITING_FOR_REVIEW": "is waiting for review"}[state]
            raise SubmissionConflict(
                f"review submission {submission.id} {what}; App Store Connect allows one submission per platform "
                "at a time",
                hint=WITHDRAW_HINT if state == "WAITING_FOR_REVIEW" else IN_REVIEW_HINT if state == "IN_REVIEW"
                else "resolve the issues in App Store Connect > App Review, then run the flow again",
            )
        if state != "READY_FOR_REVIEW":
            continue
        if holds_ours:
            draft = submission
        elif not submission.related_ids("items") and draft is None:
            draft = submission
        elif submission.related_ids("items"):
            if not cancel_previous:
                raise SubmissionConflict(
                    f"draft review submission {submission.id} already holds other items "
                    f"({len(submission.related_ids('items'))}); submitting would send them to review too",
                    hint="remove them in App Store Connect > App Review, or set cancel_previous_submission: true "
                    "to cancel that draft",
                )
            set_values(ctx, "cancel the previous draft",
                       partial(client.update_review_submission, submission.id, canceled=True))
            ctx.log.info("cancelled the previous draft review submission %s", submission.id)
    require_whats_new_everywhere(ctx, client, version.id, first_release=first_release, known=whats_new)
    in_motion = patience(ctx, IN_MOTION_BUDGET, deadline)
    if draft is None:
        draft = _while_in_motion(ctx, client, in_motion, lambda: create_once(
            ctx, "review submission",
            lambda: client.create_review_submission(app_id, platform=platform),
            lambda: next((s for s in client.list_review_submissions(app_id, platform=platform,
                                                                     states=["READY_FOR_REVIEW"])
                          if not s.related_ids("items")), None),
        ))
        ctx.log.info("created review submission %s", draft.id)
    else:
        ctx.log.info("reusing draft review submission %s", draft.id)
    ctx.run.review_submission_id = draft.id
    if draft.related_id("appStoreVersionForReview") != version.id:
        draft = _add_item(ctx, client, draft, version.id, in_motion)
    ctx.run.review_submission_id = draft.id
    if draft.attr("state") in UNDER_REVIEW_STATES:
        ctx.log.info("version %s is already submitted for review (submission %s)", ctx.ipa.version, draft.id)
        return draft
    submitted = _submit_when_ready(ctx, client, draft, version, patience(ctx, READY_FOR_REVIEW_BUDGET, deadline))
    ctx.log.info("submitted version %s for App Store review (submission %s, %s)", ctx.ipa.version, draft.id,
                 submitted.attr("state") or "WAITING_FOR_REVIEW")
    return submitted


# ------------------------------------------------------------------------------------------ withdrawing (H11)

WITHDRAW_HINT = ("set cancel_submission_in_review: true on this step (with submit_for_review) to withdraw it and "
                 "submit this one instead, or wait until Apple finishes it, then run the flow again")
IN_REVIEW_HINT = ("a submission Apple has started reviewing is not withdrawn by this tool (that would throw the review "
                  "in progress away); wait until Apple finishes it, or remove it in App Store Connect > App Review, "
                  "then run the flow again")


def withdraw_from_review(ctx: StepContext, client: AppStoreConnect, submission: Resource, bound: Patience,
                         version_string: str | None = None) -> None:
    """Withdraw a submission WAITING_FOR_REVIEW (PATCH canceled:true) and wait, bounded and visibly, until Apple
    has let it go: a new submission or item is refused while it is CANCELING (H11). The log names the version."""
    if submission.attr("state") != "WAITING_FOR_REVIEW":
        raise SubmissionConflict(f"review submission {submission.id} is {submission.attr('state')}, not "
                                 "WAITING_FOR_REVIEW, so it cannot be withdrawn", hint=IN_REVIEW_HINT)
    if version_string is None:
        version_id = submission.related_id("appStoreVersionForReview")
        held = client.get_app_store_version(version_id) if version_id else None
        version_string = str(held.attr("versionString")) if held is not None else "(unknown version)"
    try:
        client.update_review_submission(submission.id, canceled=True)
    except AscAmbiguousWriteError:
        # A repeat of an applied cancel is refused (the submission is CANCELING by then): read before repeating.
        if client.get_review_submission(submission.id).attr("state") == "WAITING_FOR_REVIEW":
            client.update_review_submission(submission.id, canceled=True)

    def look() -> tuple[Resource | None, str | None]:
        current = client.get_review_submission(submission.id)
        state = current.attr("state")
        return (current, None) if state not in (*IN_MOTION_STATES, "WAITING_FOR_REVIEW") else (None, f"it is {state}")

    settled = wait_until(ctx, f"finish withdrawing review submission {submission.id} (CANCELING)", look, bound)
    if settled is None:
        raise RemoteError(
            f"App Store version {version_string} was withdrawn from App Review (review submission {submission.id}), "
            "but App Store Connect is still cancelling it after waiting",
            hint="run the flow again in a few minutes: the withdrawal is done, and the next run submits this "
            "version once Apple has let the old submission go",
        )
    ctx.log.info("withdrew App Store version %s from App Review: review submission %s was WAITING_FOR_REVIEW, "
                 "now %s", version_string, submission.id, settled.attr("state"))


def withdraw_version_from_review(ctx: StepContext, client: AppStoreConnect, app_id: str, version: Resource,
                                 bound: Patience) -> bool:
    """Withdraw the submission WAITING_FOR_REVIEW that holds `version` (so another build can be attached); False
    when there is none."""
    for submission in client.list_review_submissions(app_id, platform=ctx.ipa.platform,
                                                     states=["WAITING_FOR_REVIEW"]):
        if submission.related_id("appStoreVersionForReview") == version.id:
            withdraw_from_review(ctx, client, submission, bound, version_string=str(version.attr("versionString")))
            return True
    return False


# ------------------------------------------------------------------------------------------ H11: in motion


def _in_motion(client: AppStoreConnect, exc: AscApiError, own: str | None = None) -> bool:
    """Whether a refusal is "reviewSubmission with id X still in progress" about a submission that is settling or
    has just settled, or about our own draft (which Apple is still setting up). Another one that is merely open,
    such as someone's draft, is not going away by itself: waiting would not help."""
    found = _STILL_IN_PROGRESS.search(exc.detail_text())
    if found is None or exc.status != 409:
        return False
    if found.group(1) == own:
        return True
    try:
        other = client.get_review_submission(found.group(1))
    except AscNotFoundError:
        return True  # gone already: the next try goes through
    return other.attr("state") not in OPEN_SUBMISSION_STATES


def _gave_up_in_motion(exc: AscApiError) -> PublishError:
    return RemoteError(
        f"a review submission is still in progress on App Store Connect after waiting: "
        f"{' '.join(exc.detail_text().split())}",
        hint="Apple is still cancelling or completing it; run the flow again in a few minutes (the steps already "
        "done are kept), or check App Store Connect > App Review",
    )


def _while_in_motion(ctx: StepContext, client: AppStoreConnect, bound: Patience,
                     action: Callable[[], Resource]) -> Resource:
    return retry_refused(ctx, "settle the review submission still in progress (CANCELING / COMPLETING)", action,
                         transient=lambda exc: _in_motion(client, exc), bound=bound, gave_up=_gave_up_in_motion)


def _add_item(ctx: StepContext, client: AppStoreConnect, draft: Resource, version_id: str,
              bound: Patience) -> Resource:
    """Add the version to `draft`; returns the submission that holds it (another draft, when Apple says it is
    already in one that is not on its way out)."""
    def find_item() -> Resource | None:
        return next((item for item in client.list_review_submission_items(draft.id)
                     if item.related_id("appStoreVersion") == version_id), None)

    def add() -> Resource:
        try:
            create_once(ctx, "review submission item",
                        lambda: client.create_review_submission_item(draft.id, version_id), find_item)
            return draft
        except AscApiError as exc:
            other = _ANOTHER_SUBMISSION.search(exc.detail_text()) if exc.status == 409 else None
            if other is None:
                raise
            holder = client.get_review_submission(other.group(1))
            if holder.attr("state") not in OPEN_SUBMISSION_STATES:
                # On its way out (or just out): not to be reused; the add goes through once it has settled.
                raise _StillInProgress(exc, holder) from exc
            ctx.log.info("version is already in review submission %s (%s); using it", holder.id,
                         holder.attr("state"))
            return holder

    def transient(exc: AscApiError) -> bool:
        return isinstance(exc, _StillInProgress) or _in_motion(client, exc, own=draft.id)

    return retry_refused(ctx, "settle the review submission still in progress (CANCELING / COMPLETING)", add,
                         transient=transient, bound=bound, gave_up=_gave_up_in_motion)


class _StillInProgress(AscApiError):
    """An "already added to another reviewSubmission" answer about a submission that is CANCELING/COMPLETING."""

    def __init__(self, cause: AscApiError, holder: Resource) -> None:
        super().__init__(cause.status, cause.errors, method=cause.method, path=cause.path)
        self.holder = holder

    def detail_text(self) -> str:
        return f"reviewSubmission with id {self.holder.id} still in progress ({self.holder.attr('state')})"


# ------------------------------------------------------------------------------------------ H1: ready for review


def _submit_when_ready(ctx: StepContext, client: AppStoreConnect, draft: Resource, version: Resource,
                       bound: Patience) -> Resource:
    what = f"make version {ctx.ipa.version} ready for review"
    def look() -> tuple[Resource | None, str | None]:
        current = client.get_app_store_version(version.id)
        state = version_state(current)
        return (current, None) if state in ("READY_FOR_REVIEW", *UNDER_REVIEW_STATES) else (None, f"it is {state}")

    ready = wait_until(ctx, what, look, bound)
    if ready is None:  # Apple's answer to the submit is what counts: try it, it says whether to wait on
        ctx.log.info("version %s is not READY_FOR_REVIEW yet after waiting; trying to submit anyway",
                     ctx.ipa.version)

    def submit(attempts: int = 3) -> Resource:
        # A lost answer is read back before the submit is sent again - after the last try too, which may be the
        # one that was applied (the answer of a repeat can be lost as well).
        for attempt in range(attempts):
            try:
                return client.update_review_submission(draft.id, submitted=True)
            except AscAmbiguousWriteError:
                reread = client.get_review_submission(draft.id)
                if reread is not None and reread.attr("state") != "READY_FOR_REVIEW":
                    return reread
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def gave_up(exc: AscApiError) -> PublishError:
        return RemoteError(
            f"App Store version {ctx.ipa.version} did not become ready for review after it was added to review "
            f"submission {draft.id}; App Store Connect still answers: {' '.join(exc.detail_text().split())}",
            hint="run the flow again in a few minutes: the version stays in that draft submission and the next run "
            "submits it (or submit it in App Store Connect > App Review)",
        )

    return retry_refused(ctx, what, submit, transient=lambda exc: bool(_NOT_READY.search(exc.detail_text())),
                         bound=bound, gave_up=gave_up)
