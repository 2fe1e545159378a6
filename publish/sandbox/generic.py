"""GET handlers derived from the path template: collections, one resource, related resources, linkages."""

from __future__ import annotations

from typing import Any

from publish.sandbox.app import Call, Handler, Reply
from publish.sandbox.openapi import OpenApi


def get_handler(openapi: OpenApi, template: str, operation: dict[str, Any]) -> Handler | None:
    parts = template.strip("/").split("/")  # v1, type, {id}, rel | relationships, rel
    type_ = parts[1]
    to_many = _answers_a_list(openapi, operation)
    if len(parts) == 2:
        return lambda call: _collection(call, type_)
    if len(parts) == 3:
        return lambda call: _one(call, type_)
    if len(parts) == 4:
        return lambda call: _related(call, type_, parts[3], to_many)
    if len(parts) == 5 and parts[3] == "relationships":
        return lambda call: _linkage(call, type_, parts[4], to_many)
    return None


def _answers_a_list(openapi: OpenApi, operation: dict[str, Any]) -> bool:
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = openapi.schemas[ref.rsplit("/", 1)[1]]
    return bool(schema.get("properties", {}).get("data", {}).get("type") == "array")


def _collection(call: Call, type_: str) -> Reply:
    return Reply(200, call.render.collection(call.store.all(type_), call.query, call.path, call.pairs,
                                             observe=call.sim.observe))


def _one(call: Call, type_: str) -> Reply:
    record = call.target(type_)
    call.sim.observe(record)
    return call.ok(record)


def _related(call: Call, type_: str, rel: str, to_many: bool) -> Reply:
    owner = call.target(type_)
    related = call.render.related(owner, rel)
    if to_many:
        return Reply(200, call.render.collection(related, call.query, call.path, call.pairs,
                                                 observe=call.sim.observe))
    record = related[0] if related else None
    if record is not None:
        call.sim.observe(record)
    return call.ok(record)


def _linkage(call: Call, type_: str, rel: str, to_many: bool) -> Reply:
    owner = call.target(type_)
    related = call.render.related(owner, rel)
    return Reply(200, call.render.linkage(related, call.path, call.pairs, to_many=to_many))
