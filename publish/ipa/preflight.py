"""Pre-flight: would App Store Connect accept this binary? Every finding says how to fix it."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

from publish.ipa.archive import ZipArchive
from publish.ipa.errors import IpaError
from publish.ipa.findings import (ERROR, EXPIRY_WARNING_WINDOW, MAX_VERSION_DIGITS, UNDECLARED_ENCRYPTION, WARNING,
                                  Finding, SigningAdvice, profile_findings, quote, version_findings)

# Where callers have always found them; the definitions live in publish.ipa.findings.
__all__ = ["ERROR", "EXPIRY_WARNING_WINDOW", "MAX_VERSION_DIGITS", "WARNING", "Finding", "has_errors",
           "preflight_findings", "run_preflight"]
from publish.ipa.inspect import REQUIRED_APP_KEYS, REQUIRED_NESTED_KEYS, inspect_archive
from publish.ipa.model import BundleInfo, IpaInfo
from publish.ipa.profile import AD_HOC, DEVELOPMENT, ENTERPRISE, ProvisioningProfile

# CFBundleIdentifier: "only alphanumeric characters (A-Z, a-z, and 0-9), hyphens (-), and periods (.)" (Apple's
# Information Property List reference); an ID outside it cannot be registered, so its upload can only fail.
_APPLE_BUNDLE_ID = re.compile(r"^[A-Za-z0-9.-]+$")

_HOW = ("(Xcode: Distribute App > App Store Connect; xcodebuild -exportArchive: method app-store-connect in the "
        "export options plist)")
_EXPORT = f"re-export the archive with the App Store Connect method {_HOW}"
_ADVICE = SigningAdvice(export=_EXPORT, distribution_profile="an App Store distribution profile")
_KIND_LABEL = {"app": "The app", "extension": "App extension", "watch_extension": "Watch extension",
               "watch_app": "Watch app", "app_clip": "App Clip"}


def run_preflight(path: str | os.PathLike[str], *, expected_bundle_id: str | None = None,
                  now: datetime | None = None) -> list[Finding]:
    """Every problem App Store Connect would reject the IPA for (errors), plus warnings. Never raises IpaError."""
    try:
        with ZipArchive(path) as archive:
            info = inspect_archive(archive, strict=False)
    except IpaError as exc:
        return [Finding(exc.finding_id, ERROR, str(exc))]
    return preflight_findings(info, expected_bundle_id=expected_bundle_id, now=now)


def preflight_findings(info: IpaInfo, *, expected_bundle_id: str | None = None,
                       now: datetime | None = None) -> list[Finding]:
    """`run_preflight`'s findings for an IPA already inspected: a run inspects the IPA first, and reading it again
    would give the same IpaInfo (strict inspection only adds a refusal; whatever it accepts, lenient reads alike)."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)  # profile dates are UTC; a naive clock is taken as UTC too
    findings: list[Finding] = []
    findings += _layout(info)
    assert info.app is not None
    findings += _bundle(info.app, info)
    findings += _versions(info)
    findings += _profile(info.app.profile, info, now, main=True)
    for bundle in info.extensions:
        findings += _bundle(bundle, info)
        findings += _nested(bundle, info)
        if bundle.profile is not None:
            findings += _profile(bundle.profile, info, now, main=False, bundle=bundle)
    findings += _signature(info)
    if expected_bundle_id is not None and info.bundle_id and info.bundle_id != expected_bundle_id:
        findings.append(Finding(
            "bundle_id.profile_mismatch", ERROR,
            f"The IPA's bundle ID is {info.bundle_id}, but the publish profile chosen is for {expected_bundle_id}. "
            f"Pass the IPA built for {expected_bundle_id}, or choose the profile for {info.bundle_id} "
            f"(profiles are matched on bundle_id in the flow file)."))
    findings += _warnings(info)
    return findings


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


def _label(bundle: BundleInfo) -> str:
    if bundle.kind == "app":
        return f"The app ({bundle.path})"
    return f"{_KIND_LABEL.get(bundle.kind, bundle.kind)} {bundle.path}"


def _layout(info: IpaInfo) -> list[Finding]:
    if not info.top_level_folder:
        return []
    folder = info.top_level_folder
    return [Finding(
        "layout.payload_in_subfolder", ERROR,
        f"Payload/ is inside the top-level folder {folder}/, so App Store Connect would reject the upload "
        f"(\"The IPA is invalid. It does not include a Payload directory.\"). Zip the Payload folder itself, "
        f"from inside {folder}/: `cd {folder} && zip -qr ../{folder}.ipa Payload` (or export with Xcode).")]


