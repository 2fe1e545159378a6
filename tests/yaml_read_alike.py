"""Whether the two ways of composing a flow's YAML (publish/spec/yaml_compose.py) read a document alike: the same
data, positions, kept-as-written texts and diagnostics, and the same nodes. Shared by the composer's tests
(tests/unit/test_yaml_compose.py) and its benchmark (bench/yaml_compose.py)."""

from __future__ import annotations

from typing import Any

import yaml

from publish.spec.yaml_compose import TooBig, compose_python, composer_for
from publish.spec.yaml_source import parse_yaml


def same_nodes(left: Any, right: Any) -> None:
    """Node for node: kind, tag, value, style and start mark, what the builder reads (not the end mark: libyaml ends a
    block collection where the next token starts, PyYAML where the last one ended; nor the flow style, which an
    indentless list has as None in PyYAML, False in libyaml); shared nodes shared alike."""
    pairs: dict[int, int] = {}
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        if id(a) in pairs:
            assert pairs[id(a)] == id(b), "an alias resolves to a different node"
            continue
        pairs[id(a)] = id(b)
        assert type(a) is type(b) and a.tag == b.tag, (a, b)
        assert (a.start_mark.line, a.start_mark.column) == (b.start_mark.line, b.start_mark.column), (a, b)
        if isinstance(a, yaml.ScalarNode):
            assert (a.value, a.style) == (b.value, b.style), (a, b)
            continue
        assert len(a.value) == len(b.value), (a, b)
        if isinstance(a, yaml.MappingNode):
            for (ka, va), (kb, vb) in zip(a.value, b.value, strict=True):
                pending += [(ka, kb), (va, vb)]
        else:
            pending += list(zip(a.value, b.value, strict=True))


def composed(compose: Any, text: str) -> tuple[str, Any]:
    try:
        return "node", compose(text)
    except Exception as exc:  # the bounds' errors and PyYAML's: compared by kind and wording below
        return "error", exc


def replay(kind: str, found: Any) -> Any:
    """A composer that answers what one already answered (each document is composed once each way)."""
    def compose(text: str) -> Any:
        if kind == "error":
            raise found
        return found
    return compose


def assert_read_alike(text: str) -> None:
    python_kind, python_node = composed(compose_python, text)
    fast_kind, fast_node = composed(composer_for(text), text)
    python_parsed = parse_yaml(text, "f.yml", replay(python_kind, python_node))
    fast_parsed = parse_yaml(text, "f.yml", replay(fast_kind, fast_node))
    # repr: .nan is not equal to itself
    assert repr(fast_parsed[0]) == repr(python_parsed[0])
    assert fast_parsed[1] == python_parsed[1]
    assert fast_parsed[2] == python_parsed[2]
    assert fast_kind == python_kind
    if python_kind == "error":
        assert type(fast_node) is type(python_node)
        if isinstance(python_node, TooBig):
            assert (fast_node.line, fast_node.column, fast_node.what) == (python_node.line, python_node.column,
                                                                          python_node.what)
        else:
            assert str(fast_node) == str(python_node)
    elif python_node is None:
        assert fast_node is None
    else:
        same_nodes(python_node, fast_node)
