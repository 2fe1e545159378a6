"""The run report: what a run cost, measured while it ran, never estimated afterwards.

Three figures people ask of a CI publish: how many App Store Connect calls it made (the hourly budget is per key,
H.13), how fast the binary went out, and how long the job sat waiting for Apple. Each is taken where it happens:

- calls: the clients' own count (the runner's `_Clients.call_count`), status polls included;
- bytes: the upload result's `bytes_sent` (what this run PUT; parts acknowledged by an earlier run are not sent
  again and not counted; an upload that failed has no result, so the parts the storage acknowledged count), over
  the time the parts were in transfer (the upload's progress reporter, start to finish), so processing waits do not
  dilute the throughput;
- waiting: every sleep the run makes goes through a metered sleep, so the figure is the sum of the waits asked for
  (a fake sleep in tests is counted the same as a real one). The clients' sleeps are rate-limit waits (Retry-After)
  and retry backoffs; the steps' and the uploader's are status polls (processing, review states) and upload-part
  retry backoffs.

Thread-safe: upload parts are sent, and may back off, from worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from publish.upload.progress import ProgressReporter

Sleep = Callable[[float], None]
RETRIES = "rate_limits_and_retries"
POLLS = "polls"


class RunMeter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._waited = {RETRIES: 0.0, POLLS: 0.0}
        self._waits = 0
        self._bytes_sent = 0
        self._uploads = 0
        self._transfer_s = 0.0
        self._acknowledged = 0  # by the storage, as the progress reporter saw it

    # ------------------------------------------------------------------ what the run passes through

    def sleep(self, sleep: Sleep, kind: str) -> Sleep:
        """`sleep`, counted as a wait of `kind` (RETRIES or POLLS)."""
        if kind not in self._waited:
            raise ValueError(f"unknown kind of wait: {kind}")

        def metered(seconds: float) -> None:
            with self._lock:
                self._waited[kind] += max(0.0, float(seconds))
                self._waits += 1
            sleep(seconds)
        return metered

    def progress(self, stream: Any) -> ProgressReporter:
        """The upload's progress reporter, also timing each transfer from its start to its finish."""
        return _TimedProgress(self, stream, clock=self._clock)

    def uploader(self, uploader: Any) -> Any:
        """`uploader`, whose results' bytes are counted."""
        return _CountedUploader(self, uploader)

    def add_transfer(self, seconds: float) -> None:
        with self._lock:
            self._transfer_s += max(0.0, seconds)

    def add_acknowledged(self, length: int) -> None:
        with self._lock:
            self._acknowledged += max(0, int(length))

    @property
    def acknowledged(self) -> int:
        with self._lock:
            return self._acknowledged

    def add_upload(self, bytes_sent: int) -> None:
        with self._lock:
            self._uploads += 1
            self._bytes_sent += max(0, int(bytes_sent))

    # ------------------------------------------------------------------ the report

    def report(self, *, api_calls: int) -> dict[str, Any]:
        """The result's `report` object (schemas/run-result.schema.json)."""
        with self._lock:
            sent, transfer = self._bytes_sent, self._transfer_s
            waited = dict(self._waited)
            waits = self._waits
            uploads = self._uploads
        transfer = round(transfer, 6)  # loopback transfers take milliseconds; the rate is computed from this figure
        return {
            "api_calls": int(api_calls),
            "uploads": uploads,
            "bytes_sent": sent,
            "transfer_s": transfer,
            # None rather than a made-up figure: nothing sent, or too fast for the clock to see.
            "throughput_bytes_per_s": round(sent / transfer, 1) if sent and transfer > 0 else None,
            "waiting_s": round(sum(waited.values()), 3),
            "waiting": {f"{kind}_s": round(seconds, 3) for kind, seconds in waited.items()} | {"count": waits},
        }


class _TimedProgress(ProgressReporter):
    def __init__(self, meter: RunMeter, stream: Any, *, clock: Callable[[], float]) -> None:
        super().__init__(stream, clock=clock)
        self._meter = meter
        self._timing_since: float | None = None

    def start(self, total: int, *, already: int = 0, label: str | None = None) -> None:
        self._timing_since = self._clock()
        super().start(total, already=already, label=label)

    def acknowledge(self, length: int) -> None:
        self._meter.add_acknowledged(length)
        super().acknowledge(length)

    def finish(self, *, ok: bool = True) -> None:
        since, self._timing_since = self._timing_since, None
        if since is not None:
            self._meter.add_transfer(self._clock() - since)
        super().finish(ok=ok)


class _CountedUploader:
    """A BuildUploader whose `upload` results are counted; everything else is the uploader's own."""

    def __init__(self, meter: RunMeter, inner: Any) -> None:
        self._meter = meter
        self._inner = inner

    def upload(self, *args: Any, **kwargs: Any) -> Any:
        before = self._meter.acknowledged
        try:
            result = self._inner.upload(*args, **kwargs)
        except BaseException:
            # No result to read: the parts the storage acknowledged before the failure were sent all the same.
            self._meter.add_upload(self._meter.acknowledged - before)
            raise
        self._meter.add_upload(getattr(result, "bytes_sent", 0) or 0)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
