"""The publish-flow file: loading, validation against schemas/publish-flow.schema.json, and the checks a schema
cannot express (names that refer to nothing, duplicate profiles, a scheduled release without a date ...).

Along its seams: `model` (what a flow means), `yaml_source` (YAML 1.2 text to data with positions, bounded;
`yaml_compose` composes its nodes, from libyaml's events where they read alike), `schema` (the JSON Schema and what
it says about steps), `validation` (jsonschema's validator, with a step's settings checked more cheaply),
`messages` (how a problem is worded and located), `checks` (what the schema cannot say) and `load` (the order they
run in). Importers use this package's names.
"""

from publish.spec.checks import on_the_hour, parse_duration, parse_release_date
from publish.spec.load import load_flow, load_flow_text
from publish.spec.model import (APP_STORE_ONLY_SETTINGS, FORMAT_VERSION, SECRET_FIELDS, ApiKeySpec, AppleIdSpec,
                                Diagnostic, FlowError, FlowSpec, ProfileSpec, SecretRef, StepSpec, Value)
from publish.spec.schema import SCHEMA_FILE, flow_schema, schema_text, step_settings, step_types
from publish.spec.yaml_compose import MAX_DEPTH, MAX_NODES
from publish.spec.yaml_source import format_path

__all__ = [
    "APP_STORE_ONLY_SETTINGS", "FORMAT_VERSION", "MAX_DEPTH", "MAX_NODES", "SCHEMA_FILE", "SECRET_FIELDS",
    "ApiKeySpec", "AppleIdSpec", "Diagnostic", "FlowError", "FlowSpec", "ProfileSpec", "SecretRef", "StepSpec",
    "Value", "flow_schema", "format_path", "load_flow", "load_flow_text", "on_the_hour", "parse_duration",
    "parse_release_date", "schema_text", "step_settings", "step_types",
]
