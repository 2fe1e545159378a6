"""One entry point for the binary a command is given: an .ipa (a zip) or a macOS installer package (a xar).

Chosen by content, never by file name (a renamed .pkg is still a package, and a zip named .pkg is still an IPA), so
`info`, `check`, `plan` and `run` treat both the same way and every command agrees on what the file is. The two
inspections stay apart (IpaInfo, PkgInfo); what their callers read (bundle_id, version, build_number, platform,
fingerprint, path, file_size, display_name, uses_non_exempt_encryption, uti, asset_type) has one meaning on both.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import datetime
from typing import Union

from publish.ipa.inspect import inspect_ipa
from publish.ipa.model import IpaInfo
from publish.ipa.pkg import inspect_pkg, looks_like_pkg
from publish.ipa.pkg_model import PkgInfo
from publish.ipa.pkg_preflight import pkg_preflight_findings, run_pkg_preflight
from publish.ipa.preflight import ERROR, Finding, preflight_findings, run_preflight

BinaryInfo = Union[IpaInfo, PkgInfo]
IPA_UTI = "com.apple.ipa"  # buildUploadFiles' uti for an iOS, tvOS or visionOS app

_TESTFLIGHT_NEEDS_PROFILE = (" A flow with a TestFlight step needs it: a macOS build without a provisioning profile "
                             "cannot be tested in TestFlight, so nothing was sent.")


def inspect_binary(path: str | os.PathLike[str]) -> BinaryInfo:
    """Inspect an .ipa or a .pkg, whichever the file is. Raises IpaError when it cannot be read."""
    return inspect_pkg(path) if _is_pkg(path) else inspect_ipa(path)


def _is_pkg(path: str | os.PathLike[str]) -> bool:
    """By content; a file that is neither kind is judged by its name, so its error speaks of what was meant."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        regular = False
    if not regular:
        # Not read here (a FIFO without a writer would block the sniffing): the inspector refuses it by name.
        return os.fspath(path).lower().endswith(".pkg")
    if looks_like_pkg(path):
        return True
    try:
        with open(path, "rb") as file:
            is_zip = file.read(2) == b"PK"
    except OSError:
        is_zip = False
    return not is_zip and os.fspath(path).lower().endswith(".pkg")


def run_binary_preflight(path: str | os.PathLike[str], *, expected_bundle_id: str | None = None,
                         for_testflight: bool = False, now: datetime | None = None) -> list[Finding]:
    """The pre-flight findings of an .ipa or a .pkg. `for_testflight`: the build is meant for TestFlight, so what
    only stops TestFlight (a Mac package without a provisioning profile, ITMS-90889) is an error, not a warning."""
    if not _is_pkg(path):
        return run_preflight(path, expected_bundle_id=expected_bundle_id, now=now)
    return _for_testflight(run_pkg_preflight(path, expected_bundle_id=expected_bundle_id, now=now), for_testflight)


def binary_preflight(info: BinaryInfo, *, expected_bundle_id: str | None = None, for_testflight: bool = False,
                     now: datetime | None = None) -> list[Finding]:
    """`run_binary_preflight`'s findings for a binary `inspect_binary` already read: a run and `plan` inspect the
    file first, and the pre-flight would only read the same archive a second time to find the same IpaInfo/PkgInfo."""
    if isinstance(info, IpaInfo):
        return preflight_findings(info, expected_bundle_id=expected_bundle_id, now=now)
    return _for_testflight(pkg_preflight_findings(info, expected_bundle_id=expected_bundle_id, now=now),
                           for_testflight)


def _for_testflight(findings: list[Finding], for_testflight: bool) -> list[Finding]:
    if not for_testflight:
        return findings
    return [replace(f, severity=ERROR, message=f.message + _TESTFLIGHT_NEEDS_PROFILE)
            if f.id == "profile.missing" else f for f in findings]


def binary_kind(info: BinaryInfo) -> str:
    """How messages name the file: "IPA" or "package"."""
    return "package" if isinstance(info, PkgInfo) else "IPA"


def upload_uti(info: BinaryInfo) -> str:
    return info.uti if isinstance(info, PkgInfo) else IPA_UTI


__all__ = ["BinaryInfo", "IPA_UTI", "binary_kind", "binary_preflight", "inspect_binary", "run_binary_preflight",
           "upload_uti"]
