"""macOS .pkg inspection and pre-flight: real round trips through sample packages (every payload and cpio
format, both package kinds), every defect kind to its finding, the JSON against schemas/pkg-info.schema.json,
and an independent reader (libarchive's bsdtar) agreeing that the samples are sound xar archives."""

from __future__ import annotations

import json
import lzma
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from publish.ipa import IpaError
from publish.ipa.pkg import inspect_pkg, looks_like_pkg, mac_profile
from publish.ipa.pkg_preflight import run_pkg_preflight
from publish.ipa.profile import parse_provisioning_profile
from publish.sandbox.sample_pkg import DEFECTS, build_pkg, mac_profile_der
import speed_schemas

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
SCHEMA = json.loads(files("publish.schemas").joinpath("pkg-info.schema.json").read_text())


@pytest.fixture(scope="module")
def valid_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pkg(tmp_path_factory.mktemp("pkg") / "Example.pkg", bundle_id="com.example.notes", version="2.3.1",
                     build_number="45", display_name="Notes Pro")


def test_product_archive_round_trip(valid_pkg: Path) -> None:
    info = inspect_pkg(valid_pkg)
    assert (info.bundle_id, info.version, info.build_number) == ("com.example.notes", "2.3.1", "45")
    assert (info.platform, info.kind, info.uti, info.asset_type) == ("MAC_OS", "product_archive", "com.apple.pkg", "ASSET")
    assert info.display_name == "Notes Pro" and info.executable == "NotesPro" and info.has_executable
    assert info.app_path == "NotesPro.app" and info.component == "NotesPro.pkg" and info.apps == ["NotesPro.app"]
    assert (info.minimum_os, info.category) == ("12.0", "public.app-category.developer-tools")
    assert info.uses_non_exempt_encryption is False and info.has_code_signature
    assert (info.install_location, info.product_id, info.product_version) == ("/Applications", "com.example.notes", "2.3.1")
    assert info.payload_format == "gzip/odc" and info.payload_entry_count == 12  # 6 directories (with "."), 6 files
    assert (info.installed_path, info.icon_files) == ("/Applications/NotesPro.app", ["AppIcon.icns"])
    assert info.file_size == valid_pkg.stat().st_size and len(info.fingerprint) == 64
    assert info.profile is not None and info.profile.type == "app-store"
    assert (info.profile.app_id, info.profile.team_id) == ("com.example.notes", "A1B2C3D4E5")
    signature = info.signature
    assert (signature.type, signature.style, signature.verified) == ("mac_app_store", "RSA", True)
    assert signature.common_name == "3rd Party Mac Developer Installer: Example Team (A1B2C3D4E5)"
    assert signature.team_id == "A1B2C3D4E5" and len(signature.chain) == 2
    assert run_pkg_preflight(valid_pkg, now=NOW) == []


@pytest.mark.parametrize("payload_format", ["gzip", "pbzx", "xz"])
@pytest.mark.parametrize("cpio_format", ["odc", "newc"])
def test_every_payload_format_is_read(tmp_path: Path, payload_format: str, cpio_format: str) -> None:
    path = build_pkg(tmp_path / "a.pkg", payload_format=payload_format, cpio_format=cpio_format, build_number="9")
    info = inspect_pkg(path)
    assert info.payload_format == f"{payload_format}/{cpio_format}"
    assert (info.bundle_id, info.build_number, info.has_executable, info.has_code_signature) == ("com.example.mac", "9", True, True)
    assert info.profile is not None and info.signature.verified is True


def test_pbzx_payload_of_several_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 MiB of incompressible padding: several 1 MiB pbzx chunks, stored raw as Apple does when xz cannot shrink them.
    tried: list[int] = []
    compress = lzma.compress

    def counted(data: bytes, **options: Any) -> bytes:
        tried.append(len(data))
        return compress(data, **options)

    monkeypatch.setattr(lzma, "compress", counted)
    path = build_pkg(tmp_path / "a.pkg", payload_format="pbzx", payload_padding=3 * 1024 * 1024 + 17)
    info = inspect_pkg(path)
    assert info.payload_format == "pbzx/odc" and info.has_code_signature and info.profile is not None
    # Of the 4 chunks only the first and the last hold more than padding: the builder tries xz on those alone.
    assert len(tried) == 2, tried


