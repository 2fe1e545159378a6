"""Start-up (issue 14): loading a flow does not check the shipped flow schema against its metaschema in every
process (~115 ms of each `validate`, `plan`, `run`); tests/unit/test_spec.py checks the file itself once."""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest

from publish.spec import flow_schema


@pytest.fixture
def fresh_schema_cache() -> Iterator[None]:
    flow_schema.cache_clear()
    yield
    flow_schema.cache_clear()


def test_the_flow_schema_is_read_without_a_metaschema_check(fresh_schema_cache: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the shipped flow schema was checked against its metaschema at run time")

    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", refuse)
    assert flow_schema()["$defs"]["StepType"]["enum"]
