"""The suite's figure lines: a suite that keeps a property prints one line (`faults: 12 of 12 seeded runs completed,
0 duplicates`), and the session-wide contract check prints its count of exchanges and violations, in pytest's
terminal summary whatever the capture mode.

In parallel (the forked runner of tests/fork_pool.py, or pytest-xdist) every worker only sees its share of the
tests, and a worker has no terminal and no say in the run's exit status. So each worker exports what it counted
when it finishes (a forked child through the fork pool's hooks, an xdist worker in its `workeroutput`), the parent
adds the workers' counts up as each goes down, and only the process that owns the terminal prints, and fails the
run on a shortfall (fewer passed than run) or a contract violation: in one process or many, the same lines and the
same verdict. conftest.py registers the one `Figures` plugin; suites call `report(config, tally)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

PLUGIN_NAME = "suite-figures"
_OUTPUT_KEY = "suite-figures"
SHOWN_PROBLEMS = 50


@dataclass
class Tally:
    name: str
    unit: str
    passed: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # shown after the tally as "N key", summed across workers
    notes: list[str] = field(default_factory=list)

    def record(self, ok: bool) -> None:
        self.total += 1
        self.passed += int(ok)

    def add(self, other: Tally) -> None:
        self.passed += other.passed
        self.total += other.total
        for key, number in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + number
        self.notes += other.notes

    @property
    def short(self) -> bool:
        return self.passed < self.total

    def line(self) -> str:
        extra = [f"{number} {key}" for key, number in self.counts.items()] + self.notes
        shown = f", {', '.join(extra)}" if extra else ""
        return f"{self.name}: {self.passed} of {self.total} {self.unit}{shown}"


@dataclass
class ContractCount:
    """The session-wide check of every simulator exchange against the OpenAPI description."""

    exchanges: int = 0
    simulators: int = 0
    problems: list[str] = field(default_factory=list)
    violations: int = 0
    skipped: str | None = None  # why it could not run (the description is absent)

    def add(self, other: ContractCount) -> None:
        self.exchanges += other.exchanges
        self.simulators += other.simulators
        self.violations += other.violations
        self.problems += other.problems[:max(0, SHOWN_PROBLEMS - len(self.problems))]
        self.skipped = self.skipped or other.skipped

    def lines(self) -> list[str]:
        if not self.simulators:
            return []
        if self.skipped:
            return [f"contract: skipped, {self.skipped}"]
        head = (f"contract: {self.exchanges} exchanges with {self.simulators} simulators checked against the OpenAPI "
                f"description, {self.violations} violations")
        return [head, *(f"  {problem}" for problem in self.problems[:SHOWN_PROBLEMS])]


class Figures:
    """Collects tallies and the contract count in this process; in the parent of workers, also the workers'."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tallies: list[Tally] = []  # this process's own, as the suites hold them
        self.received: list[Tally] = []  # from worker processes
        self.contract = ContractCount()

    @property
    def in_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def add_tally(self, tally: Tally) -> None:
        if not any(held is tally for held in self.tallies):
            self.tallies.append(tally)

    def merged(self) -> list[Tally]:
        by_name: dict[str, Tally] = {}
        for tally in [*self.tallies, *self.received]:
            if tally.name not in by_name:
                by_name[tally.name] = Tally(tally.name, tally.unit)
            by_name[tally.name].add(tally)
        return [tally for tally in by_name.values() if tally.total]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        self.receive(getattr(node, "workeroutput", {}))  # a worker that crashed sends nothing: xdist reports it

    def receive(self, output: dict[str, Any]) -> None:
        """Adds what a worker (xdist's or a forked one, tests/fork_pool.py) put into its `output` with export."""
        sent = output.get(_OUTPUT_KEY)
        if not sent:
            return
        self.received += [Tally(**fields) for fields in sent["tallies"]]
        self.contract.add(ContractCount(**sent["contract"]))

    def export(self, output: dict[str, Any]) -> None:
        output[_OUTPUT_KEY] = {
            "tallies": [asdict(tally) for tally in self.tallies],
            "contract": asdict(self.contract),
        }

    def finish(self, session: pytest.Session) -> None:
        """Called from conftest's pytest_sessionfinish once the contract count of this process is in."""
        if self.in_worker:
            self.export(self.config.workeroutput)  # type: ignore[attr-defined]
            return
        if self.contract.violations or any(tally.short for tally in self.merged()):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.in_worker:
            return
        for line in self.contract.lines():
            terminalreporter.write_line(line)
        for tally in self.merged():
            terminalreporter.write_line(tally.line())


def report(config: pytest.Config, tally: Tally) -> None:
    """Shows `tally` in the summary (once, however often it is reported). Call it at module teardown."""
    figures = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if figures is not None:
        figures.add_tally(tally)
