"""How a problem in a flow file is worded: the dotted path of a field, the value as the user wrote it (never a
secret), what was expected in the schema's words, and a did-you-mean; `Reporter` places each at FILE:LINE:COLUMN.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from jsonschema.exceptions import ValidationError

from publish.spec.model import FORMAT_VERSION, SECRET_FIELDS, Diagnostic, Path_
from publish.spec.schema import resolve, step_settings, step_types
from publish.spec.yaml_source import Positions, format_path


_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing",
}


# JSON Schema's type names of the values YAML gives; bool before int, since a bool is an int to Python.
_JSON_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                                             (list, "array"), (dict, "object"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def _is_secret_path(path: Path_) -> bool:
    return bool(path) and path[-1] in SECRET_FIELDS


def _looks_secret(value: Any, path: Path_) -> bool:
    """A secret field's own value, or key material pasted into one of its sub-keys (env, file ...)."""
    if _is_secret_path(path):
        return True
    under_secret = any(part in SECRET_FIELDS for part in path)
    return under_secret and isinstance(value, str) and (len(value) > 64 or "\n" in value or "-----" in value)


def _show(value: Any, path: Path_) -> str:
    """The value as the user wrote it, unless it is (or may be) a secret."""
    if _looks_secret(value, path):
        return "<hidden>"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (nothing)"
    if isinstance(value, (list, dict)):
        return _TYPE_WORDS[_json_type(value)]
    return repr(value)


def _got(value: Any, path: Path_) -> str:
    kind = _json_type(value)
    if kind in ("array", "object", "null"):
        return _TYPE_WORDS[kind]
    if _looks_secret(value, path):
        return _TYPE_WORDS.get(kind, kind)
    return f"{_TYPE_WORDS.get(kind, kind)} ({_show(value, path)})"


def suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _describe(schema: dict[str, Any]) -> str:
    """How a (sub)schema reads in an error message: "a string", "a secret reference ({env: NAME} ...)"."""
    schema = resolve(schema)
    title: str = schema.get("title", "")
    if title.startswith("{") or title.startswith("a ") or title.startswith("an "):
        return title
    if title == "Secret reference":
        return "a secret reference ({env: NAME} or {file: path})"
    if "type" in schema and isinstance(schema["type"], str):
        return _TYPE_WORDS.get(schema["type"], schema["type"])
    return title or "something else"


