"""A flow's YAML text to PyYAML nodes, bounded in depth and node count while composing, resolved by the YAML 1.2 core
schema: by PyYAML's pure-Python scanner and parser, or, where PyYAML was built with libyaml, from libyaml's events.

Why two ways: the pure-Python scanner is most of the cost of reading a flow (and all of it for a hostile one); libyaml
gives the same events, with the same marks, from C. Only the events are taken from libyaml: composing stays ours,
with the same bounds, checks and resolvers, so the nodes are the ones the pure-Python path composes. Where the two
parsers are known to read a text differently, or libyaml refuses it, or the text asks for something the composer
refuses (an undefined alias, an anchor given twice, a second document), the text is read again by the pure-Python
path, so every error message and every accepted document stays exactly what PyYAML says. The known differences:
libyaml takes a tab where PyYAML refuses one (`a: 1<TAB># note`), a `?` inside a plain scalar in a flow collection
(`[a? b]`) and a comment right after a block scalar's indicator (`|# note`); it skips a byte order mark at the start
of any line (PyYAML only at the start of the text); and it places an empty value (`key:`) where the next token
starts, PyYAML where the `:` ends (and `key: !` is "" in libyaml, null in PyYAML). A text with a tab, a `?`, `|#`, a byte order mark or the NEL, LS or PS line
break is read by PyYAML alone; an empty value met in libyaml's events sends the text there too.
tests/unit/test_yaml_compose.py reads every flow of the repository and generated documents both ways and compares.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingEndEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

MAX_NODES = 100_000  # values once aliases are expanded, and nodes composed
MAX_DEPTH = 64  # nesting, merges and aliases included

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"

INT_TEXT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
FLOAT_TEXT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
# Characters libyaml reads differently from PyYAML (see the module docstring): such a text is read by PyYAML alone.
_READ_DIFFERENTLY = re.compile("[\t\ufeff\x85\u2028\u2029?]|[|>][-+0-9]*#")

Composer = Callable[[str], "Node | None"]


class TooBig(Exception):
    def __init__(self, mark: Any, what: str) -> None:
        self.line: int = mark.line + 1 if mark else 1
        self.column: int = mark.column + 1 if mark else 1
        self.what = what


def _too_deep(mark: Any) -> TooBig:
    return TooBig(mark, f"nested more than {MAX_DEPTH} levels deep; a flow needs a handful of levels: write it out "
                  "flat")


def _too_many(mark: Any) -> TooBig:
    return TooBig(mark, f"more than {MAX_NODES} values; a flow has a few dozen: is this the right file?")


class _FlowResolver(BaseResolver):
    """YAML 1.2 core schema resolvers (merge keys kept: flows share settings between steps with `<<: *common`)."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}


_FlowResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_FlowResolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_FlowResolver.add_implicit_resolver(_INT, INT_TEXT, list("-+0123456789"))
_FlowResolver.add_implicit_resolver(_FLOAT, FLOAT_TEXT, list("-+.0123456789"))
_FlowResolver.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])


class _Scanner(yaml.scanner.Scanner):
    """PyYAML's scanner with its two look-ups of the possible simple keys in constant time instead of one pass over
    all of them per token: `[` * 5000 kept some 1000 keys alive (one per open level, until 1024 characters on) and
    cost a third of a second to refuse, most of it here.

    Why the answers are the same: a key is saved only at the current flow level, after the key saved there before is
    removed, and a level's key is removed before the level is left, so every key held is at a lower level than any
    saved after it: the dict's order is the order the keys were saved in, hence of their token numbers, positions
    and lines (all only grow while scanning). The first key has the smallest token number; and a key is stale when
    the scanner has moved past its line or 1024 characters past it, so if a key is not stale, none saved after it is:
    the stale keys are the first ones, dropped (and a required one refused) in the order PyYAML drops them.
    tests/unit/test_yaml_scanner.py compares the tokens and errors with PyYAML's own scanner."""

    def next_possible_simple_key(self) -> int | None:
        for key in self.possible_simple_keys.values():
            number: int = key.token_number
            return number
        return None

    def stale_possible_simple_keys(self) -> None:
        keys = self.possible_simple_keys
        if not keys:
            return  # most tokens: called before and after each one, so the common answers come first
        reader: Any = self  # a mixin: the loader it is part of is also the Reader that knows the position
        stale: list[int] = []
        for level, key in keys.items():
            if key.line == reader.line and reader.index - key.index <= 1024:
                break
            if key.required:
                for gone in stale:
                    del keys[gone]
                raise yaml.scanner.ScannerError("while scanning a simple key", key.mark,
                                                "could not find expected ':'", reader.get_mark())
            stale.append(level)
        else:
            keys.clear()  # every key was stale
            return
        for gone in stale:
            del keys[gone]


