"""contract.py's fast pass agrees with the arbiter on the simulator's own answers and requests (a TestFlight and App
Store flow) and on their mutants; tests/unit/test_contract_fast_pass.py does the same for Apple's recorded answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract import _json_ref, load_description
from contract_corpus import KINDS, compare
from flow_harness import APP_STORE_PHASED, INTERNAL, FlowWorld

pytest.importorskip("jsonschema_rs", reason="the fast pass needs jsonschema-rs (a test dependency)")

FLOW = f"""
- step: send_to_testflight
  api_key: main
  what_to_test: Check the login screen
  groups: [{INTERNAL}]
  testers: [ann@example.com]
{APP_STORE_PHASED}  submit_for_review: true
"""


def test_the_fast_pass_agrees_with_the_arbiter_on_the_simulators_exchanges(world: FlowWorld,
                                                                          openapi_path: Path) -> None:
    out = world.run(world.flow(FLOW), world.ipa("1"))
    assert out.code == 0, out.output
    spec = load_description(openapi_path)
    documents = []
    for exchange in world.server.exchanges:
        template = spec.route(exchange.path)
        operation = spec.doc["paths"][template][exchange.method.lower()] if template else None
        if operation is None:
            continue
        request_ref = _json_ref((operation.get("requestBody") or {}).get("content"))
        if request_ref and exchange.request is not None:
            documents.append((request_ref, exchange.request))
        response_ref = _json_ref(operation["responses"].get(str(exchange.status), {}).get("content"))
        if response_ref and exchange.response is not None:
            documents.append((response_ref, exchange.response))
    assert len({ref for ref, _ in documents}) >= 15, documents
    last = dict(documents)  # a schema's last document: a flow polls one answer many times, its last is the fullest
    disagreements, rejected = compare(spec, list(last.items()))
    assert not disagreements, "\n".join(disagreements[:20])
    assert rejected["original"] == 0 and all(rejected[kind] for kind in KINDS if kind != "original"), rejected
