"""Reading a flow file: bounded read, YAML 1.2 parse with positions, strings kept as written where the schema wants
strings, the schema, the checks, then the model. Every problem is reported at once, each as
`FILE:LINE:COLUMN: path.to.field: what is wrong, and what is allowed`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from publish.errors import InputError
from publish.spec.checks import check_flow
from publish.spec.messages import Reporter, describe_type
from publish.spec.model import (FORMAT_VERSION, ApiKeySpec, AppleIdSpec, FlowError, FlowSpec, Path_, ProfileSpec,
                                SecretRef, StepSpec, Value)
from publish.spec.schema import flow_schema
from publish.spec.validation import FlowValidator
from publish.spec.yaml_source import MAX_FLOW_CHARS, Positions, parse_yaml

# UTF-8 takes at most 4 bytes a character: a file longer than this cannot be a flow, and is not read further.
MAX_FLOW_BYTES = 4 * MAX_FLOW_CHARS
# Rounds of "keep as written": each can only turn numbers into strings, and a flow is checked in one or two.
_KEEP_ROUNDS = 4


def load_flow(path: str | Path) -> FlowSpec:
    path = Path(path)
    text = _read_flow_file(path)
    return load_flow_text(text, str(path), base_dir=path.resolve().parent)


def _read_flow_file(path: Path) -> str:
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"flow file {path} is a directory", hint="give the path of the YAML flow file")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device would block or never end: a flow file is an ordinary file.
            raise InputError(f"flow file {path} is not a regular file", hint="give the path of the YAML flow file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_FLOW_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"flow file {path} does not exist", hint="check the path (it is relative to the current "
                         "directory); `appstore-publish validate FLOW` checks a flow file") from None
    except ValueError:  # an embedded NUL byte in the path
        raise InputError(f"the flow file's path {str(path)[:80]!r} contains a NUL byte",
                         hint="give the path of the YAML flow file as it is on disk") from None
    except OSError as exc:
        raise InputError(f"cannot read flow file {path}: {exc.strerror}") from None
    if len(data) > MAX_FLOW_BYTES:
        raise InputError(f"flow file {path} is larger than {MAX_FLOW_BYTES} bytes, far more than a flow file holds",
                         hint="give the path of the YAML flow file (is this the IPA or a log?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"flow file {path} is not UTF-8 text (line {line}, byte {exc.start})",
                         hint="save it as UTF-8 YAML") from None


def load_flow_text(text: str, source_name: str, *, base_dir: Path | None = None) -> FlowSpec:
    """Parse and check a flow; `base_dir` (the flow file's directory) enables the checks of referenced files."""
    data, positions, problems = parse_yaml(text, source_name)
    report = Reporter(source_name, positions, data)
    report.diagnostics.extend(problems)
    if problems and data is None:
        raise FlowError(source_name, sorted(report.diagnostics))
    if data is None:
        report.at_value((), f"the file is empty; a flow starts with `version: {FORMAT_VERSION}` and `profiles:` "
                        "(see examples/ or `appstore-publish schema`)")
        raise FlowError(source_name, report.diagnostics)
    if not isinstance(data, dict):
        report.at_value((), f"the top level must be a mapping (version, api_keys, apple_ids, profiles), got "
                        f"{describe_type(data)}")
        raise FlowError(source_name, report.diagnostics)

    validator = FlowValidator(flow_schema())
    for error in keep_as_written(data, positions, validator):
        report.schema_error(error)
    check_flow(data, report, base_dir)
    if report.diagnostics:
        raise FlowError(source_name, sorted(set(report.diagnostics)))
    return _build(data, source_name, positions)


def keep_as_written(data: dict[str, Any], positions: Positions,
                    validator: Validator) -> list[ValidationError]:
    """Where the schema wants a string and YAML read a number, put back the text as written: `xcode_version: 16.10`
    is "16.10" (a float would be 16.1), `what_to_test: 42` is "42". A number stays a number where the schema takes
    one (`processing_timeout: 0` is still "at least 1", not a bad duration): each text is kept only where it leaves
    fewer problems at its place than the number did. Returns the schema's errors for the data as left: validating a
    flow is most of the cost of loading it, so the last round's answer is not asked for again."""
    for _ in range(_KEEP_ROUNDS):
        before = list(validator.iter_errors(data))
        candidates = {path: _get(data, path) for error in before for path in _string_wanted(error)
                      if path in positions.written and not isinstance(_get(data, path), str)}
        if not candidates:
            return before
        for path in candidates:
            _set(data, path, positions.written[path])
        after = list(validator.iter_errors(data))
        kept = 0
        for path, number in candidates.items():
            if _errors_under(after, path) < _errors_under(before, path):
                kept += 1
            else:
                _set(data, path, number)
        if not kept:
            return before  # every candidate put back: the data is as `before` saw it
    return list(validator.iter_errors(data))


def _errors_under(errors: list[ValidationError], path: Path_) -> int:
    return sum(1 for error in errors if tuple(error.absolute_path)[:len(path)] == path)


def _string_wanted(error: ValidationError) -> list[Path_]:
    found: list[Path_] = []
    pending = [error]
    while pending:
        current = pending.pop()
        pending.extend(current.context or [])
        wanted = current.schema.get("type") if isinstance(current.schema, dict) else None
        wants_string = wanted == "string" or (isinstance(wanted, list) and "string" in wanted)
        value = current.instance
        if (current.validator == "type" and wants_string and isinstance(value, (int, float))
                and not isinstance(value, bool)):
            found.append(tuple(current.absolute_path))
    return found


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: Path_, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _value(raw: Any) -> Value | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return SecretRef(env=raw.get("env"), file=raw.get("file"), encoding=raw.get("encoding"))
    return str(raw)


def _build(data: dict[str, Any], source_name: str, positions: Positions) -> FlowSpec:
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