def _bundle(bundle: BundleInfo, info: IpaInfo) -> list[Finding]:
    findings = [Finding(fid, ERROR, f"{message} {hint}" if hint else message) for fid, message, hint in bundle.problems]
    if not bundle.info_plist:
        return findings
    required = REQUIRED_APP_KEYS if bundle.kind == "app" else REQUIRED_NESTED_KEYS
    missing = [k for k in required if not isinstance(bundle.info_plist.get(k), str) or not bundle.info_plist[k].strip()]
    if missing:
        findings.append(Finding(
            "plist.missing_key", ERROR,
            f"{bundle.path}Info.plist lacks {', '.join(missing)}. Set them in the target's Info.plist or build settings "
            f"(Bundle Identifier, Version = CFBundleShortVersionString, Build = CFBundleVersion, Minimum Deployments) "
            f"and archive again."))
    if bundle.bundle_id and not _APPLE_BUNDLE_ID.match(bundle.bundle_id):
        findings.append(Finding(
            "bundle_id.format", ERROR,
            f"{_label(bundle)} has the bundle ID {quote(bundle.bundle_id)} (CFBundleIdentifier); App Store Connect "
            f"takes only letters A-Z and a-z, digits, hyphens and periods. Set the target's "
            f"Bundle Identifier (PRODUCT_BUNDLE_IDENTIFIER) to the ID registered in Certificates, Identifiers & "
            f"Profiles and archive again."))
    simulator = [p for p in bundle.platforms if p.endswith("Simulator")]
    if simulator:
        findings.append(Finding(
            "plist.simulator_build", ERROR,
            f"{_label(bundle)} is built for the simulator ({', '.join(simulator)}). Archive for a device "
            f"(destination \"Any iOS Device\" / `-destination generic/platform=iOS`)."))
    if bundle.executable and not bundle.has_executable:
        findings.append(Finding(
            "bundle.executable_missing", ERROR,
            f"{_label(bundle)} names its executable {quote(bundle.executable)} (CFBundleExecutable), but "
            f"{bundle.path}{bundle.executable} is not in the IPA. Export the IPA again from a complete archive."))
    return findings


def _versions(info: IpaInfo) -> list[Finding]:
    return version_findings(info.version, info.build_number)


def _profile(profile: ProvisioningProfile | None, info: IpaInfo, now: datetime, *, main: bool,
             bundle: BundleInfo | None = None) -> list[Finding]:
    where = "The app" if main else _label(bundle) if bundle else "A bundle"
    if profile is None:
        if main and not any(fid.startswith("profile.") for fid, _m, _h in (info.app.problems if info.app else [])):
            return [Finding(
                "profile.missing", ERROR,
                f"{info.app_path}embedded.mobileprovision is missing: the app is not signed for distribution. "
                f"Sign it with an App Store distribution profile and {_EXPORT}.")]
        return []
    findings = []
    label = f"{profile.name or profile.uuid or 'the provisioning profile'}"
    if main or profile.type != (info.profile.type if info.profile else None):
        if profile.type == DEVELOPMENT:
            findings.append(Finding(
                "profile.development", ERROR,
                f"{where} is signed for development (profile \"{label}\") — export with the App Store Connect method "
                f"{_HOW}; App Store Connect only accepts App Store distribution signing."))
        elif profile.type == AD_HOC:
            findings.append(Finding(
                "profile.ad_hoc", ERROR,
                f"{where} is signed with an ad hoc profile (\"{label}\", {profile.devices_count} devices): App Store "
                f"Connect only accepts App Store distribution signing; {_EXPORT}."))
        elif profile.type == ENTERPRISE:
            findings.append(Finding(
                "profile.enterprise", ERROR,
                f"{where} is signed with an in-house (enterprise) profile (\"{label}\"), which can never be uploaded to "
                f"App Store Connect. Sign with an App Store distribution profile of a paid developer account and "
                f"{_EXPORT}."))
    bundle_id = info.bundle_id if main else (bundle.bundle_id if bundle else None)
    return findings + profile_findings(profile, now, subject=where, bundle_id=bundle_id, advice=_ADVICE)


def _nested(bundle: BundleInfo, info: IpaInfo) -> list[Finding]:
    findings = []
    label = _label(bundle)
    if bundle.bundle_id and info.bundle_id and not bundle.bundle_id.startswith(info.bundle_id + "."):
        findings.append(Finding(
            "extension.bundle_id_prefix", ERROR,
            f"{label} has the bundle ID {bundle.bundle_id}, which is not prefixed by the app's {info.bundle_id}. "
            f"Rename it to {info.bundle_id}.<something> in the target's settings (and its App ID)."))
    mismatches = []
    if bundle.version and info.version and bundle.version != info.version:
        mismatches.append(f"version (CFBundleShortVersionString) {bundle.version} vs the app's {info.version}")
    if bundle.build_number and info.build_number and bundle.build_number != info.build_number:
        mismatches.append(f"build number (CFBundleVersion) {bundle.build_number} vs the app's {info.build_number}")
    if mismatches:
        findings.append(Finding(
            "extension.version_mismatch", ERROR,
            f"{label} has a different {' and '.join(mismatches)}. Give every target the same Version and Build "
            f"(MARKETING_VERSION / CURRENT_PROJECT_VERSION, e.g. set them at the project level) and archive again."))
    return findings


def _signature(info: IpaInfo) -> list[Finding]:
    unsigned = [b for b in [info.app, *info.extensions] if b is not None and b.has_info_plist and not b.has_code_signature]
    if not unsigned:
        return []
    paths = ", ".join(b.path for b in unsigned)
    return [Finding(
        "signature.missing", ERROR,
        f"No code signature (_CodeSignature/CodeResources) in {paths}. Sign the app and every nested bundle: "
        f"{_EXPORT}, instead of zipping an unsigned build.")]


def _warnings(info: IpaInfo) -> list[Finding]:
    findings = []
    if info.uses_non_exempt_encryption is None:
        findings.append(UNDECLARED_ENCRYPTION)
    if not info.icon_names and info.platform == "IOS":
        findings.append(Finding(
            "icon.missing", WARNING,
            "No app icon is declared (CFBundleIcons) or found (AppIcon*.png); App Store Connect requires one "
            "(ITMS-90022/90713). Add an AppIcon set to the asset catalog and set it as the app icon source."))
    return findings
