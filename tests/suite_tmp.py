"""Where the suite's temporary files go: a memory-backed file system (/dev/shm) when the machine has a usable one.

The suite writes ~240 MB of worlds, IPAs, journals and state databases in ~2200 tests, and the project fsyncs what
it must not lose (the upload journal, the state database): on a disk every such fsync is a wait, and on this 2-CPU
machine those waits stood idle beside the other worker. Under /dev/shm the same suite ran in 41.8 s instead of 45.8
(median of 3 pairs, farm-bench). Nothing the tests check depends on the disk: the files, their contents and every
fsync call are the same; only the wait is gone.

Only when nobody chose otherwise (TMPDIR or PYTEST_DEBUG_TEMPROOT set, or --basetemp given) and only where it can
hold the suite: a container's /dev/shm is often 64 MB, or mounted noexec (the tests run fake Transporter and xcrun
scripts from their temporary folders), and there the suite stays on the disk."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

MEMORY_ROOT = Path("/dev/shm")
# The suite's peak is ~240 MB; pytest keeps the last three runs' folders, and a run beside another (two checkouts)
# doubles it: 2 GiB free leaves room for all of that and for whatever else uses the machine's shared memory.
NEEDED_FREE_BYTES = 2 * 1024**3
_CHOSEN_BY_THE_USER = ("TMPDIR", "PYTEST_DEBUG_TEMPROOT")


def memory_backed_root(environ: Mapping[str, str], *, basetemp: object = None, candidate: Path = MEMORY_ROOT,
                       statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
                       access: Callable[[Path, int], bool] = os.access) -> Path | None:
    """The folder to use as the suite's temporary root, or None to leave tempfile's own choice alone."""
    if basetemp is not None or any(environ.get(name) for name in _CHOSEN_BY_THE_USER):
        return None
    try:
        stats = statvfs(candidate)
    except OSError:
        return None
    if stats.f_flag & (os.ST_RDONLY | os.ST_NOEXEC):
        return None
    if stats.f_bavail * stats.f_frsize < NEEDED_FREE_BYTES:
        return None
    if not access(candidate, os.W_OK | os.X_OK):
        return None
    return candidate


def use_memory_backed_root(environ: dict[str, str] | os._Environ[str], basetemp: object) -> Path | None:
    """Point TMPDIR (this process, the workers it forks or starts and every child process) at the memory-backed root."""
    import tempfile

    root = memory_backed_root(environ, basetemp=basetemp)
    if root is not None:
        environ["TMPDIR"] = str(root)
        tempfile.tempdir = None  # tempfile caches its first answer: ask it again
    return root
