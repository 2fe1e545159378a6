"""Upload an IPA through App Store Connect's Build Upload API (protocol.md B and C): parallel, streaming,
verified, resumable.

Sequence: find the app; refuse a build number that is not higher than every build and build upload of the
version (before anything is created); create the build upload; reserve the file; PUT every operation concurrently
(exact byte range, exactly the listed headers, no Authorization); commit with the whole-file MD5; poll the build
upload to COMPLETE (FAILED is reported with Apple's codes); find the build; wait for it to be VALID.

One pass over the file: the MD5 is computed by a hashing thread that reads the file sequentially while the parts
are sent. It is paced to stay at most `HASH_WINDOW` bytes ahead of the parts being sent, so what it reads is what
the part workers read next (or have just read): every page comes from disk once and from the page cache the
second time, whatever the file's size. Memory: one 1 MiB chunk per worker and one for the hasher.

Resuming: a journal (journal.py) records the build upload, the reservation and the acknowledged parts. A re-run
for the same app, version, build number and platform reuses the open build upload (never creates a second one),
re-sends only the parts that were not acknowledged (the MD5 is still computed over the whole file, in the same
single pass), then commits. Without a journal, an AWAITING_UPLOAD build upload with the same numbers (left by a
run that died before writing its journal) is adopted too.

Expired presigned URLs (HTTP 403 from the storage, or an `expiration` already past): the API has no call to renew
the URLs of a reservation, and a reservation always spans the whole file (`fileSize`, no offset), so a "new
reservation for the remaining parts" is not expressible. The file is re-read first (`GET /v1/buildUploadFiles/{id}`):
if App Store Connect hands out fresh URLs for the same byte ranges there, only the missing parts are sent to them.
Otherwise the file is reserved again in the same build upload (`POST /v1/buildUploadFiles`) and all of the new
reservation's parts are sent, because bytes given to the old reservation do not count for the new one.

Creates are never retried blindly: when `POST /v1/buildUploads` (or `/v1/buildUploadFiles`) ends ambiguously, the
existing uploads (files) are listed and an open one with the same numbers (size) is adopted before creating again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random as random_module
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from publish.asc.client import AppStoreConnect
from publish.asc.errors import AscAmbiguousWriteError, AscApiError, AscConflictError, AscNotFoundError, processing_failed
from publish.asc.resources import Document, Resource
from publish.errors import InputError, RemoteError
from publish.upload.journal import CommittedDigest, FileIdentity, UploadJournal, UploadKey
from publish.upload.lifecycle import Waiting, WaitTimedOut, read_just_created, wait_until_processed
from publish.upload.numbers import (
    ExistingBuild,
    UsedBuildNumbers,
    build_number_key,
    check_build_number,
    find_app_or_fail,
    find_existing_build,
    find_train,
    next_build_number,
    open_build_upload,
    require_numeric,
    upload_state,
    used_build_numbers,
)
from publish.upload.parts import (
    CHUNK_SIZE,
    PartOperation,
    PartUploader,
    PresignedUrlRejected,
    configure_part_session,
    validate_operations,
)
from publish.upload.progress import ProgressReporter

__all__ = [
    "BuildUploader",
    "ExistingBuild",
    "UploadResult",
    "check_build_number",
    "find_app_or_fail",
    "find_existing_build",
]

log = logging.getLogger(__name__)

IPA_UTI = "com.apple.ipa"
PKG_UTI = "com.apple.pkg"  # a macOS build is an installer package; App Store Connect checks the uti per platform
# How far ahead of the parts being sent the hashing thread may read (see the module docstring).
HASH_WINDOW = 64 * 1024 * 1024
# A URL expiring sooner than this is treated as expired: a part started now might not finish in time.
EXPIRY_MARGIN = 60.0
MAX_RESERVATIONS = 3
FINISHED_FILE_STATES = ("UPLOAD_COMPLETE", "COMPLETE")


@dataclass(frozen=True)
class UploadResult:
    upload_id: str | None
    file_id: str | None
    build_id: str | None
    processing_state: str | None
    md5_hex: str
    bytes_sent: int
    reused: bool


class BuildUploader:
    def __init__(
        self,
        client: AppStoreConnect,
        *,
        state_dir: Path,
        concurrency: int = 6,
        part_session_factory: Callable[[], requests.Session] = requests.Session,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        progress: ProgressReporter | None = None,
        poll_interval: float = 10.0,
        processing_timeout: float = 3600,
        wall_clock: Callable[[], float] = time.time,
        random: random_module.Random | None = None,
        max_part_attempts: int = 8,
        part_timeout: tuple[float, float] = (10.0, 300.0),
    ) -> None:
        if concurrency < 1:
            raise InputError(f"The upload concurrency must be at least 1 (got {concurrency}).")
        self.client = client
        self.state_dir = Path(state_dir)
        self.concurrency = int(concurrency)
        self._part_session_factory = part_session_factory
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._random = random if random is not None else random_module.Random()
        self.progress = progress
        self.poll_interval = float(poll_interval)
        self.processing_timeout = float(processing_timeout)
        self.max_part_attempts = max_part_attempts
        self.part_timeout = part_timeout

    # ------------------------------------------------------------------ entry point

    def upload(self, ipa_path: str | os.PathLike[str], *, app_id: str | None, bundle_id: str, version: str,
               build_number: str, platform: str = "IOS", wait_for_processing: bool = True,
               uti: str | None = None) -> UploadResult:
        """`uti`: the binary's (IpaInfo / PkgInfo .uti); by default the one App Store Connect expects for `platform`."""
        path = Path(ipa_path)
        identity = _identity(path)
        require_numeric(build_number)
        if app_id is None:
            app_id = find_app_or_fail(self.client, bundle_id).id
        key = UploadKey(app_id=str(app_id), version=str(version), build_number=str(build_number), platform=platform)
        journal = UploadJournal.open(self.state_dir, key, clock=self._clock)
        run = _Run(key=key, bundle_id=bundle_id, path=path, identity=identity, journal=journal,
                   wait_for_processing=wait_for_processing, uti=uti or upload_uti_for(platform))
        try:
            return self._upload(run)
        finally:
            journal.flush()

    def hash_file(self, ipa_path: str | os.PathLike[str]) -> str:
        """The whole-file MD5 (lower-case hex) in one sequential read."""
        fd = os.open(ipa_path, os.O_RDONLY)
        try:
            hasher = _Hasher(fd, os.fstat(fd).st_size, _ReadFrontier(window=0), threading.Event())
            hasher.frontier.release_all()
            hasher.start()
            return hasher.result()
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ the sequence

    def _upload(self, run: _Run) -> UploadResult:
        journal = run.journal
        upload = self._journal_upload(run)
        if upload is not None and journal.committed:
            log.info("Build upload %s was committed by an earlier run; waiting for App Store Connect.", upload.id)
            if upload_state(upload) == "AWAITING_UPLOAD":
                self._commit(run, journal.file_id or "", journal.md5_hex or "")
            return self._finish(run, upload.id, journal.file_id, journal.md5_hex or "", 0, reused=False)
        if upload is None:
            used = used_build_numbers(self.client, run.key.app_id, run.key.version, run.key.platform)
            existing = find_existing_build(self.client, run.key.app_id, run.key.version, run.key.build_number,
                                           run.key.platform, used=used)
            if existing is not None:
                return self._reuse_existing(run, existing)
            open_upload = open_build_upload(used, run.key.build_number)
            check_build_number(self.client, run.key.app_id, run.key.version, run.key.build_number, run.key.platform,
                               used=used, ignore_upload_ids=[open_upload.id] if open_upload else ())
            if open_upload is not None:
                log.info("Reusing build upload %s for %s (%s), left open by an earlier run.", open_upload.id,
                         run.key.version, run.key.build_number)
                upload = open_upload
            else:
                upload = self._create_build_upload(run, used)
            journal.start(upload.id, run.identity)
        elif journal.file != run.identity:
            log.info("The IPA differs from the one an earlier run started to send; sending every part again to "
                     "build upload %s.", upload.id)
            journal.start(upload.id, run.identity)
        else:
            done = len(journal.acknowledged)
            log.info("Resuming build upload %s: %d of %d parts already sent.", upload.id, done,
                     len(journal.operations))

        operations = self._reservation(run)
        md5_hex, sent = self._transfer(run, operations)
        upload_id = journal.upload_id or upload.id
        if _identity(run.path) != run.identity:
            journal.start(upload_id, run.identity)
            raise InputError(f"{run.path} changed while it was being uploaded.",
                             hint="Let the build finish writing the IPA before uploading it, then run again.")
        journal.flush()  # every acknowledged part on disk before the commit goes out (see _sent_in_full)
        self._commit(run, journal.file_id or "", md5_hex)
        journal.mark_committed(md5_hex)
        return self._finish(run, upload_id, journal.file_id, md5_hex, sent, reused=False)

    def _journal_upload(self, run: _Run) -> Resource | None:
        """The journal's build upload when it can still be used, else None (and the journal is cleared)."""
        journal = run.journal
        if not journal.upload_id:
            return None
        try:
            upload = read_just_created(self._waiting(), "the build upload",  # H.9: may be a moment old
                                       lambda: self.client.get_build_upload(journal.upload_id or "")).resource
        except AscNotFoundError:
            upload = None
        state = upload_state(upload) if upload is not None else None
        if upload is None or state == "FAILED":
            log.info("The build upload %s recorded by an earlier run is %s; starting afresh.", journal.upload_id,
                     "gone" if upload is None else "FAILED")
            journal.reset()
            return None
        if state in ("PROCESSING", "COMPLETE") and not journal.committed:
            if self._sent_in_full(run):
                # Every part of this very IPA went into this upload's reservation and only a commit moves it on:
                # ours was applied, its answer lost (the process died before it could record it).
                md5_hex = self.hash_file(run.path)
                journal.mark_committed(md5_hex)
                CommittedDigest.save(self.state_dir, run.key, md5_hex=md5_hex, upload_id=journal.upload_id,
                                     file_id=journal.file_id)
                log.info("Build upload %s is %s: the commit of an earlier run went through.", upload.id, state)
                return upload
            # Committed by someone else, or not from this IPA: the regular checks decide.
            journal.reset()
            return None
        return upload

    @staticmethod
    def _sent_in_full(run: _Run) -> bool:
        """Whether the journal says every part of the IPA on disk now was acknowledged to its reservation."""
        journal = run.journal
        keys = {PartOperation.from_json(op).key for op in journal.operations}
        return bool(journal.file_id and keys) and journal.file == run.identity and keys <= journal.acknowledged

    def _create_build_upload(self, run: _Run, used: UsedBuildNumbers) -> Resource:
        key = run.key
        for attempt in range(3):  # the answer of a second try can be lost too (issue 15: lost answers)
            try:
                upload = self.client.create_build_upload(key.app_id, version=key.version,
                                                         build_number=key.build_number, platform=key.platform)
                log.info("Created build upload %s for %s (%s).", upload.id, key.version, key.build_number)
                return upload
            except AscAmbiguousWriteError:
                # Looked up after the last try as well: that one may be the create that was applied.
                log.warning("Creating the build upload ended ambiguously; checking whether it exists.")
                found = self.client.list_build_uploads(key.app_id, version=key.version,
                                                       build_number=key.build_number, platform=key.platform,
                                                       states=["AWAITING_UPLOAD"])
                before = {u.id for u in used.uploads}
                fresh = [u for u in found if u.id not in before
                         and build_number_key(str(u.attr("cfBundleVersion", ""))) == build_number_key(key.build_number)]
                if fresh:
                    log.info("It was created: build upload %s.", fresh[0].id)
                    return fresh[0]
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reservation

    def _reservation(self, run: _Run) -> list[PartOperation]:
        journal = run.journal
        if journal.file_id and journal.operations:
            try:
                operations = validate_operations(journal.operations, run.identity.size)
                if not any(self._expired(op) for op in operations if op.key not in journal.acknowledged):
                    return operations
                return self._renew_reservation(run)
            except RemoteError:
                log.warning("The reservation recorded by an earlier run is unusable; reserving the file again.")
        adopted = self._open_file_reservation(run, exclude=())
        if adopted is not None:
            file_id, operations = adopted
            journal.record_reservation(file_id, [op.to_json() for op in operations])
            return operations
        return self._reserve(run, exclude=())

    def _open_file_reservation(self, run: _Run, exclude: Sequence[str]) -> tuple[str, list[PartOperation]] | None:
        """An AWAITING_UPLOAD reservation of the build upload for a file of this size, with live URLs."""
        upload_id = run.journal.upload_id or ""
        for item in self.client.list_build_upload_files(upload_id):
            if item.id in exclude or item.attr("assetType", "ASSET") != "ASSET":
                continue
            if int(item.attr("fileSize", -1)) != run.identity.size:
                continue
            delivery = item.attr("assetDeliveryState") or {}
            if isinstance(delivery, dict) and delivery.get("state", "AWAITING_UPLOAD") != "AWAITING_UPLOAD":
                continue
            try:
                operations = validate_operations(item.attr("uploadOperations"), run.identity.size)
            except RemoteError:
                continue
            if any(self._expired(op) for op in operations):
                continue
            log.info("Reusing file reservation %s of build upload %s.", item.id, upload_id)
            return item.id, operations
        return None

    def _reserve(self, run: _Run, *, exclude: Sequence[str], replace_upload: bool = True) -> list[PartOperation]:
        """A new reservation. When App Store Connect refuses another file in this build upload (409: one ASSET
        per upload), the build upload itself is replaced: deleted (it never got a file) and created again."""
        upload_id = run.journal.upload_id or ""
        for attempt in range(2):
            try:
                item = self.client.create_build_upload_file(upload_id, file_name=run.path.name,
                                                            file_size=run.identity.size, uti=run.uti,
                                                            asset_type="ASSET")
                break
            except AscAmbiguousWriteError:
                # Looked up after the last try as well: that one may be the reservation that was made.
                log.warning("Reserving the file ended ambiguously; checking whether the reservation exists.")
                adopted = self._open_file_reservation(run, exclude=[*exclude, run.journal.file_id or ""])
                if adopted is not None:
                    run.journal.record_reservation(adopted[0], [op.to_json() for op in adopted[1]])
                    return adopted[1]
                if attempt:
                    raise
            except AscConflictError as conflict:
                if not replace_upload or not self._has_asset_file(upload_id):
                    raise
                log.info("App Store Connect refused a second reservation in build upload %s (%s); replacing the "
                         "build upload.", upload_id, ", ".join(e.code for e in conflict.errors) or conflict.status)
                self._replace_build_upload(run)
                return self._reserve(run, exclude=(), replace_upload=False)
        if int(item.attr("fileSize", run.identity.size)) != run.identity.size:
            raise RemoteError(f"App Store Connect reserved {item.attr('fileSize')} bytes for a "
                              f"{run.identity.size}-byte file.", hint="Run again; report it if it keeps happening.")
        operations = validate_operations(item.attr("uploadOperations"), run.identity.size)
        run.journal.record_reservation(item.id, [op.to_json() for op in operations])
        log.info("Reserved %s (%d bytes) as file %s: %d part(s).", run.path.name, run.identity.size, item.id,
                 len(operations))
        return operations

    def _has_asset_file(self, upload_id: str) -> bool:
        return any(f.attr("assetType", "ASSET") == "ASSET" for f in self.client.list_build_upload_files(upload_id))

    def _replace_build_upload(self, run: _Run) -> None:
        old = run.journal.upload_id or ""
        try:
            self.client.delete_build_upload(old)
        except AscNotFoundError:
            pass
        used = used_build_numbers(self.client, run.key.app_id, run.key.version, run.key.platform)
        upload = self._create_build_upload(run, used)
        run.journal.start(upload.id, run.identity)

    def _renew_reservation(self, run: _Run) -> list[PartOperation]:
        """Fresh URLs after a 403 / an expiry: the same reservation re-read when App Store Connect renewed its
        URLs there, else a new reservation (see the module docstring)."""
        journal = run.journal
        old = {PartOperation.from_json(op).key: PartOperation.from_json(op) for op in journal.operations}
        if journal.file_id:
            try:
                item = self.client.get_build_upload_file(journal.file_id)
                operations = validate_operations(item.attr("uploadOperations"), run.identity.size)
            except (AscApiError, RemoteError) as exc:
                log.info("Re-reading file reservation %s gave no usable operations (%s).", journal.file_id,
                         exc.message)
            else:
                renewed = all(op.key in old and op.url != old[op.key].url for op in operations)
                if renewed and not any(self._expired(op) for op in operations):
                    keep = [op.key for op in operations if op.key in journal.acknowledged]
                    journal.record_reservation(journal.file_id, [op.to_json() for op in operations],
                                               keep_acknowledged=keep)
                    log.info("App Store Connect renewed the part URLs of reservation %s.", journal.file_id)
                    return operations
        log.info("The part URLs expired; reserving the file again (every part is sent to the new reservation).")
        return self._reserve(run, exclude=[journal.file_id or ""])

    def _expired(self, op: PartOperation) -> bool:
        expires = op.expires_at()
        return expires is not None and expires <= self._wall_clock() + EXPIRY_MARGIN

    # ------------------------------------------------------------------ parts + checksum

    def _transfer(self, run: _Run, operations: list[PartOperation]) -> tuple[str, int]:
        """Send every part not yet acknowledged while hashing the whole file; returns (md5 hex, bytes sent)."""
        journal = run.journal
        size = run.identity.size
        stop = threading.Event()
        fd = os.open(run.path, os.O_RDONLY)
        session = self._part_session_factory()
        configure_part_session(session, pool_size=self.concurrency, urls=[op.url for op in operations])
        uploader = PartUploader(session, sleep=self._sleep, wall_clock=self._wall_clock, random=self._random,
                                max_attempts=self.max_part_attempts, timeout=self.part_timeout)
        hasher = _Hasher(fd, size, _ReadFrontier(window=HASH_WINDOW), stop)
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
                    operations = self._renew_reservation(run)
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
                    frontier: _ReadFrontier, stop: threading.Event) -> int:
        """PUT `pending` with `concurrency` workers, in offset order. Raises PresignedUrlRejected (after the parts
        in flight finished) when URLs expired; any other failure stops every worker at once."""
        expired = threading.Event()
        progress = self.progress
        on_progress = progress.sending if progress is not None else None  # in flight; counted once answered

        def send(op: PartOperation) -> int:
            if stop.is_set() or expired.is_set():
                return 0
            if self._expired(op):
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

    # ------------------------------------------------------------------ commit and processing

    def _commit(self, run: _Run, file_id: str, md5_hex: str) -> None:
        """`{"uploaded": true}` alone (H.7); the digest is ours and stays local. A 409 is not proof that bytes are
        missing: the file's and the upload's states decide, and acknowledged parts are never thrown away."""
        item = self._send_commit(run, file_id)
        self._report_file_failure(run, item)
        CommittedDigest.save(self.state_dir, run.key, md5_hex=md5_hex, upload_id=run.journal.upload_id,
                             file_id=file_id)
        log.info("Committed file %s (our MD5 %s).", file_id, md5_hex)

    def _send_commit(self, run: _Run, file_id: str, attempts: int = 3) -> Resource | None:
        """The commit, a state transition: after a lost answer the states are read before it is sent again - after
        the last try too, which may be the one that was applied (the answer of a repeat can be lost as well)."""
        for attempt in range(attempts):
            try:
                return self.client.commit_build_upload_file(file_id)
            except AscAmbiguousWriteError:
                item = self.client.get_build_upload_file(file_id)
                if self._file_state(item) in FINISHED_FILE_STATES or self._upload_moved_on(run):
                    log.info("The commit went through despite the broken connection.")
                    return item
                if attempt == attempts - 1:
                    raise
            except AscConflictError as error:
                item = self.client.get_build_upload_file(file_id)
                if self._file_state(item) in FINISHED_FILE_STATES or self._upload_moved_on(run):
                    log.info("App Store Connect answered the commit with %s, but the file is %s: it was committed.",
                             error.status, self._file_state(item))
                elif self._file_state(item) != "FAILED":
                    raise RemoteError(
                        f"{error.message}",
                        hint=f"The file is still {self._file_state(item) or 'AWAITING_UPLOAD'} on App Store Connect. "
                        "The parts it acknowledged are kept: run again to commit once more (a part it did not get "
                        "is sent again).",
                    ) from None
                return item
        raise AssertionError("unreachable")

    @staticmethod
    def _file_state(item: Resource | None) -> str | None:
        delivery = item.attr("assetDeliveryState") if item is not None else None
        return delivery.get("state") if isinstance(delivery, dict) else None

    def _upload_moved_on(self, run: _Run) -> bool:
        try:
            upload = self.client.get_build_upload(run.journal.upload_id or "").resource
        except AscNotFoundError:
            return False
        return upload is not None and upload_state(upload) in ("PROCESSING", "COMPLETE")

    def _report_file_failure(self, run: _Run, item: Resource | None) -> None:
        """The file's delivery state as the commit left it: a file-level FAILED is reported at once, with
        Apple's errors (no processing wait)."""
        if self._file_state(item) != "FAILED":
            return
        run.journal.delete()
        delivery = item.attr("assetDeliveryState") or {}  # type: ignore[union-attr]
        raise processing_failed(f"{run.key.version} ({run.key.build_number}) for {run.bundle_id}",
                                f"file {item.id}", delivery.get("errors"))  # type: ignore[union-attr]

    def _waiting(self, timeout: float | None = None) -> Waiting:
        return Waiting(timeout=self.processing_timeout if timeout is None else timeout, interval=self.poll_interval,
                       clock=self._clock, sleep=self._sleep, report=log.info)

    def _finish(self, run: _Run, upload_id: str, file_id: str | None, md5_hex: str, sent: int, *,
                reused: bool) -> UploadResult:
        waiting = self._waiting()
        document = self._wait_for_upload(run, upload_id, waiting)
        run.journal.delete()
        build = self._resolve_build(run, document, waiting)
        state = build.attr("processingState")
        if run.wait_for_processing:
            build = self._wait_for_build(run, build, waiting)
            state = build.attr("processingState")
        return UploadResult(upload_id=upload_id, file_id=file_id, build_id=build.id, processing_state=state,
                            md5_hex=md5_hex, bytes_sent=sent, reused=reused)

    def _wait_for_upload(self, run: _Run, upload_id: str, waiting: Waiting) -> Document:
        def read() -> Document:
            # H.9: the upload was created a moment ago; its first reads may answer 404
            return read_just_created(waiting, "the build upload",
                                     lambda: self.client.get_build_upload(upload_id, include_build=True))

        def done(document: Document) -> bool:
            state = upload_state(document.resource) if document.resource is not None else None
            if state == "FAILED":
                run.journal.delete()
                raise _upload_failed(run, document.resource)  # type: ignore[arg-type]
            return state == "COMPLETE"

        return waiting.until("finish processing the build upload", read, done,
                             lambda last: self._timeout_error(run, "the build upload is still "
                                                              f"{upload_state(last.resource) if last.resource else 'unknown'}"))

    def _resolve_build(self, run: _Run, document: Document, waiting: Waiting) -> Resource:
        """The upload's build: linked from the upload (H.9: `build` may read null a while), else found on the
        version's train by build number (numerically, in the form Apple holds: H.8)."""
        key = run.key
        upload_id = document.resource.id if document.resource is not None else ""
        answers = [document]

        def read() -> Resource | None:
            current = answers.pop() if answers else self.client.get_build_upload(upload_id, include_build=True)
            upload = current.resource
            build_id = upload.related_id("build") if upload is not None else None
            if build_id:
                return current.find_included("builds", build_id) or read_just_created(
                    waiting, "the new build", lambda: self.client.get_build(build_id))
            train = find_train(self.client, key.app_id, key.version, key.platform)
            if train is not None:
                wanted = build_number_key(key.build_number)
                for build in self.client.list_builds(key.app_id, pre_release_version_id=train.id):
                    if build_number_key(str(build.attr("version", ""))) == wanted:
                        return build
            return None

        found = waiting.until("show the new build", read, lambda b: b is not None,
                              lambda _: self._timeout_error(run, "the build does not appear yet"))
        assert found is not None
        return found

    def _wait_for_build(self, run: _Run, build: Resource, waiting: Waiting) -> Resource:
        try:
            build = wait_until_processed(self.client, build, waiting, label=f"{run.key.version} ({run.key.build_number})")
        except WaitTimedOut:
            raise self._timeout_error(run, f"the build is still {build.attr('processingState')}") from None
        state = build.attr("processingState")
        if state in ("FAILED", "INVALID"):
            raise RemoteError(
                f"App Store Connect finished processing build {run.key.version} ({run.key.build_number}) as "
                f"{state}.",
                hint="Apple usually e-mails the reason to the account holder; open App Store Connect > "
                     "TestFlight > the build for details, fix the IPA, bump the build number and upload again.",
            )
        log.info("Build %s is %s.", build.id, state)
        return build

    def _timeout_error(self, run: _Run, what: str) -> RemoteError:
        minutes = self.processing_timeout / 60
        return RemoteError(
            f"The upload of {run.key.version} ({run.key.build_number}) succeeded, but after waiting "
            f"{minutes:.0f} min {what}.",
            hint="Nothing is lost: App Store Connect goes on processing it. Check later in App Store Connect > "
                 "TestFlight (or `appstore-publish versions --remote`), run the flow again to continue from the "
                 "uploaded build, or raise processing_timeout.",
        )

    # ------------------------------------------------------------------ a build that already exists

    def _reuse_existing(self, run: _Run, existing: ExistingBuild) -> UploadResult:
        """The build number is taken: fine when it is this very IPA (same MD5 as the committed file)."""
        md5_hex = self.hash_file(run.path)
        remote = self._committed_md5(run, existing)
        where = (f"build {existing.build.id}" if existing.build is not None
                 else f"build upload {existing.upload.id}")  # type: ignore[union-attr]
        if remote is None or remote != md5_hex:
            why = ("it was uploaded from a different file" if remote is not None
                   else "it cannot be told whether it is this IPA")
            raise InputError(
                f"Version {run.key.version} build {run.key.build_number} ({run.key.platform}) already exists on App "
                f"Store Connect ({where}, {existing.state}) and {why}.",
                hint=f"Set CFBundleVersion higher (e.g. {next_build_number(run.key.build_number)}), rebuild the IPA and run again."
                     " Nothing was uploaded.",
            )
        log.info("This IPA is already on App Store Connect as %s (%s); not uploading it again.", where, existing.state)
        upload_id = existing.upload.id if existing.upload is not None else None
        if existing.build is None:
            return self._finish(run, upload_id or "", None, md5_hex, 0, reused=True)
        build = existing.build
        if run.wait_for_processing:
            build = self._wait_for_build(run, build, self._waiting())
        return UploadResult(upload_id=upload_id, file_id=None, build_id=build.id,
                            processing_state=build.attr("processingState"), md5_hex=md5_hex, bytes_sent=0,
                            reused=True)

    def _committed_md5(self, run: _Run, existing: ExistingBuild) -> str | None:
        """Our own record of what was committed for these numbers (H.7); else a client checksum Apple kept."""
        record = CommittedDigest.load(self.state_dir, run.key)
        if record is not None:
            return str(record["md5_hex"])
        upload_id = existing.upload.id if existing.upload is not None else None
        if upload_id is None and existing.build is not None:
            try:
                upload_id = self.client.get_build(existing.build.id, include=["buildUpload"]).related_id("buildUpload")
            except AscApiError:
                upload_id = None
        if upload_id is None:
            return None
        for item in self.client.list_build_upload_files(upload_id):
            if item.attr("assetType", "ASSET") != "ASSET":
                continue
            checksum = (item.attr("sourceFileChecksums") or {}).get("file") or {}
            if str(checksum.get("algorithm", "MD5")).upper() == "MD5" and checksum.get("hash"):
                return str(checksum["hash"]).lower()
        return None


