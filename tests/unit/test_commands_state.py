"""The state commands (show, history, mark-rc, download, delete, versions) on a store filled through StateStore.

End-to-end tests on a store filled by real flow runs against the simulator are in test_commands_flow.py.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from cli_parsers import PARSERS
from publish.cli import CliContext, main
from publish.state import StateStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def info(version: str, build: str, bundle_id: str = "com.example.app", name: str = "Example") -> dict:
    return {
        "fingerprint": hashlib.sha256(f"{bundle_id}/{version}/{build}".encode()).hexdigest(),
        "bundle_id": bundle_id,
        "version": version,
        "build_number": build,
        "display_name": name,
        "file_size": 2048,
        "icon_names": ["AppIcon60x60"],
        "minimum_os": "15.0",
        "profile": {"type": "app-store", "team_id": "TEAM123456"},
    }


def fp(version: str, build: str, bundle_id: str = "com.example.app") -> str:
    return info(version, build, bundle_id)["fingerprint"]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """Two profiles; com.example.app has 1.0 (1), 1.0 (2), 1.10 (3); com.example.other has 1.0 (1)."""
    directory = tmp_path / "state"
    with StateStore.open(directory, clock=FakeClock()) as store:
        for version, build in (("1.0", "1"), ("1.0", "2"), ("1.10", "3")):
            store.record_binary(info(version, build))
        store.record_binary(info("1.0", "1", "com.example.other", "Other"))
        f = fp("1.0", "2")
        store.update_remote(f, app_id="A1", build_id="B2", processing_state="VALID")
        run = store.start_step_run(
            fingerprint=f, bundle_id="com.example.app", flow_hash="h", step_index=0,
            step_name="send_to_testflight", settings_hash="s",
        )
        store.finish_step_run(run, status="succeeded", asc_ids={"build_id": "B2"})
        run = store.start_step_run(
            fingerprint=f, bundle_id="com.example.app", flow_hash="h", step_index=1,
            step_name="send_to_app_store", settings_hash="s",
        )
        store.finish_step_run(run, status="failed", error="App Store Connect said: no\nsecond line")
        ipa = tmp_path / "kept.ipa"
        ipa.write_bytes(b"PK\x03\x04 pretend ipa " * 1000)
        store.keep_binary(f, ipa)
    return directory


def cli(state_dir: Path, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={}, stdin=io.StringIO(stdin))
    code = main([argv[0], "--state-dir", str(state_dir), *argv[1:]], ctx=ctx, build=PARSERS)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


@functools.lru_cache(maxsize=None)
def _schema_validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """The command's output schema, checked against its metaschema once a process (~20-30 ms a check: the same file
    was checked again for each of the eleven documents validated here) and its validator built once."""
    schema = json.loads(files("publish.schemas").joinpath(f"{schema_name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validated(text: str, schema_name: str) -> dict:
    document = json.loads(text)
    _schema_validator(schema_name).validate(document)
    return document


# -- show ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["1.0(2)", "1.0+2", "1.0 (2)", "1.0"])
def test_show_accepts_every_version_syntax(state_dir: Path, ref: str) -> None:
    code, out, err = cli(state_dir, "show", ref, "--profile", "com.example.app", "--json")
    assert code == 0, err
    doc = validated(out, "show")
    assert (doc["version"], doc["build_number"]) == ("1.0", "2")  # 1.0 alone: its latest build
    assert doc["remote"]["build_id"] == "B2"
    assert doc["kept"]["present"] is True and len(doc["kept"]["sha256"]) == 64
    assert doc["inspection"]["profile"]["team_id"] == "TEAM123456"
    assert doc["state"] == "send_to_app_store failed"
    assert [h["step_name"] for h in doc["history"]] == ["send_to_app_store", "send_to_testflight"]


def test_show_text_has_ids_inspection_and_error(state_dir: Path) -> None:
    code, out, _ = cli(state_dir, "show", "1.0(2)", "--profile", "com.example.app")
    assert code == 0
    for expected in ("Example 1.0 (2)", "build_id", "B2", "team TEAM123456", "App Store Connect said: no"):
        assert expected in out


def test_show_ambiguous_version_lists_candidates(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "show", "1.0(1)")
    assert code == 2
    assert "several profiles" in err and "com.example.app" in err and "com.example.other" in err
    assert "--profile" in err


def test_show_unknown_version_lists_known_ones(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "show", "9.9", "--profile", "com.example.app")
    assert code == 2
    assert "9.9 is not in the state store" in err
    assert "1.10 (3)" in err and "1.0 (2)" in err


def test_show_bad_version_syntax_and_missing_state(state_dir: Path, tmp_path: Path) -> None:
    code, _, err = cli(state_dir, "show", "1.0((2")
    assert code == 2 and "is not a version" in err
    code, _, err = cli(tmp_path / "nowhere", "show", "1.0")
    assert code == 2 and "no state in" in err and "--state-dir" in err
    assert not (tmp_path / "nowhere").exists()


# -- history ---------------------------------------------------------------------------------------------------


def test_history_newest_first_with_filters_and_limit(state_dir: Path) -> None:
    code, out, _ = cli(state_dir, "history", "--json")
    assert code == 0
    entries = validated(out, "history")["history"]
    assert [e["step_name"] for e in entries] == ["send_to_app_store", "send_to_testflight"]
    assert entries[0]["started_at"] >= entries[1]["started_at"]
    assert entries[0]["error"].startswith("App Store Connect said")

    code, out, _ = cli(state_dir, "history", "--limit", "1", "--json")
    assert len(validated(out, "history")["history"]) == 1
    code, out, _ = cli(state_dir, "history", "1.0(1)", "--json")
    assert code == 0 and validated(out, "history")["history"] == []  # known, but nothing done yet

    code, out, _ = cli(state_dir, "history")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("TIME") and "send_to_app_store" in lines[1] and "failed" in lines[1]
    assert "    App Store Connect said: no" in out and "    second line" in out


def test_history_unknown_version_and_bad_limit(state_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = cli(state_dir, "history", "7.7")
    assert code == 2 and "7.7 has no history" in err and "1.10 (3)" in err
    code, _, err = cli(state_dir, "history", "--limit", "-1")
    assert code == 2 and "--limit must be 0 (all) or more" in err


def test_history_without_state_is_empty(tmp_path: Path) -> None:
    code, out, _ = cli(tmp_path / "none", "history", "--json")
    assert code == 0 and validated(out, "history") == {"history": []}


# -- mark-rc / unmark-rc ---------------------------------------------------------------------------------------


def test_mark_and_unmark_rc_are_recorded(state_dir: Path) -> None:
    code, out, err = cli(state_dir, "mark-rc", "1.10", "--note", "QA passed")
    assert code == 0, err
    assert "Marked Example 1.10 (3) [com.example.app] as release candidate (QA passed)" in out
    with StateStore.open(state_dir) as store:
        assert store.is_rc(fp("1.10", "3"))
    code, out, _ = cli(state_dir, "show", "1.10", "--json")
    doc = validated(out, "show")
    assert doc["rc"] is True and doc["rc_note"] == "QA passed"

    code, out, _ = cli(state_dir, "unmark-rc", "1.10(3)")
    assert code == 0 and "Removed the release-candidate mark" in out
    code, out, _ = cli(state_dir, "history", "1.10", "--json")
    entries = validated(out, "history")["history"]
    assert [e["kind"] for e in entries] == ["unrc", "rc"]
    assert entries[1]["detail"] == {"note": "QA passed"}


def test_mark_rc_of_ambiguous_version_changes_nothing(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "mark-rc", "1.0(1)")
    assert code == 2 and "--profile" in err
    with StateStore.open(state_dir) as store:
        assert not store.is_rc(fp("1.0", "1")) and not store.is_rc(fp("1.0", "1", "com.example.other"))


# -- download --------------------------------------------------------------------------------------------------


def test_download_writes_verified_copy(state_dir: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "dl" / "App.ipa"
    out_file.parent.mkdir()
    code, out, err = cli(state_dir, "download", "1.0(2)", "--profile", "com.example.app", "--out", str(out_file))
    assert code == 0, err
    assert out_file.read_bytes() == (tmp_path / "kept.ipa").read_bytes()
    sha = hashlib.sha256(out_file.read_bytes()).hexdigest()
    assert sha in out and "verified" in out
    code, _, err = cli(state_dir, "download", "1.0(2)", "--profile", "com.example.app", "--out", str(out_file))
    assert code == 2 and "already exists" in err and "--force" in err
    code, _, _ = cli(state_dir, "download", "1.0(2)", "--profile", "com.example.app", "--out", str(out_file), "--force")
    assert code == 0
    with StateStore.open(state_dir) as store:
        assert [e["kind"] for e in store.history(kind="download")] == ["download", "download"]


def test_download_of_corrupt_kept_file_fails_and_writes_nothing(state_dir: Path, tmp_path: Path) -> None:
    with StateStore.open(state_dir) as store:
        kept = store.artifact_path(fp("1.0", "2"))
    kept.write_bytes(kept.read_bytes()[:-3] + b"XYZ")
    out_file = tmp_path / "App.ipa"
    code, _, err = cli(state_dir, "download", "1.0(2)", "--profile", "com.example.app", "--out", str(out_file))
    assert code == 1
    assert "is corrupt" in err and "nothing was written" in err
    assert not out_file.exists()


def test_download_of_not_kept_binary_explains_apple_offers_none(state_dir: Path, tmp_path: Path) -> None:
    code, _, err = cli(state_dir, "download", "1.10", "--out", str(tmp_path / "x.ipa"))
    assert code == 2
    assert "Apple offers no download of uploaded builds" in err and "keep_binaries: true" in err
    assert not (tmp_path / "x.ipa").exists()


# -- delete ----------------------------------------------------------------------------------------------------


def test_delete_with_typed_confirmation(state_dir: Path) -> None:
    with StateStore.open(state_dir) as store:
        kept = store.artifact_path(fp("1.0", "2"))
    code, out, err = cli(state_dir, "delete", "1.0+2", "--profile", "com.example.app", stdin="1.0 (2)\n")
    assert code == 0, err
    assert "Type '1.0 (2)' to confirm" in err
    assert "Deleted com.example.app 1.0 (2) from the local state and its kept binary" in out
    assert "Nothing was removed from App Store Connect" in out
    assert not kept.exists()
    with StateStore.open(state_dir) as store:
        assert store.get_binary(fp("1.0", "2")) is None
        # History is kept, with the deletion in it.
        assert [e["kind"] for e in store.history(version="1.0", build_number="2")][0] == "delete"
    code, _, err = cli(state_dir, "show", "1.0(2)", "--profile", "com.example.app")
    assert code == 2 and "not in the state store" in err


def test_delete_with_wrong_confirmation_deletes_nothing(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "delete", "1.10", stdin="1.1\n")
    assert code == 2
    assert "does not match" in err and "nothing was deleted" in err
    with StateStore.open(state_dir) as store:
        assert store.get_binary(fp("1.10", "3")) is not None
        assert store.history(kind="delete") == []


def test_delete_non_interactive_needs_yes(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "delete", "1.10", stdin="")
    assert code == 2 and "pass --yes" in err and "nothing was deleted" in err
    with StateStore.open(state_dir) as store:
        assert store.get_binary(fp("1.10", "3")) is not None
    code, out, _ = cli(state_dir, "delete", "1.10", "--yes")
    assert code == 0 and "Deleted com.example.app 1.10 (3)" in out
    with StateStore.open(state_dir) as store:
        assert store.get_binary(fp("1.10", "3")) is None


def test_delete_profile_removes_all_its_versions_only(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "delete", "--profile", "com.example.app", stdin="com.example\n")
    assert code == 2 and "nothing was deleted" in err
    code, out, err = cli(state_dir, "delete", "--profile", "com.example.app", stdin="com.example.app\n")
    assert code == 0, err
    assert "all 3 version(s) of com.example.app" in err
    with StateStore.open(state_dir) as store:
        assert store.find_binaries(bundle_id="com.example.app") == []
        assert len(store.find_binaries(bundle_id="com.example.other")) == 1
        assert not any(store.artifacts_dir.rglob("*.ipa"))
    code, _, err = cli(state_dir, "delete", "--profile", "com.example.app", "--yes")
    assert code == 2 and "no versions of com.example.app" in err


def test_delete_needs_a_version_or_profile(state_dir: Path) -> None:
    code, _, err = cli(state_dir, "delete")
    assert code == 2 and "needs a VERSION, or --profile" in err


# -- versions (local) ------------------------------------------------------------------------------------------


def test_versions_lists_local_versions_newest_first(state_dir: Path) -> None:
    cli(state_dir, "mark-rc", "1.10")
    code, out, err = cli(state_dir, "versions", "--json")
    assert code == 0, err
    doc = validated(out, "versions")
    assert doc["remote_checked"] is False and doc["state_dir"] == str(state_dir)
    rows = [(r["bundle_id"], r["version"], r["build_number"]) for r in doc["versions"]]
    assert rows == [
        ("com.example.other", "1.0", "1"),
        ("com.example.app", "1.10", "3"),  # 1.10 sorts above 1.0 (numeric parts)
        ("com.example.app", "1.0", "2"),
        ("com.example.app", "1.0", "1"),
    ]
    by_build = {r["build_number"]: r for r in doc["versions"] if r["bundle_id"] == "com.example.app"}
    assert by_build["3"]["rc"] is True and by_build["2"]["kept"] is True
    assert by_build["2"]["state"] == "send_to_app_store failed" and by_build["1"]["state"] == "inspected"
    assert all(r["local"] and r["remote"] is None for r in doc["versions"])

    code, out, _ = cli(state_dir, "versions", "--profile", "com.example.other")
    assert code == 0
    assert out.splitlines()[0].split() == ["PROFILE", "VERSION", "BUILD", "RC", "KEPT", "STATE"]
    assert len(out.splitlines()) == 2 and "com.example.other" in out


def test_versions_without_state(tmp_path: Path) -> None:
    code, out, _ = cli(tmp_path / "empty", "versions", "--json")
    assert code == 0 and validated(out, "versions")["versions"] == []
    code, out, _ = cli(tmp_path / "empty", "versions")
    assert code == 0 and "No versions" in out


# -- a real inspection recorded ------------------------------------------------------------------------------


def test_show_of_a_recorded_real_inspection(tmp_path: Path) -> None:
    from publish.ipa import inspect_ipa
    from publish.sandbox.sample_ipa import build_ipa

    ipa = build_ipa(tmp_path / "Real.ipa", bundle_id="com.example.real", version="2.1", build_number="7",
                    display_name="Real App")
    inspected = inspect_ipa(ipa)
    state = tmp_path / "state"
    with StateStore.open(state) as store:
        store.record_binary(inspected.to_json())
        store.keep_binary(inspected.fingerprint, ipa)
    code, out, err = cli(state, "show", "2.1+7", "--json")
    assert code == 0, err
    doc = validated(out, "show")
    assert doc["display_name"] == "Real App" and doc["fingerprint"] == inspected.fingerprint
    assert doc["icon_name"] == (inspected.icon_names[0] if inspected.icon_names else None)
    assert doc["inspection"] == json.loads(json.dumps(inspected.to_json()))
    code, out, _ = cli(state, "show", "2.1")
    assert code == 0 and "Real App 2.1 (7)" in out and "Device families        iPhone, iPad" in out
    out_file = tmp_path / "copy.ipa"
    assert cli(state, "download", "2.1", "--out", str(out_file))[0] == 0
    assert inspect_ipa(out_file).fingerprint == inspected.fingerprint
