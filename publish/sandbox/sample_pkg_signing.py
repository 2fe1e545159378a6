"""Throwaway signing material for the sample packages: installer certificates of each kind Apple issues
(with Apple's extension OID for that kind, so both a reader going by name and one going by OID agree), and
Mac provisioning profiles as real CMS SignedData. Keys are derived from a seed (sample_ipa's deterministic
RSA), so the samples are reproducible byte for byte. None of this is, or chains to, an Apple certificate.
"""

from __future__ import annotations

import functools
import hashlib
import plistlib
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from publish.sandbox.sample_ipa import DEFAULT_PROFILE_CREATED, DEFAULT_PROFILE_EXPIRES, DEFAULT_TEAM_ID
from publish.sandbox.sample_ipa import _deterministic_rsa_key as deterministic_rsa_key
from publish.sandbox.sample_ipa import _signed_profile as signed_profile

INSTALLER_CERTIFICATES = ("mac_app_store", "developer_id", "development", "other")
MAC_PROFILE_TYPES = ("app-store", "development", "developer-id")
_CERTIFICATE_FROM = datetime(2025, 1, 1, tzinfo=timezone.utc)
CERTIFICATE_EXPIRES = datetime(2045, 1, 1, tzinfo=timezone.utc)
_INSTALLER = {  # kind: (common-name prefix, Apple extension OID or None)
    "mac_app_store": ("3rd Party Mac Developer Installer", "1.2.840.113635.100.6.1.8"),
    "developer_id": ("Developer ID Installer", "1.2.840.113635.100.6.1.14"),
    "development": ("Apple Development", "1.2.840.113635.100.6.1.12"),
    "other": ("Sample Code Signing (not an Apple certificate)", None),
}
_PROFILE_CERTIFICATE = {"app-store": "3rd Party Mac Developer Application", "development": "Apple Development",
                        "developer-id": "Developer ID Application"}


@functools.lru_cache(maxsize=4)
def _key(seed: int) -> rsa.RSAPrivateKey:
    return deterministic_rsa_key(seed + 7000)


# A certificate is a pure function of these arguments (the key is its seed's, an RSA PKCS#1 v1.5 signature is
# deterministic, cryptography writes the validity as the UTC instant): made once a process for each (~3 ms), it is
# what a fresh build would make, and immutable. typed: an int serial and an equal bool would be one key otherwise.
@functools.lru_cache(maxsize=64, typed=True)
def _certificate(subject: x509.Name, key: rsa.RSAPrivateKey, serial: int, expires: datetime,
                 oid: str | None) -> x509.Certificate:
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sample Developer Relations CA (not Apple)"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "appstore-publish sample")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(serial).not_valid_before(_CERTIFICATE_FROM).not_valid_after(expires))
    if oid:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00"), critical=True)
    return builder.sign(key, hashes.SHA256())


def _team_name(prefix: str, team_id: str, team_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.USER_ID, team_id),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{prefix}: {team_name} ({team_id})"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, team_name),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])


def installer_identity(kind: str, team_id: str, team_name: str, expires: datetime,
                       seed: int) -> tuple[rsa.RSAPrivateKey, tuple[x509.Certificate, ...]]:
    key = _key(seed)
    prefix, oid = _INSTALLER[kind]
    subject = (_team_name(prefix, team_id, team_name) if kind != "other"
               else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, prefix)]))
    leaf = _certificate(subject, key, 0x1A57 + seed, expires, oid)
    authority = _certificate(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Sample Developer Relations CA (not Apple)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "appstore-publish sample")]), key, 2, CERTIFICATE_EXPIRES, None)
    return key, (leaf, authority)


def cms_signature(identity: tuple[rsa.RSAPrivateKey, tuple[x509.Certificate, ...]], data: bytes, *,
                  signed_attributes: bool = False) -> bytes:
    """A detached CMS SignedData over `data` (the TOC checksum), as in a package's <x-signature style="CMS">.
    With signed attributes (as productsign writes them) it carries a signing time, so it is not deterministic."""
    key, chain = identity
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(chain[0], key, hashes.SHA256())
    for certificate in chain[1:]:
        builder = builder.add_certificate(certificate)
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.DER, options if signed_attributes else
                        [*options, pkcs7.PKCS7Options.NoAttributes])


@functools.lru_cache(maxsize=32, typed=True)
def cms_size(identity: tuple[rsa.RSAPrivateKey, tuple[x509.Certificate, ...]], digest_size: int, *,
             signed_attributes: bool = False) -> int:
    """The length of cms_signature over any digest of that size: a package's table of contents gives the signature's
    size before the signature (over that table's checksum) can be made. Fixed: the RSA signature is always the key's
    size, and a signing time (with signed attributes) is a UTCTime of fixed length."""
    return len(cms_signature(identity, b"\0" * digest_size, signed_attributes=signed_attributes))


def mac_profile_der(*, bundle_id: str = "com.example.mac", profile_type: str = "app-store",
                    team_id: str = DEFAULT_TEAM_ID, team_name: str = "Example Team",
                    created: datetime = DEFAULT_PROFILE_CREATED, expires: datetime = DEFAULT_PROFILE_EXPIRES,
                    get_task_allow: bool | None = None, seed: int = 1) -> bytes:
    """A signed macOS provisioning profile (embedded.provisionprofile bytes) of the given kind."""
    key = _key(seed)
    developer = _certificate(_team_name(_PROFILE_CERTIFICATE[profile_type], team_id, team_name), key,
                             0x5A3E11 + seed, CERTIFICATE_EXPIRES, None)
    signer = _certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sample Profile Signing (not Apple)")]),
                          key, 3, CERTIFICATE_EXPIRES, None)
    allow = get_task_allow if get_task_allow is not None else profile_type == "development"
    entitlements: dict[str, Any] = {
        "com.apple.application-identifier": f"{team_id}.{bundle_id}",
        "com.apple.developer.team-identifier": team_id,
        "keychain-access-groups": [f"{team_id}.*"],
    }
    if allow:
        entitlements["com.apple.security.get-task-allow"] = True
    digest = hashlib.sha256(f"{profile_type}:{team_id}:{bundle_id}:{created.isoformat()}".encode()).hexdigest()
    plist: dict[str, Any] = {
        "AppIDName": bundle_id, "ApplicationIdentifierPrefix": [team_id],
        "CreationDate": created.astimezone(timezone.utc).replace(tzinfo=None),
        "DeveloperCertificates": [developer.public_bytes(serialization.Encoding.DER)],
        "Entitlements": entitlements,
        "ExpirationDate": expires.astimezone(timezone.utc).replace(tzinfo=None),
        "IsXcodeManaged": False, "Name": f"{bundle_id} Mac {profile_type}", "Platform": ["OSX"],
        "TeamIdentifier": [team_id], "TeamName": team_name,
        "TimeToLive": max(1, (expires - created).days),
        "UUID": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}", "Version": 1,
    }
    if profile_type == "development":
        plist["ProvisionedDevices"] = [f"00008103-{hashlib.sha1(b'mac').hexdigest()[:16].upper()}"]
    if profile_type == "developer-id":
        plist["ProvisionsAllDevices"] = True
    return signed_profile(plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True), key, signer, developer)


__all__ = ["CERTIFICATE_EXPIRES", "INSTALLER_CERTIFICATES", "MAC_PROFILE_TYPES", "cms_signature", "cms_size",
           "installer_identity", "mac_profile_der"]
