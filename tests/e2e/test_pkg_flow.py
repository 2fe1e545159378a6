"""macOS installer packages end to end (issue 13 part 6): `info`, `check`, `plan` and `run` take a .pkg (chosen by
content), the upload sends it as an installer package for MAC_OS, and the simulator's own reader processes it
(VALID, or 90054 for another app's bundle ID). Bad packages are refused before any App Store Connect call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from built_samples import BuiltSamples
from flow_harness import BUNDLE_ID, POLL_INTERVAL, FlowWorld
from publish.sandbox.ipa_check import ProcessingFailure
from publish.sandbox.pkg_check import read_uploaded_pkg
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.sample_pkg import DEFECTS, build_pkg
from publish.state import StateStore
from sandbox_api import Api
import speed_schemas

ROOT = Path(__file__).resolve().parents[2]
PKG_SCHEMA = json.loads((ROOT / "schemas" / "pkg-info.schema.json").read_text())
TESTFLIGHT = """
- step: send_to_testflight
  api_key: main
  groups: [QA Team]
  what_to_test: Check the login screen
"""
APP_STORE = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  whats_new: Faster start.
  release_type: manual
  submit_for_review: true
"""


@pytest.fixture(scope="module")
def pkgs(tmp_path_factory: pytest.TempPathFactory) -> BuiltSamples:
    return BuiltSamples(tmp_path_factory.mktemp("flow-pkgs"), build_pkg, ".pkg")


def _pkg(world: FlowWorld, pkgs: BuiltSamples, build_number: str = "1", *, name: str | None = None,
         **options: Any) -> Path:
    path = world.directory / (name or f"Mac-1.0.0-{build_number}.pkg")
    return pkgs.copy(path, bundle_id=options.pop("bundle_id", BUNDLE_ID), version="1.0.0", build_number=build_number,
                     display_name="Flow App", **options)


def _defect(world: FlowWorld, pkgs: BuiltSamples, defect: str) -> Path:
    return _pkg(world, pkgs, name=f"{defect}.pkg", **DEFECTS[defect][0])


# -- info / check / plan ----------------------------------------------------------------------------------------


def test_info_of_a_pkg_text_and_json_valid_against_the_pkg_schema(world: FlowWorld, pkgs: BuiltSamples) -> None:
    pkg = _pkg(world, pkgs)
    out = world.cli(["info", str(pkg), "--json"])
    assert out.code == 0, out.output
    document = json.loads(out.stdout)
    speed_schemas.validate(document, PKG_SCHEMA)
    assert (document["bundle_id"], document["platform"], document["uti"]) == (BUNDLE_ID, "MAC_OS", "com.apple.pkg")

    text = world.cli(["info", str(pkg)])
    assert text.code == 0, text.output
    assert "MAC_OS" in text.stdout
    assert "installer       Mac App Store  3rd Party Mac Developer Installer: " in text.stdout
    assert "installs to /Applications/FlowApp.app" in text.stdout

    # by content, not by name: the same package named .ipa is still a package
    renamed = world.directory / "renamed.ipa"
    renamed.write_bytes(pkg.read_bytes())
    assert json.loads(world.cli(["info", str(renamed), "--json"]).stdout)["uti"] == "com.apple.pkg"

    refused = world.cli(["info", str(pkg), "--icon-out", str(world.directory / "icon.png")])
    assert refused.code == 2 and "--icon-out" in refused.stderr and "Traceback" not in refused.output


def test_info_of_a_file_named_pkg_that_is_none_says_it_is_no_package(world: FlowWorld) -> None:
    junk = world.directory / "junk.pkg"
    junk.write_text("not an installer package\n")
    out = world.cli(["info", str(junk)])
    assert out.code == 2 and "not a xar archive" in out.stderr and "Traceback" not in out.output


def test_check_a_pkg_errors_exit_2_and_testflight_needs_a_profile(world: FlowWorld, pkgs: BuiltSamples) -> None:
    good = world.cli(["check", str(_pkg(world, pkgs)), "--json"])
    assert good.code == 0, good.output
    assert json.loads(good.stdout)["ok"] is True

    signed = world.cli(["check", str(_defect(world, pkgs, "developer_id_signed"))])
    assert signed.code == 2 and "[pkg.signed_developer_id]" in signed.stdout

    no_profile = _defect(world, pkgs, "no_profile")
    assert world.cli(["check", str(no_profile)]).code == 0  # App Store Connect takes it: a warning
    for_testflight = world.cli(["check", str(no_profile), "--for-testflight", "--json"])
    assert for_testflight.code == 2
    [finding] = [f for f in json.loads(for_testflight.stdout)["findings"] if f["id"] == "profile.missing"]
    assert finding["severity"] == "error" and "TestFlight" in finding["message"]


