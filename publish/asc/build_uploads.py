"""Typed helpers for the Build Upload API (protocol.md C): build uploads and their files; the parts
themselves go to presigned URLs in `publish/upload`, not through this client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from publish.asc.errors import AscTransportError
from publish.asc.resources import Document, Resource
from publish.asc.session import PAGE_LIMIT, AscSession, linkage


class BuildUploadsApi(AscSession):
    def list_build_uploads(
        self,
        app_id: str,
        *,
        version: str | None = None,
        states: Sequence[str] | None = None,
        build_number: str | None = None,
        platform: str | None = None,
    ) -> list[Resource]:
        params: dict[str, Any] = {
            "filter[cfBundleShortVersionString]": version,
            "filter[cfBundleVersion]": build_number,
            "filter[platform]": platform,
            "filter[state]": list(states) if states else None,
            "limit": PAGE_LIMIT,
        }
        # AWAITING_UPLOAD uploads have no uploadedDate, so only sort by it when they are filtered out (as asc does).
        if states and "AWAITING_UPLOAD" not in states:
            params["sort"] = "-uploadedDate"
        return list(self.paginate(f"/v1/apps/{app_id}/buildUploads", params))

    def create_build_upload(self, app_id: str, *, version: str, build_number: str, platform: str = "IOS") -> Resource:
        return self._create(
            "buildUploads",
            attributes={"cfBundleShortVersionString": str(version), "cfBundleVersion": str(build_number),
                        "platform": platform},
            relationships={"app": linkage("apps", app_id)},
        )

    def get_build_upload(self, upload_id: str, *, include_build: bool = False) -> Document:
        """The build upload (a document, so an included build comes with it). An answer without the upload is an
        error, not "still processing": a poll must not wait for ever on answers that are not uploads."""
        path = f"/v1/buildUploads/{upload_id}"
        document = self.get_document(path, {"include": "build"} if include_build else None)
        resource = document.resource
        if not self.dry_run and (resource is None or resource.type != "buildUploads"):
            found = "no resource" if resource is None else f"a {resource.type!r} resource"
            raise AscTransportError(f"App Store Connect answered GET {path} with {found}, not the build upload.",
                                    hint="Try again later; if it keeps happening, report it with this message.")
        return document

    def delete_build_upload(self, upload_id: str) -> None:
        self._delete(f"/v1/buildUploads/{upload_id}")

    def create_build_upload_file(self, upload_id: str, *, file_name: str, file_size: int, uti: str = "com.apple.ipa",
                                 asset_type: str = "ASSET") -> Resource:
        return self._create(
            "buildUploadFiles",
            attributes={"fileName": file_name, "fileSize": int(file_size), "uti": uti, "assetType": asset_type},
            relationships={"buildUpload": linkage("buildUploads", upload_id)},
        )

    def get_build_upload_file(self, file_id: str) -> Resource:
        return self._get_required(f"/v1/buildUploadFiles/{file_id}")

    def list_build_upload_files(self, upload_id: str) -> list[Resource]:
        return list(self.paginate(f"/v1/buildUploads/{upload_id}/buildUploadFiles", {"limit": PAGE_LIMIT}))

    def commit_build_upload_file(self, file_id: str) -> Resource:
        """Mark the file uploaded with `{"uploaded": true}` alone, as every working client does: Apple refuses a
        client `sourceFileChecksums` here (409, protocol.md H.7) and computes its own; our digest stays local."""
        return self._update("buildUploadFiles", file_id, {"uploaded": True})
