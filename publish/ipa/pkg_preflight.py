"""Pre-flight for macOS installer packages: would App Store Connect accept this .pkg? The same findings model
as IPAs (publish/ipa/preflight.py's Finding, ids shared where the problem is the same, "pkg.*" for what
only a package can get wrong); every finding says how to fix it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from publish.ipa.errors import IpaError
from publish.ipa.pkg import inspect_archive
from publish.ipa.pkg_model import (COMPONENT_PACKAGE, MAC_PROFILE_DEVELOPER_ID, MAC_PROFILE_DEVELOPMENT,
                                   SIGNED_DEVELOPER_ID, SIGNED_DEVELOPMENT, SIGNED_OTHER, UNSIGNED, PkgInfo)
from publish.ipa.pkg_payload import MAX_EXPANDED_PAYLOAD_BYTES
from publish.ipa.findings import (ERROR, UNDECLARED_ENCRYPTION, WARNING, Finding, SigningAdvice, profile_findings,
                                  version_findings)
from publish.ipa.xar import XarArchive

_SIGN = ('sign it with your "3rd Party Mac Developer Installer" (also named "Mac Installer Distribution") '
         'certificate: `productbuild --component Example.app /Applications --sign "3rd Party Mac Developer '
         'Installer: <Team> (<TEAMID>)" Example.pkg`, or export from Xcode with Distribute App > App Store Connect')
_EXPORT = "export again with Xcode's Distribute App > App Store Connect (or `xcodebuild -exportArchive`, method app-store-connect)"
_ADVICE = SigningAdvice(export=_EXPORT, distribution_profile="a Mac App Store distribution profile")


def run_pkg_preflight(path: str | os.PathLike[str], *, expected_bundle_id: str | None = None,
                      now: datetime | None = None,
                      max_expanded_payload: int = MAX_EXPANDED_PAYLOAD_BYTES) -> list[Finding]:
    """Every problem App Store Connect would reject the package for (errors), plus warnings. Never raises IpaError."""
    try:
        with XarArchive(path) as archive:
            info = inspect_archive(archive, strict=False, max_expanded_payload=max_expanded_payload)
    except IpaError as exc:
        return [Finding(exc.finding_id, ERROR, str(exc))]
    return pkg_preflight_findings(info, expected_bundle_id=expected_bundle_id, now=now)


def pkg_preflight_findings(info: PkgInfo, *, expected_bundle_id: str | None = None,
                           now: datetime | None = None) -> list[Finding]:
    """`run_pkg_preflight`'s findings for a package already inspected (with the same payload bound): strict
    inspection only adds a refusal, so what it accepted a lenient read would see alike."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    findings = _layout(info) + _signature(info, now) + _bundle(info) + _profile(info, now)
    if expected_bundle_id is not None and info.bundle_id and info.bundle_id != expected_bundle_id:
        findings.append(Finding(
            "bundle_id.profile_mismatch", ERROR,
            f"The package's app has the bundle ID {info.bundle_id}, but the publish profile chosen is for "
            f"{expected_bundle_id}. Pass the package built for {expected_bundle_id}, or choose the profile for "
            f"{info.bundle_id} (profiles are matched on bundle_id in the flow file)."))
    return findings + _warnings(info)


def _layout(info: PkgInfo) -> list[Finding]:
    if info.kind != COMPONENT_PACKAGE:
        return []
    return [Finding(
        "pkg.component_package", ERROR,
        f"{info.path} is a component package (as pkgbuild writes it: Bom, PackageInfo and Payload at the top), "
        f"not a product archive; App Store Connect only accepts a product archive. Build it with productbuild and "
        f"{_SIGN}.")]


def _signature(info: PkgInfo, now: datetime) -> list[Finding]:
    signature = info.signature
    who = f"\"{signature.common_name}\"" if signature.common_name else "a certificate without a name"
    if signature.type == UNSIGNED:
        return [Finding("pkg.unsigned", ERROR,
                        f"{info.path} has no installer signature; App Store Connect only accepts a signed package. "
                        f"Sign it: {_SIGN}.")]
    findings = []
    if signature.type == SIGNED_DEVELOPER_ID:
        findings.append(Finding(
            "pkg.signed_developer_id", ERROR,
            f"{info.path} is signed with {who}, a Developer ID Installer certificate, which is for distributing "
            f"outside the Mac App Store; App Store Connect rejects it. Instead {_SIGN}."))
    elif signature.type == SIGNED_DEVELOPMENT:
        findings.append(Finding(
            "pkg.signed_development", ERROR,
            f"{info.path} is signed with the development certificate {who}, which cannot sign a package for App "
            f"Store Connect. Instead {_SIGN}."))
    elif signature.type == SIGNED_OTHER:
        findings.append(Finding(
            "pkg.signed_other", ERROR,
            f"{info.path} is signed with {who}, which is not an installer certificate Apple issues for the Mac App "
            f"Store. Instead {_SIGN}."))
    if signature.verified is False:
        findings.append(Finding(
            "pkg.signature_invalid", ERROR,
            f"The installer signature of {info.path} does not match the package's contents: the package was changed "
            f"after it was signed (or the signature is damaged). Sign the final package again as the last step: "
            f"`productsign --sign \"3rd Party Mac Developer Installer: <Team> (<TEAMID>)\" in.pkg out.pkg`."))
    if signature.is_expired(now):
        assert signature.not_valid_after is not None
        findings.append(Finding(
            "pkg.certificate_expired", ERROR,
            f"The installer certificate {who} expired on {signature.not_valid_after:%Y-%m-%d}. Create a new Mac "
            f"Installer Distribution certificate in the Apple Developer portal (Certificates, Identifiers & "
            f"Profiles) and sign the package again with it."))
    return findings


