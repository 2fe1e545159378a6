"""Upload progress for people: a redrawn bar on a terminal, a few plain lines in CI logs.

What it counts: ACKNOWLEDGED bytes, a part's length once its PUT was answered with success. Bytes handed to
the socket say little (the kernel and proxies buffer megabytes, so a bar fed by them showed 40 % "sent" after
30 ms at "1.07 GB/s", then sat still); they are kept apart as "in flight" and shown only as such.

When it draws: on a clock, not only when bytes move. A ticker thread redraws the bar ~10 times a second on a
TTY, so elapsed time keeps running and a stall is named ("stalled 0:42") instead of the bar freezing. Without
a TTY (GitHub Actions, log files) a line is written each time another 5 % is acknowledged or 10 s have passed,
whichever comes first: a heartbeat that does not flood the log (at most 20 lines plus one per 10 s).

How it looks: one unit system, IEC (KiB, MiB, GiB; MiB/s), and a line that fits the terminal's width
(less one column, so the cursor never wraps): the bar shrinks first, then the least useful fields go.

Thread-safe: part workers report concurrently with the ticker. Stream, clock, width and ticker are injectable.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

KIB = 1024
_UNITS = ((KIB**3, "GiB"), (KIB**2, "MiB"), (KIB, "KiB"))


def _unit_for(n: float) -> tuple[int, str]:
    """The largest unit that keeps the figure under 1000 (1023.9 MiB reads 1.00 GiB, not 1024.0 MiB)."""
    for size, name in _UNITS:
        if n >= size * 1000 / 1024:
            return size, name
    return 1, "B"


def format_bytes(n: float) -> str:
    """`n` bytes in IEC units: 512 B, 12.0 KiB, 340.5 MiB, 1.25 GiB."""
    size, name = _unit_for(n)
    if size == 1:
        return f"{int(n)} B"
    return f"{n / size:.2f} {name}" if name == "GiB" else f"{n / size:.1f} {name}"


def format_amount(done: float, total: float) -> str:
    """`done` of `total` in the total's unit: '120.5/512.0 MiB'."""
    size, name = _unit_for(total)
    if size == 1:
        return f"{int(done)}/{int(total)} B"
    digits = 2 if name == "GiB" else 1
    return f"{done / size:.{digits}f}/{total / size:.{digits}f} {name}"


