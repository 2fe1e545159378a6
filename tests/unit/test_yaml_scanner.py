"""The pure-Python path's scanner (publish/spec/yaml_compose.py `_Scanner`) gives PyYAML's own scanner's tokens and
errors, token for token, while finding its possible simple keys in constant time: the same documents as
test_yaml_compose (every flow of the repository, the hostile and edge ones, their mutations) and ones that keep many
keys alive at once (deep flow nesting, unbalanced closings, long and multi-line keys)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from publish.spec.yaml_compose import TooBig, _Scanner, compose_python
from yaml_corpus import HOSTILE, mutations, repository_flows

# PyYAML's own scanner takes a second or more on the costliest hostile documents (thousands of levels): those are
# left to the proof in _Scanner's docstring and to test_yaml_compose; these keep up to hundreds of keys alive.
MANY_KEYS = [
    "a: " + "[" * 150 + "x" * 1100 + "]" * 150 + "\n",
    "a: " + "[" * 40 + "\n" + "]" * 40 + ": b\n",
    "[" * 30 + "]" * 31 + "[a: b]\n",
    "a: ]]]] [[b: c]]\n",
    "]\n[[x: y], z]: w\n",
    "a: {" + "b: [" * 20 + "1" + "]}" * 20 + "\n",
    "[" + ", ".join(f"k{i}" * 60 + ": v" for i in range(40)) + "]\n",
    "[" + "&a " * 300 + "x]\n",
    "a\n" + "b" * 1030 + ": c\n",
    "x" * 1020 + " y: z\n",
    "- [" + "a, " * 400 + "]\n- " + "[" * 70 + "\n",
    # collections as keys inside collections: a key is pending while newer ones come and go
    "[[a, [b]]: c]\n", "{[a, {b: c}]: d}\n", "[{a: [b, c]}: d, [e]: f]\n", "a: [[x]: y, [[z]]: w]\n",
    "[&a [b, c]: d]\n", "{&x [a]: b, !t [c, d]: e}\n", "[ [ [a] ] : b]\n", "- [[a]\n  : b]\n",
]


class _StockScanner(yaml.reader.Reader, yaml.scanner.Scanner):
    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)


class _FastScanner(yaml.reader.Reader, _Scanner):
    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        _Scanner.__init__(self)


def _mark(mark: Any) -> tuple[int, int, int] | None:
    return (mark.line, mark.column, mark.index) if mark is not None else None


def scanned(kind: type, text: str) -> list[Any]:
    """Every token with its marks and fields, in the order the parser asks for them, then the error if any."""
    scanner = kind(text)
    found: list[Any] = []
    try:
        while scanner.check_token():
            token = scanner.peek_token()
            assert scanner.get_token() is token
            fields = {name: value for name, value in vars(token).items() if not name.endswith("_mark")}
            found.append((type(token).__name__, _mark(token.start_mark), _mark(token.end_mark), fields))
    except yaml.YAMLError as exc:
        found.append(("error", str(exc)))
    return found


def test_the_tokens_and_errors_are_pyyaml_scanners() -> None:
    # A sample of the repository's flows: test_yaml_compose compares all of them with libyaml's reading.
    documents = [*repository_flows()[::6], *(text for text in HOSTILE if len(text) < 2000), *MANY_KEYS,
                 *mutations(40, seed=7)]
    errors = 0
    for text in documents:
        stock = scanned(_StockScanner, text)
        assert scanned(_FastScanner, text) == stock, text[:200]
        errors += stock[-1][0] == "error"
    assert errors >= 20  # the error paths are compared too


def _cpu(compose: Any, text: str) -> float:
    started = time.process_time()
    try:
        compose(text)
    except TooBig:  # the depth bound's refusal: only its cost is compared here
        pass
    return time.process_time() - started


def test_a_deep_flow_nesting_is_refused_in_a_fraction_of_pyyaml_scanners_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml stops at its own nesting limit (1000), so deeper flow nesting is read by the pure-Python path, whose
    # stock scanner looks at every open level's key at every token. A ratio, not a duration: the machine may be slow.
    text = "a: " + "[" * 450 + "]" * 450 + "\n"
    fast = min(_cpu(compose_python, text) for _ in range(3))
    monkeypatch.setattr(_Scanner, "next_possible_simple_key", yaml.scanner.Scanner.next_possible_simple_key)
    monkeypatch.setattr(_Scanner, "stale_possible_simple_keys", yaml.scanner.Scanner.stale_possible_simple_keys)
    stock = _cpu(compose_python, text)
    assert fast * 4 < stock, (fast, stock)