def _bundle(info: PkgInfo) -> list[Finding]:
    app = info.app
    assert app is not None
    findings = [Finding(fid, ERROR, f"{message} {hint}" if hint else message) for fid, message, hint in app.problems]
    plist = app.info_plist
    if not plist:
        return findings
    label = f"The app ({app.path})"
    missing = [k for k in ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion", "CFBundleExecutable")
               if not isinstance(plist.get(k), str) or not plist[k].strip()]
    if missing:
        findings.append(Finding(
            "plist.missing_key", ERROR,
            f"{app.path}/Contents/Info.plist lacks {', '.join(missing)}. Set them in the target's Info.plist or build "
            f"settings (Bundle Identifier, Version = CFBundleShortVersionString, Build = CFBundleVersion) and archive "
            f"again."))
    if not info.category:
        findings.append(Finding(
            "plist.missing_category", ERROR,
            f"{app.path}/Contents/Info.plist has no LSApplicationCategoryType; the Mac App Store requires one "
            f"(ITMS-90242). Choose the App Category in the target's General settings (or set "
            f"INFOPLIST_KEY_LSApplicationCategoryType, e.g. public.app-category.productivity) and archive again."))
    if info.supported_platforms and "MacOSX" not in info.supported_platforms:
        findings.append(Finding(
            "pkg.not_mac_app", ERROR,
            f"{label} is built for {', '.join(info.supported_platforms)}, not macOS (CFBundleSupportedPlatforms has no "
            f"MacOSX). Archive the macOS target (destination \"Any Mac\") and package that app."))
    findings += version_findings(info.version, info.build_number)
    bundle_name = app.path.rsplit("/", 1)[-1]
    if info.installed_path is not None and info.installed_path != f"/Applications/{bundle_name}":
        findings.append(Finding(
            "pkg.install_location", ERROR,
            f"{label} would be installed at {info.installed_path}; a Mac App Store app must install to /Applications. "
            f"Build the package with the install location /Applications: `productbuild --component {bundle_name} "
            f"/Applications ...`."))
    if info.executable and not info.has_executable:
        findings.append(Finding(
            "bundle.executable_missing", ERROR,
            f"{label} names its executable {info.executable!r} (CFBundleExecutable), but "
            f"{app.path}/Contents/MacOS/{info.executable} is not in the package's payload. Package the complete "
            f"app from the archive again."))
    if not info.has_code_signature:
        findings.append(Finding(
            "signature.missing", ERROR,
            f"{label} has no code signature ({app.path}/Contents/_CodeSignature/CodeResources): sign the app with "
            f"your Apple Distribution (3rd Party Mac Developer Application) certificate before packaging it, or "
            f"{_EXPORT}."))
    return findings


def _profile(info: PkgInfo, now: datetime) -> list[Finding]:
    app = info.app
    assert app is not None
    profile = info.profile
    if profile is None:
        if any(fid.startswith("profile.") for fid, _m, _h in app.problems):
            return []
        # Apple takes the upload (ITMS-90889 is a warning) but the build can then not be used with TestFlight.
        return [Finding(
            "profile.missing", WARNING,
            f"{app.path}/Contents/embedded.provisionprofile is missing: App Store Connect accepts the upload, but the "
            f"build cannot be used with TestFlight (ITMS-90889). Sign the app with a Mac App Store provisioning "
            f"profile and {_EXPORT}.")]
    label = profile.name or profile.uuid or "the provisioning profile"
    findings = []
    if profile.type == MAC_PROFILE_DEVELOPMENT:
        findings.append(Finding(
            "profile.development", ERROR,
            f"The app is signed with the development profile \"{label}\"; App Store Connect only accepts a Mac App "
            f"Store distribution profile: {_EXPORT}."))
    elif profile.type == MAC_PROFILE_DEVELOPER_ID:
        findings.append(Finding(
            "profile.developer_id", ERROR,
            f"The app is signed with the Developer ID profile \"{label}\", which is for distribution outside the Mac "
            f"App Store. Use a Mac App Store distribution profile and {_EXPORT}."))
    return findings + profile_findings(profile, now, subject="The app", bundle_id=info.bundle_id, advice=_ADVICE)


def _warnings(info: PkgInfo) -> list[Finding]:
    findings = []
    if info.uses_non_exempt_encryption is None:
        findings.append(UNDECLARED_ENCRYPTION)
    if not info.minimum_os:
        findings.append(Finding(
            "plist.minimum_os_missing", WARNING,
            "Info.plist has no LSMinimumSystemVersion, so the app claims to run on every macOS version. Set the "
            "target's macOS Deployment Target and archive again."))
    if not info.icon_files:
        findings.append(Finding(
            "icon.missing", WARNING,
            f"{info.app_path}/Contents/Resources has no app icon (an .icns file or an asset catalog, Assets.car); the "
            f"Mac App Store requires one with a 512x512@2x image (ITMS-90236). Add an AppIcon set to the asset "
            f"catalog and archive again."))
    team = info.signature.team_id
    if team and info.profile and info.profile.team_id and team != info.profile.team_id:
        findings.append(Finding(
            "pkg.team_mismatch", WARNING,
            f"The installer certificate belongs to team {team} but the app's profile to team "
            f"{info.profile.team_id}; App Store Connect expects one team to sign both. Sign the package with the "
            f"installer certificate of team {info.profile.team_id}."))
    return findings


__all__ = ["run_pkg_preflight"]
