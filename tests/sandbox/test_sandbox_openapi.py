"""The packaged OpenAPI subset is what build_openapi_subset.py extracts from ../shared now, and every operation in it
has a handler."""

from __future__ import annotations

from pathlib import Path

from contract import load_description
from publish.sandbox import build_openapi_subset
from publish.sandbox.openapi import OpenApi
from publish.sandbox.server import build_handlers


def test_committed_subset_matches_the_shared_description(openapi_path: Path) -> None:
    # Extracted from the document the contract check parsed from the same file (once a process, unchanged by
    # it: OpenApiDescription converts copies), not from a second parse of its 4.8 MB.
    fresh = build_openapi_subset.render(build_openapi_subset.extract(load_description(openapi_path).doc))
    committed = build_openapi_subset.SUBSET_PATH.read_text()
    assert committed == fresh, "regenerate: python -m publish.sandbox.build_openapi_subset"


def test_every_served_operation_has_a_handler() -> None:
    openapi = OpenApi.packaged()
    handlers = build_handlers(openapi)
    served = {(method, route.template) for route in openapi.routes for method in route.operations}
    assert served == set(build_openapi_subset.OPERATIONS)
    assert sorted(served - set(handlers)) == []
