"""Provisioning profiles (`embedded.mobileprovision`): a CMS SignedData whose content is a plist."""

from __future__ import annotations

import base64
import plistlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from publish.ipa.errors import IpaError

APP_STORE = "app-store"
AD_HOC = "ad-hoc"
DEVELOPMENT = "development"
ENTERPRISE = "enterprise"

_PROFILE_HINT = ("Download the profile again from the Apple Developer portal (or let Xcode manage signing) "
                 "and re-export the .ipa.")


@dataclass(frozen=True)
class SigningCertificate:
    common_name: str | None
    team_id: str | None  # the certificate's organizational unit
    serial_number: str
    not_valid_after: datetime
    sha1: str

    def to_json(self) -> dict[str, Any]:
        return {
            "common_name": self.common_name,
            "team_id": self.team_id,
            "serial_number": self.serial_number,
            "expires": _iso(self.not_valid_after),
            "sha1": self.sha1,
        }


@dataclass(frozen=True)
class ProvisioningProfile:
    name: str | None
    uuid: str | None
    team_id: str | None
    team_name: str | None
    app_id_name: str | None
    application_identifier: str | None  # as in the entitlements, "TEAMID.com.example.app" (may end in "*")
    app_id: str | None  # application_identifier without the team prefix
    platforms: list[str]
    creation_date: datetime | None
    expiration_date: datetime | None
    entitlements: dict[str, Any] = field(repr=False)
    devices_count: int
    provisions_all_devices: bool
    get_task_allow: bool
    type: str  # "app-store" | "ad-hoc" | "development" | "enterprise"
    certificates: list[SigningCertificate]

    def is_expired(self, now: datetime) -> bool:
        return self.expiration_date is not None and self.expiration_date <= now

    def matches_bundle_id(self, bundle_id: str) -> bool:
        """Whether this profile's app ID covers `bundle_id`; "*" and "com.example.*" are wildcards."""
        if self.app_id is None:
            return False
        if self.app_id.endswith("*"):
            return bundle_id.startswith(self.app_id[:-1])
        return self.app_id == bundle_id

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uuid": self.uuid,
            "type": self.type,
            "team_id": self.team_id,
            "team_name": self.team_name,
            "app_id_name": self.app_id_name,
            "application_identifier": self.application_identifier,
            "app_id": self.app_id,
            "platforms": list(self.platforms),
            "creation_date": _iso(self.creation_date),
            "expiration_date": _iso(self.expiration_date),
            "devices_count": self.devices_count,
            "provisions_all_devices": self.provisions_all_devices,
            "get_task_allow": self.get_task_allow,
            "entitlements": json_safe(self.entitlements),
            "certificates": [c.to_json() for c in self.certificates],
        }


def parse_provisioning_profile(data: bytes, *, source: str = "embedded.mobileprovision") -> ProvisioningProfile:
    """Parse the DER CMS envelope and the plist it carries. Raises IpaError on anything malformed."""
    content = _cms_content(data, source)
    try:
        plist = plistlib.loads(content)
    except Exception as exc:  # plistlib raises several types on bad input
        raise IpaError(f"{source}: the signed content is not a valid plist ({exc}).",
                       finding_id="profile.corrupt", hint=_PROFILE_HINT) from None
    if not isinstance(plist, dict):
        raise IpaError(f"{source}: the signed plist is not a dictionary.", finding_id="profile.corrupt", hint=_PROFILE_HINT)
    return _profile_from_plist(plist)


def _cms_content(data: bytes, source: str) -> bytes:
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"content type is {info['content_type'].native}, not signed data")
        content = info["content"]["encap_content_info"]["content"].native
    except Exception as exc:  # asn1crypto parses lazily and raises ValueError/TypeError/KeyError on bad DER
        raise IpaError(f"{source} is not a valid signed (CMS/PKCS#7 DER) provisioning profile: {exc}.",
                       finding_id="profile.corrupt", hint=_PROFILE_HINT) from None
    if not isinstance(content, bytes) or not content:
        raise IpaError(f"{source}: the signed envelope carries no profile content.",
                       finding_id="profile.corrupt", hint=_PROFILE_HINT)
    return content


def _profile_from_plist(plist: dict[str, Any]) -> ProvisioningProfile:
    entitlements = _dict(plist.get("Entitlements"))
    application_identifier = _str(entitlements.get("application-identifier"))
    team_ids = _list(plist.get("TeamIdentifier"))
    team_id = _str(team_ids[0]) if team_ids else _str(entitlements.get("com.apple.developer.team-identifier"))
    prefixes = [p for p in _list(plist.get("ApplicationIdentifierPrefix")) if isinstance(p, str)]
    app_id = _strip_prefix(application_identifier, [*prefixes, *([team_id] if team_id else [])])
    devices = plist.get("ProvisionedDevices")
    devices_count = len(devices) if isinstance(devices, list) else 0
    all_devices = plist.get("ProvisionsAllDevices") is True
    get_task_allow = entitlements.get("get-task-allow") is True
    if all_devices:
        kind = ENTERPRISE
    elif get_task_allow:
        kind = DEVELOPMENT
    elif devices_count:
        kind = AD_HOC
    else:
        kind = APP_STORE
    certificates = [c for c in (_certificate(der) for der in _list(plist.get("DeveloperCertificates"))) if c]
    platforms = _list(plist.get("Platform"))
    return ProvisioningProfile(
        name=_str(plist.get("Name")),
        uuid=_str(plist.get("UUID")),
        team_id=team_id,
        team_name=_str(plist.get("TeamName")),
        app_id_name=_str(plist.get("AppIDName")),
        application_identifier=application_identifier,
        app_id=app_id,
        platforms=[p for p in platforms if isinstance(p, str)],
        creation_date=_utc(plist.get("CreationDate")),
        expiration_date=_utc(plist.get("ExpirationDate")),
        entitlements=entitlements,
        devices_count=devices_count,
        provisions_all_devices=all_devices,
        get_task_allow=get_task_allow,
        type=kind,
        certificates=certificates,
    )


def _certificate(der: object) -> SigningCertificate | None:
    if not isinstance(der, bytes):
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        return SigningCertificate(
            common_name=str(names[0].value) if names else None,
            team_id=str(units[0].value) if units else None,
            serial_number=format(cert.serial_number, "X"),
            not_valid_after=cert.not_valid_after_utc,
            sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),
        )
    except Exception:  # an unreadable certificate is reported by its absence, not fatal to inspection
        return None


def _strip_prefix(identifier: str | None, prefixes: list[str]) -> str | None:
    if identifier is None:
        return None
    for prefix in prefixes:
        if identifier.startswith(prefix + "."):
            return identifier[len(prefix) + 1:]
    _team, dot, rest = identifier.partition(".")
    return rest if dot else identifier


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    # plistlib gives naive datetimes that are in UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def json_safe(value: Any) -> Any:
    """Plist values as JSON: dates as ISO 8601 UTC, data as base64."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return _iso(_utc(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, plistlib.UID):
        return value.data
    return value
