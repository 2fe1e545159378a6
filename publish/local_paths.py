"""Local paths given by the user (flags, environment, flow file), refused early when no file system could take them.

A NUL byte makes every `os` call raise ValueError, and a 5000-character path raises OSError(ENAMETOOLONG)
somewhere deep in a step, after remote work was done. Checking the text once, where a path enters, turns both
into one InputError that names the flag. Writability of an output file is checked before any remote work too
(by creating and removing a scratch file beside it), so a result file that cannot be written never turns a
successful publish into a crash at the end. Imports only the standard library: `--help` stays fast.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from publish.errors import InputError

# Linux's PATH_MAX and NAME_MAX (macOS: 1024 / 255); longer paths fail in open() with ENAMETOOLONG anyway.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def path_problem(text: str) -> str | None:
    """Why `text` cannot name a local file (None when it can)."""
    if not text:
        return "the path is empty"
    if "\x00" in text:
        return "the path contains a NUL byte (\\x00), which no file name can hold"
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        return "the path is not valid text for this file system"
    if len(encoded) > MAX_PATH_BYTES:
        return f"the path is {len(encoded)} bytes long; the limit is {MAX_PATH_BYTES}"
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > MAX_NAME_BYTES:
        return f"a part of the path is {len(longest)} bytes long; a file name has at most {MAX_NAME_BYTES}"
    return None


def checked_path(text: str, what: str) -> Path:
    """`text` as a Path, or an InputError naming `what` (e.g. '--state-dir') and the fix."""
    problem = path_problem(text)
    if problem is not None:
        raise InputError(f"{what}: {problem}", hint=f"give {what} a real, shorter path")
    return Path(text)


def output_file_problem(path: Path) -> str | None:
    """Why a file could not be written at `path` (None when it could), without creating it.

    The nearest existing ancestor must be a writable directory: parents that do not exist yet are made when the
    file is written. The check writes a scratch file there, because permission bits say nothing of read-only
    mounts, and nothing at all when running as root.
    """
    if path.is_dir():
        return f"{path} is a directory"
    parent = path.parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory, so no file can be made under it"
    try:
        fd, scratch = tempfile.mkstemp(prefix=".appstore-publish-write-check-", dir=parent)
    except OSError as exc:
        return f"cannot write in {parent} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(scratch)
    return None


def check_output_file(text: str | os.PathLike[str], what: str) -> Path:
    """A writable output path, or an InputError; call before any remote work."""
    path = checked_path(os.fspath(text), what)
    problem = output_file_problem(path)
    if problem is not None:
        raise InputError(f"{what} {path}: {problem}", hint=f"point {what} at a file in a directory you can write to")
    return path
