"""The file reservation of a build upload (`POST /v1/buildUploadFiles`): its part operations, adopted, renewed or
made again, and recorded in the journal before a part is sent.

Expired presigned URLs (HTTP 403 from the storage, or an `expiration` already past): the API has no call to renew
the URLs of a reservation, and a reservation always spans the whole file (`fileSize`, no offset), so a "new
reservation for the remaining parts" is not expressible. The file is re-read first (`GET /v1/buildUploadFiles/{id}`):
if App Store Connect hands out fresh URLs for the same byte ranges there, only the missing parts are sent to them.
Otherwise the file is reserved again in the same build upload (`POST /v1/buildUploadFiles`) and all of the new
reservation's parts are sent, because bytes given to the old reservation do not count for the new one.

Like the build upload, a reservation is never created twice blindly: when its create ends ambiguously, the
upload's files are listed and an open one of the same size is adopted before reserving again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from publish.asc.client import AppStoreConnect
from publish.asc.errors import AscAmbiguousWriteError, AscApiError, AscConflictError
from publish.errors import RemoteError
from publish.upload.build_uploads import replace_build_upload
from publish.upload.parts import PartOperation, validate_operations
from publish.upload.upload_run import UploadRun

log = logging.getLogger("publish.upload.engine")  # one logger for the whole engine

# A URL expiring sooner than this is treated as expired: a part started now might not finish in time.
EXPIRY_MARGIN = 60.0


class Reservations:
    def __init__(self, client: AppStoreConnect, *, wall_clock: Callable[[], float]) -> None:
        self.client = client
        self._wall_clock = wall_clock

    def reservation(self, run: UploadRun) -> list[PartOperation]:
        """The operations to send the file with: the journal's while their URLs live, else an open reservation of
        the build upload, else a new one."""
        journal = run.journal
        if journal.file_id and journal.operations:
            try:
                operations = validate_operations(journal.operations, run.identity.size)
                if not any(self.expired(op) for op in operations if op.key not in journal.acknowledged):
                    return operations
                return self.renew(run)
            except RemoteError:
                log.warning("The reservation recorded by an earlier run is unusable; reserving the file again.")
        adopted = self._open_file_reservation(run, exclude=())
        if adopted is not None:
            file_id, operations = adopted
            journal.record_reservation(file_id, [op.to_json() for op in operations])
            return operations
        return self._reserve(run, exclude=())

    def _open_file_reservation(self, run: UploadRun,
                               exclude: Sequence[str]) -> tuple[str, list[PartOperation]] | None:
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
            if any(self.expired(op) for op in operations):
                continue
            log.info("Reusing file reservation %s of build upload %s.", item.id, upload_id)
            return item.id, operations
        return None

    def _reserve(self, run: UploadRun, *, exclude: Sequence[str], replace_upload: bool = True) -> list[PartOperation]:
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
                replace_build_upload(self.client, run)
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

    def renew(self, run: UploadRun) -> list[PartOperation]:
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
                if renewed and not any(self.expired(op) for op in operations):
                    keep = [op.key for op in operations if op.key in journal.acknowledged]
                    journal.record_reservation(journal.file_id, [op.to_json() for op in operations],
                                               keep_acknowledged=keep)
                    log.info("App Store Connect renewed the part URLs of reservation %s.", journal.file_id)
                    return operations
        log.info("The part URLs expired; reserving the file again (every part is sent to the new reservation).")
        return self._reserve(run, exclude=[journal.file_id or ""])

    def expired(self, op: PartOperation) -> bool:
        expires = op.expires_at()
        return expires is not None and expires <= self._wall_clock() + EXPIRY_MARGIN
