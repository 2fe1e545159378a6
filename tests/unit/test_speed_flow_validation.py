"""Loading a flow asks the schema once when nothing needs keeping as written (the common case), and once more only
after a round that changed the data: validation is most of what loading a flow costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import publish.spec.load as load
from publish.spec.model import FlowError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testflight.yaml"


class _Counting:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.real = _REAL(schema)
        self.calls = 0

    def iter_errors(self, data: Any) -> Any:
        self.calls += 1
        return self.real.iter_errors(data)


_REAL = load.FlowValidator


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[_Counting]:
    validators: list[_Counting] = []

    def make(schema: dict[str, Any]) -> _Counting:
        validators.append(_Counting(schema))
        return validators[-1]

    monkeypatch.setattr(load, "FlowValidator", make)
    return validators


def test_a_valid_flow_is_validated_once(made: list[_Counting]) -> None:
    load.load_flow(EXAMPLE)
    assert [validator.calls for validator in made] == [1]


def test_an_invalid_flow_is_validated_once_and_its_errors_are_reported(made: list[_Counting]) -> None:
    bad = EXAMPLE.read_text(encoding="utf-8").replace("version: 1\n", "version: 1\nbogus_top_level_key: 3\n", 1)
    with pytest.raises(FlowError) as raised:
        load.load_flow_text(bad, "bad.yaml", base_dir=EXAMPLE.parent)
    assert "bogus_top_level_key" in str(raised.value)
    assert [validator.calls for validator in made] == [1]


def test_a_number_kept_as_written_costs_one_round_and_a_last_look(made: list[_Counting]) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    quoted = 'what_to_test: "Bug fixes and performance improvements"'
    assert quoted in text
    flow = load.load_flow_text(text.replace(quoted, "what_to_test: 16.10"), "kept.yaml", base_dir=EXAMPLE.parent)
    assert "16.10" in repr(flow)
    # round 1: before and after the text is put back; round 2: nothing left to keep, and that answer is the last
    assert [validator.calls for validator in made] == [3]
