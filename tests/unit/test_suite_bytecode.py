"""The session writes the project's bytecode before its workers start (tests/conftest.py `_compile_the_project`), so
no worker or child interpreter compiles a module again where PYTHONDONTWRITEBYTECODE is set; and the rewritten test
modules are read back whole (tests/suite_bytecode.py), decoding to what `marshal.load` gives."""

from __future__ import annotations

import importlib.util
import marshal
import os
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from suite_bytecode import WholeFileMarshal
from suite_paths import REPO, TESTS


def _current(source: Path) -> bool:
    """Whether `source` has a .pyc that Python would use: magic, then flags, source mtime and size (PEP 552)."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    try:
        header = cached.read_bytes()[:16]
    except OSError:
        return False
    stat = source.stat()
    return (len(header) == 16 and header[:4] == importlib.util.MAGIC_NUMBER
            and int.from_bytes(header[4:8], "little") == 0
            and int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF)


def test_every_module_of_the_project_has_current_bytecode_once_the_session_started() -> None:
    if not os.access(REPO / "publish", os.W_OK):
        pytest.skip("the checkout is read-only: there is nowhere to write bytecode")
    sources = sorted((REPO / "publish").rglob("*.py")) + [REPO / "entrypoint.py"]
    assert len(sources) > 100
    stale = [str(source.relative_to(REPO)) for source in sources if not _current(source)]
    assert stale == []


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
