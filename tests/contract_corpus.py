"""Documents to hold contract.py's fast pass to the arbiter's verdicts: a document and its mutations (wrong type,
missing member, extra attribute, bad enum value, null, bad format), each judged by both validators.

    disagreements, rejected = compare(spec, [(ref, document), ...])
    assert not disagreements

`rejected` counts, per kind of mutation, how many mutants the arbiter refused: a corpus whose mutants all pass
proves nothing, so the tests require some of each kind."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Iterable, Iterator
from typing import Any

from contract import OpenApiDescription

KINDS = ("original", "wrong type", "missing member", "extra attribute", "bad enum", "null", "bad format")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _places(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) below the document's root."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _places(value, (*path, index))


def _copied_to(document: Any, path: tuple) -> tuple[Any, Any]:
    """A copy of the document that shares all but the containers on `path` (each copied, one level), and the copy
    of the last of them. Neither validator changes what it reads, so a mutant needs new containers only where it
    differs: a deep copy of the whole document was most of what making a mutant cost."""
    out = copy.copy(document)
    node = out
    for step in path[:-1]:
        node[step] = copy.copy(node[step])
        node = node[step]
    return out, node


def _set(document: Any, path: tuple, value: Any) -> Any:
    out, node = _copied_to(document, path)
    node[path[-1]] = value
    return out


def _delete(document: Any, path: tuple) -> Any:
    out, node = _copied_to(document, path)
    del node[path[-1]]
    return out


def mutants(document: Any, rng: random.Random) -> Iterator[tuple[str, Any]]:
    """The document and one mutant of each kind that applies (at a place drawn by `rng`)."""
    yield "original", document
    places = [(p, v) for p, v in _places(document) if p]
    leaves = [(p, v) for p, v in places if not isinstance(v, (dict, list))]
    strings = [(p, v) for p, v in leaves if isinstance(v, str)]
    members = [(p, v) for p, v in places if isinstance(p[-1], str)]
    objects = [(p, v) for p, v in _places(document) if isinstance(v, dict)]
    if leaves:
        path, value = rng.choice(leaves)
        yield "wrong type", _set(document, path, "12" if isinstance(value, (int, float)) else 12)
    if members:
        yield "missing member", _delete(document, rng.choice(members)[0])
    if objects:
        path, value = rng.choice(objects)
        grown = {**value, "madeUpAttribute": "x"}
        yield "extra attribute", _set(document, path, grown) if path else grown
    if strings:
        yield "bad enum", _set(document, rng.choice(strings)[0], "NOT_A_VALUE_OF_ANY_ENUM")
    if places:
        yield "null", _set(document, rng.choice(places)[0], None)
    dated = [(p, v) for p, v in strings if _DATE.match(v) or "@" in v]
    if dated:
        path, value = rng.choice(dated)
        yield "bad format", _set(document, path, "2024-13-45" if _DATE.match(value) else "no-at-sign")


def compare(spec: OpenApiDescription, documents: Iterable[tuple[str, Any]], *, seed: int = 14,
            draws: int = 1) -> tuple[list[str], dict[str, int]]:
    """Disagreements of the two validators over the documents and `draws` rounds of mutants of each (distinct
    documents only), and per kind how many the arbiter rejected."""
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    disagreements: list[str] = []
    rejected = dict.fromkeys(KINDS, 0)
    for ref, document in documents:
        for _ in range(draws):
            for kind, mutant in mutants(document, rng):
                key = (ref, json.dumps(mutant, sort_keys=True))
                if key in seen:
                    continue
                seen.add(key)
                arbiter = spec.validator(ref).is_valid(mutant)
                fast = spec.fast_validator(ref).is_valid(mutant)
                rejected[kind] += not arbiter
                if fast != arbiter:
                    disagreements.append(f"{ref} {kind}: fast {fast}, arbiter {arbiter}: {key[1][:300]}")
    return disagreements, rejected
