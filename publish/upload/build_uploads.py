"""Creating the build upload (`POST /v1/buildUploads`), and replacing one that cannot take the file.

Creates are never retried blindly: when the create ends ambiguously (the answer was lost), the build uploads of
these numbers are listed and one that did not exist before (`used`) is adopted before creating again - after
the last try too, which may be the create that was applied (issue 15: lost answers).
"""

from __future__ import annotations

import logging

from publish.asc.client import AppStoreConnect
from publish.asc.errors import AscAmbiguousWriteError, AscNotFoundError
from publish.asc.resources import Resource
from publish.upload.journal import UploadKey
from publish.upload.numbers import UsedBuildNumbers, build_number_key, used_build_numbers
from publish.upload.upload_run import UploadRun

log = logging.getLogger("publish.upload.engine")

CREATE_ATTEMPTS = 3


def create_build_upload(client: AppStoreConnect, key: UploadKey, used: UsedBuildNumbers) -> Resource:
    for attempt in range(CREATE_ATTEMPTS):  # the answer of a second try can be lost too
        try:
            upload = client.create_build_upload(key.app_id, version=key.version,
                                                build_number=key.build_number, platform=key.platform)
            log.info("Created build upload %s for %s (%s).", upload.id, key.version, key.build_number)
            return upload
        except AscAmbiguousWriteError:
            # Looked up after the last try as well: that one may be the create that was applied.
            log.warning("Creating the build upload ended ambiguously; checking whether it exists.")
            found = client.list_build_uploads(key.app_id, version=key.version,
                                              build_number=key.build_number, platform=key.platform,
                                              states=["AWAITING_UPLOAD"])
            before = {u.id for u in used.uploads}
            fresh = [u for u in found if u.id not in before
                     and build_number_key(str(u.attr("cfBundleVersion", ""))) == build_number_key(key.build_number)]
            if fresh:
                log.info("It was created: build upload %s.", fresh[0].id)
                return fresh[0]
            if attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def replace_build_upload(client: AppStoreConnect, run: UploadRun) -> None:
    """Delete the run's build upload (it never got a file) and start the journal on a new one."""
    old = run.journal.upload_id or ""
    try:
        client.delete_build_upload(old)
    except AscNotFoundError:
        pass
    used = used_build_numbers(client, run.key.app_id, run.key.version, run.key.platform)
    upload = create_build_upload(client, run.key, used)
    run.journal.start(upload.id, run.identity)
