"""The publish-flow file: loading, validation against schemas/publish-flow.schema.json, and the checks a schema
cannot express (names that refer to nothing, duplicate profiles, a scheduled release without a date ...).

Every problem is reported at once, each as `FILE:LINE:COLUMN: path.to.field: what is wrong, and what is allowed`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Union

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from publish.errors import InputError

SCHEMA_FILE = "publish-flow.schema.json"
FORMAT_VERSION = 1
# Values under these keys are secrets: never quoted back in an error message.
SECRET_FIELDS = frozenset({"private_key", "app_specific_password", "fastlane_json"})
# Settings of send_to_app_store that mean nothing when it distributes through TestFlight.
APP_STORE_ONLY_SETTINGS = ("whats_new", "release_type", "scheduled_release_date", "phased_release",
                           "submit_for_review", "cancel_previous_submission")

Path_ = tuple[Union[str, int], ...]


# --------------------------------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class SecretRef:
    """Where a value comes from: an environment variable or a file (relative to the flow file's directory)."""

    env: str | None = None
    file: str | None = None
    encoding: str | None = None  # None or "base64"

    def describe(self) -> str:
        where = f"environment variable {self.env}" if self.env else f"file {self.file}"
        return f"{where} (base64)" if self.encoding == "base64" else where


Value = Union[str, SecretRef]


@dataclass(frozen=True)
class ApiKeySpec:
    name: str
    key_id: Value | None = None
    issuer_id: Value | None = None
    private_key: SecretRef | None = None
    fastlane_json: SecretRef | None = None


@dataclass(frozen=True)
class AppleIdSpec:
    name: str
    apple_id: Value
    app_specific_password: SecretRef


@dataclass(frozen=True)
class StepSpec:
    step: str
    settings: dict[str, Any]  # the step mapping minus "step"; defaults are not filled in
    index: int
    line: int

    @property
    def settings_hash(self) -> str:
        """Stable across runs and key order: sha256 of the canonical JSON of the settings."""
        canonical = json.dumps(self.settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ProfileSpec:
    bundle_id: str
    name: str | None
    keep_binaries: bool
    flow: list[StepSpec]
    line: int = 0


@dataclass(frozen=True)
class FlowSpec:
    path: str
    version: int
    api_keys: dict[str, ApiKeySpec]
    apple_ids: dict[str, AppleIdSpec]
    profiles: list[ProfileSpec]
    raw: dict[str, Any]
    state_dir: str | None = None

    @property
    def base_dir(self) -> Path:
        """The directory relative file references are resolved against."""
        return Path(self.path).resolve().parent

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, order=True)
class Diagnostic:
    line: int
    column: int
    path: str
    message: str
    source: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.path}: {self.message}"


