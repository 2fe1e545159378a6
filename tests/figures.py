"""Suites that keep a property print one figure line (`faults: 12 of 12 seeded runs completed, 0 duplicates`)
into pytest's terminal report, whatever the capture mode."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class Tally:
    name: str
    unit: str
    passed: int = 0
    total: int = 0
    notes: list[str] = field(default_factory=list)

    def record(self, ok: bool) -> None:
        self.total += 1
        self.passed += int(ok)

    def line(self) -> str:
        extra = f", {', '.join(self.notes)}" if self.notes else ""
        return f"{self.name}: {self.passed} of {self.total} {self.unit}{extra}"


class _Summary:
    """A plugin registered on first use: prints every tally in the terminal summary, after capture has ended."""

    def __init__(self) -> None:
        self.tallies: list[Tally] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for tally in self.tallies:
            terminalreporter.write_line(tally.line())


def report(config: pytest.Config, tally: Tally) -> None:
    if not tally.total:
        return
    summary = config.pluginmanager.get_plugin("figures-summary")
    if summary is None:
        summary = _Summary()
        config.pluginmanager.register(summary, "figures-summary")
    if not any(t is tally for t in summary.tallies):
        summary.tallies.append(tally)
