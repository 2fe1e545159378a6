"""The simulator's in-memory state: resources as records, and the error Apple answers with."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class ApiError(Exception):
    """An App Store Connect error response (ErrorResponse document with one error)."""

    TITLES = {
        400: "A parameter has an invalid value",
        401: "Authentication credentials are missing or invalid.",
        403: "The request is forbidden.",
        404: "The specified resource does not exist",
        405: "The request method is not valid for the resource path.",
        409: "The request entity is not valid.",
        422: "The request entity is not processable.",
        429: "The request rate limit has been reached.",
        500: "An unexpected error occurred.",
        503: "The service is temporarily unavailable.",
    }

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 pointer: str | None = None, parameter: str | None = None,
                 headers: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
                 more: list[ApiError] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.more = more or []
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or self.TITLES.get(status, "The request failed.")
        self.pointer = pointer
        self.parameter = parameter
        self.headers = headers or {}
        self.meta = meta

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": str(uuid.uuid4()), "status": str(self.status), "code": self.code,
                                "title": self.title, "detail": self.detail}
        if self.pointer is not None:
            item["source"] = {"pointer": self.pointer}
        elif self.parameter is not None:
            item["source"] = {"parameter": self.parameter}
        if self.meta:
            item["meta"] = self.meta
        return item

    def document(self) -> dict[str, Any]:
        return {"errors": [self.item()] + [other.item() for other in self.more]}


def not_found(type_: str, id_: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"There is no resource of type '{type_}' with id '{id_}'")


def conflict(code: str, detail: str, *, pointer: str | None = None) -> ApiError:
    return ApiError(409, code, detail, pointer=pointer)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


@dataclass
class Record:
    """One resource. `rels` holds forward links (name -> id, list of ids or None); reverse links are derived."""

    type: str
    id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    rels: dict[str, Any] = field(default_factory=dict)
    polls: int = 0  # GETs that returned this resource as primary data: drives simulated processing
    internal: dict[str, Any] = field(default_factory=dict)  # simulator bookkeeping, never rendered


class Store:
    """All resources, by type then id, in creation order. Guarded by `lock` (handlers hold it while they run)."""

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[str, Record]] = {}
        self._ids = random.Random(seed)
        self._app_number = 1_400_000_000

    def new_id(self, type_: str) -> str:
        if type_ == "apps":  # Apple's app ids are numeric (the Apple ID)
            self._app_number += self._ids.randrange(1, 99_999)
            return str(self._app_number)
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def add(self, type_: str, attributes: dict[str, Any] | None = None, rels: dict[str, Any] | None = None,
            **internal: Any) -> Record:
        record = Record(type_, self.new_id(type_), dict(attributes or {}), dict(rels or {}), internal=dict(internal))
        self.tables.setdefault(type_, {})[record.id] = record
        return record

    def get(self, type_: str, id_: str) -> Record | None:
        return self.tables.get(type_, {}).get(id_)

    def require(self, type_: str, id_: str) -> Record:
        record = self.get(type_, id_)
        if record is None:
            raise not_found(type_, id_)
        return record

    def remove(self, record: Record) -> None:
        self.tables.get(record.type, {}).pop(record.id, None)

    def all(self, type_: str) -> list[Record]:
        return list(self.tables.get(type_, {}).values())

    def where(self, type_: str, **rels: str) -> Iterator[Record]:
        """Records of a type whose forward relationships equal (or, for lists, contain) the given ids."""
        for record in self.all(type_):
            if all(_links_to(record.rels.get(name), value) for name, value in rels.items()):
                yield record


def _links_to(value: Any, id_: str) -> bool:
    return id_ in value if isinstance(value, list) else value == id_