@dataclass
class _Run:
    key: UploadKey
    bundle_id: str
    path: Path
    identity: FileIdentity
    journal: UploadJournal
    wait_for_processing: bool
    uti: str = IPA_UTI


def upload_uti_for(platform: str) -> str:
    return PKG_UTI if platform == "MAC_OS" else IPA_UTI


def _identity(path: Path) -> FileIdentity:
    try:
        identity = FileIdentity.of(path)
    except FileNotFoundError:
        raise InputError(f"The IPA {path} does not exist.", hint="Check the path (relative paths start at the "
                         "working directory) and that the build step produced it.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not an .ipa file.") from None
    except OSError as exc:
        raise InputError(f"The IPA {path} cannot be read: {exc.strerror or exc}.") from None
    if identity.size == 0:
        raise InputError(f"The IPA {path} is empty.", hint="Rebuild and export the IPA, then run again.")
    return identity


def _upload_failed(run: _Run, upload: Resource) -> RemoteError:
    state = upload.attr("state") or {}
    errors = state.get("errors") if isinstance(state, dict) else None
    return processing_failed(f"{run.key.version} ({run.key.build_number}) for {run.bundle_id}",
                             f"build upload {upload.id}", errors)


class _ReadFrontier:
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


class _Hasher(threading.Thread):
    """Whole-file MD5 in one sequential pass of 1 MiB `pread`s, paced by the read frontier."""

    def __init__(self, fd: int, size: int, frontier: _ReadFrontier, stop: threading.Event) -> None:
        super().__init__(name="upload-md5", daemon=True)
        self._fd = fd
        self._size = size
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
            raise RemoteError(f"Could not read the IPA to compute its checksum: {self._error}") from self._error
        if not self._complete:
            raise RemoteError("The checksum was not computed because the upload stopped.")
        return self._digest.hexdigest()