def test_component_package_is_inspected_and_refused_by_preflight(tmp_path: Path) -> None:
    path = build_pkg(tmp_path / "c.pkg", kind="component")
    info = inspect_pkg(path)
    assert (info.kind, info.component, info.product_id, info.bundle_id) == ("component_package", "", None, "com.example.mac")
    [finding] = run_pkg_preflight(path, now=NOW)
    assert (finding.id, finding.severity) == ("pkg.component_package", "error")
    assert "productbuild" in finding.message


def test_sha256_toc_checksum(tmp_path: Path) -> None:
    info = inspect_pkg(build_pkg(tmp_path / "a.pkg", toc_checksum="sha256"))
    assert info.signature.verified is True


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_gives_its_finding(tmp_path: Path, defect: str) -> None:
    kwargs, finding_id = DEFECTS[defect]
    findings = run_pkg_preflight(build_pkg(tmp_path / f"{defect}.pkg", **kwargs), now=NOW)
    ids = [f.id for f in findings]
    assert finding_id in ids, ids
    finding = next(f for f in findings if f.id == finding_id)
    # Apple takes these uploads (with a warning), but the build lacks something: TestFlight, or the store's icon.
    assert finding.severity == ("warning" if defect in ("no_profile", "no_icon") else "error")
    assert len(finding.message) > 60
    # Every defect is one problem: nothing else is reported but what follows from it.
    followers = {"get_task_allow": {"profile.development"}, "development_profile": {"entitlements.get_task_allow"}}
    assert set(ids) - {finding_id} <= followers.get(defect, set()), ids


def test_inspection_failures_raise_ipa_error_with_the_finding_id(tmp_path: Path) -> None:
    for defect in ("not_a_xar", "no_app", "two_apps", "no_info_plist", "corrupt_info_plist"):
        kwargs, finding_id = DEFECTS[defect]
        with pytest.raises(IpaError) as caught:
            inspect_pkg(build_pkg(tmp_path / f"{defect}.pkg", **kwargs))
        assert caught.value.finding_id == finding_id and caught.value.exit_code == 2
    with pytest.raises(IpaError) as caught:
        inspect_pkg(build_pkg(tmp_path / "keys.pkg", omit_info_keys=("CFBundleVersion",)))
    assert caught.value.finding_id == "plist.missing_key" and "CFBundleVersion" in str(caught.value)


def test_expected_bundle_id_mismatch(valid_pkg: Path) -> None:
    [finding] = run_pkg_preflight(valid_pkg, expected_bundle_id="com.example.other", now=NOW)
    assert finding.id == "bundle_id.profile_mismatch" and "com.example.notes" in finding.message
    assert run_pkg_preflight(valid_pkg, expected_bundle_id="com.example.notes", now=NOW) == []


def test_warnings(tmp_path: Path) -> None:
    path = build_pkg(tmp_path / "w.pkg", uses_non_exempt_encryption=None, omit_info_keys=("LSMinimumSystemVersion",),
                     profile_expires=NOW + timedelta(days=3))
    findings = run_pkg_preflight(path, now=NOW)
    assert {(f.id, f.severity) for f in findings} == {
        ("encryption.undeclared", "warning"), ("profile.expiring_soon", "warning")}
    assert inspect_pkg(path).minimum_os == "12.0"  # from the Distribution's allowed os-version
    component = build_pkg(tmp_path / "c.pkg", kind="component", omit_info_keys=("LSMinimumSystemVersion",))
    assert "plist.minimum_os_missing" in [f.id for f in run_pkg_preflight(component, now=NOW)]


def test_installer_and_profile_of_different_teams(tmp_path: Path) -> None:
    der = mac_profile_der(bundle_id="com.example.mac", team_id="ZZZZZZZZZZ")
    findings = run_pkg_preflight(build_pkg(tmp_path / "t.pkg", profile_bytes=der), now=NOW)
    assert [(f.id, f.severity) for f in findings] == [("pkg.team_mismatch", "warning")]


def test_a_second_top_level_app_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IpaError) as caught:
        inspect_pkg(build_pkg(tmp_path / "two.pkg", extra_apps=("Helper",)))
    assert caught.value.finding_id == "pkg.several_apps" and "Helper.app" in str(caught.value)


def test_mac_profile_kinds_and_app_id() -> None:
    for kind, expected_get_task_allow in (("app-store", False), ("development", True), ("developer-id", False)):
        raw = parse_provisioning_profile(mac_profile_der(profile_type=kind, bundle_id="com.example.kinds"))
        assert raw.app_id is None  # the IPA reader looks for iOS's key; macOS uses com.apple.application-identifier
        profile = mac_profile(raw)
        assert (profile.type, profile.app_id, profile.get_task_allow) == (kind, "com.example.kinds", expected_get_task_allow)
        assert profile.matches_bundle_id("com.example.kinds") and not profile.matches_bundle_id("com.example.other")


