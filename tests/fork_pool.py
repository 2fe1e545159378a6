"""Runs the collected tests in forked worker processes: what pytest-xdist did for this suite, for less CPU.

Why: on a 2-CPU machine, xdist's own work was about a tenth of this suite's CPU, competing with the tests for the
same two CPUs. Each xdist worker imports and collects everything again (~1.9 s of CPU each), and each test's five
events cross execnet's pure-Python serializer (~0.5 ms a test in the worker, ~3.2 s in the controller). A child
forked after collection inherits the collected session as it is (nothing imported or collected twice), and its
events cross a pipe as a JSON line a test (`_Forwarder`), read back by pytest's own report serialization hooks.

How: this process collects; then --forks N children (auto: one more than the CPUs this process may use) are
forked, each owning a contiguous share of the items (neighbours share module fixtures), and when its share is
done, taking the back half of the largest share left (xdist's worksteal; tests/fork_shares.py). A child runs
each item with pytest's own protocol and writes what the hooks saw (log start and finish, reports, warnings) to
its pipe when the test is over; this process, which runs no test, replays them through its own hooks (terminal,
exit status, -x, --junitxml, the cache) in arrival order.
A child that dies leaves a failed report for the test it was running (its exit status in the message); what it
had not taken is taken by the others, or by a child forked in its place when no other is left.

Off (the usual in-process loop) with --forks 0 or 1, for one item, for --collect-only, --pdb and --trace, under
pytest-cov (which traces this process only) and where xdist runs the session (-n) or this is an xdist worker.
Plugins that keep figures per process implement `pytest_fork_pool_worker_finish` (a child fills `output`) and
`pytest_fork_pool_worker_down` (this process receives it), as xdist's workeroutput and testnodedown.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import IO, Any, Literal

import pytest

from fork_shares import Shares

PLUGIN_NAME = "fork-pool"
MAX_DEATHS = 5  # children that may die (each one forked again for what is left) before the run gives up the rest


class ForkPoolHooks:
    @pytest.hookspec
    def pytest_fork_pool_worker_finish(self, session: pytest.Session, output: dict[str, Any]) -> None:
        """In a child, after its last test: put what this process counted into `output` (JSON-serializable)."""

    @pytest.hookspec
    def pytest_fork_pool_worker_down(self, config: pytest.Config, output: dict[str, Any]) -> None:
        """In the parent, once for each child that finished its share: what it put into `output`."""


def add_option(parser: pytest.Parser) -> None:
    parser.addoption("--forks", default="0", metavar="N",
                     help="run the tests in N forked processes after collecting once (auto: one more than the CPUs; "
                          "0: here)")


def workers_wanted(config: pytest.Config) -> int:
    """How many children this run forks; 0 when the usual in-process loop (or another runner) should run it."""
    elsewhere = bool(
        not hasattr(os, "fork")
        or hasattr(config, "workerinput")  # an xdist worker
        or config.pluginmanager.has_plugin("dsession")  # xdist runs this session (-n)
        or getattr(config.option, "cov_source", None)  # pytest-cov traces this process, not children
        or config.option.collectonly
        or config.option.usepdb
        or getattr(config.option, "trace", False)
    )
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return children_for(str(config.getoption("forks")), cpus, elsewhere)


def children_for(wanted: str, cpus: int, elsewhere: bool) -> int:
    if wanted == "auto":
        # One more than the CPUs where there are several: a child that waits (a sleep, a socket, a process it
        # started) leaves its CPU to the spare. Full suite on 2 CPUs, 3 pairs (farm-bench --vs): 3 children
        # 34.2 s wall / 63.7 s CPU, 2 children 35.3 / 60.8 (and 4: 35.1 in a single run).
        count = cpus + 1 if cpus > 1 else cpus
    else:
        try:
            count = int(wanted)
        except ValueError:
            raise pytest.UsageError(f"--forks takes a number of processes or 'auto', not {wanted!r}") from None
        if count < 0:
            raise pytest.UsageError(f"--forks takes a number of processes (0 or more) or 'auto', not {wanted!r}")
    return 0 if elsewhere or count < 2 else count


# The keys of a plain TestReport's __dict__: a report with no others (no plugin's extra, no xfail) can be rebuilt.
_PLAIN_REPORT = frozenset(("_id", "location", "keywords", "outcome", "longrepr", "when", "user_properties",
                           "sections", "duration", "start", "stop"))


class _Forwarder:
    """Registered in a child: what its hooks see of a test goes to the parent as one JSON line, when the test is
    over. One write a test (not one an event), and a passing report as four values: pytest's own serialization of
    three reports a test and a line an event were ~0.8 ms a test of the two processes' CPU (2500 empty tests,
    `--forks 3` against `--forks 0`). Everything else (a failure, output, a plugin's attribute) goes as pytest's
    `pytest_report_to_serializable` writes it. Which test is running the parent reads from the shared shares, so a
    death mid-test is named though its events never came."""

    def __init__(self, config: pytest.Config, pipe: IO[bytes]) -> None:
        self.config = config
        self.pipe = pipe
        self.events: list[list[Any]] = []
        self.keywords: dict[str, Literal[1]] = {}

    def send(self, kind: str, body: Any, flush: bool = False) -> None:
        self.pipe.write(json.dumps([kind, body]).encode() + b"\n")
        if flush:
            self.pipe.flush()

    def begin(self, item: pytest.Item) -> None:
        self.events = []
        self.keywords = {name: 1 for name in item.keywords}  # as the parent's copy of the item has them

    def end(self, index: int, item: pytest.Item) -> None:
        # The location too: the parent's copy of the item has not worked it out (~0.15 ms an item, a cached_property).
        self.send("test", [index, item.location, self.events], flush=True)  # now: a death loses none of these
        self.events = []

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.events.append(["logstart"])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if (report.outcome == "passed" and report.longrepr is None and not report.sections
                and not report.user_properties and report.__dict__.keys() == _PLAIN_REPORT
                and report.keywords == self.keywords):
            self.events.append(["passed", report.when, report.duration, report.start, report.stop])
        else:
            self.events.append(["report", self.config.hook.pytest_report_to_serializable(config=self.config,
                                                                                          report=report)])

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.events.append(["logfinish"])

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, when: str, nodeid: str,
                                location: tuple[str, int, str] | None) -> None:
        if when != "runtest":
            return  # collection's warnings were recorded before the fork; registering replays them here
        category = warning_message.category
        self.events.append(["warning", {
            "message": str(warning_message.message), "module": category.__module__, "name": category.__qualname__,
            "filename": warning_message.filename, "lineno": warning_message.lineno, "nodeid": nodeid,
        }])


def _run_child(session: pytest.Session, shares: Shares, child: int, write_fd: int) -> None:
    """Never returns: the child leaves with os._exit, so nothing of the parent's (atexit, buffers) runs twice."""
    status = 0
    os.environ["PYTEST_FORK_WORKER"] = f"fork{child}"  # as xdist's PYTEST_XDIST_WORKER: which process runs a test
    pipe = os.fdopen(write_fd, "wb")
    forwarder = _Forwarder(session.config, pipe)
    try:
        config = session.config
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None and capture.is_globally_capturing():
            capture.stop_global_capturing()  # the parent's capture files are shared with it: make our own
            capture.start_global_capturing()
            capture.suspend_global_capture()
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)
        config.pluginmanager.register(forwarder, "fork-pool-forwarder")

        def claim() -> int | None:
            return None if session.shouldfail or session.shouldstop else shares.claim(child)

        index = claim()
        while index is not None:
            following = claim()
            item = session.items[index]
            shares.begin(child, index)
            forwarder.begin(item)
            item.ihook.pytest_runtest_protocol(
                item=item, nextitem=None if following is None else session.items[following])
            forwarder.end(index, item)
            shares.finished(child, index)
            index = following
        output: dict[str, Any] = {}
        config.hook.pytest_fork_pool_worker_finish(session=session, output=output)
        forwarder.send("done", output, flush=True)
    except KeyboardInterrupt:
        status = 2
    except BaseException:
        status = 3
        try:
            forwarder.send("error", traceback.format_exc(), flush=True)
        except BaseException:
            pass
    finally:
        try:
            pipe.flush()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(status)