class Reporter:
    def __init__(self, source: str, positions: Positions, data: Any) -> None:
        self.source = source
        self.positions = positions
        self.data = data
        self.diagnostics: list[Diagnostic] = []
        self.bad_paths: set[Path_] = set()  # paths already refused, so no later check opens them

    def at_value(self, path: Path_, message: str) -> None:
        line, column = self.positions.of_value(path)
        self.diagnostics.append(Diagnostic(line, column, format_path(path), message, self.source))

    def at_key(self, path: Path_, message: str) -> None:
        line, column = self.positions.of_key(path)
        self.diagnostics.append(Diagnostic(line, column, format_path(path), message, self.source))

    # -- schema errors

    def schema_error(self, error: ValidationError) -> None:
        path: Path_ = tuple(error.absolute_path)
        kind = str(error.validator)
        schema = error.schema if isinstance(error.schema, dict) else {}
        value: Any = error.instance  # always set on the errors a validator yields (Unset only on hand-made ones)

        if kind in ("anyOf", "oneOf"):
            self._alternatives(error, path, schema)
        elif kind == "additionalProperties":
            self._unknown_keys(path, value, list(schema.get("properties", {})))
        elif kind == "unevaluatedProperties":
            self._unknown_settings(path, value)
        elif kind == "required":
            self._missing(error, path, schema)
        elif kind == "type":
            self._wrong_type(path, value, schema)
        elif kind == "enum":
            self._not_in_enum(path, value, schema["enum"])
        elif kind == "const":
            self._not_const(path, value, schema)
        elif kind in ("minItems", "minProperties", "minLength"):
            self._empty(path)
        elif kind == "uniqueItems":
            self._repeated(path, value)
        elif kind == "pattern" and "propertyNames" in error.relative_schema_path:
            self._bad_name(path, str(value))
        elif kind == "pattern":
            self._bad_pattern(path, value)
        elif kind == "minimum":
            self.at_value(path, f"must be at least {schema['minimum']}, got {_show(value, path)}")
        elif kind == "not":
            self._forbidden_combination(path, value)
        else:  # a keyword we do not word specially
            self.at_value(path, error.message if not _looks_secret(value, path) else f"is not valid ({kind})")

    def _unknown_keys(self, path: Path_, value: Any, allowed: list[str]) -> None:
        for key in value:
            if key not in allowed:
                self._unknown_key(path, key, allowed, where=self._where(path))

    def _unknown_settings(self, path: Path_, value: Any) -> None:
        step = value.get("step") if isinstance(value, dict) else None
        if step not in step_types():
            return  # the unknown step type is reported on its own
        allowed = step_settings(step)
        for key in value:
            if key not in allowed:
                self._unknown_setting(path, step, key, allowed)

    def _not_const(self, path: Path_, value: Any, schema: dict[str, Any]) -> None:
        if path == ("version",):
            self.at_value(path, f"unsupported format version {_show(value, path)}: only `version: {FORMAT_VERSION}` "
                          "exists")
        else:
            self.at_value(path, f"must be {schema['const']!r}, got {_show(value, path)}")

    def _repeated(self, path: Path_, value: Any) -> None:
        seen: set[str] = set()
        twice: set[str] = set()
        for item in value:
            text = json.dumps(item)
            (twice if text in seen else seen).add(text)
        self.at_value(path, f"lists {', '.join(sorted(twice))} more than once; give each only once")

    def _where(self, path: Path_) -> str:
        if not path:
            return "at the top level"
        if len(path) == 2 and path[0] == "api_keys":
            return "in an API key"
        if len(path) == 2 and path[0] == "apple_ids":
            return "in an Apple ID"
        if len(path) == 2 and path[0] == "profiles":
            return "in a profile"
        return f"in {format_path(path)}"

    def _unknown_key(self, path: Path_, key: str, allowed: list[str], where: str) -> None:
        allowed = [k for k in allowed if k != "$schema"]
        self.at_key(path + (key,), f"unknown key '{key}' {where}; {suggest(key, allowed)}allowed keys: "
                    f"{', '.join(allowed)}")

    def _unknown_setting(self, path: Path_, step: str, key: str, allowed: list[str]) -> None:
        others = [name for name in step_types() if name != step and key in step_settings(name)]
        elsewhere = f"'{key}' is a setting of {' and '.join(others)}, not of {step}; " if others else ""
        settings = [k for k in allowed if k != "step"]
        self.at_key(path + (key,), f"unknown setting '{key}' for step {step}; {elsewhere}"
                    f"{suggest(key, settings) if not others else ''}its settings are: {', '.join(settings)}")

    def _missing(self, error: ValidationError, path: Path_, schema: dict[str, Any]) -> None:
        value = error.instance
        properties = resolve(schema).get("properties") or {}
        for key in schema.get("required", []):
            if isinstance(value, dict) and key in value:
                continue
            if key == "step":
                self.at_value(path, f"missing 'step': say what this step does, one of {', '.join(step_types())}")
                continue
            prop = resolve(properties.get(key, {})) if key in properties else {}
            # The `else` of ApiKey's if/then: say that fastlane_json is the other way.
            if path[:1] == ("api_keys",) and len(path) == 2:
                self.at_value(path, f"missing required key '{key}'; an API key needs key_id and private_key "
                              "(issuer_id too unless it is an individual key), or fastlane_json instead")
                continue
            if path[:1] != ("profiles",) and not path:
                what = {"version": f"add `version: {FORMAT_VERSION}` at the top",
                        "profiles": "add `profiles:` with at least one profile (bundle_id and flow)"}.get(key, "")
                self.at_value(path, f"missing required key '{key}'; {what}")
                continue
            detail = prop.get("description", "")
            if prop.get("enum"):
                detail = f"one of {', '.join(map(str, prop['enum']))}"
            self.at_value(path, f"missing required key '{key}'" + (f": {detail}" if detail else ""))

    def _wrong_type(self, path: Path_, value: Any, schema: dict[str, Any]) -> None:
        expected = schema.get("type")
        words = _TYPE_WORDS.get(expected, str(expected)) if isinstance(expected, str) else "something else"
        if path and path[-1] in SECRET_FIELDS and expected == "object":
            self.at_value(path, "a secret cannot be written in the flow file: use {env: NAME} (a CI secret mapped "
                          "to an environment variable) or {file: path}, optionally with `encoding: base64`")
            return
        hint = ""
        if expected == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            hint = f"; put it in quotes, e.g. \"{value}\""
        elif expected == "boolean" and isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
            # YAML 1.1 read these as booleans; flow files are YAML 1.2 (publish/spec/yaml_source.py).
            hint = f"; flow files are YAML 1.2, where {value} is text and only true and false are booleans: write " \
                   f"{'true' if value.lower() in ('yes', 'on', 'y') else 'false'}"
        elif expected == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            hint = "; write true or false without quotes"
        elif expected == "object" and isinstance(value, str) and len(path) >= 2 and path[-2] == "flow":
            hint = f"; a step is written `- step: {value}` followed by its settings"
        elif expected == "array" and isinstance(value, (str, dict)):
            hint = "; write a list, e.g. [\"QA Team\"] or one `- item` per line"
        self.at_value(path, f"must be {words}, got {_got(value, path)}{hint}")

    def _not_in_enum(self, path: Path_, value: Any, allowed: list[Any]) -> None:
        choices = [str(a) for a in allowed]
        shown = _show(value, path)
        if path and path[-1] == "step":
            suggestion = suggest(str(value), choices) if isinstance(value, str) else ""
            self.at_value(path, f"unknown step type {shown}; {suggestion}known step types: {', '.join(choices)}")
            return
        suggestion = suggest(str(value), choices) if isinstance(value, str) else ""
        self.at_value(path, f"{shown} is not allowed; {suggestion}allowed: {', '.join(choices)}")

    def _empty(self, path: Path_) -> None:
        last = path[-1] if path else None
        if last == "profiles":
            self.at_value(path, "no profiles: add at least one profile with a bundle_id and a flow")
        elif last == "flow":
            self.at_value(path, "the flow is empty: add at least one step, e.g. `- step: send_to_testflight`")
        else:
            self.at_value(path, "must not be empty")

    def _bad_pattern(self, path: Path_, value: Any) -> None:
        last = path[-1] if path else None
        shown = _show(value, path)
        explanations = {
            "bundle_id": "a bundle ID is reverse-DNS: letters, digits and '-' separated by dots, e.g. com.example.app",
            "env": "an environment variable name is letters, digits and '_', not starting with a digit",
            "xcode_version": "an Xcode version looks like \"16.2\" or \"16.0 beta 2\"",
            "scheduled_release_date": "use an ISO 8601 date-time with a time zone, e.g. \"2025-03-01T09:00:00Z\"",
            "processing_timeout": "use seconds (e.g. 3600) or a duration such as \"45m\", \"2h\", \"1h30m\"",
            "locale": "a locale looks like en-US, de-DE, zh-Hans",
            "email": "an e-mail address looks like name@example.com",
        }
        if isinstance(last, int) and len(path) >= 2 and path[-2] == "testers":
            last = "email"
        explanation = explanations.get(str(last), "it does not have the expected form")
        self.at_value(path, f"{shown} is not valid: {explanation}")

    def _bad_name(self, path: Path_, name: str) -> None:
        """A mapping key that does not fit `propertyNames`: a friendly name, or a locale."""
        if path and path[-1] in ("api_keys", "apple_ids"):
            self.at_key(path + (name,), f"the name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
                        "(starting with a letter or digit), e.g. release-key")
        else:
            self.at_key(path + (name,), f"{name!r} is not valid: a locale looks like en-US, de-DE, zh-Hans "
                        "(or give a single string or {file: path} for all)")

    def _forbidden_combination(self, path: Path_, value: Any) -> None:
        if len(path) == 2 and path[0] == "api_keys":
            present = [k for k in ("key_id", "issuer_id", "private_key") if isinstance(value, dict) and k in value]
            self.at_value(path, f"fastlane_json replaces key_id, issuer_id and private_key; remove "
                          f"{', '.join(present)} or remove fastlane_json")
        elif isinstance(value, dict) and "api_key" in value and "apple_id" in value:
            self.at_value(path, "give either api_key (upload through the App Store Connect API) or apple_id (upload "
                          "through Transporter), not both")
        else:
            self.at_value(path, "this combination of keys is not allowed")

    def _alternatives(self, error: ValidationError, path: Path_, schema: dict[str, Any]) -> None:
        kind = str(error.validator)
        branches: list[dict[str, Any]] = schema[kind]
        value = error.instance
        if kind == "oneOf" and not isinstance(value, dict):
            return  # the type error says it already
        if resolve(schema).get("title") == "Secret reference" or (
            kind == "oneOf" and all(set(b.get("required", [])) <= {"env", "file"} for b in branches)
        ):
            both = isinstance(value, dict) and "env" in value and "file" in value
            self.at_value(path, "give either env: NAME or file: path, not both" if both else
                          "a secret reference needs env: NAME or file: path")
            return
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or []:
            branch_index = sub.relative_schema_path[0]  # anyOf/oneOf: the index of the branch that failed
            if isinstance(branch_index, int):
                by_branch.setdefault(branch_index, []).append(sub)
        fitting = []
        for index in range(len(branches)):
            errors = by_branch.get(index, [])
            type_mismatch = any(e.validator == "type" and tuple(e.absolute_path) == path for e in errors)
            if not type_mismatch:
                fitting.append((index, errors))
        if not fitting:
            options = " or ".join(dict.fromkeys(_describe(b) for b in branches))
            if path and path[-1] in SECRET_FIELDS:
                options = "a secret reference ({env: NAME} or {file: path})"
            self.at_value(path, f"must be {options}, got {_got(value, path)}")
            return

        # Several alternatives take this type: the one that got furthest (deepest errors, no `not`) is meant.
        def score(item: tuple[int, list[ValidationError]]) -> tuple[int, int, int]:
            errors = item[1]
            rejected_outright = any(e.validator == "not" and tuple(e.absolute_path) == path for e in errors)
            deepest = max((len(e.absolute_path) for e in errors), default=0)
            return (0 if rejected_outright else 1, deepest, -len(errors))

        _, errors = max(fitting, key=score)
        for sub in errors:
            self.schema_error(sub)


def describe_type(value: Any) -> str:
    """What kind of value this is ("a mapping", "a list" ...), in the words the messages use."""
    return _TYPE_WORDS.get(_json_type(value), "a value")
