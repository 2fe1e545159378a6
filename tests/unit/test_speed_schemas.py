"""speed_schemas.validate answers as jsonschema.validate does, checking each schema once a process."""

from __future__ import annotations

import jsonschema
import pytest

import speed_schemas

SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["a"],
          "properties": {"a": {"type": "integer"}, "b": {"enum": ["x"]}}}


def test_a_valid_document_passes_and_an_invalid_one_raises_jsonschema_s_best_error() -> None:
    speed_schemas.validate({"a": 1}, SCHEMA)
    for document in ({}, {"a": "1"}, {"a": 1, "b": "y"}, []):
        with pytest.raises(jsonschema.ValidationError) as ours:
            speed_schemas.validate(document, SCHEMA)
        with pytest.raises(jsonschema.ValidationError) as theirs:
            jsonschema.validate(document, SCHEMA)
        assert (ours.value.message, list(ours.value.path)) == (theirs.value.message, list(theirs.value.path))


def test_a_bad_schema_is_refused_and_a_good_one_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(jsonschema.SchemaError):
        speed_schemas.validate({}, {"type": "no-such-type"})
    checked: list[object] = []
    real = jsonschema.Draft202012Validator.check_schema
    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema",
                        classmethod(lambda cls, schema, **kw: (checked.append(schema), real(schema, **kw))[1]))
    fresh = {**SCHEMA, "title": "checked once"}
    for _ in range(3):
        speed_schemas.validate({"a": 2}, fresh)
    assert checked == [fresh]
