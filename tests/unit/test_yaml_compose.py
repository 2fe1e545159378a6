"""The two ways of composing a flow's YAML (publish/spec/yaml_compose.py) read every document alike: the same data,
positions, kept-as-written texts and diagnostics, and the same nodes (tags, values, styles, start marks) down to aliases
shared. The documents: every flow of the repository (good and bad), the hostile ones the bad-input tests use, and
deterministic mutations of them (the characters and constructs YAML parsers are known to disagree on)."""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from publish.spec import yaml_compose
from publish.spec.yaml_compose import TooBig, compose_python, composer_for
from publish.spec.model import Diagnostic
from publish.spec.yaml_source import parse_yaml

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")

REPO = Path(__file__).resolve().parents[2]
GOOD = ("version: 1\nprofiles:\n  - bundle_id: com.example.app\n    flow:\n"
        "      - step: send_to_testflight\n        groups: [QA]\n")


@functools.cache
def repository_flows() -> list[str]:
    paths = sorted({*REPO.glob("examples/**/*.y*ml"), *REPO.glob("tests/flows/**/*.y*ml")})
    return [path.read_text(encoding="utf-8") for path in paths]


def laughs(levels: int, in_keys: bool) -> str:
    first = '&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    lines = [f"? {first}\n: 0" if in_keys else f"a: {first}"]
    for i in range(1, levels):
        value = f"&{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]"
        lines.append(f"? {value}\n: {i}" if in_keys else f"{chr(97 + i)}: {value}")
    return "\n".join(lines) + "\n"


HOSTILE = [
    "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "".join(" " * i + "a:\n" for i in range(600)),
    "".join(" " * i + "-\n" for i in range(600)),
    "a: " + "[" * 63 + "]" * 63 + "\n",
    "a: " + "[" * 64 + "]" * 64 + "\n",
    laughs(9, in_keys=True),
    "a: &a [*a]\n",
    "b: &m {x: 1}\nc:\n  ? *m\n  : 2\n",
    "? [a, b]\n: 1\n",
    "", "# nothing\n", "---\n", "--- |\n  text\n", "- a\n- b\n", "hello\n", "...\n",
    GOOD + "---\nversion: 1\n", GOOD + "        groups: [QA]\n", GOOD + '        xcode_version: "16.2\n',
    GOOD + "      bad: 1\n    worse: 2\n", GOOD + "        xcode_version: !!python/object/apply:os.system [ls]\n",
    GOOD + "        v: !!binary aGk=\n", GOOD + "        t: !!set {a@example.com}\n", GOOD + "        p: !!int abc\n",
    GOOD + "        p: 1e400\n        q: .inf\n        r: -.Inf\n        s: .nan\n        t: 0o17\n        u: 0x1F\n",
    GOOD + "        p: " + "9" * 5000 + "\n", GOOD + "        n: yes\n        o: no\n        x: 1:30\n        y: ~\n",
    GOOD + "        <<: 3\n", GOOD + "        a: *undefined\n", "a: &x 1\nb: &x 2\n", "%YAML 1.2\n---\na: 1\n",
    "%YAML 1.1\n%YAML 1.1\n---\na: 1\n", "%YAML 2.0\n---\na: 1\n", "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "a: ! 12\nb: ! '12'\nc: !!str 12\nd: !local x\ne: !<tag:yaml.org,2002:int> 3\nf: '12'\ng: \"1.5\"\n",
    "a: |\n  line\n   more\nb: >-\n  folded\n  text\n\nc: |+\n  kept\n\n", "a: 'it''s'\nb: \"\\u00e9\\x41\\N\"\n",
    "k" * 1024 + ": 1\n", "k" * 1025 + ": 1\n", "é" * 1000 + ": 1\n", "é" * 1030 + ": 1\n", "\U0001f600" * 600 + ": x\n",
    "a: 1\r\nb:\r\n  - x\r\n", "a: 1\rb: 2\r", "{a:1}\n", "[a:b, c: d]\n", "{a: b, c}\n", "[? a : b]\n", "{? a}\n",
    "a: b: c\n", "a: [\n", "a: {b\n", "- - - x\n  - y\n", "a:\n- x\n- y\n", "? a\n? b\n", ": x\n", "a: @x\n", "a: `x\n",
    "a: x #c\nb: y# not\n", "a: -\nb: - x\n", "a: [,]\n", "a: [x,,y]\n", "'a\n  b': 1\n", "a: \"x\n\n  y\"\n",
    "a: 'x' y\n", "&a a: 1\n*a : 2\n", "a: !!map\n  b: 1\n", "!!seq [1]\n", "a: !!float 1\nb: !!null ''\n",
    "a:\n  b: 1\n c: 2\n", "- a\nb: 1\n", "a: 1\n  b: 2\n", "a: |\n x\n  y\n z\n", "a: >\n\n\n", "a: |-\n",
    "a:\nb: 1\n", "a: [x: ]\n", "- \n- x\n", "a: &e\n", "!!str\n", "a: !\n", "! # c\n",
]

_DEEP = "nested more than 64 levels deep"
# Documents PyYAML's pure-Python path takes a tenth of a second or more to read: its answers, recorded, are compared.
# (5000 nested flow lists are not here: libyaml stops at its own nesting limit, so PyYAML reads them anyway; nor the
# billion laughs in values: tests/flows/bad/yaml-alias-bomb.yaml, compared both ways, is the same bound.)
PINNED = [
    ("a: " + "[{a: " * 1500 + "1" + "}]" * 1500, 1, 160, f"{_DEEP}; a flow needs a handful of levels: write it out flat"),
    ("\n".join(["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}}}" for i in range(1, 3000)]) + "\n", 1, 13,
     f"{_DEEP} (a recursive alias?); write the flow out without such aliases"),
]

# Each insertion is one thing parsers are known to read differently, or one the composer refuses.
INSERTS = ["\t", " \t", "\ufeff", "\x85", "\u2028", "\r", "\r\n", ":", ": ", "-", "- ", "? ", "#", " #", "[", "]",
           "{", "}", ",", "'", '"', "&a ", "*a", "!!int ", "! ", "!x ", "|", ">", "---\n", "...\n", "%", "@",
           "\\", "é", "\U0001f600", "\xa0", "  ", "\n", "\n  ", "<<: ", "0o", "1e3", "~", "null",
           "!", "&", "*", "=", ".", "0", "e", " - ", "\n- ", "\n? ", "\n...", "\n---", "{}", "[]", "''", '""']


def mutations(count: int, seed: int = 1518) -> list[str]:
    chooser = random.Random(seed)
    seeds = repository_flows()[:40] + [GOOD]
    found = []
    for _ in range(count):
        text = chooser.choice(seeds)
        for _ in range(chooser.randint(1, 3)):
            at = chooser.randrange(len(text) + 1)
            if chooser.random() < 0.25:
                text = text[:at] + text[at + chooser.randint(1, 4):]
            else:
                text = text[:at] + chooser.choice(INSERTS) + text[at:]
        found.append(text)
    return found


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
