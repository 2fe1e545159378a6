"""Hypothesis's side of test_fuzz_inputs: the settings, the mutation strategy and the runner of one target.

Imported by the fuzz tests when they run, not while the suite collects: importing Hypothesis costs ~0.23 s CPU,
and the suite collects once, in the parent, before any worker starts (tests/fork_pool.py), so an import there is
serial time every run pays whichever worker ends up fuzzing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def fuzz(target: str, examples: int, strategy: st.SearchStrategy[bytes], check: Callable[[bytes], None]) -> None:
    """Runs `check` on `examples` inputs drawn from `strategy`, derandomized at up to 200 (the default suite).
    With derandomize, Hypothesis seeds its draws from the test function's name and source: the function is named
    after the target, so each target draws its own examples. The seed fixes the choices, not every value: about
    one draw in twenty is a constant taken from the local modules in sys.modules (hypothesis' providers.py, 6.170),
    so a worker that has imported other modules of publish/ by then may draw a few other examples."""
    def example(data: bytes) -> None:
        check(data)

    example.__name__ = example.__qualname__ = f"fuzz_{target.replace(' ', '_')}"
    run = settings(max_examples=examples, deadline=None, derandomize=examples <= 200, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(given(strategy)(example))
    run()


# The strategies an edit draws from, built once: a strategy made inside `mutated` is built, validated and labelled
# again at every draw, which cost more than the targets' own work (py-spy). Drawing from these makes the same
# choices, hence the same examples.
_EDIT_COUNTS = st.integers(1, 6)
_EDITS = st.sampled_from(["flip", "insert", "delete", "duplicate", "overwrite", "token", "truncate"])
_BYTE_MASKS = st.integers(1, 255)
_INSERTS = st.binary(min_size=1, max_size=16)
_DELETES = st.integers(1, 64)
_SPANS = st.integers(1, 256)
_REPEATS = st.integers(1, 8)
_CHUNKS = st.binary(min_size=1, max_size=8)


@functools.cache
def _sampled(values: Callable[[], list[bytes]] | tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(values() if callable(values) else values)


@functools.cache
def _offsets(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, size - 1)


@st.composite
def mutated(draw: st.DrawFn, seeds: Callable[[], list[bytes]], *, tokens: tuple[bytes, ...] = ()) -> bytes:
    """A seed changed by a few random edits: flipped, inserted, deleted, duplicated or overwritten bytes."""
    data = bytearray(draw(_sampled(seeds)))
    for _ in range(draw(_EDIT_COUNTS)):
        if not data:
            data += draw(_CHUNKS)
            continue
        at = draw(_offsets(len(data)))
        edit = draw(_EDITS)
        if edit == "flip":
            data[at] ^= draw(_BYTE_MASKS)
        elif edit == "insert":
            data[at:at] = draw(_INSERTS)
        elif edit == "delete":
            del data[at:at + draw(_DELETES)]
        elif edit == "duplicate":
            data[at:at] = data[at:at + draw(_SPANS)] * draw(_REPEATS)
        elif edit == "overwrite":
            chunk = draw(_CHUNKS)
            data[at:at + len(chunk)] = chunk
        elif edit == "token" and tokens:
            data[at:at] = draw(_sampled(tokens))
        else:
            del data[at:]
    return bytes(data)


