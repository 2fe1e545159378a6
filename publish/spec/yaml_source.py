"""A flow file's YAML as plain data, with the line and column of every key and value, read with YAML 1.2 meaning.

Why not `yaml.safe_load`: it reads YAML 1.1, where `xcode_version: 16.10` is the number 16.1, a locale key `no:`
is `False` and `1:30` is 90; and it trusts the document: 3000 nested mappings end in a RecursionError, aliases in
mapping keys expand without limit ("billion laughs"), and a control character escapes as a ReaderError. Here the
text is screened before the parser sees it, the composer (yaml_compose) is bounded in depth and node count while
it builds, keys are never expanded (a key is text, so a list or mapping there is refused unbuilt), every alias
expansion is paid for out of one budget, and scalars resolve by the YAML 1.2 core schema (only true/false are
booleans; octal `0o17`, hex `0x1F`; no sexagesimal, no `yes`/`no`/`on`/`off`). Plain scalars read as numbers keep
the text they were written as, so a later step can give a string-typed field exactly what the user wrote.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from publish.spec.model import Diagnostic, Path_
from publish.spec.yaml_compose import FLOAT_TEXT, INT_TEXT, MAX_DEPTH, MAX_NODES, Composer, TooBig, composer_for

# A real flow is a few kilobytes; these bound the work a hostile one can ask for (and MAX_NODES, MAX_DEPTH).
MAX_FLOW_CHARS = 256 * 1024
MAX_INT_DIGITS = 30  # past this a "number" is kept as the text it is (int() of 5000 digits is refused by Python)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"

# What YAML allows in a stream (YAML 1.2 section 5.1); PyYAML's reader refuses the rest with a bare ReaderError.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass
class Positions:
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    # Plain scalars read as numbers, with the text they were written as (see keep_as_written in the loader).
    written: dict[Path_, str] = field(default_factory=dict)

    def of_value(self, path: Path_) -> tuple[int, int]:
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def of_key(self, path: Path_) -> tuple[int, int]:
        return self.keys.get(path) or self.of_value(path)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _screen(text: str, source: str) -> list[Diagnostic]:
    """Problems found before parsing: a text too large to be a flow, characters YAML does not allow."""
    if len(text) > MAX_FLOW_CHARS:
        return [Diagnostic(1, 1, "(file)", f"the file has {len(text)} characters; a flow file is at most "
                           f"{MAX_FLOW_CHARS} (is this the right file?)", source)]
    found = []
    for match in _NOT_PRINTABLE.finditer(text):
        line, column = _position(text, match.start())
        found.append(Diagnostic(line, column, "(yaml)", f"control character U+{ord(match.group()):04X} is not "
                                "allowed in YAML; delete it (it often comes from copying out of a terminal or a "
                                "binary file), or write it as an escape inside double quotes, e.g. \"\\x02\"", source))
        if len(found) == 3:
            break
    return found


def parse_yaml(text: str, source: str, composer: Composer | None = None) -> tuple[Any, Positions, list[Diagnostic]]:
    """The document as JSON-like data, where each key and value was, and the problems that stopped (or did not stop)
    reading it. Data is None when the document is empty or could not be read. `composer` is for the tests that
    compare the two ways of composing (yaml_compose); by default the faster one that reads this text as PyYAML does."""
    positions = Positions()
    screened = _screen(text, source)
    if screened:
        return None, positions, screened
    problems: list[Diagnostic] = []
    try:
        root = (composer or composer_for(text))(text)
        if root is None:
            return None, positions, problems
        data = _Builder(positions, problems, source).build(root, (), 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        problems.append(Diagnostic(line, column, "(yaml)", f"YAML syntax error: {what}; check the indentation "
                                   "and quoting around this point (quote values containing ': ' or '#')", source))
        return None, positions, problems
    except yaml.YAMLError as exc:  # a reader error the screen missed: located by its offset
        line, column = _position(text, getattr(exc, "position", 0))
        problems.append(Diagnostic(line, column, "(yaml)", f"YAML error: {exc}", source))
        return None, positions, problems
    except TooBig as exc:
        problems.append(Diagnostic(exc.line, exc.column, "(yaml)", f"the document is {exc.what}", source))
        return None, positions, problems
    return data, positions, problems


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording positions; every value built is counted."""

    def __init__(self, positions: Positions, problems: list[Diagnostic], source: str) -> None:
        self.positions = positions
        self.problems = problems
        self.source = source
        self.built = 0
        self._lists: dict[int, tuple[list[str], list[tuple[int, int]]] | None] = {}
        self._index_parts: list[tuple[int]] = []

    def problem(self, node: yaml.Node, path: Path_, message: str) -> None:
        line, column = _mark(node)
        self.problems.append(Diagnostic(line, column, format_path(path), message, self.source))

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.built += 1
        if depth > MAX_DEPTH:
            raise TooBig(node.start_mark, f"nested more than {MAX_DEPTH} levels deep (a recursive alias?); write "
                          "the flow out without such aliases")
        if self.built > MAX_NODES:
            raise TooBig(node.start_mark, f"more than {MAX_NODES} values once aliases are expanded; write the "
                          "flow out without such aliases")
        # Inlined and in order of frequency: an alias-expanding document makes this run MAX_NODES times.
        mark = node.start_mark
        self.positions.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR else self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.problem(node, path, f"the tag {node.tag} is not used in flow files; remove it")
            return self._sequence(node, path, depth)
        assert isinstance(node, yaml.MappingNode)  # the composer makes only these three kinds of node
        return self._mapping(node, path, depth)

    def _sequence(self, node: yaml.SequenceNode, path: Path_, depth: int) -> list[Any]:
        """The items. A list of texts only (what an alias bomb repeats) is built in one step from its values and
        positions, read off the list once; otherwise a text item is built here. Either way only what build would do
        with the items, and only when build would refuse none of them."""
        texts = self._texts_of(node)
        if texts is not None and depth < MAX_DEPTH and self.built + len(texts[0]) <= MAX_NODES:
            values, marks = texts
            self.built += len(values)
            positions = self.positions.values
            # A plain loop: dict.update over zip(map(...)) unpacks each pair again (~20 % slower at 100000 values).
            for index, where in zip(self._indexes(len(values)), marks, strict=False):
                positions[path + index] = where
            return list(values)
        items: list[Any] = []
        positions = self.positions.values
        for i, item in enumerate(node.value):
            if type(item) is yaml.ScalarNode and item.tag == _STR and depth < MAX_DEPTH and self.built < MAX_NODES:
                self.built += 1
                mark = item.start_mark
                positions[path + (i,)] = (mark.line + 1, mark.column + 1)
                items.append(item.value)
            else:
                items.append(self.build(item, path + (i,), depth + 1))
        return items

    def _texts_of(self, node: yaml.SequenceNode) -> tuple[list[str], list[tuple[int, int]]] | None:
        """A list's texts and their positions when it holds only texts, else None; looked at once per list (an
        aliased list is one node however often it is expanded, so its id stands for it while the document is built)."""
        key = id(node)
        if key not in self._lists:
            items = node.value
            texts = all(type(item) is yaml.ScalarNode and item.tag == _STR for item in items)
            self._lists[key] = ([item.value for item in items], [_mark(item) for item in items]) if texts else None
        return self._lists[key]

    def _indexes(self, count: int) -> list[tuple[int]]:
        """(0,), (1,), ... at least `count` of them: the last parts of the items' paths."""
        known = self._index_parts
        if len(known) < count:  # most calls: a list as long as one met before
            known.extend((i,) for i in range(len(known), count))
        return known

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        if node.tag != _MAP:
            self.problem(node, path, f"the tag {node.tag} is not used in flow files; remove it")
        result: dict[str, Any] = {}
        merged: list[dict[str, Any]] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE:
                merged += self._merge_sources(value_node, path, depth)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            line, column = _mark(key_node)
            if key in result:
                first_line, _ = self.positions.keys[path + (key,)]
                self.problem(key_node, path + (key,), f"duplicate key '{key}' (first given on line {first_line}); "
                             "keep only one")
                continue
            self.positions.keys[path + (key,)] = (line, column)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        for source in merged:  # keys written in the mapping itself win over merged ones, earlier merges over later
            for key, value in source.items():
                result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node, path: Path_, depth: int) -> list[dict[str, Any]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        built = []
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.problem(source, path, "a merge key (<<) takes a mapping or a list of mappings, e.g. "
                             "`<<: *common`")
                continue
            built.append(self._mapping(source, path, depth + 1))
        return built

    def _key(self, node: yaml.Node, path: Path_) -> str | None:
        """A key is text (`no:` is "no" in YAML 1.2); a number, true/false or null there is reported, and read on as
        the text it was written as. A list or mapping key is refused without being built (aliases stay unexpanded)."""
        if isinstance(node, yaml.ScalarNode):
            if node.tag != _STR:
                self.problem(node, path, f"key {node.value[:40] or 'null'} must be a string (quote it)")
            return str(node.value)
        kind = "a mapping" if isinstance(node, yaml.MappingNode) else "a list"
        self.problem(node, path, f"a key must be text, not {kind}; write a plain name (quote it if needed)")
        return None

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        text = node.value
        if node.tag == _STR:
            return text
        if node.tag == _NULL and (text in ("", "~") or text.lower() == "null"):
            return None
        if node.tag == _BOOL and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if node.tag == _INT and INT_TEXT.match(text):
            if len(text) > MAX_INT_DIGITS:
                return text
            self._written(node, path, text)
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text, 10)
        if node.tag == _FLOAT and FLOAT_TEXT.match(text):
            self._written(node, path, text)
            if text.lstrip("+-").lower() == ".inf":
                return -math.inf if text.startswith("-") else math.inf
            if text.lower() == ".nan":
                return math.nan
            return float(text)
        if node.tag in (_NULL, _BOOL, _INT, _FLOAT):
            kind = {_NULL: "null", _BOOL: "true or false", _INT: "a whole number", _FLOAT: "a number"}[node.tag]
            self.problem(node, path, f"{text[:40]!r} is tagged {node.tag.rsplit(':', 1)[-1]} but is not {kind}; "
                         "remove the tag")
            return text
        self.problem(node, path, f"the tag {node.tag} is not used in flow files; remove it (quote the value to "
                     "make it text)")
        return text

    def _written(self, node: yaml.ScalarNode, path: Path_, text: str) -> None:
        if node.style is None:
            self.positions.written[path] = text
