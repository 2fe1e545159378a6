"""What inspection finds in a macOS installer package. `PkgInfo.to_json()` is documented by
schemas/pkg-info.schema.json.

Kept apart from IpaInfo on purpose (a .pkg has no Payload/ folder, no device families, no icons in the
archive, but has an installer signature and a package kind); the fields the upload and the state store need
(bundle_id, version, build_number, platform, file_size, fingerprint, uses_non_exempt_encryption, profile)
have the same names and meanings as on IpaInfo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from publish.ipa.model import app_identity_json, binary_file_json
from publish.ipa.profile import ProvisioningProfile

JSON_FORMAT_VERSION = 1
PKG_UTI = "com.apple.pkg"  # buildUploadFiles' uti for an installer package
PKG_ASSET_TYPE = "ASSET"

PRODUCT_ARCHIVE = "product_archive"  # productbuild: Distribution + component package(s); what the Mac App Store takes
COMPONENT_PACKAGE = "component_package"  # pkgbuild: Bom + PackageInfo + Payload at the top

# The installer certificate's kind, from its common name (Apple's naming) and Apple's extension OIDs.
SIGNED_MAC_APP_STORE = "mac_app_store"  # "3rd Party Mac Developer Installer" / "Mac Installer Distribution"
SIGNED_DEVELOPER_ID = "developer_id"  # "Developer ID Installer": for distribution outside the store
SIGNED_DEVELOPMENT = "development"  # an "Apple Development" / "Mac Developer" certificate
SIGNED_OTHER = "other"  # a certificate of no kind Apple issues for installers
UNSIGNED = "unsigned"

# Mac profile kinds; the IPA parser's classification ("enterprise" for all devices) does not fit macOS.
MAC_PROFILE_APP_STORE = "app-store"
MAC_PROFILE_DEVELOPMENT = "development"
MAC_PROFILE_DEVELOPER_ID = "developer-id"


@dataclass(frozen=True)
class InstallerSignature:
    type: str  # one of the SIGNED_* constants, or UNSIGNED
    style: str | None  # "RSA" (what Installer checks) | "CMS"
    common_name: str | None
    team_id: str | None  # the leaf certificate's organizational unit
    organization: str | None
    serial_number: str | None
    sha1: str | None
    not_valid_after: datetime | None
    chain: list[str]  # common names, leaf first
    verified: bool | None  # the signature matches the TOC checksum under the leaf's key (None: a style not checked)

    def is_expired(self, now: datetime) -> bool:
        return self.not_valid_after is not None and self.not_valid_after <= now

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "style": self.style,
            "common_name": self.common_name,
            "team_id": self.team_id,
            "organization": self.organization,
            "serial_number": self.serial_number,
            "sha1": self.sha1,
            "expires": _iso(self.not_valid_after),
            "chain": list(self.chain),
            "verified": self.verified,
        }


@dataclass(frozen=True)
class PkgApp:
    """The app bundle found in a component package's Payload."""

    component: str  # xar path of the component package ("" for a flat component package)
    path: str  # payload path of the bundle, e.g. "Example.app" (relative to the install location)
    info_plist: dict[str, Any] = field(repr=False, compare=False)
    profile: ProvisioningProfile | None
    has_info_plist: bool
    has_code_signature: bool  # Contents/_CodeSignature/CodeResources
    executables: frozenset[str]  # names under Contents/MacOS/
    icons: frozenset[str]  # Contents/Resources/*.icns and Assets.car (where a Mac app's icon lives)
    # Why Info.plist or the profile could not be read: (finding id, message, hint).
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class PkgInfo:
    path: str
    file_size: int
    fingerprint: str
    kind: str  # PRODUCT_ARCHIVE | COMPONENT_PACKAGE
    bundle_id: str
    version: str
    build_number: str
    display_name: str
    executable: str | None
    minimum_os: str | None  # LSMinimumSystemVersion, else the Distribution's allowed os-version
    platform: str  # always "MAC_OS"
    category: str | None  # LSApplicationCategoryType (the Mac App Store requires one)
    uses_non_exempt_encryption: bool | None
    supported_platforms: list[str]
    app_path: str
    component: str
    install_location: str | None
    product_id: str | None  # Distribution's <product id>
    product_version: str | None
    payload_format: str  # "gzip" | "pbzx" | "xz" | "none", then the cpio format: "gzip/odc"
    payload_entry_count: int
    apps: list[str]  # every top-level app bundle found in the payloads
    has_code_signature: bool
    has_executable: bool
    installed_path: str | None  # where Installer puts the app: install location + app path
    icon_files: list[str]  # Contents/Resources/*.icns and Assets.car
    profile: ProvisioningProfile | None
    signature: InstallerSignature
    app: PkgApp | None = field(default=None, repr=False, compare=False)

    uti: str = PKG_UTI
    asset_type: str = PKG_ASSET_TYPE

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": JSON_FORMAT_VERSION,
            **binary_file_json(self),
            "kind": self.kind,
            "uti": self.uti,
            "asset_type": self.asset_type,
            **app_identity_json(self),
            "platform": self.platform,
            "category": self.category,
            "uses_non_exempt_encryption": self.uses_non_exempt_encryption,
            "supported_platforms": list(self.supported_platforms),
            "app_path": self.app_path,
            "component": self.component,
            "install_location": self.install_location,
            "product_id": self.product_id,
            "product_version": self.product_version,
            "payload_format": self.payload_format,
            "payload_entry_count": self.payload_entry_count,
            "apps": list(self.apps),
            "has_code_signature": self.has_code_signature,
            "has_executable": self.has_executable,
            "installed_path": self.installed_path,
            "icon_files": list(self.icon_files),
            "profile": self.profile.to_json() if self.profile else None,
            "signature": self.signature.to_json(),
        }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


__all__ = ["InstallerSignature", "PkgApp", "PkgInfo"]