class _PythonLoader(yaml.reader.Reader, _Scanner, yaml.parser.Parser, yaml.composer.Composer, _FlowResolver):
    """PyYAML's own composer, bounded: it recurses once per level, so the bound comes before Python's stack limit."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        _Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _FlowResolver.__init__(self)
        self._depth = 0
        self._composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._composed += 1
        if self._depth >= MAX_DEPTH:
            raise _too_deep(self.peek_event().start_mark)
        if self._composed > MAX_NODES:
            raise _too_many(self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose_python(text: str) -> Node | None:
    """The single document's root node (None for an empty stream), by PyYAML's pure-Python parser."""
    loader = _PythonLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


class _Unsure(Exception):
    """libyaml's reading is not taken: the pure-Python path reads the text and words the answer."""


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _LibyamlLoader(CParser, _FlowResolver):
        """libyaml's events, composed as PyYAML's Composer composes them, with the bounds of _PythonLoader."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _FlowResolver.__init__(self)
            self._anchors: dict[str, Node] = {}
            self._depth = 0
            self._composed = 0
            # A scalar's tag depends only on its text and how it was written (the resolvers are the class's), and a
            # document's scalars repeat (100000 zeros cost 100000 regular-expression matches): one look-up each.
            self._tags: dict[tuple[str, Any], str] = {}

        def single(self) -> Node | None:
            self.get_event()  # the stream's start
            root = None
            if not self.check_event(StreamEndEvent):
                self.get_event()  # the document's start
                root = self._node(self.get_event())
                self.get_event()  # the document's end
                if not self.check_event(StreamEndEvent):
                    raise _Unsure  # a second document: PyYAML words the error
            return root

        def _node(self, event: Any) -> Node:
            """The node `event` starts (taken from the parser already: one call into libyaml per event)."""
            self._composed += 1
            if self._depth >= MAX_DEPTH:
                raise _too_deep(event.start_mark)
            if self._composed > MAX_NODES:
                raise _too_many(event.start_mark)
            anchor = event.anchor
            kind = type(event)
            if kind is AliasEvent:
                if anchor not in self._anchors:
                    raise _Unsure
                return self._anchors[anchor]
            if anchor is not None and anchor in self._anchors:
                raise _Unsure
            tag, start, stop = event.tag, event.start_mark, event.end_mark
            node: Node
            if kind is ScalarEvent:
                # Each attribute read once and the node made with positional arguments: a hostile document makes
                # MAX_NODES of these.
                value, style = event.value, event.style
                if not value and not style:
                    raise _Unsure  # an empty value: PyYAML's mark for it is not in libyaml's events, nor its tag
                if tag is None or tag == "!":
                    implicit = event.implicit
                    tag = self._tags.get((value, implicit))
                    if tag is None:
                        tag = self._tags[value, implicit] = self.resolve(ScalarNode, value, implicit)
                # libyaml calls the plain style "", PyYAML None (the builder keeps numbers' text only when plain).
                node = ScalarNode(tag, value, start, stop, style or None)
                if anchor is not None:
                    self._anchors[anchor] = node
                return node
            is_sequence = kind is SequenceStartEvent
            node_kind = SequenceNode if is_sequence else MappingNode
            if tag is None or tag == "!":
                tag = self.resolve(node_kind, None, event.implicit)
            node = node_kind(tag, [], start, None, flow_style=event.flow_style)
            if anchor is not None:
                self._anchors[anchor] = node  # before the items: an item may be an alias of its own collection
            self._depth += 1
            items, get_event = node.value, self.get_event
            closing = SequenceEndEvent if is_sequence else MappingEndEvent
            event = get_event()
            while type(event) is not closing:
                if is_sequence:
                    items.append(self._node(event))
                else:
                    key = self._node(event)
                    items.append((key, self._node(get_event())))
                event = get_event()
            self._depth -= 1
            node.end_mark = event.end_mark
            return node

    def compose_libyaml(text: str) -> Node | None:
        """As compose_python, from libyaml's events; whatever libyaml refuses is read by compose_python instead."""
        loader = _LibyamlLoader(text)
        try:
            return loader.single()
        except (yaml.YAMLError, _Unsure):
            return compose_python(text)
        finally:
            loader.dispose()

    def composer_for(text: str) -> Composer:
        """The faster composer that reads this text as PyYAML reads it."""
        return compose_python if _READ_DIFFERENTLY.search(text) else compose_libyaml
else:
    def composer_for(text: str) -> Composer:
        return compose_python
