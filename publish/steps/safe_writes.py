"""Writes that are never blindly repeated (shared by every step that creates or changes something).

When the answer to a create is lost (`AscAmbiguousWriteError`), the state is read again and the create is sent only
if what it makes is still absent; a PATCH of absolute values is simply sent again, which leaves the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from publish.asc import AscAmbiguousWriteError, AscApiError
from publish.steps.base import StepContext

T = TypeVar("T")


def create_once(ctx: StepContext, what: str, create: Callable[[], T], find: Callable[[], T | None],
                attempts: int = 3) -> T:
    """Create something; if the answer was lost, look before creating it again (a few times: the answer of the
    next try can be lost too). A conflict after a lost answer is that lost create: it is looked up once more.
    The last lost answer is looked up too: it may be the one that was applied, and giving up without looking would
    report "may or may not" about a create that is there to be found."""
    for attempt in range(attempts):
        try:
            return create()
        except AscAmbiguousWriteError as exc:
            if attempt == attempts - 1:
                found = find()
                if found is not None:
                    ctx.log.info("%s: it had been applied; going on", what)
                    return found
                raise
            ctx.log.warning("%s: %s Checking App Store Connect before trying again.", what, exc.message)
        except AscApiError as exc:
            if attempt == 0 or exc.status != 409:
                raise
            conflict = exc
            found = find()
            if found is None:
                raise conflict from None
            return found
        found = find()
        if found is not None:
            ctx.log.info("%s: it had been applied; going on", what)
            return found
    raise AssertionError("unreachable")


def set_values(ctx: StepContext, what: str, update: Callable[[], T]) -> T:
    """A PATCH that sets absolute values (text, a flag): if its answer was lost, sending it again leaves the same
    state as sending it once, so it is repeated once."""
    try:
        return update()
    except AscAmbiguousWriteError as exc:
        ctx.log.warning("%s: %s Setting the same values again.", what, exc.message)
        return update()
