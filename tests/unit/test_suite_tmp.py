"""The suite's temporary root (tests/suite_tmp.py): memory-backed only where nobody chose otherwise and where it can
hold the suite and run its scripts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from suite_tmp import MEMORY_ROOT, NEEDED_FREE_BYTES, memory_backed_root, use_memory_backed_root

ROOM = NEEDED_FREE_BYTES // 4096


def _stats(free_blocks: int = ROOM, flags: int = 0) -> os.statvfs_result:
    # f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, f_flag, f_namemax
    return os.statvfs_result((4096, 4096, free_blocks * 2, free_blocks, free_blocks, 1000, 1000, 1000, flags, 255))


def _choose(environ: dict[str, str] | None = None, *, basetemp: object = None, stats: os.statvfs_result | None = None,
            writable: bool = True, missing: bool = False) -> Path | None:
    def statvfs(path: Path) -> os.statvfs_result:
        if missing:
            raise FileNotFoundError(path)
        return stats or _stats()

    return memory_backed_root(environ or {}, basetemp=basetemp, candidate=Path("/memory"), statvfs=statvfs,
                              access=lambda path, mode: writable)


def test_a_roomy_writable_executable_memory_file_system_is_used() -> None:
    assert _choose() == Path("/memory")


@pytest.mark.parametrize("environ", [{"TMPDIR": "/scratch"}, {"PYTEST_DEBUG_TEMPROOT": "/scratch"}])
def test_a_temporary_root_the_user_chose_is_left_alone(environ: dict[str, str]) -> None:
    assert _choose(environ) is None


def test_an_explicit_basetemp_is_left_alone() -> None:
    assert _choose(basetemp="/scratch/run") is None


@pytest.mark.parametrize("flags", [os.ST_NOEXEC, os.ST_RDONLY, os.ST_NOEXEC | os.ST_NOSUID])
def test_a_read_only_or_noexec_mount_is_not_used(flags: int) -> None:
    assert _choose(stats=_stats(flags=flags)) is None


def test_a_small_memory_file_system_is_not_used() -> None:
    # a container's default /dev/shm: 64 MB
    assert _choose(stats=_stats(free_blocks=64 * 1024 * 1024 // 4096)) is None
    assert _choose(stats=_stats(free_blocks=ROOM - 1)) is None
    assert _choose(stats=_stats(free_blocks=ROOM)) == Path("/memory")


def test_a_missing_or_unwritable_folder_is_not_used() -> None:
    assert _choose(missing=True) is None
    assert _choose(writable=False) is None


def test_the_choice_reaches_tempfile_and_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.delenv("PYTEST_DEBUG_TEMPROOT", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)
    chosen = use_memory_backed_root(os.environ, None)
    try:
        if chosen is None:
            assert "TMPDIR" not in os.environ
        else:
            assert chosen == MEMORY_ROOT and os.environ["TMPDIR"] == str(MEMORY_ROOT)
            assert Path(tempfile.gettempdir()) == MEMORY_ROOT
    finally:
        monkeypatch.setattr(tempfile, "tempdir", None)  # ask again after monkeypatch restores TMPDIR
