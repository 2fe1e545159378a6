"""A build's life on App Store Connect after the upload, in one place: waiting for the build upload to finish,
for the build to appear and be processed (VALID), and for TestFlight to be ready for it (protocol.md C5, D, H).

Why one module: the upload engine and the TestFlight steps both wait for the same things, and Apple's habits
(protocol.md H) apply to both alike:
- H.2: VALID is not yet ready for TestFlight. `buildBetaDetail.internalBuildState` (and, for external testing,
  `externalBuildState`) first leave PROCESSING; after an export compliance PATCH the external state stays
  MISSING_EXPORT_COMPLIANCE a while. Adding groups or submitting beta review before that is refused with 422.
- H.9: a resource created a moment ago may answer 404; `include=build` reads `build: null` while PROCESSING; a
  committed file may still read AWAITING_UPLOAD. 404s are retried (a few times, bounded) only on reads of what
  was just created, so a real "not found" elsewhere is still reported at once.

Every wait is bounded by one budget (the step's processing_timeout), says what it waits for on each poll
(`waiting for App Store Connect to finish the build's TestFlight processing (2/60)`, in CI logs as on a TTY),
and takes its clock and sleep from the caller.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TypeVar

from publish.asc.client import AppStoreConnect
from publish.asc.errors import AscApiError, AscNotFoundError
from publish.asc.resources import Resource
from publish.errors import RemoteError

log = logging.getLogger(__name__)
T = TypeVar("T")

# H.9: how many reads of a just-created resource may answer 404 before the 404 is believed.
PROPAGATION_ATTEMPTS = 5
FINISHED_PROCESSING = ("VALID", "FAILED", "INVALID")
# buildBetaDetail states that mean "TestFlight has not caught up with the build yet" (H.2)
NOT_YET_READY = ("PROCESSING",)


class WaitTimedOut(RemoteError):
    """The budget ran out while waiting; `what` says for what."""

    def __init__(self, message: str, *, hint: str | None = None, what: str = "") -> None:
        super().__init__(message, hint=hint)
        self.what = what


class Waiting:
    """One bounded waiting budget: every wait of a step (or an upload) draws from the same deadline."""

    def __init__(self, *, timeout: float, interval: float, clock: Callable[[], float],
                 sleep: Callable[[float], None], report: Callable[[str], None] | None = None) -> None:
        self.timeout = float(timeout)
        self.interval = max(0.0, float(interval))
        self.clock = clock
        self.sleep = sleep
        self.report = report or log.info
        self.deadline = clock() + self.timeout
        self.polls = 0

    def expired(self) -> bool:
        return self.clock() >= self.deadline

    def _planned(self) -> int | None:
        remaining = self.deadline - self.clock()
        if self.interval <= 0:
            return None
        return max(1, math.ceil(remaining / self.interval))

    def pause(self, what: str, count: int, planned: int | None) -> None:
        """One poll interval, announced: `waiting for App Store Connect to <what> (n/N)`."""
        # A count of thousands (a short poll interval) says less than the time left.
        shown = f"{count}/{planned}" if planned is not None and planned <= 120 else \
            f"{count}, at most {_minutes(max(0.0, self.deadline - self.clock()))} more"
        self.report(f"waiting for App Store Connect to {what} ({shown})")
        self.polls += 1
        self.sleep(self.interval)

    def until(self, what: str, read: Callable[[], T], done: Callable[[T], bool],
              timed_out: Callable[[T], Exception]) -> T:
        """Read, and while not `done`, wait one interval and read again; `timed_out(last)` when the budget ends."""
        value = read()
        count = 0
        planned = self._planned()
        while not done(value):
            if self.expired():
                raise timed_out(value)
            count += 1
            self.pause(what, count, planned)
            value = read()
        return value


def read_just_created(waiting: Waiting, what: str, read: Callable[[], T]) -> T:
    """A read of something created a moment ago: a 404 is App Store Connect's propagation delay (H.9), retried a
    few times within the budget; after that it is believed."""
    for attempt in range(1, PROPAGATION_ATTEMPTS + 1):
        try:
            return read()
        except AscNotFoundError:
            if attempt == PROPAGATION_ATTEMPTS or waiting.expired():
                raise
            waiting.pause(f"make {what} visible", attempt, PROPAGATION_ATTEMPTS - 1)
    raise AssertionError("unreachable")


def refused_as_not_ready(error: AscApiError) -> bool:
    """Apple's H.2 refusal: "The build is not in a valid processing state for this operation" (422)."""
    text = error.detail_text().lower()
    return error.status in (409, 422) and ("not in a valid processing state" in text
                                           or "not in state for internal testing" in text)


