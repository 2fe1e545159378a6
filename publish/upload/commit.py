"""The commit of the file (`PATCH /v1/buildUploadFiles/{id}` with `uploaded: true`) and what is known of it
afterwards (protocol.md H.7).

The body is `{"uploaded": true}` alone: no working client sends `sourceFileChecksums`, and Apple refused one that
did. The whole-file MD5 is ours and stays local (CommittedDigest): it is what later tells "this very binary is
already uploaded" from "another file with the same numbers". A 409 on the commit is not proof that bytes are
missing: the file's and the upload's states decide, and acknowledged parts are never thrown away. A commit whose
answer was lost is read back before it is sent again; one the process died before recording is recognised from
the journal (every part of this very file acknowledged, and the upload moved on).
"""

from __future__ import annotations

import logging
from pathlib import Path

from publish.asc.client import AppStoreConnect
from publish.asc.errors import AscAmbiguousWriteError, AscApiError, AscConflictError, AscNotFoundError, processing_failed
from publish.asc.resources import Resource
from publish.errors import RemoteError
from publish.upload.hashing import hash_file
from publish.upload.journal import CommittedDigest
from publish.upload.numbers import ExistingBuild, upload_state
from publish.upload.parts import PartOperation
from publish.upload.upload_run import UploadRun

log = logging.getLogger("publish.upload.engine")  # one logger for the whole engine

FINISHED_FILE_STATES = ("UPLOAD_COMPLETE", "COMPLETE")
COMMIT_ATTEMPTS = 3


class Committer:
    def __init__(self, client: AppStoreConnect, *, state_dir: Path) -> None:
        self.client = client
        self.state_dir = state_dir

    def commit(self, run: UploadRun, file_id: str, md5_hex: str) -> None:
        """Commit the file, report a file-level FAILED at once, and keep our digest of what was committed."""
        item = self._send_commit(run, file_id)
        self._report_file_failure(run, item)
        CommittedDigest.save(self.state_dir, run.key, md5_hex=md5_hex, upload_id=run.journal.upload_id,
                             file_id=file_id)
        log.info("Committed file %s (our MD5 %s).", file_id, md5_hex)

    def _send_commit(self, run: UploadRun, file_id: str) -> Resource | None:
        """The commit, a state transition: after a lost answer the states are read before it is sent again - after
        the last try too, which may be the one that was applied (the answer of a repeat can be lost as well)."""
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                return self.client.commit_build_upload_file(file_id)
            except AscAmbiguousWriteError:
                item = self.client.get_build_upload_file(file_id)
                if file_state(item) in FINISHED_FILE_STATES or self._upload_moved_on(run):
                    log.info("The commit went through despite the broken connection.")
                    return item
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
            except AscConflictError as error:
                item = self.client.get_build_upload_file(file_id)
                if file_state(item) in FINISHED_FILE_STATES or self._upload_moved_on(run):
                    log.info("App Store Connect answered the commit with %s, but the file is %s: it was committed.",
                             error.status, file_state(item))
                elif file_state(item) != "FAILED":
                    raise RemoteError(
                        f"{error.message}",
                        hint=f"The file is still {file_state(item) or 'AWAITING_UPLOAD'} on App Store Connect. "
                        "The parts it acknowledged are kept: run again to commit once more (a part it did not get "
                        "is sent again).",
                    ) from None
                return item
        raise AssertionError("unreachable")

    def _upload_moved_on(self, run: UploadRun) -> bool:
        try:
            upload = self.client.get_build_upload(run.journal.upload_id or "").resource
        except AscNotFoundError:
            return False
        return upload is not None and upload_state(upload) in ("PROCESSING", "COMPLETE")

    def _report_file_failure(self, run: UploadRun, item: Resource | None) -> None:
        """The file's delivery state as the commit left it: a file-level FAILED is reported at once, with
        Apple's errors (no processing wait)."""
        if file_state(item) != "FAILED":
            return
        run.journal.delete()
        delivery = item.attr("assetDeliveryState") or {}  # type: ignore[union-attr]
        raise processing_failed(f"{run.label} for {run.bundle_id}",
                                f"file {item.id}", delivery.get("errors"))  # type: ignore[union-attr]

    def recover_lost_commit(self, run: UploadRun, upload: Resource, state: str) -> bool:
        """Whether the upload, found PROCESSING or COMPLETE, moved on by the commit of an earlier run whose answer
        was lost; if so it is recorded as ours (journal and digest)."""
        if not sent_in_full(run):
            return False
        # Every part of this very file went into this upload's reservation and only a commit moves it on:
        # ours was applied, its answer lost (the process died before it could record it).
        md5_hex = hash_file(run.path, kind=run.kind)
        run.journal.mark_committed(md5_hex)
        CommittedDigest.save(self.state_dir, run.key, md5_hex=md5_hex, upload_id=run.journal.upload_id,
                             file_id=run.journal.file_id)
        log.info("Build upload %s is %s: the commit of an earlier run went through.", upload.id, state)
        return True

    def committed_md5(self, run: UploadRun, existing: ExistingBuild) -> str | None:
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


def file_state(item: Resource | None) -> str | None:
    delivery = item.attr("assetDeliveryState") if item is not None else None
    return delivery.get("state") if isinstance(delivery, dict) else None


def sent_in_full(run: UploadRun) -> bool:
    """Whether the journal says every part of the file on disk now was acknowledged to its reservation."""
    journal = run.journal
    keys = {PartOperation.from_json(op).key for op in journal.operations}
    return bool(journal.file_id and keys) and journal.file == run.identity and keys <= journal.acknowledged
