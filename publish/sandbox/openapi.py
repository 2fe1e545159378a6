"""The simulator's view of Apple's OpenAPI description (the committed subset): routes, query parameters, request
validation and what each resource type's schema allows (attributes, nullable fields, relationships)."""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema

# JSON:API type -> component schema describing one resource of that type.
RESOURCE_SCHEMAS: dict[str, str] = {
    "apps": "App",
    "builds": "Build",
    "preReleaseVersions": "PrereleaseVersion",
    "buildUploads": "BuildUpload",
    "buildUploadFiles": "BuildUploadFile",
    "betaGroups": "BetaGroup",
    "betaAppReviewDetails": "BetaAppReviewDetail",
    "betaAppLocalizations": "BetaAppLocalization",
    "betaTesters": "BetaTester",
    "betaBuildLocalizations": "BetaBuildLocalization",
    "buildBetaDetails": "BuildBetaDetail",
    "buildBetaNotifications": "BuildBetaNotification",
    "betaAppReviewSubmissions": "BetaAppReviewSubmission",
    "appStoreVersions": "AppStoreVersion",
    "appStoreVersionLocalizations": "AppStoreVersionLocalization",
    "appStoreVersionPhasedReleases": "AppStoreVersionPhasedRelease",
    "appStoreVersionReleaseRequests": "AppStoreVersionReleaseRequest",
    "reviewSubmissions": "ReviewSubmission",
    "reviewSubmissionItems": "ReviewSubmissionItem",
}


