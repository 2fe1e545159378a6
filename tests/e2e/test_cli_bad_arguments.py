"""Bad command-line arguments and local paths (issue 15): exit 2, one clear message, no traceback, nothing sent.

Every case runs through publish.cli.main with a simulator listening, so "refused before any remote work" is
checked, not assumed: the simulator must have seen no request at all. Each case is also bounded in time. The
module prints its figure at the end (cases, exit codes, slowest case).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_parsers import PARSERS
from publish.cli import CliContext, main
from publish.state import StateStore
from flow_harness import INTERNAL, FlowWorld

LONG = "d" * 5000
NAME_300 = "n" * 300
FIGURES: dict[str, float] = {}


class Case:
    def __init__(self, argv: str | list[str], expected: str, *, env: dict[str, str] | None = None,
                 flow_state_dir: str | None = None) -> None:
        self.argv = argv.split() if isinstance(argv, str) else argv
        self.expected = expected
        self.env = env or {}
        self.flow_state_dir = flow_state_dir


RUN = ["run", "{flow}", "--ipa", "{ipa}", "--api-base-url", "{url}", "--state-dir", "{state}"]


def run_with(*extra: str) -> list[str]:
    return [*RUN, *extra]


CASES: dict[str, Case] = {
    # --poll-interval: every float must be finite and bounded (nan/inf/1e308 used to create the upload, then crash)
    "poll-nan": Case(run_with("--poll-interval", "nan"), "'nan' is not a finite number"),
    "poll-inf": Case(run_with("--poll-interval", "inf"), "'inf' is not a finite number"),
    "poll-minus-inf": Case(run_with("--poll-interval=-inf"), "is not a finite number"),
    "poll-1e308": Case(run_with("--poll-interval", "1e308"), "1e308 is out of range"),
    "poll-negative": Case(run_with("--poll-interval=-1"), "-1 is out of range; give a number more than 0"),
    "poll-zero": Case(run_with("--poll-interval", "0"), "0 is out of range"),
    "poll-underflow": Case(run_with("--poll-interval", "1e-400"), "out of range"),
    "poll-word": Case(run_with("--poll-interval", "soon"), "'soon' is not a number"),
    "poll-empty": Case(run_with("--poll-interval", ""), "'' is not a number"),
    "poll-hour-and-more": Case(run_with("--poll-interval", "3601"), "at most 3600"),
    "poll-missing-value": Case(run_with("--poll-interval"), "expected one argument"),
    "concurrency-zero": Case(run_with("--concurrency", "0"), "0 is out of range; give a number from 1 to 64"),
    "concurrency-65": Case(run_with("--concurrency", "65"), "65 is out of range"),
    "concurrency-fraction": Case(run_with("--concurrency", "1.5"), "'1.5' is not a whole number"),
    "concurrency-huge": Case(run_with("--concurrency", "9" * 30), "out of range"),
    "concurrency-5000-digits": Case(run_with("--concurrency", "9" * 5000), "(5000 characters) is out of range"),
    # --result-json: refused before any remote work, not after the publish succeeded
    "result-json-directory": Case(run_with("--result-json", "{dir}"), "is a directory"),
    "result-json-under-a-file": Case(run_with("--result-json", "{file}/result.json"), "is not a directory"),
    "result-json-unwritable": Case(run_with("--result-json", "/proc/appstore-publish-result.json"),
                                   "cannot write in /proc"),
    "result-json-nul": Case(run_with("--result-json", "out\x00.json"), "NUL byte"),
    "result-json-5000": Case(run_with("--result-json", LONG), "the limit is 4096"),
    "result-json-long-name": Case(run_with("--result-json", NAME_300 + ".json"), "a file name has at most 255"),
    # --state-dir and its other sources
    "state-dir-5000": Case([*RUN[:-1], LONG], "--state-dir: the path is 5000 bytes long"),
    "state-dir-nul": Case([*RUN[:-1], "state\x00dir"], "NUL byte"),
    "state-dir-long-name": Case([*RUN[:-1], NAME_300], "a file name has at most 255"),
    "state-dir-empty": Case([*RUN[:-1], ""], "the path is empty"),
    "state-dir-env-nul": Case(RUN[:-2], "$APPSTORE_PUBLISH_STATE_DIR: the path contains a NUL byte",
                              env={"APPSTORE_PUBLISH_STATE_DIR": "st\x00ate"}),
    "state-dir-env-5000": Case(RUN[:-2], "$APPSTORE_PUBLISH_STATE_DIR: the path is 5000 bytes long",
                               env={"APPSTORE_PUBLISH_STATE_DIR": LONG}),
    "state-dir-flow-5000": Case(RUN[:-2], "the flow's state_dir: the path is 5000 bytes long", flow_state_dir=LONG),
    "state-dir-flow-long-name": Case(RUN[:-2], "the flow's state_dir: a part of the path is 300 bytes long",
                                     flow_state_dir=NAME_300),
    "history-state-dir-nul": Case(["history", "--state-dir", "a\x00b"], "NUL byte"),
    "versions-state-dir-env-nul": Case(["versions"], "$APPSTORE_PUBLISH_STATE_DIR: the path contains a NUL",
                                       env={"APPSTORE_PUBLISH_STATE_DIR": "a\x00b"}),
    "show-state-dir-5000": Case(["show", "1.0.0", "--state-dir", LONG], "the limit is 4096"),
    # every other path-taking argument goes through the same validator
    "run-ipa-nul": Case(["run", "{flow}", "--ipa", "App\x00.ipa"], "NUL byte"),
    "run-ipa-empty": Case(["run", "{flow}", "--ipa", ""], "the path is empty"),
    "run-flow-5000": Case(["run", LONG, "--ipa", "{ipa}"], "the limit is 4096"),
    "run-flow-nul": Case(["run", "flow\x00.yml", "--ipa", "{ipa}"], "NUL byte"),
    "validate-flow-nul": Case(["validate", "flow\x00.yml"], "NUL byte"),
    "validate-flow-long-name": Case(["validate", NAME_300 + ".yml"], "a file name has at most 255"),
    "plan-ipa-nul": Case(["plan", "{flow}", "--ipa", "a\x00.ipa"], "NUL byte"),
    "profiles-flow-5000": Case(["profiles", LONG], "the limit is 4096"),
    "info-ipa-nul": Case(["info", "a\x00.ipa"], "NUL byte"),
    "info-icon-out-directory": Case(["info", "{ipa}", "--icon-out", "{dir}"], "is a directory"),
    "info-icon-out-under-a-file": Case(["info", "{ipa}", "--icon-out", "{file}/icon.png"], "is not a directory"),
    "check-ipa-5000": Case(["check", LONG], "the limit is 4096"),
    "versions-flow-nul": Case(["versions", "--flow", "f\x00.yml"], "NUL byte"),
    "delete-flow-5000": Case(["delete", "1.0.0", "--flow", LONG], "the limit is 4096"),
    "download-out-directory": Case(["download", "1.0.0", "--out", "{dir}"], "is a directory"),
    "download-out-nul": Case(["download", "1.0.0", "--out", "a\x00.ipa"], "NUL byte"),
    "download-out-missing": Case(["download", "1.0.0"], "the following arguments are required: --out"),
    "keygen-out-nul": Case(["sandbox", "keygen", "--out", "k\x00eys"], "NUL byte"),
    "demo-keep-nul": Case(["demo", "--keep", "demo\x00files"], "NUL byte"),
    "serve-data-5000": Case(["sandbox", "serve", "--data", LONG], "the limit is 4096"),
    "serve-host-nul": Case(["sandbox", "serve", "--host", "local\x00host"], "not a host name or address"),
    "serve-host-empty": Case(["sandbox", "serve", "--host", ""], "not a host name or address"),
    "show-version-5000": Case(["show", "9" * 5000, "--state-dir", "{state}"], "(5000 characters)' is not a version"),
    "mark-rc-version-5000": Case(["mark-rc", "1." + "9" * 5000, "--state-dir", "{state}"], "is not a version"),
    # history --limit
    "history-limit-negative": Case(["history", "--limit", "-1"], "--limit must be 0 (all) or more"),
    "history-limit-word": Case(["history", "--limit", "all"], "--limit must be a whole number"),
    "history-limit-float": Case(["history", "--limit", "1e3"], "--limit must be a whole number"),
    "history-limit-huge": Case(["history", "--limit", "9" * 25], "--limit must be at most 1,000,000,000"),
    # sandbox serve numbers
    "serve-port-70000": Case(["sandbox", "serve", "--port", "70000"], "70000 is out of range; give a number from 0"),
    "serve-port-negative": Case(["sandbox", "serve", "--port=-1"], "-1 is out of range"),
    "serve-port-word": Case(["sandbox", "serve", "--port", "http"], "'http' is not a whole number"),
    "serve-part-size-zero": Case(["sandbox", "serve", "--part-size", "0"], "0 is out of range"),
    "serve-part-size-6gib": Case(["sandbox", "serve", "--part-size", str(6 * 1024**3)], "out of range"),
    "serve-processing-polls-negative": Case(["sandbox", "serve", "--processing-polls=-1"], "out of range"),
    "serve-processing-seconds-nan": Case(["sandbox", "serve", "--processing-seconds", "nan"], "not a finite number"),
    "serve-processing-seconds-1e308": Case(["sandbox", "serve", "--processing-seconds", "1e308"], "out of range"),
    "serve-rate-limit-zero": Case(["sandbox", "serve", "--rate-limit", "0"], "out of range"),
    "serve-error-rate-1.5": Case(["sandbox", "serve", "--error-rate", "1.5"], "--error-rate must be between 0 and 1"),
    "serve-error-rate-nan": Case(["sandbox", "serve", "--error-rate", "nan"], "--error-rate must be between 0 and 1"),
    "serve-lost-rate-inf": Case(["sandbox", "serve", "--lost-response-rate", "inf"],
                                "--lost-response-rate must be between 0 and 1"),
    "serve-drop-rate-negative": Case(["sandbox", "serve", "--drop-part-rate=-0.1"], "--drop-part-rate must be"),
    "serve-bandwidth-zero": Case(["sandbox", "serve", "--bandwidth-cap", "0"], "0 is out of range"),
    "serve-bandwidth-inf": Case(["sandbox", "serve", "--bandwidth-cap", "inf"], "not a finite number"),
    "serve-latency-negative": Case(["sandbox", "serve", "--latency-ms=-5"], "-5 is out of range"),
    "serve-latency-float": Case(["sandbox", "serve", "--latency-ms", "1e9"], "'1e9' is not a whole number"),
    "serve-rate-limit-after-zero": Case(["sandbox", "serve", "--rate-limit-after", "0"], "out of range"),
    "serve-seed-negative": Case(["sandbox", "serve", "--seed=-1"], "out of range"),
    # usage
    "unknown-command": Case(["vaildate", "{flow}"], "unknown command 'vaildate'; did you mean 'validate'?"),
    "unknown-command-5000": Case([LONG], "unknown command 'dddd"),
    "unknown-flag-5000": Case(run_with("--" + LONG), "unknown option '--ddd"),
    "unknown-flag": Case(run_with("--dryrun"), "unknown option '--dryrun' for 'run'; did you mean '--dry-run'?"),
    "unknown-choice": Case(["completion", "powershell"], "invalid value 'powershell' for SHELL"),
    "missing-ipa": Case(["run", "{flow}"], "one of the arguments --ipa --build is required"),
    "missing-version": Case(["mark-rc"], "the following arguments are required: VERSION"),
    "extra-argument": Case(["validate", "{flow}", "other.yml"], "unexpected argument 'other.yml'"),
    "verbose-and-quiet": Case(["-v", *run_with("--quiet")], "contradict"),
    "no-command": Case([], "no command given"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowWorld]:
    directory = tmp_path_factory.mktemp("bad-arguments")
    world = FlowWorld(directory)
    world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{INTERNAL}]\n")
    world.ipa("1")
    (directory / "a-directory").mkdir()
    (directory / "a-file").write_text("not a directory\n")
    StateStore.open(world.state_dir).close()  # a state store, so version arguments get as far as their parsing
    try:
        yield world
    finally:
        world.close()
    slowest = max(FIGURES.values(), default=0.0)
    print(f"\nbad arguments: {len(FIGURES)} of {len(CASES)} cases refused with exit 2, one message, no traceback, "
          f"nothing sent; slowest {slowest * 1000:.0f} ms")


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("name", list(CASES))
def test_bad_argument_is_refused_before_anything_happens(world: FlowWorld, name: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    if "/proc/" in " ".join(case.argv) and not Path("/proc/self").exists():
        pytest.skip("needs /proc (a directory nobody can create files in, not even root)")
    flow = world.directory / "flow.yml"
    if case.flow_state_dir is not None:
        flow = world.directory / f"flow-{name}.yml"
        flow.write_text((world.directory / "flow.yml").read_text() + f"state_dir: {case.flow_state_dir}\n")
    places = {"flow": str(flow), "ipa": str(world.directory / "App-1.0.0-1.ipa"), "url": world.server.url,
              "state": str(world.directory / "state"), "dir": str(world.directory / "a-directory"),
              "file": str(world.directory / "a-file")}
    argv = [arg.format(**places) if "{" in arg else arg for arg in case.argv]
    monkeypatch.chdir(world.directory)
    requests_before = len(world.server.exchanges)
    listing_before = sorted(os.listdir(world.directory))
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=dict(case.env))
    started = time.perf_counter()
    code = main(argv, ctx=ctx, build=PARSERS)  # an uncaught exception fails the test: that is the traceback check
    elapsed = time.perf_counter() - started
    err = ctx.stderr.getvalue()
    assert code == 2, f"exit {code}: {err}"
    assert case.expected in err, err
    assert err.count("error:") == 1 and err.startswith("error: "), err  # one message
    assert "How to fix:" in err and "Traceback" not in err
    assert len(err) < 1000, "the message echoes the whole 5000-character argument"
    assert "{" not in ctx.stdout.getvalue()  # no JSON, no result
    assert len(world.server.exchanges) == requests_before, "the simulator was called"
    assert sorted(os.listdir(world.directory)) == listing_before, "a file was left behind"
    assert elapsed < 10
    FIGURES[name] = elapsed


@pytest.mark.parametrize("target", ["a-directory", "a-file/result.json"])
def test_run_command_checks_the_result_file_before_any_remote_work(world: FlowWorld, target: str) -> None:
    """`demo` and the action call run_command directly, past argparse: the check is there too."""
    from publish.commands.run import run_command
    from publish.errors import InputError

    requests_before = len(world.server.exchanges)
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    with pytest.raises(InputError) as refused:
        run_command(ctx, flow_path=world.directory / "flow.yml", ipa_path=world.directory / "App-1.0.0-1.ipa",
                    api_base_url=world.server.url, state_dir=world.directory / "state",
                    result_json=world.directory / target, poll_interval=0.01)
    assert "--result-json" in refused.value.message and refused.value.exit_code == 2
    assert len(world.server.exchanges) == requests_before
