"""JSON:API documents as App Store Connect sends them: `{data, included, links, meta}` of `{type, id, attributes,
relationships, links}` resources. Parsing is lenient (unknown members are kept, missing ones default to empty), so
new fields Apple adds never break a run. A member of the wrong shape (`data` that is a string, a list of numbers,
`attributes` that is a list) is not something to be lenient about: it raises `NotJsonApiError`, a clear remote
error, at the point where the answer becomes a document - not a ValueError traceback deep inside a step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from publish.errors import RemoteError

_HINT = ("A proxy or gateway may be answering instead of App Store Connect; check the base URL and the network, "
         "and report it if it keeps happening.")


class NotJsonApiError(RemoteError, ValueError):
    """An answer whose JSON is not a JSON:API document of the expected shape."""

    def __init__(self, message: str) -> None:
        super().__init__(f"App Store Connect's answer is not a JSON:API document: {message}", hint=_HINT)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"


def _mapping(obj: Mapping[str, Any], member: str, where: str) -> dict[str, Any]:
    value = obj.get(member)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise NotJsonApiError(f"{where}.{member} is a {_describe(value)}, not an object")
    return dict(value)


def _list(obj: Mapping[str, Any], member: str) -> list[Any]:
    value = obj.get(member)
    if value is None:
        return []
    if not isinstance(value, list):
        raise NotJsonApiError(f"{member} is a {_describe(value)}, not a list")
    return value


@dataclass
class Resource:
    type: str
    id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    relationships: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, where: str = "data") -> Resource:
        if not isinstance(obj, Mapping):
            raise NotJsonApiError(f"{where} is a {_describe(obj)}, not a resource object")
        for member in ("type", "id"):
            value = obj.get(member)
            if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
                raise NotJsonApiError(f"{where} has no usable '{member}' (a resource needs a type and an id)")
        return cls(
            type=str(obj["type"]),
            id=str(obj["id"]),
            attributes=_mapping(obj, "attributes", where),
            relationships=_mapping(obj, "relationships", where),
            links=_mapping(obj, "links", where),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id}
        if self.attributes:
            out["attributes"] = self.attributes
        if self.relationships:
            out["relationships"] = self.relationships
        if self.links:
            out["links"] = self.links
        return out

    def attr(self, name: str, default: Any = None) -> Any:
        value = self.attributes.get(name)
        return default if value is None else value

    def related_id(self, rel: str) -> str | None:
        """The id in `relationships[rel].data` for a to-one relationship (present when the request had include=rel)."""
        data = self._linkage(rel)
        if isinstance(data, Mapping) and data.get("id") is not None:
            return str(data["id"])
        return None

    def related_ids(self, rel: str) -> list[str]:
        """The ids in `relationships[rel].data` for a to-many relationship."""
        data = self._linkage(rel)
        if isinstance(data, list):
            return [str(item["id"]) for item in data if isinstance(item, Mapping) and item.get("id") is not None]
        if isinstance(data, Mapping) and data.get("id") is not None:
            return [str(data["id"])]
        return []

    def _linkage(self, rel: str) -> Any:
        relationship = self.relationships.get(rel)
        return relationship.get("data") if isinstance(relationship, Mapping) else None


@dataclass
class Document:
    data: Resource | list[Resource] | None
    included: list[Resource] = field(default_factory=list)
    links: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any] | None) -> Document:
        if obj is None:
            return cls(data=None)
        if not isinstance(obj, Mapping):
            raise NotJsonApiError(f"the document is a {_describe(obj)}, not an object")
        raw = obj.get("data")
        data: Resource | list[Resource] | None
        if isinstance(raw, list):
            data = [Resource.from_json(item, where=f"data[{i}]") for i, item in enumerate(raw)]
        elif raw is None:
            data = None
        else:
            data = Resource.from_json(raw)
        links = _mapping(obj, "links", "document")
        if links.get("next") is not None and not isinstance(links["next"], str):
            raise NotJsonApiError(f"links.next is a {_describe(links['next'])}, not a URL")
        return cls(
            data=data,
            included=[Resource.from_json(item, where=f"included[{i}]") for i, item in enumerate(_list(obj, "included"))],
            links=links,
            meta=_mapping(obj, "meta", "document"),
        )

    @property
    def resources(self) -> list[Resource]:
        """`data` as a list (empty for null, one element for a single resource)."""
        if self.data is None:
            return []
        return list(self.data) if isinstance(self.data, list) else [self.data]

    @property
    def resource(self) -> Resource | None:
        """`data` when it is a single resource."""
        return self.data if isinstance(self.data, Resource) else None

    @property
    def next_url(self) -> str | None:
        value = self.links.get("next")
        return str(value) if value else None

    def find_included(self, type: str, id: str | None) -> Resource | None:
        if id is None:
            return None
        for resource in self.included:
            if resource.type == type and resource.id == id:
                return resource
        return None
