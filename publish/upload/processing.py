"""After the commit: the build upload to COMPLETE (FAILED is reported with Apple's codes), its build found, and,
when asked, the build to VALID - each wait bounded by the processing timeout.

The upload succeeded by then, so a timeout here says that nothing is lost and how to go on from the uploaded build.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from publish.asc.client import AppStoreConnect
from publish.asc.errors import processing_failed
from publish.asc.resources import Document, Resource
from publish.errors import RemoteError
from publish.upload.lifecycle import Waiting, WaitTimedOut, read_just_created, wait_until_processed
from publish.upload.numbers import build_number_key, find_train, upload_state
from publish.upload.upload_run import UploadResult, UploadRun

log = logging.getLogger("publish.upload.engine")  # one logger for the whole engine


class ProcessingWait:
    def __init__(self, client: AppStoreConnect, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, poll_interval: float = 10.0,
                 processing_timeout: float = 3600) -> None:
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self.poll_interval = poll_interval
        self.processing_timeout = processing_timeout

    def waiting(self, timeout: float | None = None) -> Waiting:
        return Waiting(timeout=self.processing_timeout if timeout is None else timeout, interval=self.poll_interval,
                       clock=self._clock, sleep=self._sleep, report=log.info)

    def finish(self, run: UploadRun, upload_id: str, file_id: str | None, md5_hex: str, sent: int, *,
               reused: bool) -> UploadResult:
        waiting = self.waiting()
        document = self._wait_for_upload(run, upload_id, waiting)
        run.journal.delete()
        build = self._resolve_build(run, document, waiting)
        state = build.attr("processingState")
        if run.wait_for_processing:
            build = self.wait_for_build(run, build, waiting)
            state = build.attr("processingState")
        return UploadResult(upload_id=upload_id, file_id=file_id, build_id=build.id, processing_state=state,
                            md5_hex=md5_hex, bytes_sent=sent, reused=reused)

    def _wait_for_upload(self, run: UploadRun, upload_id: str, waiting: Waiting) -> Document:
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
                             lambda last: self.timeout_error(run, "the build upload is still "
                                                             f"{upload_state(last.resource) if last.resource else 'unknown'}"))

    def _resolve_build(self, run: UploadRun, document: Document, waiting: Waiting) -> Resource:
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
                              lambda _: self.timeout_error(run, "the build does not appear yet"))
        assert found is not None
        return found

    def wait_for_build(self, run: UploadRun, build: Resource, waiting: Waiting) -> Resource:
        try:
            build = wait_until_processed(self.client, build, waiting, label=run.label)
        except WaitTimedOut:
            raise self.timeout_error(run, f"the build is still {build.attr('processingState')}") from None
        state = build.attr("processingState")
        if state in ("FAILED", "INVALID"):
            raise RemoteError(
                f"App Store Connect finished processing build {run.label} as {state}.",
                hint="Apple usually e-mails the reason to the account holder; open App Store Connect > "
                     f"TestFlight > the build for details, fix the {run.kind}, bump the build number and upload "
                     "again.",
            )
        log.info("Build %s is %s.", build.id, state)
        return build

    def timeout_error(self, run: UploadRun, what: str) -> RemoteError:
        minutes = self.processing_timeout / 60
        return RemoteError(
            f"The upload of {run.label} succeeded, but after waiting {minutes:.0f} min {what}.",
            hint="Nothing is lost: App Store Connect goes on processing it. Check later in App Store Connect > "
                 "TestFlight (or `appstore-publish versions --remote`), run the flow again to continue from the "
                 "uploaded build, or raise processing_timeout.",
        )


def _upload_failed(run: UploadRun, upload: Resource) -> RemoteError:
    state = upload.attr("state") or {}
    errors = state.get("errors") if isinstance(state, dict) else None
    return processing_failed(f"{run.label} for {run.bundle_id}", f"build upload {upload.id}", errors)
