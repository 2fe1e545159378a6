"""`info` and `check` through the CLI; their JSON against schemas/ipa-info.schema.json."""

from __future__ import annotations

import io
import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from publish.cli import CliContext, main
from publish.sandbox.sample_ipa import DEFECTS, build_ipa

SCHEMA = json.loads(files("publish.schemas").joinpath("ipa-info.schema.json").read_text())
CHECK_SCHEMA = {**SCHEMA, "$ref": "#/$defs/check_report"}
for key in ("required", "properties", "additionalProperties", "type"):
    CHECK_SCHEMA.pop(key)


def cli(*argv: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    code = main(list(argv), ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ipa(tmp_path_factory.mktemp("ipa") / "Sample.ipa", bundle_id="com.acme.app", version="3.1",
                     build_number="12", display_name="Acme", extensions=("Share",), watch_app=True)


def test_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_info_table(sample: Path) -> None:
    code, out, err = cli("info", str(sample))
    assert code == 0 and err == ""
    assert out.startswith("Acme 3.1 (12)\n")
    for expected in ("com.acme.app", "IOS  devices: iPhone, iPad", "[App Store]", "team Example Team (A1B2C3D4E5)",
                     "Apple Distribution: Example Team", "nested bundles:", "com.acme.app.share",
                     "WatchApp.app", "com.acme.app.watchkitapp"):
        assert expected in out


def test_info_json_matches_schema(sample: Path, tmp_path: Path) -> None:
    icon = tmp_path / "icon.png"
    code, out, _ = cli("info", str(sample), "--json", "--icon-out", str(icon))
    assert code == 0
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["bundle_id"] == "com.acme.app" and document["profile"]["type"] == "app-store"
    assert document["icon_file"]["width"] == 180 and icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [b["kind"] for b in document["extensions"]] == ["extension", "watch_app", "watch_extension"]


def test_info_json_of_real_fixtures_matches_schema(shared_dir: Path) -> None:
    ipas = shared_dir / "fixtures" / "real-world" / "ipas"
    for name in ("very-capable-app.ipa", "ContainsWatchApp.ipa", "IncorrectlySigned.ipa", "iOSAppOnly.ipa"):
        code, out, _ = cli("info", str(ipas / name), "--json")
        assert code == 0
        jsonschema.validate(json.loads(out), SCHEMA)


def test_info_on_bad_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipa"
    bad.write_bytes(b"hello")
    code, out, err = cli("info", str(bad))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "not a zip archive" in err and "How to fix:" in err


def test_icon_out_without_icons_exits_2(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "noicon.ipa", icons=False, extensions=())
    code, _, err = cli("info", str(ipa), "--icon-out", str(tmp_path / "i.png"))
    assert code == 2 and "no icon PNG" in err


def test_check_passes(sample: Path) -> None:
    code, out, _ = cli("check", str(sample), "--bundle-id", "com.acme.app")
    assert code == 0 and "pre-flight passed: 0 error(s), 0 warning(s)" in out


def test_check_warning_only_exits_0(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "w.ipa", uses_non_exempt_encryption=None, extensions=())
    code, out, _ = cli("check", str(ipa))
    assert code == 0 and "warning: [encryption.undeclared]" in out


def test_check_errors_exit_2_with_json_report(tmp_path: Path) -> None:
    kwargs, finding_id = DEFECTS["development_profile"]
    ipa = build_ipa(tmp_path / "dev.ipa", **kwargs)
    code, out, _ = cli("check", str(ipa), "--json")
    assert code == 2
    report = json.loads(out)
    jsonschema.validate(report, CHECK_SCHEMA)
    assert report["ok"] is False and finding_id in [f["id"] for f in report["findings"]]
    code, out, _ = cli("check", str(ipa), "--bundle-id", "com.other")
    assert code == 2 and "[bundle_id.profile_mismatch]" in out and "export with the App Store Connect method" in out


def test_check_on_a_non_zip(tmp_path: Path) -> None:
    bad = tmp_path / "x.ipa"
    bad.write_bytes(b"not a zip")
    code, out, _ = cli("check", str(bad))
    assert code == 2 and "error: [zip.not_a_zip]" in out
