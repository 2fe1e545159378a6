"""The Apple-ID path with a fake iTMSTransporter / xcrun on PATH that records its argv and environment."""

from __future__ import annotations

import json
import logging
import plistlib
import stat
import sys
from pathlib import Path

import pytest

from publish.errors import InputError, RemoteError
from publish.redact import Redactor
from publish.upload.transporter import (
    PASSWORD_ENV,
    TransporterUploader,
    find_upload_tool,
    upload_command,
    xcode_developer_dir,
)

PASSWORD = "abcd-efgh-ijkl-mnop"

FAKE_TOOL = """#!{python}
import json, os, sys
with open({record!r}, "a") as out:
    out.write(json.dumps({{"argv": sys.argv, "env": dict(os.environ)}}) + "\\n")
print("Transporter starting")
print("echoing the secret by mistake: " + os.environ.get({env!r}, "<none>"))
code = int(os.environ.get("FAKE_EXIT", "0"))
if code:
    print("ERROR ITMS-90062: This bundle is invalid. The value for key CFBundleShortVersionString must be higher.")
    print("some trailing noise")
sys.exit(code)
"""


def _fake(directory: Path, name: str, record: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(FAKE_TOOL.format(python=sys.executable, record=str(record), env=PASSWORD_ENV))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _ipa(tmp_path: Path) -> Path:
    path = tmp_path / "App.ipa"
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    # Transporter off macOS needs Xcode's asset description beside the IPA (tests/test_appleid_transporter.py).
    (tmp_path / "AppStoreInfo.plist").write_bytes(plistlib.dumps({"bundle-identifier": "com.example.app"}))
    return path


def _records(record: Path) -> list[dict]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_transporter_gets_the_password_from_the_environment_only(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    record = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "iTMSTransporter", record)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    caplog.set_level(logging.INFO, logger="publish")
    result = TransporterUploader(env=env, redactor=Redactor()).upload(_ipa(tmp_path), apple_id="dev@example.com",
                                                                       password=PASSWORD, provider="TEAM1")
    [call] = _records(record)
    assert result.exit_code == 0 and result.tool == "itmstransporter"
    assert PASSWORD not in " ".join(call["argv"])
    assert call["env"][PASSWORD_ENV] == PASSWORD
    argv = call["argv"][1:]
    assert argv[:4] == ["-m", "upload", "-assetFile", str(tmp_path / "App.ipa")]
    assert argv[argv.index("-p") + 1] == f"@env:{PASSWORD_ENV}"
    assert argv[argv.index("-u") + 1] == "dev@example.com"
    assert argv[argv.index("-itc_provider") + 1] == "TEAM1"
    # the tool's output is streamed to the log, with the password masked
    assert "Transporter starting" in caplog.text
    assert PASSWORD not in caplog.text and "***" in caplog.text
    assert all(PASSWORD not in line for line in result.output_tail)


def test_failure_reports_the_tools_error_lines(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "iTMSTransporter", record)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "FAKE_EXIT": "1"}
    with pytest.raises(RemoteError) as caught:
        TransporterUploader(env=env).upload(_ipa(tmp_path), apple_id="dev@example.com", password=PASSWORD)
    text = str(caught.value)
    assert "exit code 1" in text and "ITMS-90062" in text and PASSWORD not in text
    assert "CFBundleVersion" in text  # the hint


def test_transporter_found_in_its_install_directory(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    home = tmp_path / "home"
    tool = _fake(home / "itms" / "bin", "iTMSTransporter", record)
    found = find_upload_tool(env={"PATH": str(tmp_path / "empty"), "HOME": str(home)}, system="Linux")
    assert found.kind == "itmstransporter" and found.command == (str(tool),)


def test_no_tool_says_how_to_install_transporter_or_use_an_api_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        find_upload_tool(env={"PATH": str(tmp_path), "HOME": str(tmp_path)}, system="Linux",
                         is_executable=lambda p: False)
    assert "Transporter for Linux" in caught.value.hint and "api_key" in caught.value.hint


def test_altool_on_macos_with_xcode_version_sets_developer_dir(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "xcrun", record)
    apps = tmp_path / "Applications"
    (apps / "Xcode_16.2.app" / "Contents" / "Developer").mkdir(parents=True)

    def find(**kw: object) -> object:
        return find_upload_tool(**kw, system="Darwin", applications=apps)  # type: ignore[arg-type]

    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    TransporterUploader(env=env, xcode_version="16.2", find_tool=find).upload(
        _ipa(tmp_path), apple_id="dev@example.com", password=PASSWORD, platform="TV_OS")
    [call] = _records(record)
    assert call["argv"][1:3] == ["altool", "--upload-app"]
    assert call["argv"][call["argv"].index("-t") + 1] == "appletvos"
    assert call["argv"][call["argv"].index("-p") + 1] == f"@env:{PASSWORD_ENV}"
    assert PASSWORD not in " ".join(call["argv"])
    assert call["env"]["DEVELOPER_DIR"] == str(apps / "Xcode_16.2.app" / "Contents" / "Developer")
    assert call["env"][PASSWORD_ENV] == PASSWORD


def test_missing_xcode_version_lists_installed_ones(tmp_path: Path) -> None:
    (tmp_path / "Xcode-15.4.app" / "Contents" / "Developer").mkdir(parents=True)
    assert xcode_developer_dir("15.4", tmp_path).name == "Developer"
    with pytest.raises(InputError) as caught:
        xcode_developer_dir("16.1", tmp_path)
    assert "Xcode 16.1 is not installed" in caught.value.message and "Xcode-15.4.app" in caught.value.hint


def test_xcode_version_is_ignored_off_macos(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    _fake(tmp_path / "bin", "iTMSTransporter", record)
    tool = find_upload_tool(env={"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)}, xcode_version="16.2",
                            system="Linux")
    assert tool.kind == "itmstransporter"


def test_command_never_contains_the_password() -> None:
    from publish.upload.transporter import UploadTool

    for tool in (UploadTool("altool", ("xcrun", "altool")), UploadTool("itmstransporter", ("iTMSTransporter",))):
        argv = upload_command(tool, Path("/x/App.ipa"), apple_id="a@b.c")
        assert f"@env:{PASSWORD_ENV}" in argv


def test_missing_credentials_or_ipa_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        TransporterUploader(env={}).upload(tmp_path / "nope.ipa", apple_id="a", password="b")
    with pytest.raises(InputError, match="app-specific password"):
        TransporterUploader(env={}).upload(_ipa(tmp_path), apple_id="a", password="")
