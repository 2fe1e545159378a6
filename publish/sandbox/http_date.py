"""The Date header of the simulator's answers, formatted once a second rather than once an answer.

BaseHTTPRequestHandler.date_time_string formats the current time with email.utils.formatdate (~7 us, a good part
of what sending an answer's status line and headers costs), and every answer within the same second gets the same
text: formatdate keeps whole seconds of the UTC moment. So the text is kept with that moment (the datetime the
timestamp makes, its microseconds dropped: exactly what formatdate's format_datetime reads, rounding included)."""

from __future__ import annotations

import datetime
import email.utils
import time
from collections.abc import Callable


class HttpDate:
    """Called with no argument: the Date header text for now, as date_time_string() gives it. Shared by the
    handler threads of one server: a race formats the same second twice, never a wrong one."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._last: tuple[datetime.datetime, str] | None = None

    def __call__(self) -> str:
        moment = datetime.datetime.fromtimestamp(self._now(), datetime.timezone.utc)
        second = moment.replace(microsecond=0)
        last = self._last
        if last is not None and last[0] == second:
            return last[1]
        text = email.utils.format_datetime(moment, usegmt=True)  # formatdate(timestamp, usegmt=True)'s call
        self._last = (second, text)
        return text
