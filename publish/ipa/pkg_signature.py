"""The installer signature of a .pkg: which kind of certificate signed it, and whether the signature holds.

productbuild --sign / productsign put an RSA signature in the xar heap and the signing certificate chain
(leaf first) in the TOC's <signature><KeyInfo>; what is signed is the TOC checksum, a digest of the
compressed TOC, itself covering every file's checksum. So checking the signature against the leaf's public
key (PKCS#1 v1.5 over that digest) tells whether the package was changed after signing. Whether the chain
leads to Apple's root is not decided here (no Apple roots are shipped); the kind of certificate is what
App Store Connect turns a package away for: only a "3rd Party Mac Developer Installer" (now named "Mac
Installer Distribution") certificate is accepted, never "Developer ID Installer", which is for packages
distributed outside the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from publish.ipa.pkg_model import (SIGNED_DEVELOPER_ID, SIGNED_DEVELOPMENT, SIGNED_MAC_APP_STORE, SIGNED_OTHER,
                                   UNSIGNED, InstallerSignature)
from publish.ipa.xar import XarArchive, XarSignature

# Common-name prefixes Apple gives its certificates, and what they mean for an installer package.
_KIND_BY_NAME = (
    ("3rd Party Mac Developer Installer:", SIGNED_MAC_APP_STORE),
    ("Mac Installer Distribution:", SIGNED_MAC_APP_STORE),
    ("Developer ID Installer:", SIGNED_DEVELOPER_ID),
    ("Apple Development:", SIGNED_DEVELOPMENT),
    ("Mac Developer:", SIGNED_DEVELOPMENT),
)
# Apple's certificate extensions marking the purpose, for certificates whose name says nothing.
_KIND_BY_EXTENSION = (
    ("1.2.840.113635.100.6.1.8", SIGNED_MAC_APP_STORE),  # Mac App Store package submission signing
    ("1.2.840.113635.100.6.1.10", SIGNED_MAC_APP_STORE),  # Mac App Store installer signing
    ("1.2.840.113635.100.6.1.14", SIGNED_DEVELOPER_ID),  # Developer ID installer signing
    ("1.2.840.113635.100.6.1.12", SIGNED_DEVELOPMENT),  # Mac development signing
    ("1.2.840.113635.100.6.1.2", SIGNED_DEVELOPMENT),  # (iPhone / Apple) development signing
)
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "md5": hashes.MD5, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
                                                           "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def installer_signature(archive: XarArchive) -> InstallerSignature:
    """The signature Installer checks (the RSA one), else the CMS one; UNSIGNED when there is neither."""
    chosen = _choose(archive.signatures)
    if chosen is None:
        return InstallerSignature(UNSIGNED, None, None, None, None, None, None, None, [], None)
    certificates = [c for c in (_load(der) for der in chosen.certificates) if c is not None]
    if not certificates:
        return InstallerSignature(SIGNED_OTHER, chosen.style, None, None, None, None, None, None, [], False)
    leaf = certificates[0]
    return InstallerSignature(
        type=certificate_kind(leaf),
        style=chosen.style,
        common_name=_name(leaf, NameOID.COMMON_NAME),
        team_id=_name(leaf, NameOID.ORGANIZATIONAL_UNIT_NAME),
        organization=_name(leaf, NameOID.ORGANIZATION_NAME),
        serial_number=format(leaf.serial_number, "X"),
        sha1=leaf.fingerprint(hashes.SHA1()).hex().upper(),
        not_valid_after=leaf.not_valid_after_utc,
        chain=[_name(c, NameOID.COMMON_NAME) or "?" for c in certificates],
        verified=_verify(archive, chosen, leaf) if chosen.style.upper() == "RSA"
        else _verify_cms(archive, chosen, leaf) if chosen.style.upper() == "CMS" else None,
    )


def certificate_kind(certificate: x509.Certificate) -> str:
    name = _name(certificate, NameOID.COMMON_NAME) or ""
    for prefix, kind in _KIND_BY_NAME:
        if name.startswith(prefix):
            return kind
    present = {ext.oid.dotted_string for ext in certificate.extensions} if _has_extensions(certificate) else set()
    for oid, kind in _KIND_BY_EXTENSION:
        if oid in present:
            return kind
    return SIGNED_OTHER


def _choose(signatures: list[XarSignature]) -> XarSignature | None:
    rsa_signatures = [s for s in signatures if s.element == "signature"]
    preferred = rsa_signatures or signatures
    return preferred[0] if preferred else None


def _verify(archive: XarArchive, signature: XarSignature, leaf: x509.Certificate) -> bool:
    if archive.toc_digest is None or archive.checksum_algorithm not in _HASHES:
        return False  # nothing binds the files to the signature
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(archive.read_signature(signature), archive.toc_digest, padding.PKCS1v15(),
                   Prehashed(_HASHES[archive.checksum_algorithm]()))
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def _verify_cms(archive: XarArchive, signature: XarSignature, leaf: x509.Certificate) -> bool:
    """A detached CMS SignedData over the TOC checksum, signed by the leaf (with or without signed attributes)."""
    if archive.toc_digest is None:
        return False
    try:
        signer = cms.ContentInfo.load(archive.read_signature(signature))["content"]["signer_infos"][0]
        algorithm = _HASHES[signer["digest_algorithm"]["algorithm"].native]
        if signer["signature_algorithm"]["algorithm"].native not in ("rsassa_pkcs1v15", "sha1_rsa", "sha256_rsa"):
            return False
        signed = archive.toc_digest
        attributes = signer["signed_attrs"]
        if attributes.native is not None:
            digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
            if digests != [hashlib.new(algorithm().name, archive.toc_digest).digest()]:
                return False
            signed = attributes.untag().dump()  # what is signed is the attributes as a SET, not as [0]
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        key.verify(signer["signature"].native, signed, padding.PKCS1v15(), algorithm())
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, KeyError, TypeError, IndexError):
        return False
    return True


def _load(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _has_extensions(certificate: x509.Certificate) -> bool:
    try:
        certificate.extensions  # noqa: B018 - parsing happens on access and may fail on odd certificates
    except ValueError:
        return False
    return True


def _name(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    try:
        values = certificate.subject.get_attributes_for_oid(oid)
    except ValueError:
        return None
    return str(values[0].value) if values else None


__all__ = ["certificate_kind", "installer_signature"]