def test_plan_with_a_pkg(world: FlowWorld, pkgs: BuiltSamples) -> None:
    out = world.cli(["plan", str(world.flow(TESTFLIGHT)), "--ipa", str(_pkg(world, pkgs)), "--json"])
    assert out.code == 0, out.output
    plan = json.loads(out.stdout)
    assert plan["ipa"]["platform"] == "MAC_OS" and plan["ipa"]["kind"] == "package" and not plan["warnings"]
    text = world.cli(["plan", str(world.flow(TESTFLIGHT)), "--ipa", str(_defect(world, pkgs, "no_profile"))])
    assert text.code == 0 and text.stdout.startswith("package ") and "ITMS-90889" in text.stdout


# -- run ---------------------------------------------------------------------------------------------------------


def test_run_a_pkg_to_testflight_and_the_app_store(world: FlowWorld, pkgs: BuiltSamples) -> None:
    pkg = _pkg(world, pkgs, payload_padding=300_000)  # several parts
    out = world.run(world.flow(TESTFLIGHT + APP_STORE), pkg)
    assert out.code == 0, out.output
    assert [(s["name"], s["status"]) for s in out.result["steps"]] == [("send_to_testflight", "succeeded"),
                                                                      ("send_to_app_store", "succeeded")]
    assert out.result["platform"] == "MAC_OS"
    [upload] = world.records("buildUploads")
    assert upload.attributes["platform"] == "MAC_OS" and upload.attributes["state"]["state"] == "COMPLETE"
    [file] = world.records("buildUploadFiles")
    assert (file.attributes["uti"], file.attributes["assetType"], file.attributes["fileName"]) == \
        ("com.apple.pkg", "ASSET", pkg.name)
    [build] = world.records("builds")
    assert build.attributes["processingState"] == "VALID" and build.attributes["version"] == "1"
    [version] = world.records("appStoreVersions")
    assert version.attributes["platform"] == "MAC_OS" and version.rels.get("build") == build.id
    [submission] = world.records("reviewSubmissions")
    assert submission.attributes["platform"] == "MAC_OS"
    with StateStore.open(world.state_dir) as store:
        binary = store.get_binary(out.result["fingerprint"])
        kept = store.artifact_path(out.result["fingerprint"])
    assert binary is not None and binary["bundle_id"] == BUNDLE_ID
    assert kept is not None and Path(kept).read_bytes() == pkg.read_bytes()  # keep_binaries: true
    assert "macos" in json.dumps(out.result.get("links", {}))


@pytest.mark.parametrize("defect, finding", [
    ("not_a_xar", "zip archive"), ("developer_id_signed", "pkg.signed_developer_id"), ("unsigned", "pkg.unsigned"),
    ("development_signed", "pkg.signed_development"), ("component_package", "pkg.component_package")])
def test_bad_pkg_is_refused_before_any_remote_call(world: FlowWorld, pkgs: BuiltSamples, defect: str,
                                                   finding: str) -> None:
    out = world.run_counted(world.flow(TESTFLIGHT), _defect(world, pkgs, defect))
    assert out.code == 2, out.output
    assert out.calls == [], out.calls
    assert finding in out.output and "Traceback" not in out.output
    assert not world.records("buildUploads")
    cli = world.run(world.flow(TESTFLIGHT), _defect(world, pkgs, defect))
    assert cli.code == 2 and "Traceback" not in cli.output


def test_pkg_without_profile_refused_for_testflight_but_sent_to_the_app_store(world: FlowWorld, pkgs: BuiltSamples) -> None:
    no_profile = _defect(world, pkgs, "no_profile")
    out = world.run_counted(world.flow(TESTFLIGHT), no_profile)
    assert out.code == 2 and out.calls == [], out.output
    assert "[profile.missing]" in out.output and "TestFlight" in out.output

    shipped = world.run(world.flow(APP_STORE), no_profile)
    assert shipped.code == 0, shipped.output
    assert "ITMS-90889" in shipped.stderr  # still warned about
    assert [b.attributes["processingState"] for b in world.records("builds")] == ["VALID"]


# -- the simulator's own reader ----------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"payload_format": "xz"}, {"payload_format": "pbzx"}, {"cpio_format": "newc"},
                                     {"kind": "component"}, {"payload_padding": 200_000}])
def test_simulator_reads_the_app_of_every_payload_kind(tmp_path: Path, options: dict[str, Any]) -> None:
    app = read_uploaded_pkg(build_pkg(tmp_path / "a.pkg", bundle_id="com.example.reader", version="2.1",
                                      build_number="7", **options))
    assert (app.bundle_id, app.short_version, app.build_version, app.minimum_os) == \
        ("com.example.reader", "2.1", "7", "12.0")