def test_samples_are_deterministic(tmp_path: Path) -> None:
    first = build_pkg(tmp_path / "1.pkg", payload_format="pbzx").read_bytes()
    assert build_pkg(tmp_path / "2.pkg", payload_format="pbzx").read_bytes() == first
    assert inspect_pkg(tmp_path / "1.pkg").fingerprint == inspect_pkg(tmp_path / "2.pkg").fingerprint
    assert inspect_pkg(build_pkg(tmp_path / "3.pkg", build_number="2")).fingerprint != inspect_pkg(tmp_path / "1.pkg").fingerprint


def test_json_matches_schema(valid_pkg: Path, tmp_path: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    speed_schemas.validate(inspect_pkg(valid_pkg).to_json(), SCHEMA)
    unsigned = inspect_pkg(build_pkg(tmp_path / "u.pkg", installer_certificate=None, profile_type=None, kind="component"))
    document = unsigned.to_json()
    speed_schemas.validate(document, SCHEMA)
    assert document["signature"]["type"] == "unsigned" and document["profile"] is None
    assert set(document) == set(SCHEMA["required"])


@pytest.mark.skipif(shutil.which("bsdtar") is None, reason="libarchive's bsdtar is not installed (apt-get install libarchive-tools)")
def test_libarchive_reads_the_samples_and_their_payload(tmp_path: Path) -> None:
    path = build_pkg(tmp_path / "a.pkg", payload_format="gzip", cpio_format="odc")
    listing = subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, text=True, check=True).stdout.split()
    assert listing == ["Distribution", "Example.pkg/Bom", "Example.pkg/PackageInfo", "Example.pkg/Payload"]
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["bsdtar", "-xf", str(path), "-C", str(out)], check=True)  # checks every archived checksum
    payload = subprocess.run(["bsdtar", "-tf", str(out / "Example.pkg" / "Payload")], capture_output=True, text=True,
                             check=True).stdout.split()
    assert "./Example.app/Contents/Info.plist" in payload and "./Example.app/Contents/embedded.provisionprofile" in payload
    damaged = bytearray(path.read_bytes())
    damaged[-200] ^= 0xFF  # inside the Payload's heap bytes
    (tmp_path / "bad.pkg").write_bytes(bytes(damaged))
    bad = subprocess.run(["bsdtar", "-xf", str(tmp_path / "bad.pkg"), "-C", str(out)], capture_output=True)
    assert bad.returncode != 0
    [finding] = run_pkg_preflight(tmp_path / "bad.pkg", now=NOW)
    assert finding.id in ("pkg.checksum_mismatch", "pkg.corrupt")


@pytest.mark.parametrize(("styles", "attributes", "chosen"), [
    (("RSA", "CMS"), False, "RSA"), (("CMS",), False, "CMS"), (("CMS",), True, "CMS"), (("RSA",), False, "RSA")])
def test_signature_styles_are_checked(tmp_path: Path, styles: tuple[str, ...], attributes: bool, chosen: str) -> None:
    # productsign writes an RSA <signature> and a CMS <x-signature> side by side; Installer checks the RSA one.
    for tampered in (False, True):
        path = build_pkg(tmp_path / "s.pkg", signature_styles=styles, cms_signed_attributes=attributes,
                         tamper_after_signing=tampered)
        signature = inspect_pkg(path).signature
        assert (signature.style, signature.type, signature.verified) == (chosen, "mac_app_store", not tampered)
        ids = [f.id for f in run_pkg_preflight(path, now=NOW)]
        assert ids == (["pkg.signature_invalid"] if tampered else [])


def test_looks_like_pkg_by_content_not_name(valid_pkg: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "App.ipa"
    renamed.write_bytes(valid_pkg.read_bytes())
    assert looks_like_pkg(valid_pkg) and looks_like_pkg(renamed)
    ipa = tmp_path / "named.pkg"
    with zipfile.ZipFile(ipa, "w") as archive:
        archive.writestr("Payload/App.app/Info.plist", b"")
    assert not looks_like_pkg(ipa) and not looks_like_pkg(tmp_path / "missing.pkg") and not looks_like_pkg(tmp_path)
