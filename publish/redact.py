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
    """Replaces registered secrets with `***` in any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._fragments: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> list[str]:
        """Register a secret; returns the new fragments (for `::add-mask::`)."""
        if not secret:
            return []
        new = sorted(secret_fragments(secret) - self._fragments)
        if new:
            self._fragments.update(new)
            # Longest first, so a whole key is masked before its lines are.
            ordered = sorted(self._fragments, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(f) for f in ordered))
        return new

    @property
    def fragments(self) -> frozenset[str]:
        return frozenset(self._fragments)

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

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
