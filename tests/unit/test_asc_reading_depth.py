"""The depth bound on App Store Connect answers (reading.load_json): read off the text, it must refuse exactly the
documents that nest deeper than the limit, whatever brackets, quotes and escapes their strings hold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from publish.asc.reading import MAX_DEPTH, load_json


def _depth(value: Any) -> int:
    """The nesting of containers in `value`, a container at the root being 1 (the reference: a walk of values)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _nested(levels: int, innermost: Any = 1) -> Any:
    value = innermost
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("levels", [1, 2, MAX_DEPTH - 1, MAX_DEPTH])
def test_documents_up_to_the_limit_are_read(levels: int) -> None:
    document = _nested(levels, innermost="[[[{{{ \"\\\\ ]]]}")
    assert load_json(json.dumps(document).encode()) == document


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, MAX_DEPTH + 2, 200])
def test_documents_past_the_limit_are_refused(levels: int) -> None:
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json(json.dumps(_nested(levels)).encode())


def test_brackets_in_strings_do_not_count_and_wide_documents_pass() -> None:
    brackets = "[{" * 500 + '\\"' + "]}" * 3
    document = {"data": [{"id": str(i), "attributes": {"name": brackets, "tags": [[], {}]}} for i in range(200)]}
    assert load_json(json.dumps(document).encode()) == document
    assert load_json(json.dumps(document, ensure_ascii=False).encode()) == document
    assert load_json(b'"' + b"[" * 70 + b'"') == "[" * 70
    assert _depth(load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)) == MAX_DEPTH


def test_the_bound_agrees_with_a_walk_of_the_values() -> None:
    # Hypothesis is imported here, not while the suite collects (once, in the parent, before the workers fork).
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.text(alphabet=st.sampled_from('[]{}"\\\n\u00e9\u2028ab'), max_size=8))
    documents = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3)),
        max_leaves=40)

    @settings(max_examples=100, deadline=None)
    @given(document=documents, limit=st.integers(min_value=0, max_value=8), ascii_only=st.booleans())
    def agrees(document: Any, limit: int, ascii_only: bool) -> None:
        body = json.dumps(document, ensure_ascii=ascii_only).encode()
        if _depth(document) > limit:
            with pytest.raises(ValueError, match="nested deeper"):
                load_json(body, max_depth=limit)
        else:
            assert load_json(body, max_depth=limit) == document

    agrees()
