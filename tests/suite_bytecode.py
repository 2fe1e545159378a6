"""How the suite's rewritten test modules are read back while collecting (tests/conftest.py installs it)."""

from __future__ import annotations

from typing import Any


class WholeFileMarshal:
    """`marshal` as pytest's assertion rewriter sees it, but `load(file)` reads the file at once and decodes it with
    `marshal.loads`. Collecting reads the rewritten bytecode of every test module from its __pycache__ (245
    files), and `marshal.load` on a file asks it for a few bytes at a time, one call a value: pytest's `_read_pyc`
    took 327 ms of the ~2.3 s the suite spends collecting (before any worker can start), 82 ms so (the rest is
    reading and hashing the sources). `loads` decodes the same object
    (and ignores what follows it, as `load` leaves it unread); everything else is the real module's."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def load(self, file: Any) -> Any:
        return self._module.loads(file.read())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def read_bytecode_at_once() -> None:
    import marshal

    from _pytest.assertion import rewrite

    if getattr(rewrite, "marshal", None) is marshal:  # as pytest 9 has it; another layout is left alone
        rewrite.marshal = WholeFileMarshal(marshal)  # type: ignore[assignment]
