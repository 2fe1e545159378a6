"""The simulator's data file (schemas/sandbox-data.schema.json): read, validated with every problem listed, and
loaded into a SandboxServer."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from publish.sandbox import uploads
from publish.sandbox.realism import Realism

if TYPE_CHECKING:
    from publish.sandbox.server import SandboxServer


class SandboxDataError(ValueError):
    """The data file is unreadable or does not match schemas/sandbox-data.schema.json; the message lists why."""


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(resources.files("publish.schemas").joinpath("sandbox-data.schema.json")
                                        .read_text("utf-8"))
    return loaded


def read_data_file(path: Path) -> dict[str, Any]:
    """Reads and validates a YAML or JSON data file; relative key paths are resolved against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxDataError(f"{path}: cannot read the sandbox data file ({exc.strerror}).") from None
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yml", ".yaml") else json.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise SandboxDataError(f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yml', '.yaml') else 'JSON'}"
                               f" ({exc}).") from None
    validate(data, source=str(path))
    for key in data.get("keys", []):
        if "public_key_file" in key:
            key_path = (path.parent / key["public_key_file"]).resolve()
            try:
                key["public_key"] = key_path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SandboxDataError(f"{path}: keys[{key['key_id']}].public_key_file: cannot read {key_path} "
                                       f"({exc.strerror}).") from None
            del key["public_key_file"]
    document: dict[str, Any] = data  # validate() refused anything but a mapping
    return document


def validate(data: Any, *, source: str = "data") -> None:
    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message
        if error.validator == "oneOf" and error.absolute_path and "keys" in error.absolute_path:
            message = "give exactly one of public_key (PEM text) or public_key_file (a path)"
        problems.append(f"  {where}: {message}")
    if problems:
        raise SandboxDataError(f"{source} is not a valid sandbox data file (see schemas/sandbox-data.schema.json):\n"
                               + "\n".join(problems))


def load_into(server: SandboxServer, data: dict[str, Any]) -> None:
    validate(data)
    if "realism" in data:
        try:
            server.realism = Realism.from_mapping(data["realism"])
        except ValueError as exc:
            raise SandboxDataError(f"realism: {exc}") from None
    for key in data.get("keys", []):
        if "public_key" not in key:
            raise SandboxDataError(f"keys[{key['key_id']}]: public_key_file must be resolved; load the file with "
                                   "read_data_file()")
        if "PRIVATE KEY" in key["public_key"]:
            raise SandboxDataError(f"keys[{key['key_id']}]: that is a private key; the simulator needs only the "
                                   "public key (-----BEGIN PUBLIC KEY-----).")
        try:
            server.register_key(key["key_id"], key.get("issuer_id"), key["public_key"],
                                read_only=key.get("read_only", False))
        except ValueError as exc:
            raise SandboxDataError(str(exc)) from None
        if key.get("revoked"):
            server.revoke_key(key["key_id"])
    for app in data.get("apps", []):
        app_id = server.add_app(app["bundle_id"], app["name"], sku=app.get("sku"),
                                primary_locale=app.get("primary_locale", "en-US"))
        groups = {}
        for group in app.get("beta_groups", []):
            groups[group["name"]] = server.add_beta_group(
                app_id, group["name"], group.get("internal", False),
                has_access_to_all_builds=group.get("has_access_to_all_builds", False))
        for tester in app.get("testers", []):
            unknown = [g for g in tester.get("groups", []) if g not in groups]
            if unknown:
                raise SandboxDataError(f"apps[{app['bundle_id']}].testers[{tester['email']}]: no beta group named "
                                       f"{', '.join(unknown)}; define it under beta_groups.")
            server.add_beta_tester(tester["email"], first_name=tester.get("first_name"),
                                   last_name=tester.get("last_name"), app_ids=(app_id,),
                                   group_ids=tuple(groups[g] for g in tester.get("groups", [])))
        for build in app.get("builds", []):
            with server.store.lock:
                uploads.create_build(server.sim, app_id, build["version"], build["build_number"],
                                     build.get("platform", "IOS"),
                                     processing_state=build.get("processing_state", "VALID"),
                                     uses_non_exempt_encryption=build.get("uses_non_exempt_encryption", False))
        for version in app.get("app_store_versions", []):
            server.add_app_store_version(app_id, version["version_string"], platform=version.get("platform", "IOS"),
                                         state=version.get("state", "READY_FOR_DISTRIBUTION"))
