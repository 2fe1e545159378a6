"""JSON:API on the simulator's side: query parameters checked against the operation, generic filters, sorting,
paging, `include`, sparse `fields`, and documents rendered in the shape Apple's recorded responses have."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode

from publish.sandbox.model import ApiError, Record, Store
from publish.sandbox.openapi import OpenApi

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# Relationships stored on the other side: (type, relationship) -> (type holding the link, its relationship name).
REVERSE: dict[tuple[str, str], tuple[str, str]] = {
    ("apps", "builds"): ("builds", "app"),
    ("apps", "buildUploads"): ("buildUploads", "app"),
    ("apps", "preReleaseVersions"): ("preReleaseVersions", "app"),
    ("apps", "betaGroups"): ("betaGroups", "app"),
    ("apps", "appStoreVersions"): ("appStoreVersions", "app"),
    ("apps", "reviewSubmissions"): ("reviewSubmissions", "app"),
    ("apps", "betaTesters"): ("betaTesters", "apps"),
    ("apps", "betaAppReviewDetail"): ("betaAppReviewDetails", "app"),
    ("apps", "betaAppLocalizations"): ("betaAppLocalizations", "app"),
    ("preReleaseVersions", "builds"): ("builds", "preReleaseVersion"),
    ("builds", "buildBetaDetail"): ("buildBetaDetails", "build"),
    ("builds", "betaBuildLocalizations"): ("betaBuildLocalizations", "build"),
    ("builds", "betaAppReviewSubmission"): ("betaAppReviewSubmissions", "build"),
    ("builds", "appStoreVersion"): ("appStoreVersions", "build"),
    ("builds", "buildUpload"): ("buildUploads", "build"),
    ("betaGroups", "builds"): ("builds", "betaGroups"),
    ("betaGroups", "betaTesters"): ("betaTesters", "betaGroups"),
    ("betaTesters", "builds"): ("builds", "individualTesters"),
    ("buildUploads", "buildUploadFiles"): ("buildUploadFiles", "buildUpload"),
    ("appStoreVersions", "appStoreVersionLocalizations"): ("appStoreVersionLocalizations", "appStoreVersion"),
    ("appStoreVersions", "appStoreVersionPhasedRelease"): ("appStoreVersionPhasedReleases", "appStoreVersion"),
    ("reviewSubmissions", "items"): ("reviewSubmissionItems", "reviewSubmission"),
}
# Forward relationships whose schema gives no linkage type.
FORWARD_TYPES: dict[tuple[str, str], str] = {("builds", "individualTesters"): "betaTesters"}

_NUMERIC_VERSION = re.compile(r"^\d+(\.\d+)*$")

# quote_plus leaves a text of these characters as it is (urllib's always-safe set); a link's query is mostly such
# texts (ids, numbers, versions, cursors), and the others (filter[app], include=a,b) come again and again.
_UNQUOTED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
# The quoted texts a Renderer keeps (see Renderer.urlencoded): ~1 MB at most.
QUOTED = 4096
QUOTED_TEXT = 256


@dataclass
class Query:
    include: list[str] = field(default_factory=list)
    fields: dict[str, set[str]] = field(default_factory=dict)
    filters: dict[str, list[str]] = field(default_factory=dict)
    exists: dict[str, bool] = field(default_factory=dict)
    sort: list[str] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_query(openapi: OpenApi, operation: dict[str, Any], pairs: Sequence[tuple[str, str]]) -> Query:
    """Apple refuses parameters an operation does not list (400 PARAMETER_ERROR.ILLEGAL) and values outside an
    enum (PARAMETER_ERROR.INVALID); `cursor` is ours (we write it into links.next) so it is always accepted."""
    allowed = openapi.query_parameters(operation)
    query = Query()
    given = dict(pairs)  # the last of repeated parameters wins
    for name, described in allowed.items():
        if described.get("required") and name not in given:
            raise ApiError(400, "PARAMETER_ERROR.REQUIRED", f"The parameter '{name}' is required for this request.",
                           parameter=name)
    for name, raw in given.items():
        if name == "cursor":
            query.offset = _decode_cursor(raw)
            continue
        spec = allowed.get(name)
        if spec is None:
            raise ApiError(400, "PARAMETER_ERROR.ILLEGAL",
                           f"The parameter '{name}' can not be used with this request. Allowed: "
                           f"{', '.join(sorted(allowed)) or 'none'}.", parameter=name)
        _apply_parameter(query, name, _parameter_value(name, raw, spec.get("schema", {})))
    return query


ParameterValue = str | int | list[str]


def _parameter_value(name: str, raw: str, schema: dict[str, Any]) -> ParameterValue:
    """A query parameter's value as its schema types it: a comma-separated list (checked against the items' enum),
    an integer, or the text as given."""
    if schema.get("type") == "array":
        values = raw.split(",") if raw != "" else []
        enum = schema.get("items", {}).get("enum")
        bad = [v for v in values if enum is not None and v not in enum]
        if bad or not values:
            raise ApiError(400, "PARAMETER_ERROR.INVALID",
                           f"'{raw}' is not a valid value for '{name}'."
                           + (f" Expected a comma-separated list of: {', '.join(enum)}." if enum else ""),
                           parameter=name)
        return values
    if schema.get("type") == "integer":
        if not re.fullmatch(r"\d+", raw):
            raise ApiError(400, "PARAMETER_ERROR.INVALID", f"'{raw}' is not a valid integer for '{name}'.",
                           parameter=name)
        return int(raw)
    return raw


def _as_list(value: ParameterValue) -> list[str]:
    return value if isinstance(value, list) else [str(value)]


def _apply_parameter(query: Query, name: str, value: ParameterValue) -> None:
    if name == "limit":
        if not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
            raise ApiError(400, "PARAMETER_ERROR.INVALID",
                           f"limit must be between 1 and {MAX_LIMIT}; got {value}.", parameter=name)
        query.limit = value
    elif name == "include":
        query.include = _as_list(value)
    elif name == "sort":
        query.sort = _as_list(value)
    elif name.startswith("fields["):
        query.fields[name[7:-1]] = set(_as_list(value))
    elif name.startswith("filter["):
        query.filters[name[7:-1]] = _as_list(value)
    elif name.startswith("exists["):
        query.exists[name[7:-1]] = str(value).lower() == "true"
    # limit[...] on included to-many relationships: accepted, the simulator's lists are short


def _decode_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        if text.startswith("o:"):
            return int(text[2:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, "PARAMETER_ERROR.INVALID", f"The cursor '{raw}' is not valid; follow links.next as given.",
                   parameter="cursor")


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def version_key(value: Any) -> tuple[int, Any]:
    """Sort key: dotted numbers numerically (1.10 > 1.9), anything else as text, missing values first."""
    if value is None:
        return (0, "")
    if isinstance(value, dict):
        value = value.get("state")
    text = str(value)
    if _NUMERIC_VERSION.match(text):
        return (1, tuple(int(part) for part in text.split(".")))
    return (2, text)


class Renderer:
    """Renders records as JSON:API documents for one server (knows its base URL)."""

    def __init__(self, openapi: OpenApi, store: Store, base_url: str) -> None:
        self.openapi = openapi
        self.store = store
        self.base_url = base_url
        # per-type filter overrides: (type, filter name) -> predicate(record, values)
        self.filters: dict[tuple[str, str], Callable[[Record, list[str]], bool]] = {}
        # per-type derived attributes (states that follow from other resources), merged in at render time
        self.computed: dict[str, Callable[[Record], dict[str, Any]]] = {}
        self._quoted: dict[str, str] = {}  # text -> quote_plus(text), for urlencoded

    # relationships ---------------------------------------------------------------------------------------------
    def related_type(self, type_: str, rel: str) -> str | None:
        info = self.openapi.relationships(type_).get(rel)
        if info and info.related_type:
            return info.related_type
        if (type_, rel) in REVERSE:
            return REVERSE[(type_, rel)][0]
        return FORWARD_TYPES.get((type_, rel))

    def related(self, record: Record, rel: str) -> list[Record]:
        """Related records (a to-one relationship gives a list of at most one)."""
        related_type = self.related_type(record.type, rel)
        if related_type is None:
            return []
        if rel in record.rels:
            value = record.rels[rel]
            ids = value if isinstance(value, list) else ([value] if value else [])
            return [r for r in (self.store.get(related_type, i) for i in ids) if r is not None]
        if (record.type, rel) in REVERSE:
            other_type, other_rel = REVERSE[(record.type, rel)]
            return list(self.store.where(other_type, **{other_rel: record.id}))
        return []

    # filtering, sorting ----------------------------------------------------------------------------------------
    def matches(self, record: Record, query: Query) -> bool:
        for name, values in query.filters.items():
            override = self.filters.get((record.type, name))
            if override is not None:
                if not override(record, values):
                    return False
            elif not self._generic_filter(record, name, values):
                return False
        for name, wanted in query.exists.items():
            if (record.attributes.get(name) is not None) != wanted:
                return False
        return True

    def _generic_filter(self, record: Record, name: str, values: list[str]) -> bool:
        if name == "id":
            return record.id in values
        head, _, rest = name.partition(".")
        if not rest and head in self.openapi.attributes(record.type):
            return _text(record.attributes.get(head)) in values
        if self.related_type(record.type, head) is not None:
            related = self.related(record, head)
            if not rest:
                return any(r.id in values for r in related)
            return any(_text(r.attributes.get(rest)) in values for r in related)
        raise ApiError(400, "PARAMETER_ERROR.ILLEGAL",
                       f"The simulator does not implement filter[{name}] on {record.type}.", parameter=f"filter[{name}]")

    def sort(self, records: list[Record], query: Query) -> list[Record]:
        ordered = list(records)
        for key in reversed(query.sort):
            name = key.lstrip("-")
            ordered.sort(key=lambda r: version_key(r.attributes.get(name)), reverse=key.startswith("-"))
        return ordered

    # documents -------------------------------------------------------------------------------------------------
    def resource(self, record: Record, query: Query | None = None, *, with_data: bool = True) -> dict[str, Any]:
        query = query or Query()
        wanted = query.fields.get(record.type)
        nullable = self.openapi.attributes(record.type)
        values = record.attributes
        if record.type in self.computed:
            values = {**values, **self.computed[record.type](record)}
        attributes = {}
        for name, is_nullable in nullable.items():
            if wanted is not None and name not in wanted:
                continue
            if name in values and (values[name] is not None or is_nullable):
                attributes[name] = values[name]
        self_link = f"{self.base_url}/v1/{record.type}/{record.id}"
        relationships: dict[str, Any] = {}
        for name, info in self.openapi.relationships(record.type).items():
            if wanted is not None and name not in wanted:
                continue
            entry: dict[str, Any] = {}
            if info.has_links:
                entry["links"] = {"self": f"{self_link}/relationships/{name}", "related": f"{self_link}/{name}"}
            if with_data and name in query.include and info.related_type:
                related = self.related(record, name)
                if info.to_many:
                    entry["data"] = [{"type": r.type, "id": r.id} for r in related]
                elif related:
                    entry["data"] = {"type": related[0].type, "id": related[0].id}
            if entry:
                relationships[name] = entry
        rendered: dict[str, Any] = {"type": record.type, "id": record.id}
        if attributes or nullable:
            rendered["attributes"] = attributes
        if relationships:
            rendered["relationships"] = relationships
        rendered["links"] = {"self": self_link}
        return rendered

    def _included(self, records: list[Record], query: Query) -> list[dict[str, Any]]:
        seen = {(r.type, r.id) for r in records}
        included = []
        for record in records:
            for name in query.include:
                for related in self.related(record, name):
                    if (related.type, related.id) not in seen:
                        seen.add((related.type, related.id))
                        included.append(self.resource(related, query, with_data=False))
        return included

    def single(self, record: Record | None, query: Query, self_url: str) -> dict[str, Any]:
        if record is None:  # an empty to-one relationship: JSON:API says data is null
            return {"data": None, "links": {"self": self_url}}
        document: dict[str, Any] = {"data": self.resource(record, query)}
        included = self._included([record], query)
        if included:
            document["included"] = included
        document["links"] = {"self": self_url}
        return document

    def collection(self, records: list[Record], query: Query, path: str, pairs: Sequence[tuple[str, str]],
                   observe: Callable[[Record], None] | None = None) -> dict[str, Any]:
        selected = self.sort([r for r in records if self.matches(r, query)], query)
        page = selected[query.offset:query.offset + query.limit]
        if observe is not None:
            for record in page:
                observe(record)
        links = {"self": self.url(path, pairs)}
        if query.offset + query.limit < len(selected):
            next_pairs = [(k, v) for k, v in pairs if k != "cursor"]
            next_pairs.append(("cursor", _encode_cursor(query.offset + query.limit)))
            links["next"] = self.url(path, next_pairs)
        document: dict[str, Any] = {"data": [self.resource(r, query) for r in page]}
        included = self._included(page, query)
        if included:
            document["included"] = included
        document["links"] = links
        document["meta"] = {"paging": {"total": len(selected), "limit": query.limit}}
        return document

    def linkage(self, records: list[Record], path: str, pairs: Sequence[tuple[str, str]], *,
                to_many: bool) -> dict[str, Any]:
        if not to_many:
            data = {"type": records[0].type, "id": records[0].id} if records else None
            return {"data": data, "links": {"self": self.url(path, pairs)}}
        return {"data": [{"type": r.type, "id": r.id} for r in records], "links": {"self": self.url(path, pairs)},
                "meta": {"paging": {"total": len(records), "limit": DEFAULT_LIMIT}}}

    def url(self, path: str, pairs: Sequence[tuple[str, str]] = ()) -> str:
        return f"{self.base_url}{path}" + (f"?{self.urlencoded(pairs)}" if pairs else "")

    def urlencoded(self, pairs: Sequence[tuple[str, str]]) -> str:
        """urlencode(list(pairs)): every links.self of a list answer spells its query again, and urlencode's
        quote_plus costs ~3 us a text (~35 us a six-parameter query, most of what writing a link costs). A text
        quote_plus leaves as it is is seen to be one by a strip; another is quoted once and kept (bounded: texts up to
        QUOTED_TEXT characters, QUOTED of them, all forgotten when full; a race between threads quotes twice)."""
        if not all(type(name) is str and type(value) is str for name, value in pairs):
            return urlencode(list(pairs))
        return "&".join([f"{self._quote(name)}={self._quote(value)}" for name, value in pairs])

    def _quote(self, text: str) -> str:
        if not text.rstrip(_UNQUOTED):
            return text
        quoted = self._quoted.get(text)
        if quoted is None:
            quoted = quote_plus(text)
            if len(text) <= QUOTED_TEXT:
                if len(self._quoted) >= QUOTED:
                    self._quoted.clear()
                self._quoted[text] = quoted
        return quoted


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "state" in value:
        state: str | None = value["state"]
        return state
    return None if value is None else str(value)