class FlowError(InputError):
    """The flow file has problems; `diagnostics` lists every one of them."""

    def __init__(self, source: str, diagnostics: list[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = diagnostics
        count = len(diagnostics)
        lines = "\n".join(f"  {d}" for d in diagnostics)
        super().__init__(
            f"{source} is not a valid publish flow ({count} problem{'s' if count != 1 else ''}):\n{lines}",
            hint="fix the lines above; `appstore-publish schema` prints the JSON Schema (editors can use it to "
            "complete and check the file).",
        )


# --------------------------------------------------------------------------------------------------- schema


@cache
def schema_text() -> str:
    return resources.files("publish.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def flow_schema() -> dict[str, Any]:
    schema = json.loads(schema_text())
    Draft202012Validator.check_schema(schema)
    return schema


def step_types() -> list[str]:
    return list(flow_schema()["$defs"]["StepType"]["enum"])


def step_settings(step: str) -> list[str]:
    """The keys a step of that type accepts (including `step`)."""
    schema = flow_schema()
    for branch in schema["$defs"]["Step"]["allOf"]:
        if branch.get("if", {}).get("properties", {}).get("step", {}).get("const") == step:
            return list(_resolve(branch["then"])["properties"])
    return []


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------------------------------- YAML


class _FlowLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (the schema wants ISO text, not datetime objects)."""


_FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class _Positions:
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def of_value(self, path: Path_) -> tuple[int, int]:
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def of_key(self, path: Path_) -> tuple[int, int]:
        return self.keys.get(path) or self.of_value(path)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _parse_yaml(text: str, source: str) -> tuple[Any, _Positions, list[Diagnostic]]:
    loader = _FlowLoader(text)
    positions = _Positions()
    problems: list[Diagnostic] = []
    try:
        root = loader.get_single_node()
        if root is None:
            return None, positions, problems
        data = _construct(loader, root, (), positions, problems, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        problems.append(Diagnostic(line, column, "(yaml)", f"YAML syntax error: {what}; check the indentation "
                                   "and quoting around this point (quote values containing ': ' or '#')", source))
        return None, positions, problems
    except yaml.YAMLError as exc:
        problems.append(Diagnostic(1, 1, "(yaml)", f"YAML error: {exc}", source))
        return None, positions, problems
    except _TooBig as exc:
        line, column = _mark(exc.node)
        problems.append(Diagnostic(line, column, "(yaml)", f"the document is {exc.what}; write the flow out "
                                   "without such aliases", source))
        return None, positions, problems
    finally:
        loader.dispose()
    return data, positions, problems


# A flow is small; these bound what YAML aliases can expand to ("billion laughs") and recursive aliases.
MAX_NODES = 100_000
MAX_DEPTH = 64


class _TooBig(Exception):
    def __init__(self, node: yaml.Node, what: str) -> None:
        self.node = node
        self.what = what


def _construct(loader: _FlowLoader, node: yaml.Node, path: Path_, positions: _Positions,
               problems: list[Diagnostic], source: str) -> Any:
    if len(path) > MAX_DEPTH:
        raise _TooBig(node, f"nested more than {MAX_DEPTH} levels deep (a recursive alias?)")
    if len(positions.values) >= MAX_NODES:
        raise _TooBig(node, f"more than {MAX_NODES} values once aliases are expanded")
    positions.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line, column = _mark(key_node)
            if not isinstance(key, str):
                problems.append(Diagnostic(line, column, format_path(path), f"key {key!r} must be a string "
                                           "(quote it)", source))
                key = str(key)
            if key in result:
                first_line, _ = positions.keys[path + (key,)]
                problems.append(Diagnostic(line, column, format_path(path + (key,)),
                                           f"duplicate key '{key}' (first given on line {first_line}); "
                                           "keep only one", source))
                continue
            positions.keys[path + (key,)] = (line, column)
            result[key] = _construct(loader, value_node, path + (key,), positions, problems, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), positions, problems, source) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# --------------------------------------------------------------------------------------------------- messages


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


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


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _describe(schema: dict[str, Any]) -> str:
    """How a (sub)schema reads in an error message: "a string", "a secret reference ({env: NAME} ...)"."""
    schema = _resolve(schema)
    title = schema.get("title", "")
    if title.startswith("{") or title.startswith("a ") or title.startswith("an "):
        return title
    if title == "Secret reference":
        return "a secret reference ({env: NAME} or {file: path})"
    if "type" in schema and isinstance(schema["type"], str):
        return _TYPE_WORDS.get(schema["type"], schema["type"])
    return title or "something else"


class _Reporter:
    def __init__(self, source: str, positions: _Positions, data: Any) -> None:
        self.source = source
        self.positions = positions
        self.data = data
        self.diagnostics: list[Diagnostic] = []

    def at_value(self, path: Path_, message: str) -> None:
        line, column = self.positions.of_value(path)
        self.diagnostics.append(Diagnostic(line, column, format_path(path), message, self.source))

    def at_key(self, path: Path_, message: str) -> None:
        line, column = self.positions.of_key(path)
        self.diagnostics.append(Diagnostic(line, column, format_path(path), message, self.source))

    # -- schema errors

    def schema_error(self, error: ValidationError) -> None:
        path: Path_ = tuple(error.absolute_path)
        kind = error.validator
        schema = error.schema if isinstance(error.schema, dict) else {}
        value = error.instance

        if kind in ("anyOf", "oneOf"):
            self._alternatives(error, path, schema)
        elif kind == "additionalProperties":
            allowed = list(schema.get("properties", {}))
            for key in value:
                if key not in allowed:
                    self._unknown_key(path, key, allowed, where=self._where(path))
        elif kind == "unevaluatedProperties":
            step = value.get("step") if isinstance(value, dict) else None
            if step not in step_types():
                return  # the unknown step type is reported on its own
            allowed = step_settings(step)
            for key in value:
                if key not in allowed:
                    self._unknown_setting(path, step, key, allowed)
        elif kind == "required":
            self._missing(error, path, schema)
        elif kind == "type":
            self._wrong_type(path, value, schema)
        elif kind == "enum":
            self._not_in_enum(path, value, schema["enum"])
        elif kind == "const":
            if path == ("version",):
                self.at_value(path, f"unsupported format version {_show(value, path)}: only `version: {FORMAT_VERSION}` "
                              "exists")
            else:
                self.at_value(path, f"must be {schema['const']!r}, got {_show(value, path)}")
        elif kind in ("minItems", "minProperties", "minLength"):
            self._empty(path)
        elif kind == "uniqueItems":
            seen: set[str] = set()
            twice = sorted({json.dumps(v) for v in value if json.dumps(v) in seen or seen.add(json.dumps(v))})
            self.at_value(path, f"lists {', '.join(twice)} more than once; give each only once")
        elif kind == "pattern" and "propertyNames" in error.relative_schema_path:
            self._bad_name(path, value)
        elif kind == "pattern":
            self._bad_pattern(path, value)
        elif kind == "minimum":
            self.at_value(path, f"must be at least {schema['minimum']}, got {_show(value, path)}")
        elif kind == "not":
            self._forbidden_combination(path, value)
        else:  # a keyword we do not word specially
            self.at_value(path, error.message if not _looks_secret(value, path) else f"is not valid ({kind})")

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
        self.at_key(path + (key,), f"unknown key '{key}' {where}; {_suggest(key, allowed)}allowed keys: "
                    f"{', '.join(allowed)}")

    def _unknown_setting(self, path: Path_, step: str, key: str, allowed: list[str]) -> None:
        others = [name for name in step_types() if name != step and key in step_settings(name)]
        elsewhere = f"'{key}' is a setting of {' and '.join(others)}, not of {step}; " if others else ""
        settings = [k for k in allowed if k != "step"]
        self.at_key(path + (key,), f"unknown setting '{key}' for step {step}; {elsewhere}"
                    f"{_suggest(key, settings) if not others else ''}its settings are: {', '.join(settings)}")

    def _missing(self, error: ValidationError, path: Path_, schema: dict[str, Any]) -> None:
        value = error.instance
        properties = _resolve(schema).get("properties") or {}
        for key in schema.get("required", []):
            if isinstance(value, dict) and key in value:
                continue
            if key == "step":
                self.at_value(path, f"missing 'step': say what this step does, one of {', '.join(step_types())}")
                continue
            prop = _resolve(properties.get(key, {})) if key in properties else {}
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
            self.at_value(path, f"a secret cannot be written in the flow file: use {{env: NAME}} (a CI secret mapped "
                          "to an environment variable) or {file: path}, optionally with `encoding: base64`")
            return
        hint = ""
        if expected == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            hint = f"; put it in quotes, e.g. \"{value}\""
        elif expected == "boolean" and isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
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
            suggestion = _suggest(str(value), choices) if isinstance(value, str) else ""
            self.at_value(path, f"unknown step type {shown}; {suggestion}known step types: {', '.join(choices)}")
            return
        suggestion = _suggest(str(value), choices) if isinstance(value, str) else ""
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
        kind = error.validator
        branches: list[dict[str, Any]] = schema[kind]
        value = error.instance
        if kind == "oneOf" and not isinstance(value, dict):
            return  # the type error says it already
        if _resolve(schema).get("title") == "Secret reference" or (
            kind == "oneOf" and all(set(b.get("required", [])) <= {"env", "file"} for b in branches)
        ):
            both = isinstance(value, dict) and "env" in value and "file" in value
            self.at_value(path, "give either env: NAME or file: path, not both" if both else
                          "a secret reference needs env: NAME or file: path")
            return
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or []:
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = []
        for index, branch in enumerate(branches):
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


# --------------------------------------------------------------------------------------------------- checks


_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(value: int | str) -> int:
    """Seconds from `processing_timeout`: an integer, or "45m", "2h", "1h30m", "90s"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.match(str(value))
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {value!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_release_date(text: str) -> datetime:
    """An ISO 8601 date-time with a time zone (Z or an offset)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed


def on_the_hour(moment: datetime) -> tuple[str, str]:
    """The whole hours before and after `moment`, in UTC, as App Store Connect writes them."""
    base = moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return (base.strftime("%Y-%m-%dT%H:%M:%SZ"), (base + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _check_references(data: dict[str, Any], report: _Reporter, base_dir: Path | None) -> None:
    api_keys = data.get("api_keys") if isinstance(data.get("api_keys"), dict) else {}
    apple_ids = data.get("apple_ids") if isinstance(data.get("apple_ids"), dict) else {}
    profiles = data.get("profiles") if isinstance(data.get("profiles"), list) else []
    first_profile: dict[str, int] = {}
    for p_index, profile in enumerate(profiles):
        if not isinstance(profile, dict):
            continue
        bundle_id = profile.get("bundle_id")
        if isinstance(bundle_id, str):
            if bundle_id in first_profile:
                line, _ = report.positions.of_value(("profiles", first_profile[bundle_id]))
                report.at_value(("profiles", p_index, "bundle_id"), f"a second profile for bundle ID {bundle_id} "
                                f"(the first starts on line {line}); an app has one profile: merge their flows")
            else:
                first_profile[bundle_id] = p_index
        flow = profile.get("flow") if isinstance(profile.get("flow"), list) else []
        for s_index, step in enumerate(flow):
            if isinstance(step, dict):
                _check_step(("profiles", p_index, "flow", s_index), step, api_keys, apple_ids, report)
                if base_dir is not None:
                    _check_text_files(("profiles", p_index, "flow", s_index), step, base_dir, report)


def _check_text_files(path: Path_, step: dict[str, Any], base_dir: Path, report: _Reporter) -> None:
    """Release notes given as {file: path} must exist now, not halfway through a publish."""
    for key in ("what_to_test", "whats_new"):
        notes = step.get(key)
        if not isinstance(notes, dict):
            continue
        refs = [((key,), notes)] if "file" in notes else [((key, loc), v) for loc, v in notes.items()]
        for sub, ref in refs:
            if isinstance(ref, dict) and isinstance(ref.get("file"), str):
                target = base_dir / ref["file"]
                if not target.is_file():
                    report.at_value(path + sub + ("file",), f"file {target} does not exist (paths are relative to "
                                    "the flow file's directory)")


def _check_name(path: Path_, name: Any, defined: dict[str, Any], section: str, report: _Reporter) -> None:
    if not isinstance(name, str) or name in defined:
        return
    if not defined:
        report.at_value(path, f"'{name}' refers to nothing: the flow has no `{section}:` section; define "
                        f"{section}: {{{name}: ...}} at the top level" +
                        (", or leave api_key out to use the conventional environment variables (fastlane "
                         "APP_STORE_CONNECT_API_KEY_*, Codemagic APP_STORE_CONNECT_*)" if section == "api_keys" else ""))
        return
    label = {"api_keys": "API key", "apple_ids": "Apple ID"}[section]
    report.at_value(path, f"unknown {label} '{name}'; {_suggest(name, list(defined))}"
                    f"defined under {section}: {', '.join(defined)}")


def _check_step(path: Path_, step: dict[str, Any], api_keys: dict[str, Any], apple_ids: dict[str, Any],
                report: _Reporter) -> None:
    _check_name(path + ("api_key",), step.get("api_key"), api_keys, "api_keys", report)
    _check_name(path + ("apple_id",), step.get("apple_id"), apple_ids, "apple_ids", report)
    if step.get("step") != "send_to_app_store":
        return
    release_type = step.get("release_type")
    date = step.get("scheduled_release_date")
    if release_type == "scheduled" and date is None:
        report.at_value(path + ("release_type",), "release_type scheduled needs scheduled_release_date, e.g. "
                        "scheduled_release_date: \"2025-03-01T09:00:00Z\"")
    if date is not None and release_type != "scheduled":
        report.at_key(path + ("scheduled_release_date",), "scheduled_release_date is used only with "
                      "`release_type: scheduled`; set that, or remove the date")
    if isinstance(date, str):
        try:
            parsed = parse_release_date(date)
        except ValueError:
            report.at_value(path + ("scheduled_release_date",), f"{date!r} is not a valid date-time: use ISO 8601 "
                            "with a time zone, e.g. \"2025-03-01T09:00:00Z\"")
        else:
            if parsed.minute or parsed.second or parsed.microsecond:
                # protocol.md H.5: App Store Connect takes a release date on the hour only.
                earlier, later = on_the_hour(parsed)
                report.at_value(path + ("scheduled_release_date",), f"{date!r} is not on the hour; App Store "
                                f"Connect schedules releases by the hour only: use \"{earlier}\" or \"{later}\"")
    if step.get("stage_type") == "testflight":
        for key in APP_STORE_ONLY_SETTINGS:
            if key in step:
                report.at_key(path + (key,), f"{key} applies to the App Store only, but stage_type is testflight; "
                              "remove it or set `stage_type: app_store`")


# --------------------------------------------------------------------------------------------------- loading


def load_flow(path: str | Path) -> FlowSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"flow file {path} does not exist", hint="check the path (it is relative to the current "
                         "directory); `appstore-publish validate FLOW` checks a flow file") from None
    except IsADirectoryError:
        raise InputError(f"flow file {path} is a directory", hint="give the path of the YAML flow file") from None
    except UnicodeDecodeError:
        raise InputError(f"flow file {path} is not UTF-8 text", hint="save it as UTF-8 YAML") from None
    except OSError as exc:
        raise InputError(f"cannot read flow file {path}: {exc.strerror}") from None
    return load_flow_text(text, str(path), base_dir=path.resolve().parent)


def load_flow_text(text: str, source_name: str, *, base_dir: Path | None = None) -> FlowSpec:
    """Parse and check a flow; `base_dir` (the flow file's directory) enables the checks of referenced files."""
    data, positions, problems = _parse_yaml(text, source_name)
    report = _Reporter(source_name, positions, data)
    report.diagnostics.extend(problems)
    if problems and data is None:
        raise FlowError(source_name, sorted(report.diagnostics))
    if data is None:
        report.at_value((), f"the file is empty; a flow starts with `version: {FORMAT_VERSION}` and `profiles:` "
                        "(see examples/ or `appstore-publish schema`)")
        raise FlowError(source_name, report.diagnostics)
    if not isinstance(data, dict):
        report.at_value((), f"the top level must be a mapping (version, api_keys, apple_ids, profiles), got "
                        f"{_TYPE_WORDS.get(_json_type(data), 'a value')}")
        raise FlowError(source_name, report.diagnostics)

    validator = Draft202012Validator(flow_schema())
    for error in validator.iter_errors(data):
        report.schema_error(error)
    _check_references(data, report, base_dir)
    if report.diagnostics:
        raise FlowError(source_name, sorted(set(report.diagnostics)))
    return _build(data, source_name, positions)


def _value(raw: Any) -> Value | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return SecretRef(env=raw.get("env"), file=raw.get("file"), encoding=raw.get("encoding"))
    return str(raw)


def _build(data: dict[str, Any], source_name: str, positions: _Positions) -> FlowSpec:
    api_keys = {
        name: ApiKeySpec(
            name=name,
            key_id=_value(spec.get("key_id")),
            issuer_id=_value(spec.get("issuer_id")),
            private_key=_value(spec.get("private_key")),  # type: ignore[arg-type]
            fastlane_json=_value(spec.get("fastlane_json")),  # type: ignore[arg-type]
        )
        for name, spec in (data.get("api_keys") or {}).items()
    }
    apple_ids = {
        name: AppleIdSpec(
            name=name,
            apple_id=_value(spec["apple_id"]),  # type: ignore[arg-type]
            app_specific_password=_value(spec["app_specific_password"]),  # type: ignore[arg-type]
        )
        for name, spec in (data.get("apple_ids") or {}).items()
    }
    profiles = []
    for p_index, profile in enumerate(data["profiles"]):
        steps = [
            StepSpec(
                step=step["step"],
                settings={k: v for k, v in step.items() if k != "step"},
                index=s_index,
                line=positions.of_value(("profiles", p_index, "flow", s_index))[0],
            )
            for s_index, step in enumerate(profile["flow"])
        ]
        profiles.append(ProfileSpec(
            bundle_id=profile["bundle_id"],
            name=profile.get("name"),
            keep_binaries=bool(profile.get("keep_binaries", False)),
            flow=steps,
            line=positions.of_value(("profiles", p_index))[0],
        ))
    return FlowSpec(
        path=source_name,
        version=data["version"],
        api_keys=api_keys,
        apple_ids=apple_ids,
        profiles=profiles,
        raw=data,
        state_dir=data.get("state_dir"),
    )
