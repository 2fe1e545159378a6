"""Progress output: a redrawn bar on a TTY that fits the terminal, a bounded number of plain lines otherwise;
acknowledged bytes only, IEC units only, and redraws on a clock."""

from __future__ import annotations

import io
import re
import time

import pytest

from publish.upload.progress import ProgressReporter, format_amount, format_bytes

MIB = 1024 * 1024
GIB = 1024 * MIB
# A byte figure with its unit: every one must be IEC.
UNIT = re.compile(r"\d(?:\.\d+)?\s?(B|KB|MB|GB|kB|KiB|MiB|GiB)\b")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(is_tty: bool, *, updates: int = 10_000, total: int = GIB, seconds: float = 200.0,
         columns: int = 80) -> tuple[str, ProgressReporter]:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=is_tty, label="Uploading App.ipa",
                                columns=lambda: columns, ticker=False)
    progress.start(total)
    step = total // updates
    for _ in range(updates):
        clock.now += seconds / updates
        progress.acknowledge(step)
    progress.finish()
    return stream.getvalue(), progress


def _frames(output: str) -> list[str]:
    return [frame.rstrip() for frame in re.split(r"[\r\n]", output) if frame.strip()]


def test_non_tty_writes_about_one_line_per_five_percent_or_ten_seconds() -> None:
    output, progress = _run(False)
    lines = output.splitlines()
    # 200 s: at most 20 percent steps + 20 ten-second beats + start + end
    assert 20 <= len(lines) <= 42
    assert "\r" not in output
    assert lines[-1].startswith("Uploading App.ipa: done, 1.00 GiB")
    assert any("50%" in line and "MiB/s" in line and "ETA" in line and "elapsed" in line for line in lines)


def test_non_tty_heartbeat_every_ten_seconds_when_slow() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=False, ticker=False)
    progress.start(10 * GIB)
    for _ in range(600):  # 10 minutes, 1 s apart, 0.01 % each
        clock.now += 1
        progress.acknowledge(1_000_000)
    lines = stream.getvalue().splitlines()
    assert 55 <= len(lines) <= 65


def test_tty_redraws_one_line_at_most_ten_times_a_second() -> None:
    output, _ = _run(True, updates=10_000, seconds=20.0)
    redraws = output.count("\r")
    assert 150 <= redraws <= 205  # 20 s at <= 10 per second (plus start and end)
    assert output.count("\n") == 1 and output.endswith("\n")
    assert "[" in output and "MiB/s" in output


@pytest.mark.parametrize("columns", [40, 60, 80, 100, 120, 200])
def test_the_bar_fits_the_terminal_and_never_reaches_its_last_column(columns: int) -> None:
    output, _ = _run(True, updates=300, seconds=30.0, columns=columns, total=3 * GIB)
    frames = _frames(output)
    assert frames and all(len(frame) <= columns - 1 for frame in frames), max(frames, key=len)
    assert all("%" in frame for frame in frames)
    if columns >= 80:  # room for everything: the bar, amounts, rate and ETA
        assert all("[" in frame and "GiB" in frame and "/s" in frame for frame in frames)
        assert any("ETA" in frame for frame in frames)


def test_a_long_file_name_shrinks_the_label_not_the_line() -> None:
    stream = Tty()
    progress = ProgressReporter(stream, clock=FakeClock(), columns=lambda: 50, ticker=False,
                                label="Uploading " + "VeryLongProductName" * 5 + ".ipa")
    progress.start(2 * GIB)
    progress.finish()
    assert all(len(frame) <= 49 for frame in _frames(stream.getvalue()))


def test_the_width_is_read_from_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")  # what shutil.get_terminal_size reads first
    stream = Tty()
    progress = ProgressReporter(stream, clock=FakeClock(), ticker=False, label="Uploading App.ipa")
    progress.start(GIB)
    progress.acknowledge(GIB // 2)
    progress.finish()
    frames = _frames(stream.getvalue())
    assert frames and all(len(frame) <= 49 for frame in frames)


def test_only_acknowledged_bytes_count() -> None:
    """Bytes handed to the socket are "in flight": 0 % until the part's PUT is answered."""
    stream = Tty()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, columns=lambda: 120, ticker=False, label="Uploading App.ipa")
    progress.start(100 * MIB)
    clock.now = 0.2
    progress.sending(40 * MIB)  # the kernel took 40 MiB at once
    progress.tick()
    frame = _frames(stream.getvalue())[-1]
    assert "  0%" in frame and "0.0/100.0 MiB" in frame and "in flight" in frame
    clock.now = 2.0
    progress.acknowledge(40 * MIB)
    frame = _frames(stream.getvalue())[-1]
    assert " 40%" in frame and "40.0/100.0 MiB" in frame and "in flight" not in frame
    assert "20.0 MiB/s" in frame  # 40 MiB acknowledged over 2 s, not 40 MiB in 0.2 s
    progress.sending(10 * MIB)
    progress.sending(-10 * MIB)  # that attempt failed: nothing counted
    clock.now = 2.5
    progress.tick()
    assert " 40%" in _frames(stream.getvalue())[-1]
    progress.finish()


