"""Upload an IPA (or, for MAC_OS, an installer package) through App Store Connect's Build Upload API (protocol.md B
and C): parallel, streaming, verified, resumable.

Sequence: find the app; refuse a build number that is not higher than every build and build upload of the
version (before anything is created); create the build upload (build_uploads.py); reserve the file
(reservation.py); PUT every operation concurrently (exact byte range, exactly the listed headers, no
Authorization) while hashing the file in the same pass (part_sender.py, hashing.py); commit, keeping the
whole-file MD5 ourselves (commit.py); poll the build upload to COMPLETE (FAILED is reported with Apple's codes);
find the build; wait for it to be VALID (processing.py). This module is the order of those steps and the
decisions between them.

Resuming: a journal (journal.py) records the build upload, the reservation and the acknowledged parts. A re-run
for the same app, version, build number and platform reuses the open build upload (never creates a second one),
re-sends only the parts that were not acknowledged (the MD5 is still computed over the whole file, in the same
single pass), then commits. Without a journal, an AWAITING_UPLOAD build upload with the same numbers (left by a
run that died before writing its journal) is adopted too. A build number already taken is fine only when it was
taken by this very file (the same MD5 as the committed one); nothing is sent again then.
"""

from __future__ import annotations

import logging
import os
import random as random_module
import time
from collections.abc import Callable
from pathlib import Path

import requests

from publish.asc.client import AppStoreConnect
from publish.asc.errors import AscNotFoundError
from publish.asc.resources import Resource
from publish.errors import InputError
from publish.upload.build_uploads import create_build_upload
from publish.upload.commit import Committer
from publish.upload.hashing import hash_file
from publish.upload.journal import UploadJournal, UploadKey
from publish.upload.lifecycle import read_just_created
from publish.upload.numbers import (
    ExistingBuild,
    check_build_number,
    find_app_or_fail,
    find_existing_build,
    next_build_number,
    open_build_upload,
    require_numeric,
    upload_state,
    used_build_numbers,
)
from publish.upload.part_sender import PartSender
from publish.upload.parts import PartUploader
from publish.upload.processing import ProcessingWait
from publish.upload.progress import ProgressReporter
from publish.upload.reservation import Reservations
from publish.upload.upload_run import UploadResult, UploadRun, binary_kind_of, file_identity, upload_uti_for

__all__ = [
    "BuildUploader",
    "ExistingBuild",
    "UploadResult",
    "check_build_number",
    "find_app_or_fail",
    "find_existing_build",
]