@dataclass
class _Child:
    index: int
    pid: int
    read_fd: int
    pending: bytes = b""
    done: bool = False
    error: str | None = None


class ForkPool:
    def __init__(self, config: pytest.Config, children: int) -> None:
        self.config = config
        self.count = children
        self.started: set[int] = set()  # items whose events a child sent, or that it died in
        self.deaths = 0

    def pytest_report_header(self) -> str:
        return f"forks: the tests run in {self.count} processes forked after collection (--forks 0: in this one)"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            return None  # pytest's own loop stops the run with the collection errors
        if len(session.items) < 2:
            return None
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is not None:
            factory.getbasetemp()  # made once, here: every child's tmp_path lives under the same one
        shares = Shares(len(session.items), min(self.count, len(session.items)))
        running: dict[int, _Child] = {}
        with selectors.DefaultSelector() as selector:
            try:
                for index in range(shares.children):
                    self._start(session, shares, index, running, selector)
                while running:
                    for key, _ in selector.select():
                        self._serve(session, shares, running[key.fd], running, selector)
            except BaseException:
                shares.stop()
                for child in running.values():
                    try:
                        os.kill(child.pid, signal.SIGTERM)
                        os.waitpid(child.pid, 0)
                    except OSError:
                        pass
                raise
        left = shares.unclaimed_items()
        if left and not (session.shouldfail or session.shouldstop):  # never a test unseen, whatever went wrong
            session.shouldfail = (f"{len(left)} tests were never taken by a forked test process: "
                                  + ", ".join(session.items[index].nodeid for index in left[:20]))
        if session.shouldfail:  # as pytest's own loop: the run fails with the reason, whatever the tests did
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    def _start(self, session: pytest.Session, shares: Shares, index: int, running: dict[int, _Child],
               selector: selectors.BaseSelector) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or what is buffered now is written twice, by the parent and by the child
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _run_child(session, shares, index, write_fd)
        os.close(write_fd)
        running[read_fd] = _Child(index, pid, read_fd)
        selector.register(read_fd, selectors.EVENT_READ)

    def _serve(self, session: pytest.Session, shares: Shares, child: _Child, running: dict[int, _Child],
               selector: selectors.BaseSelector) -> None:
        chunk = os.read(child.read_fd, 1 << 16)
        if chunk:
            self._receive(child, chunk, session.items)
        else:
            selector.unregister(child.read_fd)
            os.close(child.read_fd)
            del running[child.read_fd]
            self._ended(session, shares, child)
            # Only a death gives items back, and a child that finished takes none: with every child gone (finished
            # or dead, in whatever order their ends arrive), what is left needs a child of its own.
            if not (session.shouldfail or session.shouldstop or running) and shares.unclaimed():
                if self.deaths >= MAX_DEATHS:
                    session.shouldfail = (f"{self.deaths} forked test processes died; {shares.unclaimed()} tests "
                                          "were not run")
                else:
                    self._start(session, shares, child.index, running, selector)  # for what nobody else will take
        if session.shouldfail or session.shouldstop:  # -x, --maxfail, a death: the others take no more
            shares.stop()

    def _receive(self, child: _Child, chunk: bytes, items: list[pytest.Item]) -> None:
        *lines, child.pending = (child.pending + chunk).split(b"\n")
        for line in lines:
            kind, body = json.loads(line)
            if kind == "test":
                self._replay(items, *body)
            elif kind == "done":
                child.done = True
                self.config.hook.pytest_fork_pool_worker_down(config=self.config, output=body)
            elif kind == "error":
                child.error = body

    def _replay(self, items: list[pytest.Item], index: int, where: list[Any], events: list[list[Any]]) -> None:
        """A test's events, as the child's hooks saw them, through this process's hooks."""
        hook = self.config.hook
        item = items[index]
        nodeid, location = item.nodeid, (where[0], where[1], where[2])
        self.started.add(index)
        keywords: dict[str, Literal[1]] | None = None
        for kind, *body in events:
            if kind == "passed":
                if keywords is None:
                    keywords = {name: 1 for name in item.keywords}
                when, duration, start, stop = body
                hook.pytest_runtest_logreport(report=pytest.TestReport(
                    nodeid, location, keywords, "passed", None, when, (), duration, start, stop))
            elif kind == "report":
                data = body[0]
                if isinstance(data.get("longrepr"), list):  # a skip's (path, line, reason): JSON made it a list,
                    data["longrepr"] = tuple(data["longrepr"])  # and the terminal's summary of skips wants a tuple
                hook.pytest_runtest_logreport(report=hook.pytest_report_from_serializable(config=self.config,
                                                                                          data=data))
            elif kind == "logstart":
                hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
            elif kind == "logfinish":
                hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
            elif kind == "warning":
                hook.pytest_warning_recorded.call_historic(kwargs={
                    "warning_message": _warning(body[0]), "when": "runtest", "nodeid": body[0]["nodeid"],
                    "location": None,
                })

    def _ended(self, session: pytest.Session, shares: Shares, child: _Child) -> None:
        _, status = os.waitpid(child.pid, 0)
        if child.done and status == 0:
            return
        self.deaths += 1
        why = _exit_reason(status)
        running = shares.running_item(child.index)
        died_in = running if running is not None and running not in self.started else None
        if died_in is not None:  # it died in this test: the test's events never came
            self.started.add(died_in)
            item = session.items[died_in]
            self.config.hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            report = pytest.TestReport(item.nodeid, item.location, {}, "failed",
                                       f"the forked process running this test {why}", "call", [])
            self.config.hook.pytest_runtest_logreport(report=report)
            self.config.hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        lost = [session.items[index].nodeid for index in shares.release(child.index, self.started)]
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if child.error is not None:
            session.shouldfail = "a forked test process failed outside any test (its traceback is above)"
            if reporter is not None:
                reporter.write_line(child.error)
        elif lost:
            session.shouldfail = f"a forked test process {why} between tests; not run: {', '.join(lost)}"
        elif died_in is None:
            session.shouldfail = f"a forked test process {why} between tests"


def _warning(body: dict[str, Any]) -> warnings.WarningMessage:
    category: type[Warning] = UserWarning
    module = sys.modules.get(body["module"])
    found = getattr(module, body["name"], None) if module is not None else None
    if isinstance(found, type) and issubclass(found, Warning):
        category = found
    return warnings.WarningMessage(category(body["message"]), category, body["filename"], body["lineno"])


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
