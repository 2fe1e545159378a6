"""How many App Store Connect API calls each publish flow makes (status polls counted apart), measured against
the simulator over loopback through the same code path as `appstore-publish run`.

    .venv/bin/python bench/api_calls.py

A status poll is a GET of one build upload, build, App Store version or review submission that repeats the previous
GET of that same URL (what waiting does); the first read is counted as a call. Part uploads go to presigned URLs,
not to the API, and are not counted.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (inspect.py): take it off the path before importing anything.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "tests"))

import logging  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from flow_harness import APP_STORE_PHASED, EXTERNAL, INTERNAL, FlowWorld, Outcome  # noqa: E402

TESTFLIGHT = f"""
- step: send_to_testflight
  api_key: main
  what_to_test: Check the login screen
  groups: [{INTERNAL}]
  testers: [ann@example.com, bob@example.com]
"""
APP_STORE = APP_STORE_PHASED  # the App Store step the flow suites share
SUBMIT = "  submit_for_review: true\n"
# Status polls: a build upload or build (processing), a build's beta detail (TestFlight catching up, protocol.md
# H.2), another build's beta review submission (one build in review at a time, H.3), a version or review submission
# re-read while App Store Connect catches up (H.1, H.11, H.16).
_POLLED = re.compile(r"^/v1/((buildUploads|builds)/[^/]+(/buildBetaDetail)?|betaAppReviewSubmissions"
                     r"|(appStoreVersions|reviewSubmissions)/[^/]+)$")


def classify(calls: list[tuple[str, str, object]]) -> tuple[int, int, int]:
    """(API calls without status polls, status polls, writes)."""
    polls = writes = 0
    previous: dict[str, str] = {}
    for method, url, _ in calls:
        parts = urlsplit(url)
        if method != "GET":
            writes += 1
            continue
        if _POLLED.match(parts.path) and previous.get(parts.path) == url:
            polls += 1
        previous[parts.path] = url
    return len(calls) - polls, polls, writes


def scenario_testflight(world: FlowWorld) -> Outcome:
    return world.run_counted(world.flow(TESTFLIGHT), world.ipa("1"))


def scenario_app_store(world: FlowWorld) -> Outcome:
    return world.run_counted(world.flow(APP_STORE), world.ipa("1"))


def scenario_testflight_app_store_submit(world: FlowWorld) -> Outcome:
    return world.run_counted(world.flow(TESTFLIGHT + APP_STORE + SUBMIT), world.ipa("1"))


def scenario_app_store_update_submit(world: FlowWorld) -> Outcome:
    """An update (0.9.0 is on the store with an English and a German page): What's New in both, then review."""
    from publish.sandbox import appstore

    with world.server.store.lock:
        released = appstore.create_version(world.server.sim, world.app_id, "0.9.0", "IOS",
                                           state="READY_FOR_DISTRIBUTION")
        world.server.store.add("appStoreVersionLocalizations", {"locale": "de-DE"}, {"appStoreVersion": released.id})
    notes = "  whats_new: {en-US: Faster start., de-DE: Schnellerer Start.}\n"
    return world.run_counted(world.flow(APP_STORE.replace("  whats_new: Faster start.\n", notes) + SUBMIT),
                             world.ipa("1"))


def scenario_changed_flow(world: FlowWorld) -> Outcome:
    ipa = world.ipa("1")
    world.run_counted(world.flow(TESTFLIGHT), ipa)
    return world.run_counted(world.flow(TESTFLIGHT + APP_STORE + SUBMIT), ipa)  # step 1 skipped


def scenario_failure_in_middle(world: FlowWorld) -> Outcome:
    flow = world.flow(TESTFLIGHT + APP_STORE + "  require_rc: true\n- step: submit_for_review\n  api_key: main\n")
    return world.run_counted(flow, world.ipa("1"))