log = logging.getLogger(__name__)  # the parts of the engine log under this name too


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
        uti = uti or upload_uti_for(platform)
        identity = file_identity(path, binary_kind_of(uti))
        require_numeric(build_number)
        if app_id is None:
            app_id = find_app_or_fail(self.client, bundle_id).id
        key = UploadKey(app_id=str(app_id), version=str(version), build_number=str(build_number), platform=platform)
        journal = UploadJournal.open(self.state_dir, key, clock=self._clock)
        run = UploadRun(key=key, bundle_id=bundle_id, path=path, identity=identity, journal=journal,
                        wait_for_processing=wait_for_processing, uti=uti)
        try:
            return self._upload(run)
        finally:
            journal.flush()

    def hash_file(self, ipa_path: str | os.PathLike[str]) -> str:
        """The whole-file MD5 (lower-case hex) in one sequential read."""
        return hash_file(ipa_path)

    # ------------------------------------------------------------------ the parts, made for each upload

    def _processing(self) -> ProcessingWait:
        return ProcessingWait(self.client, clock=self._clock, sleep=self._sleep, poll_interval=self.poll_interval,
                              processing_timeout=self.processing_timeout)

    def _committer(self) -> Committer:
        return Committer(self.client, state_dir=self.state_dir)

    def _part_sender(self, reservations: Reservations) -> PartSender:
        def make_uploader(session: requests.Session) -> PartUploader:
            return PartUploader(session, sleep=self._sleep, wall_clock=self._wall_clock, random=self._random,
                                max_attempts=self.max_part_attempts, timeout=self.part_timeout)

        return PartSender(session_factory=self._part_session_factory, make_uploader=make_uploader,
                          concurrency=self.concurrency, progress=self.progress, expired=reservations.expired,
                          renew=reservations.renew)

    # ------------------------------------------------------------------ the sequence

    def _upload(self, run: UploadRun) -> UploadResult:
        journal = run.journal
        upload = self._journal_upload(run)
        if upload is not None and journal.committed:
            log.info("Build upload %s was committed by an earlier run; waiting for App Store Connect.", upload.id)
            if upload_state(upload) == "AWAITING_UPLOAD":
                self._committer().commit(run, journal.file_id or "", journal.md5_hex or "")
            return self._processing().finish(run, upload.id, journal.file_id, journal.md5_hex or "", 0,
                                             reused=False)
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
                upload = create_build_upload(self.client, run.key, used)
            journal.start(upload.id, run.identity)
        elif journal.file != run.identity:
            log.info("The %s differs from the one an earlier run started to send; sending every part again to "
                     "build upload %s.", run.kind, upload.id)
            journal.start(upload.id, run.identity)
        else:
            done = len(journal.acknowledged)
            log.info("Resuming build upload %s: %d of %d parts already sent.", upload.id, done,
                     len(journal.operations))

        reservations = Reservations(self.client, wall_clock=self._wall_clock)
        operations = reservations.reservation(run)
        md5_hex, sent = self._part_sender(reservations).transfer(run, operations)
        upload_id = journal.upload_id or upload.id
        if file_identity(run.path, run.kind) != run.identity:
            journal.start(upload_id, run.identity)
            raise InputError(f"{run.path} changed while it was being uploaded.",
                             hint=f"Let the build finish writing the {run.kind} before uploading it, then run again.")
        journal.flush()  # every acknowledged part on disk before the commit goes out (see commit.sent_in_full)
        self._committer().commit(run, journal.file_id or "", md5_hex)
        journal.mark_committed(md5_hex)
        return self._processing().finish(run, upload_id, journal.file_id, md5_hex, sent, reused=False)

    def _journal_upload(self, run: UploadRun) -> Resource | None:
        """The journal's build upload when it can still be used, else None (and the journal is cleared)."""
        journal = run.journal
        if not journal.upload_id:
            return None
        try:
            upload = read_just_created(self._processing().waiting(), "the build upload",  # H.9: may be a moment old
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
            if self._committer().recover_lost_commit(run, upload, state):
                return upload
            # Committed by someone else, or not from this file: the regular checks decide.
            journal.reset()
            return None
        return upload

    # ------------------------------------------------------------------ a build that already exists

    def _reuse_existing(self, run: UploadRun, existing: ExistingBuild) -> UploadResult:
        """The build number is taken: fine when it is this very file (same MD5 as the committed file)."""
        md5_hex = hash_file(run.path, kind=run.kind)
        remote = self._committer().committed_md5(run, existing)
        where = (f"build {existing.build.id}" if existing.build is not None
                 else f"build upload {existing.upload.id}")  # type: ignore[union-attr]
        if remote is None or remote != md5_hex:
            why = ("it was uploaded from a different file" if remote is not None
                   else f"it cannot be told whether it is this {run.kind}")
            raise InputError(
                f"Version {run.key.version} build {run.key.build_number} ({run.key.platform}) already exists on App "
                f"Store Connect ({where}, {existing.state}) and {why}.",
                hint=f"Set CFBundleVersion higher (e.g. {next_build_number(run.key.build_number)}), rebuild the "
                     f"{run.kind} and run again. Nothing was uploaded.",
            )
        log.info("This %s is already on App Store Connect as %s (%s); not uploading it again.", run.kind, where,
                 existing.state)
        upload_id = existing.upload.id if existing.upload is not None else None
        processing = self._processing()
        if existing.build is None:
            return processing.finish(run, upload_id or "", None, md5_hex, 0, reused=True)
        build = existing.build
        if run.wait_for_processing:
            build = processing.wait_for_build(run, build, processing.waiting())
        return UploadResult(upload_id=upload_id, file_id=None, build_id=build.id,
                            processing_state=build.attr("processingState"), md5_hex=md5_hex, bytes_sent=0,
                            reused=True)
