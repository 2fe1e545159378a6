"""JSON:API documents as App Store Connect sends them: `{data, included, links, meta}` of `{type, id, attributes,
relationships, links}` resources. Parsing is lenient (unknown members are kept, missing ones default to empty), so
new fields Apple adds never break a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Resource:
    type: str
    id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    relationships: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Resource:
        if not isinstance(obj, Mapping) or "type" not in obj or "id" not in obj:
            raise ValueError(f"not a JSON:API resource object (needs 'type' and 'id'): {str(obj)[:200]}")
        return cls(
            type=str(obj["type"]),
            id=str(obj["id"]),
            attributes=dict(obj.get("attributes") or {}),
            relationships=dict(obj.get("relationships") or {}),
            links=dict(obj.get("links") or {}),
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
            raise ValueError(f"not a JSON:API document (expected an object): {str(obj)[:200]}")
        raw = obj.get("data")
        data: Resource | list[Resource] | None
        if isinstance(raw, list):
            data = [Resource.from_json(item) for item in raw]
        elif raw is None:
            data = None
        else:
            data = Resource.from_json(raw)
        return cls(
            data=data,
            included=[Resource.from_json(item) for item in obj.get("included") or []],
            links=dict(obj.get("links") or {}),
            meta=dict(obj.get("meta") or {}),
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
