"""`validate(instance, schema)`: what `jsonschema.validate` does (the schema's own draft, the schema checked, the
best error raised), with the schema checked and its validator built once a process. `jsonschema.validate` checks
the schema against its metaschema on every call, which for the project's larger schemas costs more than validating
the document; the suite validates the same few schemas dozens of times."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

_validators: dict[str, Any] = {}  # the schema's canonical JSON -> its checked validator


def validate(instance: Any, schema: dict[str, Any]) -> None:
    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _validators[key] = cls(schema)
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error
