"""The whole-file MD5 of an upload, computed in the same single pass over the file as the parts are sent.

One pass over the file: the MD5 is computed by a hashing thread that reads the file sequentially while the parts
are sent. It is paced to stay at most `HASH_WINDOW` bytes ahead of the parts being sent, so what it reads is what
the part workers read next (or have just read): every page comes from disk once and from the page cache the
second time, whatever the file's size. Memory: one 1 MiB chunk per worker and one for the hasher.
"""

from __future__ import annotations

import hashlib
import os
import threading

from publish.errors import RemoteError
from publish.upload.parts import CHUNK_SIZE

# How far ahead of the parts being sent the hashing thread may read (see the module docstring).
HASH_WINDOW = 64 * 1024 * 1024


class ReadFrontier:
    """How far the hashing thread may read: `window` bytes past the end of the furthest part started so far."""

    def __init__(self, *, window: int) -> None:
        self._window = window
        self._limit = window
        self._condition = threading.Condition()

    def advance(self, end: int) -> None:
        with self._condition:
            if end + self._window > self._limit:
                self._limit = end + self._window
                self._condition.notify_all()

    def release_all(self) -> None:
        with self._condition:
            self._limit = float("inf")  # type: ignore[assignment]
            self._condition.notify_all()

    def wait_until(self, position: int, stop: threading.Event) -> bool:
        """Block until `position` may be read; False when the run is stopping."""
        with self._condition:
            while position >= self._limit:
                if stop.is_set():
                    return False
                self._condition.wait(0.1)
            return not stop.is_set()


class Hasher(threading.Thread):
    """Whole-file MD5 in one sequential pass of 1 MiB `pread`s, paced by the read frontier."""

    def __init__(self, fd: int, size: int, frontier: ReadFrontier, stop: threading.Event, *, kind: str = "IPA") -> None:
        super().__init__(name="upload-md5", daemon=True)
        self._fd = fd
        self._size = size
        self._kind = kind
        self.frontier = frontier
        self._stop_event = stop
        self._digest = hashlib.md5(usedforsecurity=False)
        self._error: BaseException | None = None
        self._complete = False

    def run(self) -> None:
        try:
            position = 0
            buffer = memoryview(bytearray(CHUNK_SIZE))
            while position < self._size:
                if not self.frontier.wait_until(position, self._stop_event):
                    return
                count = os.preadv(self._fd, [buffer[:min(CHUNK_SIZE, self._size - position)]], position)
                if not count:
                    raise OSError(f"the file ended at byte {position} while being hashed; it changed during the "
                                  "upload")
                self._digest.update(buffer[:count])
                position += count
            self._complete = True
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> str:
        self.join()
        if self._error is not None:
            raise RemoteError(f"Could not read the {self._kind} to compute its checksum: {self._error}") from self._error
        if not self._complete:
            raise RemoteError("The checksum was not computed because the upload stopped.")
        return self._digest.hexdigest()


def hash_file(path: str | os.PathLike[str], *, kind: str = "IPA") -> str:
    """The whole-file MD5 (lower-case hex) in one sequential read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        hasher = Hasher(fd, os.fstat(fd).st_size, ReadFrontier(window=0), threading.Event(), kind=kind)
        hasher.frontier.release_all()
        hasher.start()
        return hasher.result()
    finally:
        os.close(fd)
