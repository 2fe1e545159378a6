"""Transporter and altool with a fake executable on PATH: the asset description Transporter needs off macOS, the
Xcode that xcode_version names, and the tool's errors mapped to advice, the password never on argv or in output."""

from __future__ import annotations

import logging
import plistlib
from pathlib import Path

import pytest

from publish.errors import InputError, RemoteError
from publish.redact import Redactor
from publish.upload.transporter import ASSET_DESCRIPTION_ENV, PASSWORD_ENV, TransporterUploader, find_upload_tool
from publish.upload.transporter import xcode_developer_dir
from transporter_fakes import calls, fake_tool

PASSWORD = "qrst-uvwx-yzab-cdef"

def ipa(directory: Path, *, description: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "App.ipa"
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    if description:
        (directory / "AppStoreInfo.plist").write_bytes(plistlib.dumps({"bundle-identifier": "com.example.app",
                                                                       "software-assets": []}))
    return path


def uploader(tmp_path: Path, **env: str) -> TransporterUploader:
    base = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)}
    return TransporterUploader(env={**base, **env}, redactor=Redactor(),
                               find_tool=lambda **kw: find_upload_tool(system="Linux", **kw))


# ------------------------------------------------------------------------------------------------ asset description


def test_transporter_on_linux_without_the_asset_description_stops_before_the_tool_runs(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin")
    with pytest.raises(InputError) as caught:
        uploader(tmp_path).upload(ipa(tmp_path / "out", description=False), apple_id="ci@example.com",
                                  password=PASSWORD)
    error = caught.value
    assert error.exit_code == 2
    assert "needs an asset description (-assetDescription AppStoreInfo.plist)" in error.message
    assert "generateAppStoreInformation" in error.hint and "cannot be made without Xcode" in error.hint
    assert "api_key" in error.hint
    assert calls(tmp_path / "bin") == []


def test_the_asset_description_beside_the_ipa_is_passed_absolute(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    fake_tool(tmp_path / "bin")
    caplog.set_level(logging.INFO, logger="publish")
    binary = ipa(tmp_path / "out")
    result = uploader(tmp_path).upload(binary, apple_id="ci@example.com", password=PASSWORD)
    [call] = calls(tmp_path / "bin")
    argv = call["argv"][1:]
    assert argv[argv.index("-assetFile") + 1] == str(binary)
    assert argv[argv.index("-assetDescription") + 1] == str((tmp_path / "out" / "AppStoreInfo.plist").resolve())
    assert PASSWORD not in " ".join(call["argv"]) and call["env"][PASSWORD_ENV] == PASSWORD
    assert result.exit_code == 0 and PASSWORD not in caplog.text and "uploaded successfully" in caplog.text


def test_the_asset_description_can_be_named_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path / "bin")
    elsewhere = tmp_path / "export"
    elsewhere.mkdir()
    (elsewhere / "Info-for-store.plist").write_bytes(plistlib.dumps({"a": 1}, fmt=plistlib.FMT_BINARY))
    monkeypatch.chdir(tmp_path)
    uploader(tmp_path, **{ASSET_DESCRIPTION_ENV: "export/Info-for-store.plist"}).upload(
        ipa(tmp_path / "out", description=False), apple_id="ci@example.com", password=PASSWORD)
    argv = calls(tmp_path / "bin")[0]["argv"]
    assert argv[argv.index("-assetDescription") + 1] == str(elsewhere.resolve() / "Info-for-store.plist")


@pytest.mark.parametrize("content, message", [
    (b"not a plist at all", "is not a property list"),
    (plistlib.dumps({}), "is not the dictionary Xcode writes"),
    (plistlib.dumps(["a"]), "is not the dictionary Xcode writes"),
])
def test_a_broken_asset_description_is_an_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    fake_tool(tmp_path / "bin")
    binary = ipa(tmp_path / "out", description=False)
    (binary.parent / "AppStoreInfo.plist").write_bytes(content)
    with pytest.raises(InputError, match=message):
        uploader(tmp_path).upload(binary, apple_id="ci@example.com", password=PASSWORD)
    assert calls(tmp_path / "bin") == []


def test_a_directory_named_as_the_asset_description_is_refused(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin")
    (tmp_path / "dir.plist").mkdir()
    with pytest.raises(InputError, match="which is not a file"):
        uploader(tmp_path, **{ASSET_DESCRIPTION_ENV: str(tmp_path / "dir.plist")}).upload(
            ipa(tmp_path / "out", description=False), apple_id="ci@example.com", password=PASSWORD)


def test_transporter_on_macos_analyses_the_app_itself(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin")
    mac = TransporterUploader(env={"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)},
                              find_tool=lambda **kw: find_upload_tool(system="Darwin", **kw))
    mac.upload(ipa(tmp_path / "out", description=False), apple_id="ci@example.com", password=PASSWORD)
    assert "-assetDescription" not in calls(tmp_path / "bin")[0]["argv"]


# ------------------------------------------------------------------------------------------------ the tool's errors


@pytest.mark.parametrize("mode, advice", [
    ("password", "app-specific password, not the Apple ID's own password"),
    ("redundant", "This build number was uploaded already"),
    ("analysis", "generateAppStoreInformation"),
    ("silent", "Read the tool's messages above"),
])
def test_the_tools_errors_become_advice_without_the_password(tmp_path: Path, mode: str, advice: str) -> None:
    fake_tool(tmp_path / "bin")
    with pytest.raises(RemoteError) as caught:
        uploader(tmp_path, FAKE_MODE=mode).upload(ipa(tmp_path / "out"), apple_id="ci@example.com", password=PASSWORD)
    error = caught.value
    assert error.exit_code == 1
    assert f"failed (exit code {9 if mode == 'silent' else 1})" in error.message
    assert advice in error.hint
    assert PASSWORD not in error.message and PASSWORD not in (error.hint or "")


# ------------------------------------------------------------------------------------------------ xcode_version


def xcode(applications: Path, name: str, version: str) -> Path:
    app = applications / name
    (app / "Contents" / "Developer").mkdir(parents=True)
    (app / "Contents" / "version.plist").write_bytes(plistlib.dumps({"CFBundleShortVersionString": version}))
    return app


def test_xcode_version_finds_an_xcode_by_its_version_plist(tmp_path: Path) -> None:
    xcode(tmp_path, "Xcode.app", "16.2")
    xcode(tmp_path, "Xcode-beta.app", "26.0")
    assert xcode_developer_dir("16.2", tmp_path) == tmp_path / "Xcode.app/Contents/Developer"
    assert xcode_developer_dir("26", tmp_path) == tmp_path / "Xcode-beta.app/Contents/Developer"
    assert xcode_developer_dir("16.2.0", tmp_path) == tmp_path / "Xcode.app/Contents/Developer"


def test_xcode_version_accepts_the_selected_xcode(tmp_path: Path) -> None:
    apps = tmp_path / "Applications"
    apps.mkdir()
    selected = xcode(tmp_path / "elsewhere", "Xcode.app", "15.4")
    found = xcode_developer_dir("15.4", apps, xcode_select=lambda: str(selected / "Contents/Developer"))
    assert found == selected / "Contents/Developer"
    found = xcode_developer_dir("15.4", apps, env={"DEVELOPER_DIR": str(selected / "Contents/Developer")})
    assert found == selected / "Contents/Developer"


def test_a_missing_xcode_lists_the_installed_ones_with_their_versions(tmp_path: Path) -> None:
    xcode(tmp_path, "Xcode.app", "16.2")
    with pytest.raises(InputError) as caught:
        xcode_developer_dir("15.0", tmp_path)
    assert caught.value.exit_code == 2
    assert "Xcode 15.0 is not installed" in caught.value.message
    assert "Xcode.app (16.2)" in caught.value.hint


def test_altool_runs_with_the_developer_dir_of_the_xcode_found_by_version(tmp_path: Path) -> None:
    xcode(tmp_path / "Applications", "Xcode.app", "16.2")
    fake_tool(tmp_path / "bin", "xcrun")
    uploader_ = TransporterUploader(
        env={"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)}, xcode_version="16.2",
        find_tool=lambda **kw: find_upload_tool(system="Darwin", applications=tmp_path / "Applications",
                                                xcode_select=lambda: None, **kw))
    uploader_.upload(ipa(tmp_path / "out", description=False), apple_id="ci@example.com", password=PASSWORD)
    [call] = calls(tmp_path / "bin")
    assert call["argv"][1:3] == ["altool", "--upload-app"]
    assert call["env"]["DEVELOPER_DIR"] == str(tmp_path / "Applications/Xcode.app/Contents/Developer")
    assert PASSWORD not in " ".join(call["argv"])
