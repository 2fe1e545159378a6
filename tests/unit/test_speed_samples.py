"""The sample builders make each certificate, profile signature and CMS size once a process (they are pure), so a
sample that differs from an earlier one only in its build number signs nothing again but its package's table of
contents; and what the caches hand out is byte for byte what a build without them makes."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from publish.sandbox import sample_ipa, sample_pkg_signing
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.sample_pkg import build_pkg


def _clear_caches() -> None:
    sample_ipa._signed_profile.cache_clear()
    sample_pkg_signing._certificate.cache_clear()
    sample_pkg_signing.cms_size.cache_clear()


@pytest.fixture
def signings(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many certificates and CMS signatures get made from now on."""
    counts = {"certificates": 0, "cms": 0}
    certificate_sign, cms_sign = x509.CertificateBuilder.sign, pkcs7.PKCS7SignatureBuilder.sign

    def count_certificate(self: x509.CertificateBuilder, *args: Any, **kwargs: Any) -> x509.Certificate:
        counts["certificates"] += 1
        return certificate_sign(self, *args, **kwargs)

    def count_cms(self: pkcs7.PKCS7SignatureBuilder, *args: Any, **kwargs: Any) -> bytes:
        counts["cms"] += 1
        return cms_sign(self, *args, **kwargs)

    monkeypatch.setattr(x509.CertificateBuilder, "sign", count_certificate)
    monkeypatch.setattr(pkcs7.PKCS7SignatureBuilder, "sign", count_cms)
    return counts


def test_another_build_number_signs_no_profile_or_certificate_again(tmp_path: Path, signings: dict[str, int]) -> None:
    arguments: dict[str, Any] = {"bundle_id": "com.example.speed-samples", "watch_app": True}
    build_ipa(tmp_path / "1.ipa", build_number="1", **arguments)
    build_pkg(tmp_path / "1.pkg", build_number="1", bundle_id=arguments["bundle_id"])
    made = dict(signings)
    build_ipa(tmp_path / "2.ipa", build_number="2", **arguments)
    assert signings == made  # the app's, the widget's, the watch app's and its complication's profiles: all kept
    build_pkg(tmp_path / "2.pkg", build_number="2", bundle_id=arguments["bundle_id"])
    assert signings == {"certificates": made["certificates"], "cms": made["cms"] + 1}  # the new table of contents


@pytest.mark.parametrize("build", [build_ipa, build_pkg], ids=["ipa", "pkg"])
def test_a_sample_from_the_caches_is_the_sample_made_without_them(tmp_path: Path, build: Any) -> None:
    arguments: dict[str, Any] = {"bundle_id": "com.example.fresh", "build_number": "4"}
    _clear_caches()
    fresh = Path(build(tmp_path / "fresh", **arguments)).read_bytes()
    build(tmp_path / "warm-other", **{**arguments, "build_number": "5"})
    assert Path(build(tmp_path / "warm", **arguments)).read_bytes() == fresh


def test_an_executable_of_the_usual_size_is_made_once_and_a_large_one_is_not_kept() -> None:
    usual = sample_ipa.mach_o("Speed", 1, 64 * 1024)
    assert sample_ipa.mach_o("Speed", 1, 64 * 1024) is usual and len(usual) == 64 * 1024
    large = sample_ipa.mach_o("Speed", 1, 2 * 1024 * 1024)
    assert sample_ipa.mach_o("Speed", 1, 2 * 1024 * 1024) == large and sample_ipa.mach_o("Speed", 1, 2 * 1024 * 1024) is not large


def test_the_padding_s_random_block_is_made_once_a_seed() -> None:
    block = sample_ipa.pad_block(3)
    assert sample_ipa.pad_block(3) is block and len(block) == 1024 * 1024 and sample_ipa.pad_block(4) != block


def test_an_executable_is_deflated_once_a_process(tmp_path: Path) -> None:
    build_ipa(tmp_path / "1.ipa", bundle_id="com.example.deflated", build_number="1")
    before = sample_ipa._deflated.cache_info()
    build_ipa(tmp_path / "2.ipa", bundle_id="com.example.deflated", build_number="2")
    after = sample_ipa._deflated.cache_info()
    assert (after.hits, after.misses) == (before.hits + 2, before.misses)  # the app's and the widget's executables


def test_a_sample_ipa_is_what_zipfile_writes_for_its_members(tmp_path: Path) -> None:
    # The kept deflated executables are written as stored bytes under a rewritten header: the archive must still be,
    # byte for byte, what zipfile makes of the same members deflating each itself.
    built = build_ipa(tmp_path / "built.ipa", watch_app=True, pad_to=400_000)
    again = tmp_path / "again.ipa"
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(again, "w") as archive:
        for info in source.infolist():
            fresh = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            fresh.create_system, fresh.external_attr = info.create_system, info.external_attr
            fresh.compress_type = info.compress_type
            archive.writestr(fresh, source.read(info), compresslevel=6)
    assert again.read_bytes() == built.read_bytes()