def test_a_stall_is_shown_with_time_running_on() -> None:
    stream = Tty()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, columns=lambda: 100, ticker=False, label="Uploading App.ipa")
    progress.start(100 * MIB)
    clock.now = 1.0
    progress.acknowledge(10 * MIB)
    frames_before = len(_frames(stream.getvalue()))
    for second in range(2, 43):  # 41 s without an answer: only the clock moves
        clock.now = float(second)
        progress.tick()
    frames = _frames(stream.getvalue())
    assert len(frames) - frames_before >= 40  # redrawn while no byte moved
    assert "stalled 0:41" in frames[-1] and "0:42" in frames[-1]
    assert "ETA" not in frames[-1]
    progress.finish()


def test_the_ticker_redraws_on_its_own_clock() -> None:
    stream = Tty()
    progress = ProgressReporter(stream, columns=lambda: 80, label="Uploading App.ipa")
    progress.TTY_INTERVAL = 0.005
    progress.start(100 * MIB)
    deadline = time.monotonic() + 3.0  # no byte moves at all: only the ticker's thread can draw
    while stream.getvalue().count("\r") < 5 and time.monotonic() < deadline:  # ~25 ms: no longer than proof takes
        time.sleep(0.01)
    progress.finish()
    assert stream.getvalue().count("\r") >= 5
    assert stream.getvalue().endswith("\n")


def test_the_ticker_writes_ci_heartbeats_when_nothing_moves() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=False, ticker=False, label="Uploading App.ipa")
    progress.start(100 * MIB)
    for second in range(1, 31):
        clock.now = float(second)
        progress.tick()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 + 3  # start, then one line per 10 s
    assert "no part acknowledged for 0:30" in lines[-1] and "elapsed 0:30" in lines[-1]


def test_one_unit_system_everywhere() -> None:
    outputs = [_run(tty, total=total, updates=200, seconds=60.0)[0]
               for tty in (True, False) for total in (900, 300 * 1024, 700 * MIB, 3 * GIB)]
    units = {match for output in outputs for match in UNIT.findall(output)}
    assert units and units <= {"B", "KiB", "MiB", "GiB"}, units
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(5 * GIB // 2) == "2.50 GiB"
    assert format_amount(MIB, 3 * GIB) == "0.00/3.00 GiB" and format_amount(512, 900) == "512/900 B"


def test_resume_and_corrections() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, is_tty=False, ticker=False)
    progress.start(100 * MIB, already=40 * MIB)
    clock.now = 1
    progress.acknowledge(10 * MIB)
    progress.set_done(20 * MIB)
    progress.finish(ok=False)
    text = stream.getvalue()
    assert "resuming, 40.0 MiB of 100.0 MiB already acknowledged" in text
    assert "stopped at 20% (20.0/100.0 MiB acknowledged)" in text


def test_detects_tty_from_the_stream() -> None:
    assert ProgressReporter(Tty()).is_tty
    assert not ProgressReporter(io.StringIO()).is_tty


def test_a_stall_still_shows_on_a_narrow_terminal() -> None:
    stream = Tty()
    clock = FakeClock()
    progress = ProgressReporter(stream, clock=clock, columns=lambda: 40, ticker=False,
                                label="Uploading MyGreatApp-2.3.1-456.ipa")
    progress.start(3 * GIB)
    clock.now = 30.0
    progress.tick()
    frame = _frames(stream.getvalue())[-1]
    assert "stalled 0:30" in frame and len(frame) <= 39
    progress.finish()


def test_the_bar_keeps_its_width_while_the_figures_grow() -> None:
    output, _ = _run(True, updates=500, seconds=100.0, columns=80, total=700 * MIB)
    widths = [len(match) for match in re.findall(r"\[[#-]+\]", output)]
    assert widths and all(later <= earlier for earlier, later in zip(widths, widths[1:], strict=False)), widths
    assert len(set(widths)) <= 3
