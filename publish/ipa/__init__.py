"""IPA inspection and pre-flight checks. Imports nothing else of the project."""

from publish.ipa.errors import IpaError
from publish.ipa.inspect import ExtractedIcon, extract_icon, inspect_ipa
from publish.ipa.model import BundleInfo, IpaInfo
from publish.ipa.preflight import Finding, has_errors, run_preflight
from publish.ipa.profile import ProvisioningProfile, SigningCertificate, parse_provisioning_profile

__all__ = [
    "BundleInfo",
    "ExtractedIcon",
    "Finding",
    "IpaError",
    "IpaInfo",
    "ProvisioningProfile",
    "SigningCertificate",
    "extract_icon",
    "has_errors",
    "inspect_ipa",
    "parse_provisioning_profile",
    "run_preflight",
]
