"""What one upload is about (the binary, its numbers, its journal) and what it ends with: the values the parts
of the engine hand each other.

The binary is an IPA or, for MAC_OS, an installer package; App Store Connect is told which by the file's uti, and
every message names it the same way (`kind`: "IPA" or "package").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from publish.errors import InputError
from publish.upload.journal import FileIdentity, UploadJournal, UploadKey

IPA_UTI = "com.apple.ipa"
PKG_UTI = "com.apple.pkg"  # a macOS build is an installer package; App Store Connect checks the uti per platform


def upload_uti_for(platform: str) -> str:
    return PKG_UTI if platform == "MAC_OS" else IPA_UTI


def binary_kind_of(uti: str) -> str:
    """How messages name the file sent with this uti."""
    return "package" if uti == PKG_UTI else "IPA"


@dataclass(frozen=True)
class UploadResult:
    upload_id: str | None
    file_id: str | None
    build_id: str | None
    processing_state: str | None
    md5_hex: str
    bytes_sent: int
    reused: bool


@dataclass
class UploadRun:
    key: UploadKey
    bundle_id: str
    path: Path
    identity: FileIdentity
    journal: UploadJournal
    wait_for_processing: bool
    uti: str = IPA_UTI

    @property
    def kind(self) -> str:
        return binary_kind_of(self.uti)

    @property
    def label(self) -> str:
        """`1.2.3 (45)`: how messages name the build."""
        return f"{self.key.version} ({self.key.build_number})"


def file_identity(path: Path, kind: str = "IPA") -> FileIdentity:
    """The file's identity for the journal; an InputError (exit 2) when it cannot be an upload at all."""
    try:
        identity = FileIdentity.of(path)
    except FileNotFoundError:
        raise InputError(f"The {kind} {path} does not exist.", hint="Check the path (relative paths start at the "
                         "working directory) and that the build step produced it.") from None
    except IsADirectoryError:
        suffix = ".pkg" if kind == "package" else ".ipa"
        raise InputError(f"{path} is a directory, not an {suffix} file.") from None
    except OSError as exc:
        raise InputError(f"The {kind} {path} cannot be read: {exc.strerror or exc}.") from None
    if identity.size == 0:
        raise InputError(f"The {kind} {path} is empty.", hint=f"Rebuild and export the {kind}, then run again.")
    return identity
