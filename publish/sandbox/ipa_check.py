"""What the simulator's "processing" reads from an uploaded IPA: the main app's Info.plist. Independent of
publish.ipa on purpose: the simulator judges the client's work, so it must not share its reading of the file."""

from __future__ import annotations

import plistlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

_MAIN_APP_PLIST = re.compile(r"^Payload/[^/]+\.app/Info\.plist$")


@dataclass(frozen=True)
class UploadedApp:
    bundle_id: str
    short_version: str
    build_version: str
    minimum_os: str | None
    uses_non_exempt_encryption: bool | None


class ProcessingFailure(Exception):
    """The upload fails processing with this state detail (code, description)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def read_uploaded_app(path: Path) -> UploadedApp:
    if not zipfile.is_zipfile(path):
        raise ProcessingFailure("ITMS-90023", "The uploaded file is not a valid IPA: it is not a ZIP archive.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if _MAIN_APP_PLIST.match(n)]
            if len(names) != 1:
                raise ProcessingFailure(
                    "ITMS-90168", "The IPA must contain exactly one app bundle at Payload/<Name>.app with an "
                    f"Info.plist; found {len(names)}.")
            plist = plistlib.loads(archive.read(names[0]))
    except (zipfile.BadZipFile, plistlib.InvalidFileException, OSError, ValueError) as exc:
        raise ProcessingFailure("ITMS-90023", f"The IPA could not be read: {exc}.") from None
    return app_from_info_plist(plist, minimum_os_key="MinimumOSVersion")


def app_from_info_plist(plist: object, *, minimum_os_key: str) -> UploadedApp:
    """What processing takes from the main app's Info.plist (an IPA's or a package's), refused as Apple does when
    it is not a dictionary or lacks the identity keys."""
    if not isinstance(plist, dict):
        raise ProcessingFailure("ITMS-90158", "The app's Info.plist is not a dictionary.")
    missing = [k for k in ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion")
               if not isinstance(plist.get(k), str) or not plist.get(k)]
    if missing:
        raise ProcessingFailure("ITMS-90057", f"The app's Info.plist is missing {', '.join(missing)}.")
    encryption = plist.get("ITSAppUsesNonExemptEncryption")
    minimum = plist.get(minimum_os_key)
    return UploadedApp(
        bundle_id=plist["CFBundleIdentifier"],
        short_version=plist["CFBundleShortVersionString"],
        build_version=plist["CFBundleVersion"],
        minimum_os=minimum if isinstance(minimum, str) else None,
        uses_non_exempt_encryption=encryption if isinstance(encryption, bool) else None,
    )
