"""Parse untrusted XML (a xar table of contents, a package's Distribution or PackageInfo) into small nodes.

Why not xml.etree as is: it would accept a DTD, and with it entity declarations (the "billion laughs"), and it
has no bound on depth or element count. Here a DTD is refused outright (no package needs one), and depth,
element count and each element's text are capped, so a hostile document costs at most a bounded tree.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Iterator

from publish.ipa.errors import IpaError

# A package's TOC lists a handful of files (the app's own files are inside the Payload's cpio, not here):
# ~15 elements per file, so this allows thousands of files while bounding a hostile document's parse time.
MAX_ELEMENTS = 50_000
MAX_DEPTH = 64
MAX_TEXT_BYTES = 1024 * 1024  # one element's text: a base64 certificate is a few KiB


class XmlNode:
    """One element of a parsed XML document: tag, attributes, text, children. Small, slotted, nothing else."""

    __slots__ = ("tag", "attrs", "text", "children")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.text = ""
        self.children: list[XmlNode] = []

    def find(self, tag: str) -> XmlNode | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[XmlNode]:
        return [c for c in self.children if c.tag == tag]

    def child_text(self, tag: str) -> str | None:
        node = self.find(tag)
        return node.text.strip() if node is not None else None

    def iter(self, tag: str) -> Iterator[XmlNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            if node.tag == tag:
                yield node
            stack.extend(reversed(node.children))


def parse_xml(data: bytes, *, source: str, finding_id: str, hint: str, max_elements: int = MAX_ELEMENTS,
              max_depth: int = MAX_DEPTH) -> XmlNode:
    """Parse untrusted XML into XmlNodes. No DTD (hence no entities), bounded depth, element count and text."""
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True  # text arrives in few calls, so appending it stays linear
    root: list[XmlNode] = []
    stack: list[XmlNode] = []
    counts = {"elements": 0}

    def refuse(why: str) -> None:
        raise IpaError(f"{source} is refused: {why}.", finding_id=finding_id, hint=hint)

    def start(tag: str, attrs: dict[str, str]) -> None:
        counts["elements"] += 1
        if counts["elements"] > max_elements:
            refuse(f"it has more than {max_elements} XML elements")
        if len(stack) >= max_depth:
            refuse(f"its XML is nested more than {max_depth} levels deep")
        node = XmlNode(tag, attrs)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def text(value: str) -> None:
        if stack:
            node = stack[-1]
            if len(node.text) + len(value) > MAX_TEXT_BYTES:
                refuse(f"an XML element <{node.tag}> holds more than {MAX_TEXT_BYTES} characters of text")
            node.text += value

    def doctype(*_args: object) -> None:
        # A genuine TOC or Distribution has no DTD; refusing it rules out entity-expansion bombs.
        refuse("its XML declares a DTD (<!DOCTYPE>), which a package never needs")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise IpaError(f"{source} is not well-formed XML ({exc}).", finding_id=finding_id,
                       hint=hint) from None
    if not root:
        refuse("it is empty")
    return root[0]


__all__ = ["XmlNode", "parse_xml"]
