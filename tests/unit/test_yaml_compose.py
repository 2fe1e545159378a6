"""The two ways of composing a flow's YAML (publish/spec/yaml_compose.py) read every document alike: the same data,
positions, kept-as-written texts and diagnostics, and the same nodes (tags, values, styles, start marks) down to aliases
shared. The documents: every flow of the repository (good and bad), the hostile ones the bad-input tests use, and
deterministic mutations of them (the characters and constructs YAML parsers are known to disagree on)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from publish.spec import yaml_compose
from publish.spec.yaml_compose import compose_python, composer_for
from publish.spec.model import Diagnostic
from publish.spec.yaml_source import parse_yaml
from suite_paths import REPO
from yaml_corpus import HOSTILE, PINNED, mutations, repository_flows
from yaml_read_alike import assert_read_alike

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")


@pytest.mark.parametrize("index", range(len(repository_flows())))
def test_every_flow_of_the_repository_is_read_alike(index: int) -> None:
    assert_read_alike(repository_flows()[index])


def test_the_examples_are_read_from_libyaml_events() -> None:
    for path in sorted(REPO.glob("examples/**/*.y*ml")):
        assert composer_for(path.read_text(encoding="utf-8")).__name__ == "compose_libyaml", path


def test_hostile_and_edge_documents_are_read_alike() -> None:
    for text in HOSTILE:
        assert_read_alike(text)


@pytest.mark.parametrize("text, line, column, message", PINNED)
def test_costly_hostile_documents_read_from_libyaml_events_give_pyyaml_answer(text: str, line: int, column: int,
                                                                              message: str) -> None:
    assert composer_for(text).__name__ == "compose_libyaml"
    data, _, problems = parse_yaml(text, "f.yml")
    assert data is None and problems == [Diagnostic(line, column, "(yaml)", f"the document is {message}")]


def test_mutated_flows_are_read_alike() -> None:
    for text in mutations(150):  # bench/yaml_compose.py compares as many as it is asked to (60000 when written)
        assert_read_alike(text)


def test_the_node_bound_holds_while_composing_from_libyaml_events() -> None:
    # The 100001st node is the 100000th zero, after "[" and 99999 "0," pairs: the position is computed here, not
    # compared, as PyYAML's pure-Python path takes some 13 s of CPU to compose 100000 nodes (it gives the same).
    text = "[" + "0," * 100_500 + "]\n"
    assert composer_for(text).__name__ == "compose_libyaml"
    data, _, problems = parse_yaml(text, "f.yml")
    assert data is None and problems == [Diagnostic(1, 2 + 2 * 99_999, "(yaml)", "the document is more than 100000 "
                                                    "values; a flow has a few dozen: is this the right file?")]


@pytest.mark.parametrize("text", ["a: 1\t# note\n", "a: 1\n\ufeffb: 2\n", "a: x\x85y\n", "a: x\u2028y\n",
                                  "a: [b? c]\n", "a: {b: c? d}\n", "a: |# note\n  x\n"])
def test_text_libyaml_reads_otherwise_is_read_by_pyyaml(text: str) -> None:
    assert composer_for(text) is compose_python
    assert_read_alike(text)


def test_a_scalar_is_resolved_once_per_text_and_way_of_writing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The libyaml composer keeps the tags it resolved for the document: 100000 zeros are one regular-expression
    # match, not 100000. A text written plain, quoted or with the non-specific tag "!" keeps its own tag.
    text = "a: [" + "0, '0', ! 0, \"x\", x, " * 20 + "0]\n"
    assert_read_alike(text)
    scalars: list[tuple[str, Any]] = []
    resolve = yaml_compose._FlowResolver.resolve

    def counted(self: Any, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            scalars.append((value, implicit))
        return resolve(self, kind, value, implicit)

    monkeypatch.setattr(yaml_compose._FlowResolver, "resolve", counted)
    node = yaml_compose.compose_libyaml(text)
    assert node is not None and len(node.value[0][1].value) == 101
    # once each: a, 0 plain, '0' quoted, "x" quoted, x plain (libyaml tags `! 0` itself: it is not resolved)
    assert sorted(scalars) == sorted({*scalars}) and len(scalars) == 5
