"""The flow file's JSON Schema (schemas/publish-flow.schema.json, shipped as publish.schemas) and the facts other
layers read from it: the step types and the settings each step accepts."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "publish-flow.schema.json"


@cache
def schema_text() -> str:
    return resources.files("publish.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def flow_schema() -> dict[str, Any]:
    # Not checked against the metaschema here (~115 ms, a third of `validate`): the file ships with the package and
    # tests/unit/test_spec.py checks it once, for every process that would have.
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


def step_types() -> list[str]:
    return list(flow_schema()["$defs"]["StepType"]["enum"])


def step_settings(step: str) -> list[str]:
    """The keys a step of that type accepts (including `step`)."""
    schema = flow_schema()
    for branch in schema["$defs"]["Step"]["allOf"]:
        if branch.get("if", {}).get("properties", {}).get("step", {}).get("const") == step:
            return list(resolve(branch["then"])["properties"])
    return []


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (all of ours are `#/$defs/...`)."""
    seen = 0
    while "$ref" in schema and seen < 10:
        target: Any = flow_schema()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        merged = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **{k: v for k, v in merged.items() if k in ("title", "description")}}
        seen += 1
    return schema