def retry_while_not_ready(waiting: Waiting, what: str, write: Callable[[], T],
                          reread: Callable[[], object] | None = None) -> T:
    """A TestFlight write that Apple may refuse with H.2's 422 although the beta detail read ready: wait one
    interval, re-read the build's state (`reread`) and send it again, within the budget (a refused write changed
    nothing)."""
    count = 0
    while True:
        try:
            return write()
        except AscApiError as error:
            if not refused_as_not_ready(error) or waiting.expired():
                raise
            count += 1
            waiting.pause(f"accept {what} (the build is not ready for it yet)", count, None)
            if reread is not None:
                reread()


def processing_state(build: Resource) -> str | None:
    state: str | None = build.attr("processingState")
    return state


def wait_until_processed(client: AppStoreConnect, build: Resource, waiting: Waiting, *, label: str) -> Resource:
    """The build once processing has ended (VALID, FAILED or INVALID: the caller judges the state)."""
    if processing_state(build) in FINISHED_PROCESSING:
        return build

    def timed_out(last: Resource) -> Exception:
        return WaitTimedOut(f"build {label} (id {build.id}) is still {processing_state(last) or 'PROCESSING'} "
                            f"after {_minutes(waiting.timeout)}", what="processing",
                            hint="raise processing_timeout, or run the flow again later: the build is reused, not "
                            "re-uploaded")

    return waiting.until("finish processing the build", lambda: read_just_created(
        waiting, "the new build", lambda: client.get_build(build.id)),
        lambda b: processing_state(b) in FINISHED_PROCESSING, timed_out)


def testflight_ready(detail: Resource | None, *, external: bool, compliance_set_now: bool) -> bool:
    """H.2: TestFlight has caught up with the build (internal, and for external testing external, state)."""
    if detail is None:
        return True  # nothing says otherwise; Apple's own answer to the write decides
    internal = detail.attr("internalBuildState")
    external_state = detail.attr("externalBuildState")
    if internal in NOT_YET_READY:
        return False
    if external and external_state in NOT_YET_READY:
        return False
    if external and compliance_set_now and external_state == "MISSING_EXPORT_COMPLIANCE":
        return False
    return True


def wait_until_testflight_ready(client: AppStoreConnect, build_id: str, waiting: Waiting, *, label: str,
                                external: bool, compliance_set_now: bool,
                                known: Resource | None = None) -> Resource | None:
    """The build's beta detail once groups and beta review will be accepted (H.2). `known` is a beta detail
    read a moment ago (no extra call when it already says ready)."""
    if known is not None and testflight_ready(known, external=external, compliance_set_now=compliance_set_now):
        return known

    def timed_out(last: Resource | None) -> Exception:
        states = (f"internal {last.attr('internalBuildState')}, external {last.attr('externalBuildState')}"
                  if last is not None else "unknown")
        return WaitTimedOut(f"build {label} is VALID but TestFlight is not ready for it after "
                            f"{_minutes(waiting.timeout)} ({states})", what="TestFlight processing",
                            hint="raise processing_timeout, or run the flow again later: the build is reused and "
                            "the TestFlight settings are applied then")

    first = [known]

    def read() -> Resource | None:
        if first:
            value = first.pop()
            if value is not None:
                return value
        return read_just_created(waiting, "the build's beta detail", lambda: client.get_build_beta_detail(build_id))

    return waiting.until("finish the build's TestFlight processing", read,
                         lambda d: testflight_ready(d, external=external, compliance_set_now=compliance_set_now),
                         timed_out)


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
