"""The validator a flow is checked with: JSON Schema 2020-12 (jsonschema's Draft202012Validator), whose
`unevaluatedProperties` and `if` are worked out more cheaply where the schema has the shape of the flow's Step.

Why: a step is `{"properties": {"step": ...}, "allOf": [{"if": step is X, "then": {"$ref": X's settings}}, ...],
"unevaluatedProperties": false}`. To know which settings were evaluated, jsonschema validates every `allOf` branch
again and then walks the matching one a third time; that was ~45 % of validating a flow, and validating is most of
loading one. Here only the branch whose `if` the step matches is validated again (its validity decides, as in
jsonschema, whether its settings count as evaluated), and the others are skipped by reading their `if`. Such an
`if` (one property equal to a text `const`, and required) holds or not without validating anything: the property
is there and equal, or the instance is not a mapping (both keywords then ignore it), so `if` reads it so too, where
jsonschema built a validator for it five times a step. The errors yielded are the ones jsonschema yields: the same
messages, listing the same keys, at the same places. A schema of any other shape (a branch with more in it, a
settings definition that is itself composed, `unevaluatedProperties` other than false, another `if`) goes to
jsonschema's own keyword unchanged: the shortcut is taken only where its reasoning holds, checked at every use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

_GENERIC = Draft202012Validator.VALIDATORS["unevaluatedProperties"]
_GENERIC_IF = Draft202012Validator.VALIDATORS["if"]
# Keywords that say nothing about which properties are evaluated (find_evaluated_property_keys_by_schema in
# jsonschema._utils looks at none of them), so a schema or branch made only of these adds no evaluated key.
_INERT = frozenset({"title", "description", "type", "required", "not", "$comment", "examples", "default"})
_SETTINGS_KEYS = frozenset({"title", "description", "type", "required", "properties"})


def _const_test(test: Any) -> tuple[str, str] | None:
    """(p, c) of an `if` that is `{"properties": {p: {"const": c}}, "required": [p]}` with a text c, else None. On a
    mapping it holds exactly when p is there and equal to c (jsonschema compares a text by ==), on anything else
    always, and it adds only p to the evaluated keys."""
    if not (isinstance(test, dict) and test.keys() == {"properties", "required"}):
        return None
    properties = test["properties"]
    if not (isinstance(properties, dict) and len(properties) == 1 and test["required"] == list(properties)):
        return None
    (name, condition), = properties.items()
    if not (isinstance(condition, dict) and condition.keys() == {"const"} and isinstance(condition["const"], str)):
        return None
    return name, condition["const"]


def _branch_test(branch: Any) -> tuple[str, str, str] | None:
    """(p, c, $ref) of a branch `{"if": <a const test>, "then": {"$ref": r}}`, else None."""
    if not isinstance(branch, dict) or branch.keys() != {"if", "then"}:
        return None
    then = branch["then"]
    test = _const_test(branch["if"])
    if test is None or not (isinstance(then, dict) and then.keys() == {"$ref"} and isinstance(then["$ref"], str)):
        return None
    return test[0], test[1], then["$ref"]


def _if(validator: Any, test: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    """jsonschema's `if`, deciding a const test by reading the instance (the errors of `if` itself are never
    reported, only which of `then` and `else` applies)."""
    const_test = _const_test(test)
    if const_test is None:
        yield from _GENERIC_IF(validator, test, instance, schema)
        return
    name, const = const_test
    if not validator.is_type(instance, "object") or (name in instance and instance[name] == const):
        if "then" in schema:
            yield from validator.descend(instance, schema["then"], schema_path="then")
    elif "else" in schema:
        yield from validator.descend(instance, schema["else"], schema_path="else")


def _unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: dict[str, Any]) -> Iterator[
        ValidationError]:
    branches = schema.get("allOf")
    if not (unevaluated is False and isinstance(branches, list) and isinstance(schema.get("properties", {}), dict)
            and set(schema) <= _INERT | {"properties", "allOf", "unevaluatedProperties"}):
        yield from _GENERIC(validator, unevaluated, instance, schema)
        return
    tests = [_branch_test(branch) for branch in branches]
    if not any(tests) or not all(test or (isinstance(branch, dict) and set(branch) <= _INERT)
                                 for test, branch in zip(tests, branches, strict=True)):
        yield from _GENERIC(validator, unevaluated, instance, schema)
        return
    if not validator.is_type(instance, "object"):
        return
    evaluated = set(schema.get("properties", {})) & instance.keys()
    for test, branch in zip(tests, branches, strict=True):
        if test is None:
            continue
        name, const, ref = test
        if name not in instance or instance[name] != const:
            continue  # `if` fails and there is no `else`: the branch holds and evaluates nothing
        target = validator._resolver.lookup(ref).contents
        if not (isinstance(target, dict) and set(target) <= _SETTINGS_KEYS
                and isinstance(target.get("properties", {}), dict)):
            yield from _GENERIC(validator, unevaluated, instance, schema)
            return
        if next(validator.descend(instance, branch["then"]), None) is None:  # the branch holds: its keys count
            evaluated |= {name} | (set(target.get("properties", {})) & instance.keys())
    extras = sorted((key for key in instance if key not in evaluated), key=str)
    if extras:
        yield ValidationError("Unevaluated properties are not allowed (%s %s unexpected)" % _extras_msg(extras))


def _extras_msg(extras: list[Any]) -> tuple[str, str]:
    """jsonschema._utils.extras_msg: the keys as jsonschema words them."""
    verb = "was" if len(extras) == 1 else "were"
    return ", ".join(repr(extra) for extra in extras), verb


FlowValidator = validators.extend(Draft202012Validator, {"unevaluatedProperties": _unevaluated_properties,
                                                         "if": _if})
