"""The session writes the project's bytecode before its workers start (tests/conftest.py `_compile_the_project`), so
no worker or child interpreter compiles a module again where PYTHONDONTWRITEBYTECODE is set."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from suite_paths import REPO


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
