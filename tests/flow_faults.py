"""What the fault suites share (test_faults_flows, test_crash_resume, test_integfix_lost_answers, ...): the two
flows they run, the check that nothing was created twice, and answers scripted call by call."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from flow_harness import APP_STORE_PHASED, INTERNAL, FlowWorld
from publish.sandbox.faults import Faults

TESTFLIGHT = f"""
- step: send_to_testflight
  api_key: main
  what_to_test: {{en-US: Check the login screen, de-DE: Bitte die Anmeldung testen}}
  groups: [{INTERNAL}]
  testers: [ann@example.com, {{email: bob@example.com, first_name: Bob}}]
"""
APP_STORE = APP_STORE_PHASED + "  submit_for_review: true\n"
FLOWS = {"testflight": TESTFLIGHT, "testflight+app_store": TESTFLIGHT + APP_STORE}

# How a scripted call is answered: `refused` is a 5xx before anything changes, `lost` is applied and then answered 500.
OUTCOMES = {"refused": Faults(error_rate_5xx=1.0), "lost": Faults(lost_response_rate=1.0)}


def duplicates(world: FlowWorld) -> list[str]:
    """Every resource created more than once (by its natural key)."""
    keys = {
        "buildUploads": lambda r: "upload",
        "builds": lambda r: "build",
        "betaBuildLocalizations": lambda r: r.attributes.get("locale"),
        "betaTesters": lambda r: str(r.attributes.get("email")).lower(),
        "betaAppReviewSubmissions": lambda r: "submission",
        "appStoreVersions": lambda r: r.attributes.get("versionString"),
        "appStoreVersionLocalizations": lambda r: r.attributes.get("locale"),
        "appStoreVersionPhasedReleases": lambda r: "phased",
        "reviewSubmissions": lambda r: "submission",
        "reviewSubmissionItems": lambda r: "item",
    }
    found = []
    for type_, key in keys.items():
        for value, count in Counter(key(r) for r in world.records(type_)).items():
            if count > 1:
                found.append(f"{type_} {value!r} x{count}")
    return found


def script(world: FlowWorld, method: str, path: str, outcomes: list[str]) -> list[str]:
    """Answer the calls matching `method` and the `path` pattern with `outcomes`, in order; the rest as usual.
    Returns the list of outcomes still to come (empty once every one was used)."""
    sim = world.server.sim
    handle = sim.handle
    pending = list(outcomes)

    def scripted(method_: str, path_: str, query: str, headers: dict[str, str], body: bytes) -> Any:
        if method_ != method or not re.fullmatch(path, path_) or not pending:
            return handle(method_, path_, query, headers, body)
        world.server.faults = OUTCOMES[pending.pop(0)]
        try:
            return handle(method_, path_, query, headers, body)
        finally:
            world.server.faults = Faults()

    sim.handle = scripted  # type: ignore[method-assign]
    return pending