def scenario_external_group(world: FlowWorld) -> Outcome:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  what_to_test: Try it\n"
                      f"  groups: [{INTERNAL}, {EXTERNAL}]\n")
    return world.run_counted(flow, world.ipa("1"))


def scenario_compliance_unknown(world: FlowWorld) -> Outcome:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{INTERNAL}]\n")
    return world.run_counted(flow, world.ipa("1", uses_non_exempt_encryption=None))


def scenario_compliance_patched(world: FlowWorld) -> Outcome:
    flow = world.flow(f"- step: send_to_testflight\n  api_key: main\n  groups: [{INTERNAL}]\n"
                      "  uses_non_exempt_encryption: false\n")
    return world.run_counted(flow, world.ipa("1", uses_non_exempt_encryption=None))


def promote_counted(world: FlowWorld, flow: Path, build: str) -> Outcome:
    """`run FLOW --build BUILD` through run_command (what `run` calls), recording every App Store Connect call."""
    import io

    from publish.cli import CliContext
    from publish.commands.run import run_command

    stdout, stderr = io.StringIO(), io.StringIO()
    calls: list[tuple[str, str, object]] = []
    ctx = CliContext(stdout=stdout, stderr=stderr, env={})
    code = run_command(ctx, flow_path=flow, build=build, api_base_url=world.server.url, state_dir=world.state_dir,
                       poll_interval=0.01, on_call=lambda method, url, body: calls.append((method, url, body)))
    return Outcome(code, stdout.getvalue(), stderr.getvalue(), None, calls)


def scenario_promote_to_app_store(world: FlowWorld) -> Outcome:
    """The build uploaded to TestFlight by an earlier run (not counted), promoted with `run --build`: no upload."""
    first = world.run_counted(world.flow(TESTFLIGHT, name="testflight.yml"), world.ipa("1"))
    assert first.code == 0, first.output
    return promote_counted(world, world.flow(APP_STORE + SUBMIT, name="app-store.yml"), "1.0.0 (1)")


def scenario_unknown_group(world: FlowWorld) -> Outcome:
    flow = world.flow("- step: send_to_testflight\n  api_key: main\n  groups: [Nobody]\n")
    return world.run_counted(flow, world.ipa("1"))


SCENARIOS: list[tuple[str, Callable[[FlowWorld], Outcome]]] = [
    ("TestFlight only (internal group, notes, 2 testers)", scenario_testflight),
    ("App Store only (version, build, What's New, release type, phased)", scenario_app_store),
    ("TestFlight then App Store with submission", scenario_testflight_app_store_submit),
    ("promote to App Store (run --build, with submission; no upload)", scenario_promote_to_app_store),
    ("App Store update (2 locales) with submission", scenario_app_store_update_submit),
    ("flow changed after a run: 2nd run (TestFlight skipped)", scenario_changed_flow),
    ("failure in the middle (require_rc), failing run", scenario_failure_in_middle),
    ("external group (beta review)", scenario_external_group),
    ("export compliance unknown (error before upload)", scenario_compliance_unknown),
    ("export compliance from the step (PATCH build)", scenario_compliance_patched),
    ("unknown group name (error before upload)", scenario_unknown_group),
]


def main() -> int:
    logging.getLogger("publish").addHandler(logging.NullHandler())  # the runs' own log lines are not the figures
    logging.getLogger("publish").propagate = False
    print(f"{'flow':<68} {'exit':>4} {'calls':>6} {'writes':>6} {'polls':>6}")
    for title, scenario in SCENARIOS:
        with tempfile.TemporaryDirectory(prefix="api-calls-") as tmp:
            world = FlowWorld(Path(tmp))
            try:
                outcome = scenario(world)
            finally:
                world.close()
        calls, polls, writes = classify(outcome.calls)
        print(f"{title:<68} {outcome.code:>4} {calls:>6} {writes:>6} {polls:>6}")
    print("\ncalls = App Store Connect API calls excluding status polls (writes included); polls = repeated status "
          "GETs while waiting (processing, a version getting ready for review, a submission settling)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
