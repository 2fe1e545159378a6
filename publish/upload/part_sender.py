"""Sending the parts of a reservation: `concurrency` workers PUT the parts not yet acknowledged, in offset order,
while the hashing thread computes the whole-file MD5 (hashing.py); each acknowledged part goes into the journal at
once, so a run that dies here resumes with only the missing parts.

When the storage refuses a URL (HTTP 403) or a URL is about to expire, the parts in flight finish, fresh URLs are
asked for (`renew`, reservation.py) and the sending goes on, at most MAX_RESERVATIONS times in all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import requests

from publish.errors import RemoteError
from publish.upload.hashing import HASH_WINDOW, Hasher, ReadFrontier
from publish.upload.journal import UploadJournal
from publish.upload.parts import PartOperation, PartUploader, PresignedUrlRejected, configure_part_session
from publish.upload.progress import ProgressReporter
from publish.upload.upload_run import UploadRun

MAX_RESERVATIONS = 3


@dataclass(frozen=True)
class PartSender:
    """`expired` tells a URL too close to its expiry to start a part on; `renew` gets fresh URLs (reservation.py)."""

    session_factory: Callable[[], requests.Session]
    make_uploader: Callable[[requests.Session], PartUploader]
    concurrency: int
    progress: ProgressReporter | None
    expired: Callable[[PartOperation], bool]
    renew: Callable[[UploadRun], list[PartOperation]]

    def transfer(self, run: UploadRun, operations: list[PartOperation]) -> tuple[str, int]:
        """Send every part not yet acknowledged while hashing the whole file; returns (md5 hex, bytes sent)."""
        journal = run.journal
        size = run.identity.size
        stop = threading.Event()
        fd = os.open(run.path, os.O_RDONLY)
        session = self.session_factory()
        configure_part_session(session, pool_size=self.concurrency, urls=[op.url for op in operations])
        uploader = self.make_uploader(session)
        hasher = Hasher(fd, size, ReadFrontier(window=HASH_WINDOW), stop, kind=run.kind)
        progress = self.progress
        done_bytes = sum(op.length for op in operations if op.key in journal.acknowledged)
        if progress is not None:
            progress.start(size, already=done_bytes, label=f"Uploading {run.path.name}")
        sent = 0
        ok = False
        try:
            hasher.start()
            reservations = 1
            while True:
                pending = [op for op in operations if op.key not in journal.acknowledged]
                if not pending:
                    hasher.frontier.release_all()
                    break
                try:
                    sent += self._send_parts(fd, pending, journal, uploader, hasher.frontier, stop)
                except PresignedUrlRejected as rejected:
                    reservations += 1
                    if reservations > MAX_RESERVATIONS:
                        raise RemoteError(
                            f"The storage kept refusing the part URLs ({rejected.message}).",
                            hint="Check this machine's clock (presigned URLs are time-limited) and run again.",
                        ) from None
                    operations = self.renew(run)
                    if progress is not None:
                        progress.set_done(sum(op.length for op in operations if op.key in journal.acknowledged))
            md5_hex = hasher.result()
            ok = True
            return md5_hex, sent
        finally:
            stop.set()
            hasher.join()
            if progress is not None:
                progress.finish(ok=ok)
            session.close()
            os.close(fd)

    def _send_parts(self, fd: int, pending: list[PartOperation], journal: UploadJournal, uploader: PartUploader,
                    frontier: ReadFrontier, stop: threading.Event) -> int:
        """PUT `pending` with `concurrency` workers, in offset order. Raises PresignedUrlRejected (after the parts
        in flight finished) when URLs expired; any other failure stops every worker at once."""
        expired = threading.Event()
        progress = self.progress
        on_progress = progress.sending if progress is not None else None  # in flight; counted once answered

        def send(op: PartOperation) -> int:
            if stop.is_set() or expired.is_set():
                return 0
            if self.expired(op):
                raise PresignedUrlRejected(f"the URL of {op.label} expired", operation=op)
            frontier.advance(op.end)
            result = uploader.put(fd, op, on_progress=on_progress, cancelled=stop)
            journal.acknowledge(op.key)
            if progress is not None:
                progress.acknowledge(op.length)
            return result.bytes_sent

        sent = 0
        rejected: PresignedUrlRejected | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="upload-part") as pool:
            futures: set[Future[int]] = {pool.submit(send, op) for op in pending}
            try:
                while futures:
                    done, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        try:
                            sent += future.result()
                        except PresignedUrlRejected as exc:
                            expired.set()
                            rejected = rejected or exc
            except BaseException:
                stop.set()
                for future in futures:
                    future.cancel()
                raise
        if rejected is not None:
            raise rejected
        return sent