def format_duration(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _terminal_columns() -> int:
    return shutil.get_terminal_size(fallback=(80, 24)).columns


class ProgressReporter:
    TTY_INTERVAL = 0.1  # redraws per second on a TTY: 10
    LOG_STEP_PERCENT = 5
    LOG_INTERVAL = 10.0
    RATE_WINDOW = 5.0
    STALL_AFTER = 5.0  # seconds without an acknowledged part before the bar says "stalled"
    MIN_BAR = 8
    MAX_BAR = 30

    def __init__(self, stream: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic,
                 is_tty: bool | None = None, label: str = "Uploading",
                 columns: Callable[[], int] = _terminal_columns, ticker: bool = True) -> None:
        self._stream = stream if stream is not None else sys.stderr
        if is_tty is None:
            isatty = getattr(self._stream, "isatty", None)
            is_tty = bool(isatty()) if callable(isatty) else False
        self.is_tty = is_tty
        self._clock = clock
        self._columns = columns
        self._use_ticker = ticker
        self.label = label
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0  # acknowledged
        self._in_flight = 0  # handed to the socket, not answered yet
        self._initial = 0
        self._started = 0.0
        self._last_ack = 0.0
        self._last_draw: float | None = None
        self._next_percent = 0
        self._samples: deque[tuple[float, int]] = deque()
        self._active = False
        self._line_width = 0
        self._bar_cap = self.MAX_BAR  # the bar only ever narrows during a transfer: no jitter as figures grow
        self._ticker: threading.Thread | None = None
        self._stop_ticker = threading.Event()
        self.lines_written = 0

    # ------------------------------------------------------------------ what the upload reports

    def start(self, total: int, *, already: int = 0, label: str | None = None) -> None:
        """Begin a transfer of `total` bytes of which `already` were acknowledged in an earlier run (resume)."""
        with self._lock:
            if label is not None:
                self.label = label
            self._total = max(0, total)
            self._done = self._initial = max(0, min(already, self._total))
            self._in_flight = 0
            self._started = self._last_ack = self._clock()
            self._samples = deque([(self._started, self._done)])
            self._last_draw = None
            self._bar_cap = self.MAX_BAR
            self._next_percent = (self._percent() // self.LOG_STEP_PERCENT + 1) * self.LOG_STEP_PERCENT
            self._active = True
            if self.is_tty:
                self._draw(force=True)
            else:
                self._last_draw = self._started
                if already:
                    self._write_line(f"{self.label}: resuming, {format_bytes(already)} of {format_bytes(total)} "
                                     "already acknowledged")
                else:
                    self._write_line(f"{self.label}: {format_bytes(total)} to send")
        if self._use_ticker:
            self._start_ticker()

    def sending(self, delta: int) -> None:
        """`delta` bytes handed to the socket (negative: an attempt failed and they will be sent again)."""
        with self._lock:
            if self._active:
                self._in_flight = max(0, self._in_flight + delta)

    def acknowledge(self, length: int) -> None:
        """A part of `length` bytes got its success answer: only now do its bytes count."""
        with self._lock:
            if not self._active:
                return
            self._in_flight = max(0, self._in_flight - length)
            self._done = max(0, min(self._total, self._done + length))
            self._last_ack = self._clock()
            self._draw(force=False)

    def update(self, delta: int) -> None:
        """`delta` more bytes acknowledged (for callers without parts); same as acknowledge without in-flight."""
        with self._lock:
            if not self._active:
                return
            self._done = max(0, min(self._total, self._done + delta))
            if delta > 0:
                self._last_ack = self._clock()
            self._draw(force=False)

    def set_done(self, done: int) -> None:
        """Correct the count (a new reservation: parts sent to the old one no longer count)."""
        with self._lock:
            if self._active:
                self._done = max(0, min(self._total, done))
                self._in_flight = 0
                self._draw(force=False)

    def tick(self) -> None:
        """Redraw (TTY) or write a heartbeat when due; the ticker calls this on its own clock."""
        with self._lock:
            if self._active:
                self._draw(force=False)

    def finish(self, *, ok: bool = True) -> None:
        self._halt_ticker()
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
                self._write_line(f"{self.label}: done, {format_bytes(self._done)} "
                                 f"({format_bytes(sent / elapsed)}/s over {format_duration(elapsed)})")
            else:
                self._write_line(f"{self.label}: stopped at {self._percent()}% "
                                 f"({format_amount(self._done, self._total)} acknowledged)")

    # ------------------------------------------------------------------ the ticker

    def _halt_ticker(self) -> None:
        self._stop_ticker.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join()

    def _start_ticker(self) -> None:
        self._halt_ticker()
        self._stop_ticker = threading.Event()
        interval = self.TTY_INTERVAL if self.is_tty else min(1.0, self.LOG_INTERVAL)
        stop = self._stop_ticker

        def run() -> None:
            while not stop.wait(interval):
                self.tick()

        self._ticker = threading.Thread(target=run, name="upload-progress", daemon=True)
        self._ticker.start()

    # ------------------------------------------------------------------ drawing (called with the lock held)

    def _percent(self) -> int:
        return 100 if self._total == 0 else int(self._done * 100 // self._total)

    def _rate(self, now: float) -> float:
        """Acknowledged bytes per second over the last few seconds (the whole run until the window fills)."""
        self._samples.append((now, self._done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.RATE_WINDOW:
            self._samples.popleft()
        first_time, first_done = self._samples[0]
        span = now - first_time
        return max(0.0, (self._done - first_done) / span) if span > 0 else 0.0

    def _stalled_for(self, now: float) -> float:
        """Seconds since the last acknowledged part, once that is long enough to say so (else 0)."""
        quiet = now - self._last_ack
        return quiet if quiet >= self.STALL_AFTER and self._done < self._total else 0.0

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
            stalled = self._stalled_for(now)
            timing = (f", no part acknowledged for {format_duration(stalled)}" if stalled else self._eta(rate, ", "))
            self._write_line(f"{self.label}: {percent}% ({format_amount(self._done, self._total)} acknowledged), "
                             f"{format_bytes(rate)}/s{timing}, elapsed {format_duration(now - self._started)}")

    def _eta(self, rate: float, prefix: str) -> str:
        if rate <= 0 or self._done >= self._total:
            return ""
        return f"{prefix}ETA {format_duration((self._total - self._done) / rate)}"

    def _render_tty(self, *, final: bool) -> None:
        now = self._clock()
        rate = self._rate(now)
        elapsed = now - self._started
        if final:
            rate = (self._done - self._initial) / max(elapsed, 1e-9)
        stalled = 0.0 if final else self._stalled_for(now)
        timing = f"stalled {format_duration(stalled)}" if stalled else ("" if final else self._eta(rate, ""))
        in_flight = f"(+{format_bytes(self._in_flight)} in flight)" if self._in_flight and not final else ""
        line = self.compose(width=max(20, self._columns()) - 1, percent=self._percent(),
                            amount=format_amount(self._done, self._total), rate=f"{format_bytes(rate)}/s",
                            timing=timing, elapsed=f"{format_duration(elapsed)} elapsed", in_flight=in_flight)
        padding = " " * max(0, self._line_width - len(line))
        self._line_width = len(line)
        self._stream.write("\r" + line + padding)
        self._stream.flush()
        self.lines_written += 1 if final else 0

    def compose(self, *, width: int, percent: int, amount: str, rate: str, timing: str, elapsed: str,
                in_flight: str = "") -> str:
        """The bar line in at most `width` characters: the richest variant that fits, bar between MIN and MAX."""
        fraction = 1.0 if self._total == 0 else self._done / self._total
        label, short, shorter = self.label, _shorten(self.label, 28), _shorten(self.label, 16)
        variants = (  # (label, fields, narrowest bar)
            (label, [amount, in_flight, rate, timing, elapsed], 20),
            (label, [amount, rate, timing, elapsed], self.MIN_BAR),
            (label, [amount, rate, timing], self.MIN_BAR),
            (short, [amount, rate, timing], self.MIN_BAR),
            (shorter, [amount, rate, timing], self.MIN_BAR),
            (shorter, [amount, timing or rate], self.MIN_BAR),
            ("", [amount, timing or rate], self.MIN_BAR),
        )

        def tail_of(fields: list[str]) -> str:
            return " ".join(f for f in [f"{percent:3d}%", *fields] if f)

        for text, fields, narrowest in variants:
            tail = tail_of(fields)
            room = width - len(tail) - (len(text) + 1 if text else 0) - 3  # "[", "] "
            if room >= narrowest:
                bar_width = self._bar_cap = min(self._bar_cap, room)
                filled = int(bar_width * fraction)
                bar = "[" + "#" * filled + "-" * (bar_width - filled) + "]"
                return " ".join(p for p in (text, bar, tail) if p)
        # Very narrow: no bar; a stall or the ETA still shows when it fits.
        tail = tail_of([amount, timing or rate])
        return tail if len(tail) <= width else tail_of([amount])[:width]

    def _write_line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
        self.lines_written += 1


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."  # ASCII: stderr may not be UTF-8
