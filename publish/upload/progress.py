"""Upload progress for people: a redrawn bar on a terminal, a few plain lines in CI logs.

On a TTY one line is redrawn (at most ~10 times a second) with bytes sent, throughput and ETA. Without a TTY
(GitHub Actions, log files) a line is written each time another 5 % is done or 10 s have passed, whichever comes
first, so a long upload gives a heartbeat without flooding the log (at most 20 lines plus one per 10 s).
Thread-safe: part workers report bytes concurrently. The stream and the clock are injectable for tests.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

MB = 1_000_000


def _format_bytes(n: float) -> str:
    if n >= 1000 * MB:
        return f"{n / (1000 * MB):.2f} GB"
    return f"{n / MB:.1f} MB"


def _format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressReporter:
    TTY_INTERVAL = 0.1
    LOG_STEP_PERCENT = 5
    LOG_INTERVAL = 10.0
    RATE_WINDOW = 5.0
    BAR_WIDTH = 24

    def __init__(self, stream: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic,
                 is_tty: bool | None = None, label: str = "Uploading") -> None:
        self._stream = stream if stream is not None else sys.stderr
        if is_tty is None:
            isatty = getattr(self._stream, "isatty", None)
            is_tty = bool(isatty()) if callable(isatty) else False
        self.is_tty = is_tty
        self._clock = clock
        self.label = label
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._initial = 0
        self._started = 0.0
        self._last_draw: float | None = None
        self._next_percent = 0
        self._samples: deque[tuple[float, int]] = deque()
        self._active = False
        self._line_width = 0
        self.lines_written = 0

    def start(self, total: int, *, already: int = 0, label: str | None = None) -> None:
        """Begin a transfer of `total` bytes of which `already` were sent by an earlier run (resume)."""
        with self._lock:
            if label is not None:
                self.label = label
            self._total = max(0, total)
            self._done = self._initial = max(0, min(already, self._total))
            self._started = self._clock()
            self._samples = deque([(self._started, self._done)])
            self._last_draw = None
            self._next_percent = (self._percent() // self.LOG_STEP_PERCENT + 1) * self.LOG_STEP_PERCENT
            self._active = True
            if self.is_tty:
                self._draw(force=True)
            elif already:
                self._last_draw = self._started
                self._write_line(f"{self.label}: resuming, {_format_bytes(already)} of {_format_bytes(total)} "
                                 "already sent")
            else:
                self._last_draw = self._started
                self._write_line(f"{self.label}: {_format_bytes(total)} to send")

    def update(self, delta: int) -> None:
        """`delta` more bytes sent (negative when an attempt failed and its bytes will be sent again)."""
        with self._lock:
            if not self._active:
                return
            self._done = max(0, min(self._total, self._done + delta))
            self._draw(force=False)

    def set_done(self, done: int) -> None:
        """Correct the count (a new reservation: parts sent to the old one no longer count)."""
        with self._lock:
            if self._active:
                self._done = max(0, min(self._total, done))
                self._draw(force=False)

    def finish(self, *, ok: bool = True) -> None:
        with self._lock:
            if not self._active:
                return
            self._active = False
            elapsed = max(self._clock() - self._started, 1e-9)
            sent = self._done - self._initial
            if self.is_tty:
                self._render_tty(final=True)
                self._stream.write("\n")
                self._stream.flush()
            elif ok:
                self._write_line(f"{self.label}: done, {_format_bytes(self._done)} "
                                 f"({_format_bytes(sent / elapsed)}/s over {_format_duration(elapsed)})")
            else:
                self._write_line(f"{self.label}: stopped at {self._percent()}% "
                                 f"({_format_bytes(self._done)} of {_format_bytes(self._total)})")

    # ------------------------------------------------------------------ drawing

    def _percent(self) -> int:
        return 100 if self._total == 0 else int(self._done * 100 // self._total)

    def _rate(self, now: float) -> float:
        """Bytes per second over the last few seconds (the whole run until the window fills)."""
        self._samples.append((now, self._done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.RATE_WINDOW:
            self._samples.popleft()
        first_time, first_done = self._samples[0]
        span = now - first_time
        return max(0.0, (self._done - first_done) / span) if span > 0 else 0.0

    def _draw(self, *, force: bool) -> None:
        now = self._clock()
        if self.is_tty:
            if force or self._last_draw is None or now - self._last_draw >= self.TTY_INTERVAL:
                self._last_draw = now
                self._render_tty(final=False)
            return
        percent = self._percent()
        due_percent = percent >= self._next_percent and percent < 100
        due_time = self._last_draw is not None and now - self._last_draw >= self.LOG_INTERVAL
        if due_percent or due_time:
            self._last_draw = now
            if due_percent:
                self._next_percent = (percent // self.LOG_STEP_PERCENT + 1) * self.LOG_STEP_PERCENT
            rate = self._rate(now)
            self._write_line(f"{self.label}: {percent}% ({_format_bytes(self._done)} of "
                             f"{_format_bytes(self._total)}), {_format_bytes(rate)}/s{self._eta(rate)}")

    def _eta(self, rate: float) -> str:
        if rate <= 0 or self._done >= self._total:
            return ""
        return f", ETA {_format_duration((self._total - self._done) / rate)}"

    def _render_tty(self, *, final: bool) -> None:
        now = self._clock()
        rate = self._rate(now)
        if final:
            elapsed = max(now - self._started, 1e-9)
            rate = (self._done - self._initial) / elapsed
        percent = self._percent()
        filled = self.BAR_WIDTH if self._total == 0 else int(self.BAR_WIDTH * self._done // self._total)
        bar = "#" * filled + "-" * (self.BAR_WIDTH - filled)
        line = (f"{self.label} [{bar}] {percent:3d}% {_format_bytes(self._done)} / {_format_bytes(self._total)} "
                f"{_format_bytes(rate)}/s{'' if final else self._eta(rate)}")
        padding = " " * max(0, self._line_width - len(line))
        self._line_width = len(line)
        self._stream.write("\r" + line + padding)
        self._stream.flush()
        self.lines_written += 1 if final else 0

    def _write_line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
        self.lines_written += 1
