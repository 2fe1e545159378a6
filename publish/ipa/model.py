"""What inspection finds in an IPA. `IpaInfo.to_json()` is documented by schemas/ipa-info.schema.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from publish.ipa.profile import ProvisioningProfile, json_safe

if TYPE_CHECKING:
    from publish.ipa.pkg_model import PkgInfo  # which imports this module

JSON_FORMAT_VERSION = 1

# App Store Connect's Platform enum, from CFBundleSupportedPlatforms.
PLATFORM_BY_SUPPORTED_PLATFORM = {
    "iPhoneOS": "IOS",
    "iPhoneSimulator": "IOS",
    "WatchOS": "IOS",  # watch apps ship inside (or as) an iOS app record
    "AppleTVOS": "TV_OS",
    "AppleTVSimulator": "TV_OS",
    "XROS": "VISION_OS",
    "XRSimulator": "VISION_OS",
    "MacOSX": "MAC_OS",
}
# UIDeviceFamily: 1 iPhone, 2 iPad, 3 Apple TV, 4 Apple Watch, 6 Mac (Catalyst), 7 Apple Vision.
PLATFORM_BY_DEVICE_FAMILY = {3: "TV_OS", 7: "VISION_OS"}
DEVICE_FAMILY_NAMES = {1: "iPhone", 2: "iPad", 3: "Apple TV", 4: "Apple Watch", 6: "Mac", 7: "Apple Vision"}


@dataclass(frozen=True)
class BundleInfo:
    """One bundle in the IPA: the main app, an app extension, a watch app, an App Clip ..."""

    kind: str  # "app" | "extension" | "watch_app" | "watch_extension" | "app_clip"
    path: str  # zip path of the bundle directory, ending in "/"
    bundle_id: str | None
    version: str | None  # CFBundleShortVersionString
    build_number: str | None  # CFBundleVersion
    display_name: str | None
    executable: str | None
    minimum_os: str | None
    platforms: list[str]
    device_families: list[int]
    extension_point: str | None  # NSExtension.NSExtensionPointIdentifier
    has_info_plist: bool
    has_executable: bool
    has_code_signature: bool
    profile: ProvisioningProfile | None
    # Why Info.plist or the profile could not be read: (finding id, message, hint). Empty when all was fine.
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)
    info_plist: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "name": self.name,
            **app_identity_json(self),
            "platforms": list(self.platforms),
            "device_families": list(self.device_families),
            "extension_point": self.extension_point,
            "has_info_plist": self.has_info_plist,
            "has_code_signature": self.has_code_signature,
            "profile": self.profile.to_json() if self.profile else None,
        }


@dataclass(frozen=True)
class IpaInfo:
    path: str
    file_size: int
    fingerprint: str
    bundle_id: str
    version: str
    build_number: str
    display_name: str
    executable: str | None
    minimum_os: str | None
    device_families: list[int]
    platforms: list[str]
    platform: str  # "IOS" | "TV_OS" | "VISION_OS" | "MAC_OS"
    icon_names: list[str]
    uses_non_exempt_encryption: bool | None
    extensions: list[BundleInfo]  # every bundle nested in the app: extensions, watch app (+ its extensions), App Clips
    profile: ProvisioningProfile | None
    has_code_signature: bool
    app_path: str
    top_level_folder: str | None = None  # "Folder" when Payload/ sits under Folder/ (Apple refuses that)
    icon_path: str | None = None  # zip path of the largest app icon PNG
    entry_count: int = 0
    app: BundleInfo | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": JSON_FORMAT_VERSION,
            **binary_file_json(self),
            "entry_count": self.entry_count,
            **app_identity_json(self),
            "device_families": list(self.device_families),
            "platforms": list(self.platforms),
            "platform": self.platform,
            "icon_names": list(self.icon_names),
            "icon_path": self.icon_path,
            "uses_non_exempt_encryption": self.uses_non_exempt_encryption,
            "app_path": self.app_path,
            "top_level_folder": self.top_level_folder,
            "has_code_signature": self.has_code_signature,
            "profile": self.profile.to_json() if self.profile else None,
            "extensions": [b.to_json() for b in self.extensions],
        }


def binary_file_json(info: IpaInfo | PkgInfo) -> dict[str, Any]:
    """The file an inspection read, as every inspection reports it: the state store knows a binary by these."""
    return {"path": info.path, "file_size": info.file_size, "fingerprint": info.fingerprint}


def app_identity_json(info: BundleInfo | IpaInfo | PkgInfo) -> dict[str, Any]:
    """What names an app and its build, in the words every inspection reports it (an IPA, one of its bundles, a
    macOS package): the upload and the state store read these keys alike."""
    return {"bundle_id": info.bundle_id, "version": info.version, "build_number": info.build_number,
            "display_name": info.display_name, "executable": info.executable, "minimum_os": info.minimum_os}


def platform_of(platforms: list[str], device_families: list[int]) -> str:
    for name in platforms:
        if name in PLATFORM_BY_SUPPORTED_PLATFORM:
            return PLATFORM_BY_SUPPORTED_PLATFORM[name]
    for family in device_families:
        if family in PLATFORM_BY_DEVICE_FAMILY:
            return PLATFORM_BY_DEVICE_FAMILY[family]
    return "IOS"


__all__ = ["BundleInfo", "IpaInfo", "platform_of", "json_safe"]
