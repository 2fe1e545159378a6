"""Keep secrets out of everything we print, log or write.

A `Redactor` is created once per run (by the CLI) and handed to whatever
produces text. Every secret resolved from the flow file or the environment is
registered with it, together with the forms it may leak in: its base64
encoding, and each of its lines (a PEM key printed line by line, or a key with
escaped newlines, must not slip through).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable

MASK = "***"

# Lines shorter than this (PEM armour, blank lines) are not secret on their own
# and masking them would mangle ordinary output.
_MIN_FRAGMENT = 8
_PEM_ARMOUR = re.compile(r"^-----(BEGIN|END) [A-Z ]+-----$")


def secret_fragments(secret: str) -> set[str]:
    """Every form in which `secret` could appear in text."""
    forms: set[str] = set()
    text = secret.strip()
    if not text:
        return forms
    variants = {text, text.replace("\r\n", "\n"), text.replace("\n", "\\n"), text.replace("\r\n", "\\r\\n")}
    for variant in list(variants):
        forms.add(variant)
        forms.add(base64.b64encode(variant.encode()).decode())
        forms.add(base64.b64encode((variant + "\n").encode()).decode())
    for line in re.split(r"\r?\n|\\n", text):
        line = line.strip()
        if len(line) >= _MIN_FRAGMENT and not _PEM_ARMOUR.match(line):
            forms.add(line)
    # The body of a PEM joined without newlines (as some tools print it).
    body = "".join(
        line.strip() for line in re.split(r"\r?\n|\\n", text) if line.strip() and not _PEM_ARMOUR.match(line.strip())
    )
    if len(body) >= _MIN_FRAGMENT:
        forms.add(body)
    return {f for f in forms if len(f) >= _MIN_FRAGMENT or f == text}


class Redactor:
    """Replaces registered secrets with `***` in any text.

    Masking is plain substring search, not one regex alternation of every fragment: compiling that alternation cost
    ~12 ms on each `add` (three a run), and `re`'s own cache cannot help since every run has new secrets. Searching
    each fragment with `str.find` and masking the union of every occurrence is also at least as safe as the
    alternation was: an alternation masks the first fragment to match at a position and then goes on after it, so of
    two overlapping occurrences the second one's tail stayed in clear; here every character inside any occurrence
    of any fragment is masked.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._fragments: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> list[str]:
        """Register a secret; returns the new fragments (for `::add-mask::`)."""
        if not secret:
            return []
        new = sorted(secret_fragments(secret) - self._fragments)
        self._fragments.update(new)
        return new

    @property
    def fragments(self) -> frozenset[str]:
        return frozenset(self._fragments)

    def redact(self, text: str) -> str:
        if not self._fragments or not text:
            return text
        spans = _occurrences(text, self._fragments)
        if not spans:
            return text
        parts: list[str] = []
        written = 0  # text[:written] is in `parts` already
        start, end = spans[0]
        for next_start, next_end in spans[1:]:
            if next_start < end:  # overlapping occurrences become one mask
                end = max(end, next_end)
                continue
            parts += (text[written:start], MASK)
            written = end
            start, end = next_start, next_end
        parts += (text[written:start], MASK, text[end:])
        return "".join(parts)

    def redact_obj(self, value: object) -> object:
        """Redact every string inside a JSON-like structure."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_obj(v) for v in value]
        return value

    def logging_filter(self) -> logging.Filter:
        return _RedactingFilter(self)


def _occurrences(text: str, fragments: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of every fragment in `text`, overlapping ones included, in order."""
    spans: list[tuple[int, int]] = []
    for fragment in fragments:
        found = text.find(fragment)
        while found != -1:
            spans.append((found, found + len(fragment)))
            found = text.find(fragment, found + 1)
    spans.sort()
    return spans


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._redactor.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, instead of letting the
            # formatter print the raw exception later.
            record.exc_text = self._redactor.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True
