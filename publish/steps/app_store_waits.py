"""Bounded waits for App Store Connect's App Store side (protocol.md H1, H11, H16).

Apple answers some App Store writes with "not yet" rather than "no": a version is not ready to be submitted a
moment after it joined a review submission, a submission being cancelled is "still in progress" for up to minutes,
a version's releaseType "can't be modified" for a while. Clients that run in production wait those out (fastlane
10 x 15 s before submitting, codemagic up to 120 s for a submission in motion). A wait here is:

* bounded twice: by its own budget in seconds (what peers found enough) and by the step's deadline, whichever
  comes first, so a run never hangs and never outlives the step's timeout;
* paced by the run's poll interval, with the clock and sleep injected (tests and the demo run in milliseconds);
* visible: before every sleep it logs one line that says what it waits for and how far it is, e.g.
  `waiting for App Store Connect to make version 1.2.3 ready for review (2/15, at most 2 min 30 s): it is
  PREPARE_FOR_SUBMISSION`, which reads the same on a TTY
  and in a CI log (no carriage returns, no progress bars).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from publish.asc import AscApiError
from publish.errors import PublishError
from publish.steps.base import StepContext, format_duration

T = TypeVar("T")

# Budgets in seconds, from the clients that learned them against Apple.
READY_FOR_REVIEW_BUDGET = 150.0  # fastlane: 10 polls x 15 s before submitting (H1)
IN_MOTION_BUDGET = 120.0  # codemagic: a review submission "still in progress" (H11)
RELEASE_TYPE_BUDGET = 120.0  # fastlane waits around the releaseType update (H16)
# However long the poll interval, a wait looks this many times at least.
MIN_ATTEMPTS = 10
# With a poll interval shorter than this (tests, the demo) not every look gets a line: one per this many seconds.
LOG_EVERY = 5.0


@dataclass(frozen=True)
class Patience:
    """How long one wait may last: `attempts` more looks, `interval` seconds apart, never past `deadline` (a value
    of the step's clock; None: no step deadline)."""

    attempts: int
    interval: float
    deadline: float | None = None
    budget: float = 0.0  # seconds, as shown on the waiting line


def patience(ctx: StepContext, budget: float, deadline: float | None = None) -> Patience:
    """The patience for a wait of `budget` seconds at the run's poll interval."""
    interval = max(ctx.poll_interval, 0.001)
    attempts = max(MIN_ATTEMPTS, math.ceil(budget / interval))
    return Patience(attempts=attempts, interval=interval, deadline=deadline, budget=attempts * interval)


def _may_wait(ctx: StepContext, bound: Patience, attempt: int) -> bool:
    if attempt > bound.attempts:
        return False
    return bound.deadline is None or ctx.clock() + bound.interval <= bound.deadline


def _pause(ctx: StepContext, what: str, bound: Patience, attempt: int, why: str | None,
           last_line: list[float]) -> None:
    now = ctx.clock()
    if last_line and now - last_line[0] < LOG_EVERY and attempt < bound.attempts:
        ctx.sleep(bound.interval)
        return
    last_line[:] = [now]
    if why and len(why) > 160:
        why = why[:157] + "..."
    ctx.log.info("waiting for App Store Connect to %s (%d/%d, at most %s)%s", what, attempt, bound.attempts,
                 format_duration(bound.budget), f": {why}" if why else "")
    ctx.sleep(bound.interval)


def wait_until(ctx: StepContext, what: str, look: Callable[[], tuple[T | None, str | None]],
               bound: Patience) -> T | None:
    """Call `look` until it returns a value (not None); None when patience runs out. `look` returns (value, why not
    yet): the reason is shown on the waiting line (e.g. the state Apple reports)."""
    value, why = look()
    attempt = 1
    last_line: list[float] = []
    while value is None and _may_wait(ctx, bound, attempt):
        _pause(ctx, what, bound, attempt, why, last_line)
        value, why = look()
        attempt += 1
    return value


def retry_refused(ctx: StepContext, what: str, action: Callable[[], T], *, transient: Callable[[AscApiError], bool],
                  bound: Patience, gave_up: Callable[[AscApiError], PublishError],
                  between: Callable[[], T | None] | None = None) -> T:
    """Run `action`; while Apple refuses it with a refusal that means "not yet" (`transient`), wait and run it again.

    `between` runs after each sleep before the retry (e.g. a re-read that lets the state move on); when it returns a
    value, that value is the result (the write turned out to be done). When patience runs out, `gave_up` turns the
    last refusal into the error to raise (saying what Apple said and what to do)."""
    attempt = 1
    last_line: list[float] = []
    while True:
        try:
            return action()
        except AscApiError as exc:
            if not transient(exc):
                raise
            if not _may_wait(ctx, bound, attempt):
                raise gave_up(exc) from exc
            _pause(ctx, what, bound, attempt, " ".join(exc.detail_text().split()) or None, last_line)
            attempt += 1
            if between is not None:
                done = between()
                if done is not None:
                    return done
