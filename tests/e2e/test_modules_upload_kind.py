"""The upload engine names the binary it sends: "IPA" for an app archive, "package" for a macOS installer package
(issue 14: its log lines and messages said "IPA" for a .pkg). Over real loopback HTTP against the simulator."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flow_harness import BUNDLE_ID, FlowWorld
from publish.errors import InputError
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.sample_pkg import build_pkg

ENGINE_LOG = "publish.upload.engine"


def _uploader(world: FlowWorld):
    from publish.asc.auth import ApiKey
    from publish.asc.client import AppStoreConnect
    from publish.secrets import normalize_private_key
    from publish.upload.engine import BuildUploader

    key = ApiKey(key_id="FLOWKEY123", issuer_id="69a6de70-03db-47e3-e053-5b8c7c11a4d1",
                 private_key_pem=normalize_private_key(world.private_pem))
    client = AppStoreConnect(key, base_url=world.server.url, sleep=lambda s: None)
    return BuildUploader(client, state_dir=world.state_dir, poll_interval=0.0, sleep=lambda s: None)


def _engine_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ENGINE_LOG]


def _pkg(world: FlowWorld, build_number: str, name: str, **options) -> Path:
    options.setdefault("display_name", "Flow App")
    return build_pkg(world.directory / name, bundle_id=BUNDLE_ID, version="1.0.0", build_number=build_number,
                     **options)


def test_a_package_uploaded_again_is_called_a_package(world: FlowWorld, caplog: pytest.LogCaptureFixture) -> None:
    uploader = _uploader(world)
    pkg = _pkg(world, "7", "Mac.pkg")
    upload = dict(app_id=world.app_id, bundle_id=BUNDLE_ID, version="1.0.0", build_number="7", platform="MAC_OS")
    uploader.upload(pkg, **upload)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=ENGINE_LOG):
        again = uploader.upload(pkg, **upload)
    assert again.reused
    lines = _engine_lines(caplog)
    assert any(line.startswith("This package is already on App Store Connect") for line in lines), lines
    assert not any("IPA" in line for line in lines), lines

    other = _pkg(world, "7", "Other.pkg", display_name="Other Name")
    with pytest.raises(InputError) as refused:
        uploader.upload(other, **upload)
    assert "rebuild the package and run again" in refused.value.hint and "IPA" not in refused.value.hint


def test_an_ipa_is_still_called_an_ipa(world: FlowWorld, caplog: pytest.LogCaptureFixture) -> None:
    uploader = _uploader(world)
    ipa = build_ipa(world.directory / "App.ipa", bundle_id=BUNDLE_ID, version="1.0.0", build_number="8")
    upload = dict(app_id=world.app_id, bundle_id=BUNDLE_ID, version="1.0.0", build_number="8")
    uploader.upload(ipa, **upload)
    with caplog.at_level(logging.INFO, logger=ENGINE_LOG):
        uploader.upload(ipa, **upload)
    assert any(line.startswith("This IPA is already on App Store Connect") for line in _engine_lines(caplog))


@pytest.mark.parametrize(("platform", "name", "said"), [
    ("MAC_OS", "Missing.pkg", "The package"),
    ("IOS", "Missing.ipa", "The IPA"),
])
def test_a_missing_binary_is_named_by_its_kind(world: FlowWorld, platform: str, name: str, said: str) -> None:
    with pytest.raises(InputError, match=f"^{said} .*{name} does not exist"):
        _uploader(world).upload(world.directory / name, app_id=world.app_id, bundle_id=BUNDLE_ID, version="1.0.0",
                                build_number="9", platform=platform)
