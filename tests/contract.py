"""Contract check: every recorded request and response against Apple's full OpenAPI description (../shared), not
the simulator's packaged subset, so a simulator bug and a checker bug cannot agree by construction.

    problems = check_exchanges(server.exchanges, openapi_path)
    assert not problems, "\\n".join(problems)

An exchange is any object (or dict) with method, path, query (raw query string), request (parsed JSON or None),
status and response (parsed JSON or None).
"""

from __future__ import annotations

import functools
import gc
import json
import operator
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema

try:
    import jsonschema_rs
except ImportError:  # a platform without its wheel: the arbiter alone (see OpenApiDescription)
    jsonschema_rs = None  # type: ignore[assignment]


# OpenAPI 3.0 keywords JSON Schema does not have (or reads differently): dropped where they are keywords, never
# where they are the names of properties (a "deprecated" attribute stays an attribute).
_OPENAPI_ONLY = ("nullable", "example", "deprecated", "discriminator")


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema (the one converter of the test suite): nullable becomes a union with null, and a
    schema that lists its properties allows no others (so a misspelt attribute is caught)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: ({name: to_json_schema(schema) for name, schema in v.items()} if k == "properties" and
               isinstance(v, dict) else to_json_schema(v))
           for k, v in node.items() if k not in _OPENAPI_ONLY}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        if "$ref" in out:
            return {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


class OpenApiDescription:
    """Apple's OpenAPI file, read once: its schemas as JSON Schema, its path templates in a tree of segments.

    A document is judged by python-jsonschema (with its FormatChecker), which also words the messages; a compiled
    validator (jsonschema-rs, where installed) answers first, and only a document it rejects is walked again by
    python-jsonschema, the arbiter: the fast pass checks formats with the arbiter's own format checker, so the two
    cannot differ there, and tests/unit/test_contract_fast_pass.py holds them to the same verdicts elsewhere. A
    document the fast pass cannot read (or a machine without it) goes to the arbiter alone: slower, never weaker."""

    def __init__(self, path: Path) -> None:
        self.doc = json.loads(Path(path).read_text())
        self.root = {"components": {"schemas": to_json_schema(self.doc["components"]["schemas"])}}
        self.routes = RouteTree(self.doc["paths"])
        self.format_checker = jsonschema.FormatChecker()
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self._fast: dict[str, Any] = {}
        self._verdicts: dict[tuple[str, str], list[str]] = {}
        self._query_names: dict[tuple[str, str], set[str]] = {}
        self._names_in: dict[str, list[str]] = {}  # query text -> _query_names(it), for names_in
        self._links: dict[str, tuple[list[str], set[str]]] = {}  # component schema -> _links(it)

    def route(self, path: str, method: str | None = None) -> str | None:
        """The template `path` matches (with `method`: the first whose operations include it), most specific
        (fewest parameters) first."""
        for template in self.routes.match(path):
            if method is None or method.lower() in self.doc["paths"][template]:
                return template
        return None

    def query_names(self, template: str, method: str) -> set[str]:
        """The query parameters the operation takes (and our `cursor`), read once an operation: every exchange
        asks."""
        key = (template, method)
        if key not in self._query_names:
            operation = self.doc["paths"][template][method]
            self._query_names[key] = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            self._query_names[key].add("cursor")
        return self._query_names[key]

    def names_in(self, query: str) -> list[str]:
        """_query_names(query), read once a text: the suite's ~4700 exchanges send a few hundred distinct queries,
        and unquoting a percent-encoded filter[...] name costs microseconds. Bounded (2048 texts, then forgotten)."""
        names = self._names_in.get(query)
        if names is None:
            names = _query_names(query)
            if len(self._names_in) >= 2048:
                self._names_in.clear()
            self._names_in[query] = names
        return names

    def validator(self, ref: str) -> jsonschema.protocols.Validator:
        if ref not in self._validators:
            self._validators[ref] = jsonschema.Draft202012Validator({"$ref": ref, **self.root},
                                                                    format_checker=self.format_checker)
        return self._validators[ref]

    def fast_validator(self, ref: str) -> Any:
        """The compiled validator of the schema at `ref`, or None without jsonschema-rs. It is built from the
        schemas `ref` reaches only: compiling the whole components section costs ~50 ms a schema. A format the
        arbiter's checker has no function for (date-time, uri... without their optional packages) conforms
        whatever the string, and _ANY_STRING says so without a Python frame: called back for every such string,
        the arbiter's conforms() was two thirds of the fast pass (~22000 calls over 1429 exchanges)."""
        if ref not in self._fast:
            self._fast[ref] = None
            if jsonschema_rs is not None:
                schemas = self.root["components"]["schemas"]
                reached, named = self._reached(ref)
                formats: dict[str, Callable[..., bool]] = {
                    name: functools.partial(_conforms, self.format_checker, name)
                    if name in self.format_checker.checkers else _ANY_STRING for name in named}
                self._fast[ref] = jsonschema_rs.Draft202012Validator(
                    {"$ref": ref, "components": {"schemas": {name: schemas[name] for name in reached}}},
                    formats=formats, validate_formats=True)
        return self._fast[ref]

    def _reached(self, ref: str) -> tuple[set[str], set[str]]:
        """The names of the component schemas `ref` reaches through $ref (itself included), and the formats they
        name. Each schema's own links are read once (self._links): the schemas of one answer reach many of the
        same others, and walking each reached tree again was a third of building a fast validator."""
        schemas = self.root["components"]["schemas"]
        reached: set[str] = set()
        formats: set[str] = set()
        pending = [ref]
        while pending:
            name = pending.pop().removeprefix(_COMPONENT)
            if name in reached or name not in schemas:
                continue
            reached.add(name)
            if name not in self._links:
                self._links[name] = _links(schemas[name])
            refs, named = self._links[name]
            pending.extend(refs)
            formats |= named
        return reached, formats

    def problems(self, ref: str, instance: Any) -> list[str]:
        """The instance's violations of the schema at `ref`: none when the fast pass accepts it, else the
        arbiter's. A rejected document is often seen many times (a test planting a violation): its verdict is
        kept per schema and exact document (its canonical JSON)."""
        fast = self.fast_validator(ref)
        if fast is not None:
            try:
                if fast.is_valid(instance):
                    return []
            except Exception:  # noqa: BLE001 - whatever it cannot read, the arbiter judges
                pass
        key = (ref, json.dumps(instance, sort_keys=True, separators=(",", ":")))
        if key not in self._verdicts:
            found = []
            for error in self.validator(ref).iter_errors(instance):
                where = "/" + "/".join(str(p) for p in error.absolute_path)
                found.append(f"{where}: {error.message[:300]}")
            self._verdicts[key] = found
        return list(self._verdicts[key])


class RouteTree:
    """OpenAPI path templates matched segment by segment: a literal segment must be equal, a `{name}` segment takes
    any non-empty one. No regular expression: ~1000 compiled patterns would flush `re`'s cache of 512 for every
    other module of the process (a big pattern costs milliseconds to compile again)."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._tree: dict[str, Any] = {}
        for template in templates:
            if any("{" in part and not (part[0] == "{" and part[-1] == "}" and part.count("{") == 1)
                   for part in template.split("/")):
                raise ValueError(f"{template}: a parameter that is not a whole segment")
            node = self._tree
            for part in template.split("/"):
                node = node.setdefault("{}" if part.startswith("{") else "=" + part, {})
            node.setdefault("", []).append(template)

    def match(self, path: str) -> list[str]:
        """The templates `path` matches, fewest parameters first (then by name)."""
        nodes = [self._tree]
        for part in path.split("/"):
            nodes = [child for node in nodes for child in (node.get("=" + part), part and node.get("{}")) if child]
        found = [t for node in nodes for t in node.get("", [])]
        return found if len(found) < 2 else sorted(found, key=lambda t: (t.count("{"), t))


_COMPONENT = "#/components/schemas/"


def _links(schema: Any) -> tuple[list[str], set[str]]:
    """What one component schema refers to (its $refs into the components) and the formats it names, in one walk
    of its tree (not through the $refs)."""
    refs: list[str] = []
    formats: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str) and target.startswith(_COMPONENT):
                refs.append(target)
            if isinstance(node.get("format"), str):
                formats.add(node["format"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return refs, formats


def _conforms(checker: jsonschema.FormatChecker, name: str, value: str) -> bool:
    return checker.conforms(value, name)


# True for every string (a format applies to strings alone), as FormatChecker.conforms is for a format it has no
# function for; a C callable, so jsonschema-rs calls it without entering the interpreter's frames.
_ANY_STRING: Callable[[str], bool] = functools.partial(operator.is_not, None)


def load_description(path: str | Path) -> OpenApiDescription:
    """The description at `path`, read and converted once a process (it is large: seconds of work)."""
    return _load(str(Path(path).resolve()))


@functools.cache
def _load(path: str) -> OpenApiDescription:
    description = OpenApiDescription(Path(path))
    # It lives until the process ends and is a few hundred thousand objects: moved out of the cyclic collector's
    # sight (gc.freeze), so every later full collection of the worker skips them instead of walking them again.
    gc.freeze()
    return description


def _field(exchange: Any, name: str) -> Any:
    return exchange[name] if isinstance(exchange, dict) else getattr(exchange, name)


def _json_ref(content: dict[str, Any] | None) -> str | None:
    return ((content or {}).get("application/json") or {}).get("schema", {}).get("$ref")


def check_exchanges(exchanges: Iterable[Any], openapi_path: str | Path, *, allow_rejected: bool = True) -> list[str]:
    """Violations of the OpenAPI description, one line each. With allow_rejected, a request the server refused
    with 400/422 is not itself reported (tests send such requests on purpose); its error response still is."""
    spec = load_description(str(openapi_path))
    problems: list[str] = []
    for number, exchange in enumerate(exchanges):
        method = _field(exchange, "method").lower()
        path = _field(exchange, "path")
        status = int(_field(exchange, "status"))
        label = f"#{number} {method.upper()} {path} -> {status}"
        template = spec.route(path)
        operation = spec.doc["paths"].get(template, {}).get(method) if template else None
        if status >= 400:
            problems += _error_problems(spec, operation, status, _field(exchange, "response"), label)
        if operation is None:
            if status < 400:
                problems.append(f"{label}: {method.upper()} {path} is not an operation of the OpenAPI description")
            continue
        if not (allow_rejected and status in (400, 422)):
            problems += _request_problems(spec, operation, spec.query_names(template or "", method), exchange, label)
        if status < 400:
            problems += _response_problems(spec, operation, template or "", exchange, label)
    return problems


def _query_names(query: str) -> list[str]:
    """The names parse_qsl(query, keep_blank_values=True) gives, in order, without unquoting the values too."""
    return [unquote(part.split("=", 1)[0].replace("+", " "), errors="replace") for part in query.split("&") if part]


def _error_problems(spec: OpenApiDescription, operation: dict[str, Any] | None, status: int, response: Any,
                    label: str) -> list[str]:
    ref = _json_ref(operation["responses"].get(str(status), {}).get("content")) if operation else None
    problems = [f"{label}: error body {p}" for p in spec.problems(ref or "#/components/schemas/ErrorResponse",
                                                                   response)]
    if isinstance(response, dict):
        for item in response.get("errors", []):
            if isinstance(item, dict) and item.get("status") != str(status):
                problems.append(f"{label}: error item status {item.get('status')!r} != {str(status)!r}")
    return problems


def _request_problems(spec: OpenApiDescription, operation: dict[str, Any], allowed: set[str], exchange: Any,
                      label: str) -> list[str]:
    problems = []
    for name in spec.names_in(_field(exchange, "query") or ""):
        if name not in allowed:
            problems.append(f"{label}: query parameter {name!r} is not defined for this operation")
    request = _field(exchange, "request")
    body_ref = _json_ref((operation.get("requestBody") or {}).get("content"))
    if body_ref is not None:
        if request is None:
            problems.append(f"{label}: request has no body; {body_ref.rsplit('/', 1)[1]} expected")
        else:
            problems += [f"{label}: request body {p}" for p in spec.problems(body_ref, request)]
    elif request is not None:
        problems.append(f"{label}: request has a body but the operation takes none")
    return problems


def _response_problems(spec: OpenApiDescription, operation: dict[str, Any], template: str, exchange: Any,
                       label: str) -> list[str]:
    status = int(_field(exchange, "status"))
    response = _field(exchange, "response")
    documented = operation["responses"].get(str(status))
    if documented is None:
        return [f"{label}: status {status} is not documented (documented: {', '.join(sorted(operation['responses']))})"]
    ref = _json_ref(documented.get("content"))
    if ref is None:
        return [f"{label}: {status} must have no body"] if response is not None else []
    if (isinstance(response, dict) and response.get("data", "") is None and _field(exchange, "method").lower() == "get"
            and template.count("/") == 4 and "/relationships/" not in template):
        # an empty to-one relationship: JSON:API (and App Store Connect) answer data: null
        return [f"{label}: response {p}" for p in spec.problems(ref, {**response, "data": None})
                if not p.startswith("/data:")]
    return [f"{label}: response {p}" for p in spec.problems(ref, response)]
