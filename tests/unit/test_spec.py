"""Loading flows: the data model, the examples, YAML details and the schema itself."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from publish.cli import CliContext, main
from publish.errors import InputError
from publish.spec import FlowError, SecretRef, flow_schema, load_flow, load_flow_text, parse_duration

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

MINIMAL = """\
version: 1
api_keys:
  release-key:
    key_id: ABC123DEFG
    issuer_id: {env: ASC_ISSUER_ID}
    private_key: {env: ASC_PRIVATE_KEY, encoding: base64}
profiles:
  - bundle_id: com.example.app
    name: Example
    flow:
      - step: send_to_testflight
        api_key: release-key
        what_to_test: "Bug fixes"
        groups: ["QA Team"]
      - step: send_to_app_store
        api_key: release-key
        stage_type: app_store
        xcode_version: "16.2"
"""


def cli(*argv: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    code = main(list(argv), ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


def test_schema_is_valid_2020_12_with_id_and_documented_properties() -> None:
    schema = flow_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("publish-flow.schema.json")

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                assert "title" in prop and "description" in prop, f"{where}.{name} lacks title/description"
            for key, value in node.items():
                if key != "if":  # conditions, not properties a user writes
                    walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "schema")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_validate(path: Path) -> None:
    code, out, err = cli("validate", str(path))
    assert code == 0, err
    assert out.startswith(f"{path} is valid: ")


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 3


def test_data_model() -> None:
    flow = load_flow_text(MINIMAL, "flow.yaml")
    assert flow.version == 1
    key = flow.api_keys["release-key"]
    assert key.key_id == "ABC123DEFG"
    assert key.issuer_id == SecretRef(env="ASC_ISSUER_ID")
    assert key.private_key == SecretRef(env="ASC_PRIVATE_KEY", encoding="base64")
    (profile,) = flow.profiles
    assert (profile.bundle_id, profile.name, profile.keep_binaries) == ("com.example.app", "Example", False)
    first, second = profile.flow
    assert first.step == "send_to_testflight" and first.index == 0 and first.line == 11
    assert first.settings == {"api_key": "release-key", "what_to_test": "Bug fixes", "groups": ["QA Team"]}
    assert second.line == 15 and "stage_type" in second.settings and "step" not in second.settings


def test_settings_hash_is_stable_and_order_independent() -> None:
    flow = load_flow_text(MINIMAL, "a.yaml")
    reordered = MINIMAL.replace(
        '        what_to_test: "Bug fixes"\n        groups: ["QA Team"]\n',
        '        groups: ["QA Team"]\n        what_to_test: "Bug fixes"\n',
    )
    assert reordered != MINIMAL
    again = load_flow_text(reordered, "b.yaml")
    assert flow.profiles[0].flow[0].settings_hash == again.profiles[0].flow[0].settings_hash
    changed = load_flow_text(MINIMAL.replace("Bug fixes", "New things"), "c.yaml")
    assert changed.profiles[0].flow[0].settings_hash != flow.profiles[0].flow[0].settings_hash
    assert len(flow.profiles[0].flow[0].settings_hash) == 64


def test_dates_stay_strings_and_anchors_work() -> None:
    text = MINIMAL.replace(
        '        xcode_version: "16.2"\n',
        '        xcode_version: "16.2"\n        release_type: scheduled\n'
        "        scheduled_release_date: 2030-03-01T09:00:00Z\n",
    )
    step = load_flow_text(text, "f.yaml").profiles[0].flow[1]
    assert step.settings["scheduled_release_date"] == "2030-03-01T09:00:00Z"
    anchored = """\
version: 1
profiles:
  - bundle_id: com.example.app
    flow:
      - &tf
        step: send_to_testflight
        groups: [QA]
  - bundle_id: com.example.other
    flow:
      - <<: *tf
        notify_testers: false
"""
    flow = load_flow_text(anchored, "anchors.yaml")
    assert flow.profiles[1].flow[0].settings == {"groups": ["QA"], "notify_testers": False}


def test_all_problems_are_reported_at_once_sorted_by_line() -> None:
    text = MINIMAL.replace('groups: ["QA Team"]', "groups: QA").replace("stage_type: app_store", "stage_type: x")
    with pytest.raises(FlowError) as caught:
        load_flow_text(text, "flow.yaml")
    lines = [d.line for d in caught.value.diagnostics]
    assert lines == sorted(lines) and len(lines) == 2
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, InputError)


def test_missing_flow_file() -> None:
    code, _, err = cli("validate", "/nonexistent/flow.yaml")
    assert code == 2
    assert "flow file /nonexistent/flow.yaml does not exist" in err


def test_secret_value_is_never_echoed() -> None:
    secret = "MIGTAgEAMBMGByqGSM49/AgEGCCqGSM49+AwEHBHkwdwIBAQQgSECRETSECRETSECRETSECRET"
    text = MINIMAL.replace("{env: ASC_PRIVATE_KEY, encoding: base64}", f'"{secret}"')
    with pytest.raises(FlowError) as caught:
        load_flow_text(text, "flow.yaml")
    assert "secret cannot be written in the flow file" in str(caught.value)
    assert secret not in str(caught.value)
    pasted_into_env = MINIMAL.replace("{env: ASC_PRIVATE_KEY, encoding: base64}", f'{{env: "{secret}"}}')
    with pytest.raises(FlowError) as caught:
        load_flow_text(pasted_into_env, "flow.yaml")
    assert secret not in str(caught.value) and "<hidden>" in str(caught.value)


def test_release_notes_files_are_checked_relative_to_the_flow(tmp_path: Path) -> None:
    flow_path = tmp_path / "flow.yaml"
    flow_path.write_text(MINIMAL.replace('"Bug fixes"', "{file: notes.txt}"))
    with pytest.raises(FlowError, match="notes.txt does not exist"):
        load_flow(flow_path)
    (tmp_path / "notes.txt").write_text("hello")
    assert load_flow(flow_path).profiles[0].flow[0].settings["what_to_test"] == {"file": "notes.txt"}


@pytest.mark.parametrize(("value", "seconds"), [(90, 90), ("45m", 2700), ("2h", 7200), ("1h30m", 5400), ("90s", 90)])
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds  # type: ignore[arg-type]


def test_schema_command_prints_the_schema() -> None:
    code, out, _ = cli("schema")
    assert code == 0
    assert json.loads(out)["$id"] == flow_schema()["$id"]
    code, _, err = cli("schema", "nope")
    assert code == 2 and "publish-flow" in err
