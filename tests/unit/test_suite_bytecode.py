"""tests/suite_bytecode.py: the rewritten test modules are read back whole, and decode to what `marshal.load` gives."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from suite_bytecode import WholeFileMarshal
from suite_paths import TESTS


def test_this_session_reads_the_rewritten_modules_at_once() -> None:
    assert isinstance(rewrite.marshal, WholeFileMarshal)


def test_each_rewritten_module_decodes_as_marshal_load_decodes_it() -> None:
    written = sorted(TESTS.glob("**/__pycache__/*-pytest-*.pyc"))
    if not written:
        pytest.skip("no rewritten bytecode under tests/ (collected with PYTHONDONTWRITEBYTECODE and no conftest?)")
    whole = WholeFileMarshal(marshal)
    for pyc in written[:40]:
        with pyc.open("rb") as one, pyc.open("rb") as other:
            one.read(16), other.read(16)  # pytest's header: magic, flags, source hash
            assert whole.load(one) == marshal.load(other), pyc


def test_the_rest_of_marshal_is_the_real_module(tmp_path: Path) -> None:
    whole = WholeFileMarshal(marshal)
    code = compile("x = 1", "x.py", "exec")
    assert whole.dumps(code) == marshal.dumps(code) and whole.version == marshal.version
    (tmp_path / "two").write_bytes(marshal.dumps(code) + marshal.dumps("more"))
    with (tmp_path / "two").open("rb") as file:
        assert whole.load(file) == code  # the first value, as load gives it