@pytest.mark.parametrize("defect, code", [("not_a_xar", "ITMS-90023"), ("no_app", "ITMS-90168"),
                                          ("two_apps", "ITMS-90168"), ("corrupt_info_plist", "ITMS-90023"),
                                          ("missing_plist_keys", "ITMS-90057")])
def test_simulator_refuses_what_is_no_mac_app(tmp_path: Path, defect: str, code: str) -> None:
    with pytest.raises(ProcessingFailure) as failure:
        read_uploaded_pkg(build_pkg(tmp_path / "bad.pkg", **DEFECTS[defect][0]))
    assert failure.value.code == code


def test_simulator_refuses_truncated_and_an_ipa_as_a_package(tmp_path: Path) -> None:
    data = build_pkg(tmp_path / "a.pkg").read_bytes()
    (tmp_path / "cut.pkg").write_bytes(data[:len(data) // 2])
    with pytest.raises(ProcessingFailure) as cut:
        read_uploaded_pkg(tmp_path / "cut.pkg")
    assert cut.value.code == "ITMS-90023"
    with pytest.raises(ProcessingFailure) as ipa:
        read_uploaded_pkg(Path(build_ipa(tmp_path / "a.ipa")))
    assert ipa.value.code == "ITMS-90023"


def _upload_pkg(api: Api, app_id: str, pkg: Path, build: str, uti: str = "com.apple.pkg") -> Any:  # noqa: F811
    data = pkg.read_bytes()
    upload_id = api.create_upload(app_id, "1.0.0", build, platform="MAC_OS")
    response = api.post("/v1/buildUploadFiles", {"data": {
        "type": "buildUploadFiles",
        "attributes": {"fileName": pkg.name, "fileSize": len(data), "uti": uti, "assetType": "ASSET"},
        "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload_id}}}}})
    if response.status_code != 201:
        return response
    file = response.json()["data"]
    api.put_parts(file["attributes"]["uploadOperations"], data)
    assert api.commit(file["id"]).status_code == 200
    for _ in range(10):  # a just-created upload answers 404 to its first reads (protocol.md H9)
        document = api.get(f"/v1/buildUploads/{upload_id}").json()
        if "data" in document and document["data"]["attributes"]["state"]["state"] in ("COMPLETE", "FAILED"):
            break
    return document["data"]["attributes"]["state"]


def test_simulator_processes_a_mac_build_valid_or_90054(sandbox, api: Api, tmp_path: Path) -> None:  # noqa: F811
    app_id = sandbox.add_app("com.example.mac", "Mac App")
    ok = _upload_pkg(api, app_id, build_pkg(tmp_path / "ok.pkg", build_number="1"), "1")
    assert ok["state"] == "COMPLETE", ok
    other = _upload_pkg(api, app_id, build_pkg(tmp_path / "other.pkg", bundle_id="com.example.other",
                                               build_number="2"), "2")
    assert other["state"] == "FAILED" and [e["code"] for e in other["errors"]] == ["90054"]
    assert "package" in other["errors"][0]["description"]
    wrong_uti = _upload_pkg(api, app_id, build_pkg(tmp_path / "uti.pkg", build_number="3"), "3", uti="com.apple.ipa")
    assert wrong_uti.status_code == 409
    builds = api.get("/v1/builds", **{"filter[app]": app_id}).json()["data"]
    assert [b["attributes"]["version"] for b in builds] == ["1"]


def test_engine_sends_a_mac_build_as_an_installer_package_by_default(world: FlowWorld, pkgs: BuiltSamples) -> None:
    """A caller that names only the platform still gets the uti App Store Connect wants for it."""
    from publish.asc.auth import ApiKey
    from publish.asc.client import AppStoreConnect
    from publish.secrets import normalize_private_key
    from publish.upload.engine import BuildUploader

    key = ApiKey(key_id="FLOWKEY123", issuer_id="69a6de70-03db-47e3-e053-5b8c7c11a4d1",
                 private_key_pem=normalize_private_key(world.private_pem))
    client = AppStoreConnect(key, base_url=world.server.url, sleep=lambda s: None)
    uploader = BuildUploader(client, state_dir=world.state_dir, poll_interval=0.0, sleep=lambda s: None)
    result = uploader.upload(_pkg(world, pkgs, "4"), app_id=world.app_id, bundle_id=BUNDLE_ID, version="1.0.0",
                             build_number="4", platform="MAC_OS")
    assert result.build_id and result.processing_state == "VALID"
    assert [f.attributes["uti"] for f in world.records("buildUploadFiles")] == ["com.apple.pkg"]


# -- the action's entrypoint -----------------------------------------------------------------------------------


def test_a_pkg_through_the_action_entrypoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from action_harness import entrypoint, github_env, parse_outputs, run_action

    from publish.sandbox.demo import make_api_key
    from publish.sandbox.server import SandboxServer

    private_pem, public_pem = make_api_key()
    real_main = entrypoint.cli_main
    monkeypatch.setattr(entrypoint, "cli_main",
                        lambda argv, ctx: real_main([*argv, "--poll-interval", str(POLL_INTERVAL)], ctx=ctx))
    good = build_pkg(tmp_path / "Mac.pkg", bundle_id="com.example.mac", build_number="3")
    bad = build_pkg(tmp_path / "DevId.pkg", bundle_id="com.example.mac", build_number="4",
                    installer_certificate="developer_id")
    with SandboxServer(processing_polls=1) as server:
        server.register_key("KEY123ABCD", "issuer-1", public_pem)
        server.add_app("com.example.mac", "Mac Example")
        inputs = {"api-key-id": "KEY123ABCD", "api-issuer-id": "issuer-1", "api-private-key": private_pem,
                  "api-base-url": server.url, "state-dir": str(tmp_path / "state")}
        code, _out, err = run_action(github_env(tmp_path, ipa=str(good), **inputs))
        assert code == 0, err
        outputs = parse_outputs((tmp_path / "output").read_text())
        assert outputs["status"] == "succeeded" and outputs["build-id"] and outputs["build-number"] == "3"
        [upload] = server.store.all("buildUploads")
        assert upload.attributes["platform"] == "MAC_OS"

        code, _out, err = run_action(github_env(tmp_path, ipa=str(bad), **inputs))
        assert code == 2 and "pkg.signed_developer_id" in err and "Traceback" not in err
        assert len(list(server.store.all("buildUploads"))) == 1  # nothing sent for the refused package


def _hand_made(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "hand.pkg"
    path.write_bytes(data)
    return path


def test_simulator_reads_a_hand_made_package_not_only_the_generators(tmp_path: Path) -> None:
    from pkg_xar_writer import app_payload, component_pkg

    app = read_uploaded_pkg(_hand_made(tmp_path, component_pkg(app_payload())))
    assert (app.bundle_id, app.short_version, app.build_version, app.minimum_os) == ("com.example.hand", "2.0", "7",
                                                                                       "13.0")


def _hand_app(info_plist: bytes | None = None) -> list[bytes]:
    from pkg_xar_writer import INFO_PLIST, odc

    return [odc("./Hand.app", mode=0o40755), odc("./Hand.app/Contents/Info.plist", info_plist or INFO_PLIST)]


def test_simulator_reader_refuses_hostile_packages_cleanly(tmp_path: Path) -> None:
    """Each lie is a processing failure (90023 / 90168), never an exception of another kind or unbounded work."""
    from pkg_xar_writer import INFO_PLIST, app_payload, component_pkg, file_xml, gzip_bytes, odc, odc_archive, xar

    dtd = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
           b"<xar><toc>&b;</toc></xar>")
    payload = app_payload()
    cases = {
        "a DTD in the TOC": (xar("", toc_document=dtd), "ITMS-90023"),
        "a TOC declared larger than any": (xar("", declared_size=1 << 40), "ITMS-90023"),
        "a TOC shorter than declared": (xar("", declared_size=10_000), "ITMS-90023"),
        "a Payload outside the file": (xar(file_xml("Payload", offset=10_000_000, length=len(payload)), payload),
                                       "ITMS-90023"),
        "a cpio entry longer than the payload": (component_pkg(gzip_bytes(odc("./Hand.app/Contents/Info.plist",
                                                                             b"<plist/>", size=1 << 30))),
                                                 "ITMS-90023"),
        "a cpio name longer than any": (component_pkg(gzip_bytes(odc_archive(odc("./" + "x" * 5000),
                                                                             *_hand_app()))), "ITMS-90023"),
        "a payload that is no cpio": (component_pkg(gzip_bytes(b"garbage" * 100)), "ITMS-90023"),
        "a package without an app": (component_pkg(gzip_bytes(odc_archive(odc("./README", b"hi")))), "ITMS-90168"),
        "an Info.plist larger than any": (component_pkg(gzip_bytes(odc_archive(*_hand_app(
            INFO_PLIST.replace(b"</dict>", b"<key>Pad</key><string>" + b"x" * (3 << 20) + b"</string></dict>"))))),
            "ITMS-90023"),
    }
    for what, (data, code) in cases.items():
        with pytest.raises(ProcessingFailure) as failure:
            read_uploaded_pkg(_hand_made(tmp_path, data))
        assert failure.value.code == code, what
