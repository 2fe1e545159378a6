"""Progress output: a redrawn bar on a TTY, a bounded number of plain lines otherwise."""

from __future__ import annotations

import io

from publish.upload.progress import ProgressReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(is_tty: bool, *, updates: int = 10_000, total: int = 1_000_000_000, seconds: float = 200.0) -> tuple[str, ProgressReporter]:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=is_tty, label="Uploading App.ipa")
    progress.start(total)
    step = total // updates
    for _ in range(updates):
        clock.now += seconds / updates
        progress.update(step)
    progress.finish()
    return stream.getvalue(), progress


def test_non_tty_writes_about_one_line_per_five_percent_or_ten_seconds() -> None:
    output, progress = _run(False)
    lines = output.splitlines()
    # 200 s: at most 20 percent steps + 20 ten-second beats + start + end
    assert 20 <= len(lines) <= 42
    assert "\r" not in output
    assert lines[-1].startswith("Uploading App.ipa: done, 1.00 GB")
    assert any("50%" in line and "MB/s" in line and "ETA" in line for line in lines)


def test_non_tty_heartbeat_every_ten_seconds_when_slow() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=False)
    progress.start(10_000_000_000)
    for _ in range(600):  # 10 minutes, 1 s apart, 0.01 % each
        clock.now += 1
        progress.update(1_000_000)
    lines = stream.getvalue().splitlines()
    assert 55 <= len(lines) <= 65


def test_tty_redraws_one_line_at_most_ten_times_a_second() -> None:
    output, _ = _run(True, updates=10_000, seconds=20.0)
    redraws = output.count("\r")
    assert 150 <= redraws <= 205  # 20 s at <= 10 per second (plus start and end)
    assert output.count("\n") == 1 and output.endswith("\n")
    assert "[" in output and "MB/s" in output


def test_resume_and_negative_updates() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=False)
    progress.start(100_000_000, already=40_000_000)
    clock.now = 1
    progress.update(10_000_000)
    progress.update(-5_000_000)
    progress.set_done(20_000_000)
    progress.finish(ok=False)
    text = stream.getvalue()
    assert "resuming, 40.0 MB of 100.0 MB already sent" in text
    assert "stopped at 20%" in text


def test_detects_tty_from_the_stream() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert ProgressReporter(Tty()).is_tty
    assert not ProgressReporter(io.StringIO()).is_tty