def to_json_schema(node: Any, *, strict: bool) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (2020-12): `nullable: true` becomes a union with null. `strict` refuses
    properties the description does not list, as Apple refuses unknown attributes in request bodies."""
    if isinstance(node, list):
        return [to_json_schema(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value, strict=strict) for key, value in node.items()
                 if key not in ("nullable", "example", "deprecated", "discriminator")}
    if strict and "properties" in converted and "additionalProperties" not in converted:
        converted["additionalProperties"] = False
    if node.get("nullable"):
        if "$ref" in converted:
            return {"anyOf": [{"$ref": converted.pop("$ref")}, {"type": "null"}], **converted}
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


# The request-body verdicts an OpenApi keeps (see request_problems): a few MB at most.
VERDICTS = 2048
VERDICT_TEXT = 16 * 1024


@dataclass(frozen=True)
class RelationshipInfo:
    name: str
    related_type: str
    to_many: bool
    has_links: bool


@dataclass(frozen=True)
class Route:
    template: str
    pattern: re.Pattern[str]
    operations: dict[str, dict[str, Any]]  # lower-case method -> operation


@dataclass(frozen=True)
class BodyProblem:
    pointer: str
    message: str


class OpenApi:
    """Loaded once per server; cheap to share between threads (read-only after construction, but for memos of
    pure lookups)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        self._strict = to_json_schema(self.schemas, strict=True)
        routes = []
        for template, operations in document["paths"].items():
            regex = "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            routes.append(Route(template, re.compile(regex), operations))
        # literal segments before parameters: /v1/apps/{id}/builds must not be shadowed by anything broader
        self.routes = sorted(routes, key=lambda r: (r.template.count("{"), r.template))
        # match() runs on every request: only templates with the path's number of segments and its version and
        # resource type can match (a parameter matches one segment, [^/]+), so it tries those alone, in the same
        # order. Templates with a parameter among their first two segments (none in Apple's paths) are tried always.
        self._candidates: dict[tuple[int, str | None], list[tuple[int, Route]]] = {}
        for index, route in enumerate(self.routes):
            prefix = _prefix(route.template)
            self._candidates.setdefault((route.template.count("/"), None if "{" in prefix else prefix),
                                        []).append((index, route))
        # Memoized per instance (not functools.cache on the methods, which would keep every instance alive); a race
        # between threads only computes the same value twice.
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self._attributes: dict[str, dict[str, bool]] = {}
        self._relationships: dict[str, dict[str, RelationshipInfo]] = {}
        self._query_parameters: dict[int, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}
        self._verdicts: dict[tuple[str, str], tuple[BodyProblem, ...]] = {}
        self._verdicts_lock = threading.Lock()  # requests are served on threads of their own

    @classmethod
    @functools.cache
    def packaged(cls) -> OpenApi:
        text = resources.files("publish.sandbox").joinpath("openapi-subset.json").read_text(encoding="utf-8")
        return cls(json.loads(text))

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        slashes = path.count("/")
        candidates = self._candidates.get((slashes, _prefix(path)), [])
        anywhere = self._candidates.get((slashes, None))
        if anywhere:
            candidates = sorted(candidates + anywhere, key=lambda entry: entry[0])
        for _, route in candidates:
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def _validator(self, ref: str) -> jsonschema.protocols.Validator:
        validator = self._validators.get(ref)
        if validator is None:
            root = {"$ref": ref, "components": {"schemas": self._strict}}
            validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
            self._validators[ref] = validator
        return validator

    def request_problems(self, operation: dict[str, Any], body: Any) -> list[BodyProblem]:
        """What is wrong with a request body, in Apple's order. A verdict depends on the schema and the document
        alone, and clients send the same bodies again and again (each run of a flow, each retry): it is kept per
        schema and document, spelt as JSON with its members in their order (messages name members in that order;
        json.dumps tells 1 from 1.0 and true). Bounded: documents up to VERDICT_TEXT characters, VERDICTS of them,
        the oldest forgotten first."""
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        text = json.dumps(body)
        if len(text) > VERDICT_TEXT:
            return self._request_problems(ref, body)
        known = self._verdicts.get((ref, text))
        if known is None:
            known = tuple(self._request_problems(ref, body))
            with self._verdicts_lock:
                self._verdicts[(ref, text)] = known
                while len(self._verdicts) > VERDICTS:
                    del self._verdicts[next(iter(self._verdicts))]
        return list(known)

    def _request_problems(self, ref: str, body: Any) -> list[BodyProblem]:
        problems = []
        for error in sorted(self._validator(ref).iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
            path = [str(p) for p in error.absolute_path]
            if error.validator == "required":  # point at the missing member itself
                required = error.validator_value if isinstance(error.validator_value, list) else []
                present = error.instance if isinstance(error.instance, dict) else {}
                missing = [name for name in required if name not in present]
                path += missing[:1]
            elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
                allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
                path += [name for name in error.instance if name not in allowed][:1]
            problems.append(BodyProblem("/" + "/".join(path) if path else "", _message(error)))
        return problems

    def query_parameters(self, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """name -> parameter, read once per operation (every request asks); callers do not change it."""
        known = self._query_parameters.get(id(operation))
        if known is not None and known[0] is operation:  # the same dict, not a later one at a reused address
            return known[1]
        parameters = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
        self._query_parameters[id(operation)] = (operation, parameters)
        return parameters

    def resource_schema(self, type_: str) -> dict[str, Any]:
        schema: dict[str, Any] = self.schemas[RESOURCE_SCHEMAS[type_]]
        return schema

    def attributes(self, type_: str) -> dict[str, bool]:
        """attribute name -> nullable?"""
        if type_ not in self._attributes:
            props = self.resource_schema(type_).get("properties", {}).get("attributes", {}).get("properties", {})
            self._attributes[type_] = {name: bool(spec.get("nullable")) for name, spec in props.items()}
        return self._attributes[type_]

    def relationships(self, type_: str) -> dict[str, RelationshipInfo]:
        if type_ not in self._relationships:
            self._relationships[type_] = self._read_relationships(type_)
        return self._relationships[type_]

    def _read_relationships(self, type_: str) -> dict[str, RelationshipInfo]:
        props = self.resource_schema(type_).get("properties", {}).get("relationships", {}).get("properties", {})
        found = {}
        for name, spec in props.items():
            data = spec.get("properties", {}).get("data", {})
            to_many = data.get("type") == "array"
            linkage = data.get("items", {}) if to_many else data
            related = linkage.get("properties", {}).get("type", {}).get("enum", [None])[0]
            found[name] = RelationshipInfo(name, related, to_many, "links" in spec.get("properties", {}))
        return found


def _prefix(path: str) -> str:
    """The version and resource type of a path or template: "/v1/apps" of "/v1/apps/{id}/builds"."""
    return "/".join(path.split("/", 3)[:3])


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message} (App Store Connect accepts only the documented fields here)"
    return error.message
