"""What a pre-flight finding is, and the checks an IPA and a macOS package share: the version numbers and the
provisioning profile's lifetime, app ID, certificates and debug entitlement. One wording and one set of limits
for both, so an .ipa and a .pkg with the same problem get the same finding id and the same advice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from publish.ipa.profile import ProvisioningProfile

ERROR = "error"
WARNING = "warning"
EXPIRY_WARNING_WINDOW = timedelta(days=7)

# Apple's format for CFBundleShortVersionString and CFBundleVersion: one to three period-separated integers. Each is
# bounded: App Store Connect orders builds by these numbers as 64-bit integers, and a 5000-digit "integer" is past
# what Python will even convert (it would pass here and fail halfway through a run).
MAX_VERSION_DIGITS = 18
_APPLE_VERSION = re.compile(r"^[0-9]{1,%d}(\.[0-9]{1,%d}){0,2}$" % (MAX_VERSION_DIGITS, MAX_VERSION_DIGITS))
_LONG_COMPONENT = re.compile(r"[0-9]{%d,}" % (MAX_VERSION_DIGITS + 1))


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # "error" | "warning"
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "message": self.message}


UNDECLARED_ENCRYPTION = Finding(
    "encryption.undeclared", WARNING,
    "Info.plist does not set ITSAppUsesNonExemptEncryption, so App Store Connect will ask the export compliance "
    "question for this build. Add the key to Info.plist (false if the app only uses exempt encryption such as "
    "HTTPS), or set uses_non_exempt_encryption in the flow step.")


@dataclass(frozen=True)
class SigningAdvice:
    """How to fix signing on one platform, in the words the findings end with."""
    export: str  # "re-export the archive with ...": finishes "... download it and {export}"
    distribution_profile: str  # "an App Store distribution profile"


def quote(text: str, limit: int = 40) -> str:
    """A value from the binary as it reads in a message: quoted, and cut short when it is long."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


def version_findings(version: str | None, build_number: str | None) -> list[Finding]:
    """The version and build number in Apple's format (absent ones are reported as missing keys elsewhere)."""
    findings = []
    checks = (("version.format", "The version (CFBundleShortVersionString)", version, "1.4 or 2.0.1",
               "Version (MARKETING_VERSION)"),
              ("build_number.format", "The build number (CFBundleVersion)", build_number, "42 or 1.0.7",
               "Build (CURRENT_PROJECT_VERSION)"))
    for finding_id, what, value, example, setting in checks:
        if not value or _APPLE_VERSION.match(value):
            continue
        long_part = _LONG_COMPONENT.search(value)
        if long_part:
            findings.append(Finding(
                finding_id, ERROR,
                f"{what} {quote(value)} has a number of {len(long_part.group())} digits; App Store Connect takes at "
                f"most {MAX_VERSION_DIGITS} digits a number, such as {example}. Fix the {setting} build setting."))
        else:
            findings.append(Finding(
                finding_id, ERROR,
                f"{what} {quote(value)} is not in Apple's format: one to three period-separated integers such as "
                f"{example}. Fix the {setting} build setting."))
    return findings


def profile_findings(profile: ProvisioningProfile, now: datetime, *, subject: str, bundle_id: str | None,
                     advice: SigningAdvice) -> list[Finding]:
    """What makes any provisioning profile unusable for App Store Connect, whatever its kind: expired (or about to
    be), made for another app ID, only expired certificates, or a debuggable build. `subject` names the bundle
    ("The app", "App extension PlugIns/W.appex/")."""
    label = profile.name or profile.uuid or "the provisioning profile"
    findings = []
    if profile.expiration_date is not None:
        expires = profile.expiration_date.strftime("%Y-%m-%d %H:%M UTC")
        if profile.is_expired(now):
            findings.append(Finding(
                "profile.expired", ERROR,
                f"{subject}: the provisioning profile \"{label}\" expired on {expires}. Renew or regenerate it in the "
                f"Apple Developer portal (Certificates, Identifiers & Profiles), download it and {advice.export}."))
        elif profile.expiration_date - now <= EXPIRY_WARNING_WINDOW:
            findings.append(Finding(
                "profile.expiring_soon", WARNING,
                f"{subject}: the provisioning profile \"{label}\" expires on {expires} (within 7 days). The upload still "
                f"works now, but regenerate the profile in the Apple Developer portal before the next build."))
    if bundle_id and profile.app_id is not None and not profile.matches_bundle_id(bundle_id):
        findings.append(Finding(
            "profile.app_id_mismatch", ERROR,
            f"{subject}: the provisioning profile \"{label}\" is for the app ID {profile.app_id}, which does not cover "
            f"the bundle ID {bundle_id}. Sign with a profile created for {bundle_id} (or a matching wildcard) and "
            f"{advice.export}."))
    if profile.certificates and all(c.not_valid_after <= now for c in profile.certificates):
        last = max(c.not_valid_after for c in profile.certificates)
        findings.append(Finding(
            "certificate.expired", ERROR,
            f"{subject}: every signing certificate in the provisioning profile \"{label}\" expired (the last on "
            f"{last:%Y-%m-%d}), so the signature cannot be valid. Create a new Apple Distribution certificate, "
            f"regenerate the profile with it and {advice.export}."))
    if profile.get_task_allow:
        findings.append(Finding(
            "entitlements.get_task_allow", ERROR,
            f"{subject}: the entitlements have get-task-allow = true (a debuggable build), which App Store Connect "
            f"rejects (ITMS-90164). Archive with the Release configuration and sign with "
            f"{advice.distribution_profile}."))
    return findings
