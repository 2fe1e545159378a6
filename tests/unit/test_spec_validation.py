"""publish.spec.validation: FlowValidator gives exactly jsonschema's errors (message, place, keyword, schema path),
takes its shortcuts for the flow schema's Step, and leaves any other shape to jsonschema's own unevaluatedProperties
and if."""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import publish.spec.validation as validation
from publish.spec.schema import flow_schema
from publish.spec.validation import FlowValidator

# One step of each type with a few settings each (and valid: the test below holds that).
STEPS: list[dict[str, Any]] = [
    {"step": "send_to_testflight", "api_key": "main", "groups": ["QA"], "xcode_version": "16.2"},
    {"step": "send_to_app_store", "api_key": "main", "submit_for_review": True, "phased_release": False},
    {"step": "submit_for_review", "api_key": "main", "cancel_previous_submission": True},
    {"step": "mark_as_rc", "note": "passed QA"},
    {"step": "release", "api_key": "main", "action": "pause"},
]


def _step_variants(step: dict[str, Any]) -> list[Any]:
    """One step changed in the ways that decide which of its settings count as evaluated."""
    settings = [key for key in step if key != "step"]
    variants: list[Any] = [
        {**step, "bogus": 1},  # an unknown setting
        {key: value for key, value in step.items() if key != "step"},  # no step type: no branch matches
        {**step, "step": 42}, {**step, "step": ["send_to_testflight"]}, {**step, "step": "no_such_step"},
        {**step, "api_key": "main", "apple_id": "me"},  # the `not` branch fails
        {"step": step.get("step")}, "not a mapping", [step],
    ]
    for key in settings[:3]:  # which setting fails does not matter to the evaluation, that one does
        variants.append({**step, key: {"not": "what it takes"}})  # the matching branch fails on a known setting
    if settings:
        variants.append({**step, settings[0]: {"not": "what it takes"}, "bogus": 1})  # ... and an unknown one too
    for other in ("send_to_testflight", "send_to_app_store", "submit_for_review", "mark_as_rc", "release"):
        variants.append({**step, "step": other})  # these settings under another step type
    return variants


def _one_step(step: Any) -> dict[str, Any]:
    return {"version": 1, "profiles": [{"bundle_id": "com.example.app", "flow": [step]}]}


@functools.cache
def _corpus() -> tuple[Any, ...]:
    """Each step as it is and changed each way, alone in a one-step flow (the rest of a document only adds the same
    errors to both sides; test_spec_bad_flows holds the whole bad flows' messages)."""
    keyed = [{**_one_step(STEPS[0]), "api_keys": {"main": keys}} for keys in (
        {"fastlane_json": {"file": "key.json"}}, {"fastlane_json": {"file": "key.json"}, "key_id": "K"},
        {"key_id": "K", "issuer_id": "I", "private_key": {"env": "P"}}, {"key_id": "K"})]  # ApiKey's own `if`
    return tuple(_one_step(variant) for step in STEPS for variant in [step, *_step_variants(step)]) + tuple(keyed)


def _errors(validator: Any, data: Any) -> list[tuple[Any, ...]]:
    def described(error: Any) -> tuple[Any, ...]:
        return (error.message, tuple(error.absolute_path), tuple(error.absolute_schema_path), error.validator,
                error.validator_value, [described(sub) for sub in error.context or []])
    return [described(error) for error in validator.iter_errors(data)]


def test_the_errors_are_jsonschemas_on_every_flow_of_the_corpus() -> None:
    expected = [_errors(Draft202012Validator(flow_schema()), data) for data in _corpus()]
    fast = FlowValidator(flow_schema())
    assert [_errors(fast, data) for data in _corpus()] == expected
    # the corpus holds what decides the evaluated settings: valid steps, unknown settings, failing branches
    assert len(_corpus()) > 80
    assert sum(any(error[3] == "unevaluatedProperties" for error in errors) for errors in expected) > 50
    assert sum(not errors for errors in expected) >= 5


def test_the_flow_schemas_step_takes_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("jsonschema's own unevaluatedProperties or if was used for the flow schema's steps")

    monkeypatch.setattr(validation, "_GENERIC", refuse)
    monkeypatch.setattr(validation, "_GENERIC_IF", refuse)  # the one-step flows have no api_keys (their `if` is other)
    validator = FlowValidator(flow_schema())
    for data in _corpus()[:-4:4]:
        list(validator.iter_errors(data))


def _reshaped(change: str) -> dict[str, Any]:
    schema = copy.deepcopy(flow_schema())
    step, defs = schema["$defs"]["Step"], schema["$defs"]
    if change == "pattern-properties-in-a-branch":
        step["allOf"].append({"patternProperties": {"^x-": {}}})
    elif change == "composed-settings":
        defs["SendToTestflight"]["allOf"] = [{"properties": {"extra": {"type": "string"}}}]
    elif change == "unevaluated-schema":
        step["unevaluatedProperties"] = {"type": "string"}
    elif change == "const-not-text":
        step["allOf"][0]["if"]["properties"]["step"]["const"] = 1
    elif change == "else-branch":
        step["allOf"][0]["else"] = {"properties": {"elsewhere": {}}}
    return schema


@pytest.mark.parametrize("change", ["pattern-properties-in-a-branch", "composed-settings", "unevaluated-schema",
                                    "const-not-text", "else-branch"])
def test_any_other_shape_is_left_to_jsonschema(change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = _reshaped(change)
    generic = validation._GENERIC
    used: list[int] = []

    def counted(*args: Any) -> Any:
        used.append(1)
        return generic(*args)

    monkeypatch.setattr(validation, "_GENERIC", counted)
    reference, fast = Draft202012Validator(schema), FlowValidator(schema)
    documents = [_one_step(step) for step in STEPS] + [{"version": 1, "profiles": [{"bundle_id": "com.example.app", "flow": [
        {"step": "send_to_testflight", "x-note": "a", "extra": "b", "elsewhere": 2}]}]}]
    assert [_errors(fast, data) for data in documents] == [_errors(reference, data) for data in documents]
    assert used


def test_a_const_if_holds_for_what_is_not_a_mapping() -> None:
    # `properties` and `required` ignore what is not a mapping, so `if` holds and `then` applies; in the flow schema
    # no `then` says anything of a non-mapping, so this is seen with settings that must be mappings themselves.
    schema = copy.deepcopy(flow_schema())
    for name in ("SendToTestflight", "SendToAppStore", "SubmitForReview", "MarkAsRc", "Release"):
        schema["$defs"][name]["type"] = "object"
    documents = [_one_step(step) for step in ("not a mapping", ["send_to_testflight"], 3, None, STEPS[0])]
    expected = [_errors(Draft202012Validator(schema), data) for data in documents]
    assert [_errors(FlowValidator(schema), data) for data in documents] == expected
    assert sum(error[3] == "type" for errors in expected for error in errors) > len(documents)
