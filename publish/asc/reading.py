"""Reading an App Store Connect answer body into JSON, with bounds: the body is already capped in size by the
transport; here it must be UTF-8, JSON, an object, and nested no deeper than any JSON:API document is.

Python's JSON decoder recurses once per level, so `[[[[...` 100 000 deep raises RecursionError (a traceback, not
an error message); a document that decodes but is a few hundred levels deep would hit the same limit later, in
whatever code walks it. Both are refused here, where the answer enters. An answer that is not a document App Store
Connect gives (an empty 200 to a GET, an `errors` body on a 2xx, HTML from a proxy) is `GarbledAnswer`: the caller
must not read it as "nothing there" - an empty app lookup read as "no app with this bundle ID" sends the user to
the wrong fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 64
MAX_ERROR_ITEMS = 20
MAX_ERROR_TEXT = 1000

# What `_deeper_than` keeps of a document: quotes and brackets, every opening bracket as "(", every closing one as ")".
_STRUCTURE = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[{]}')

PROXY_HINT = ("A proxy, captive portal or gateway may be in the way: check the base URL and the network, and "
              "try again later.")


class GarbledAnswer(Exception):
    def __init__(self, message: str, hint: str = PROXY_HINT) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def load_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON in `body`; ValueError naming the problem for bytes that are not UTF-8, not JSON or too deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 text (byte {exc.start} is invalid)") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"the JSON is nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise ValueError(f"the body is not valid JSON ({exc})") from None
    if _deeper_than(body, max_depth):
        raise ValueError(f"the JSON is nested deeper than {max_depth} levels")
    return value


def _deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON in `body` (already decoded, so valid) nests containers deeper than `limit`, the root being
    level 1. Read off the bytes at C speed rather than by walking every value of the decoded document (that walk
    was most of the CPU of reading an answer). Fewer brackets than the limit cannot nest past it. Otherwise the
    strings go (their brackets are text): every backslash in valid JSON begins an escape and only `\\\\` has one as
    its second character, so removing `\\\\` and then `\\"` from the left takes every escaped quote away and leaves
    the quotes that delimit strings; in UTF-8 these ASCII bytes are never part of another character. Of what is left
    outside the strings only brackets are kept, and each round removes every innermost pair, that is one level of
    nesting: brackets left after `limit` rounds mean a deeper container."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = body.translate(_STRUCTURE, _NOT_STRUCTURE)
    brackets = b"".join(structure.split(b'"')[::2]) if b'"' in structure else structure
    rounds = 0
    while brackets:
        if rounds == limit:
            return True
        brackets = brackets.replace(b"()", b"")
        rounds += 1
    return False


def read_answer(status: int, body: bytes, content_type: str | None, *, method: str,
                shown: str) -> dict[str, Any] | None:
    """The decoded document of a success answer (None for 204, or an empty answer to a write)."""
    call = f"{method} {shown}"
    if status == 204:
        return None
    if not body.strip():
        if method in ("GET", "HEAD"):
            raise GarbledAnswer(f"App Store Connect answered {call} with HTTP {status} and an empty body, which is "
                                "not an answer it gives (a list or a resource always comes as a JSON:API document).")
        return None
    try:
        decoded = load_json(body)
    except ValueError as exc:
        raise GarbledAnswer(f"App Store Connect answered {call} with HTTP {status} but {exc} (Content-Type "
                            f"{content_type or 'unknown'}).") from None
    if not isinstance(decoded, dict):
        raise GarbledAnswer(f"App Store Connect answered {call} with HTTP {status} and JSON that is not an object "
                            f"({type(decoded).__name__}).")
    if "errors" in decoded and "data" not in decoded:
        raise GarbledAnswer(f"App Store Connect answered {call} with HTTP {status} but an error body: "
                            f"{_first_error(decoded)}", hint="Try again later; if it keeps happening, report it "
                            "with this message (App Store Connect may be failing).")
    return decoded


def error_document(body: bytes) -> Mapping[str, Any] | bytes:
    """An error answer's body for `api_error`: the decoded object with its texts trimmed, or the raw bytes when it
    is not JSON (an HTML page from a gateway is summarized there)."""
    try:
        decoded = load_json(body[: 1 << 20])
    except ValueError:
        return body[:4096]
    if not isinstance(decoded, dict) or not isinstance(decoded.get("errors"), list):
        return body[:4096]
    items = [_trim(item) for item in decoded["errors"][:MAX_ERROR_ITEMS] if isinstance(item, Mapping)]
    return {"errors": items}


def _trim(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for name in ("status", "code", "title", "detail"):
        value = out.get(name)
        if isinstance(value, str) and len(value) > MAX_ERROR_TEXT:
            out[name] = value[: MAX_ERROR_TEXT - 3] + "..."
    return out


def _first_error(document: Mapping[str, Any]) -> str:
    errors = document.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, Mapping):
        return "(no details)"
    text = " ".join(str(first.get(k) or "") for k in ("status", "code", "title", "detail")).strip()
    return text[:MAX_ERROR_TEXT] or "(no details)"
