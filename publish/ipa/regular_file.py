"""Opening a binary given on the command line, refusing anything but a regular file.

An archive is read from its end (zip) or by offsets (xar), so it must be a file that can be seeked; and a path
may name something that is not one at all: a plain open() of a FIFO with no writer blocks forever, and /dev/zero
would answer every read. Shared by the zip and the xar readers, so both refuse the same things the same way.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path names a FIFO, a device or a socket."""


def open_regular_file(path: str) -> BinaryIO:
    """Open for reading, refusing anything but a regular file. O_NONBLOCK makes the open of a FIFO return at once;
    fstat decides."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
