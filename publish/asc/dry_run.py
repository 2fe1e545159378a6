"""A dry run as a transport of the client pipeline: writes are recorded and answered, never sent; reads are answered
from what the dry run fabricated and, when the caller allows it, sent to App Store Connect.

Why a transport: a dry run that lives in the code above the client needs an `if dry_run` wherever a write's answer
is used (the id of the upload just created, the build it became, the submission to submit). Answering writes here
with plausible JSON:API documents, and remembering them (`dry_run_store.FabricatedResources`), lets the same code
run in both modes; a read of a fabricated upload, build, submission or version answers it in its finished state,
and a listing that would find one includes it.

What is safe to send: only GETs, and only when `reads` is given (as `run --dry-run` gives it: a dry run changes
nothing but reads for real, so it checks the key and the flow's names). A GET naming a fabricated id (in its path
or a filter) is answered from memory alone: App Store Connect has never heard of it. Real trains a read brings back
are remembered (`FabricatedResources.saw`) so that an upload of an existing version joins its train. Without
`reads`, a GET nothing fabricated can answer reads as empty: a listing without members, a resource that is `null`.

Every call is recorded (`calls`: method, path with query, body and its shape) so that `run --dry-run` can list
what would have been sent; calls not forwarded are also reported to `on_call`, as the observing layer reports the
ones that are.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from publish.asc.dry_run_store import FabricatedResources, is_fabricated
from publish.asc.observe import OnCall, shown_url
from publish.asc.wire import Transport, WireRequest, WireResponse

log = logging.getLogger("publish.asc.client")

_JSON = {"Content-Type": "application/json"}


def body_shape(body: Any) -> Any:
    """The body with its values replaced by their JSON types, ids and resource types kept: what kind of write a
    call is, without what it writes (texts, e-mail addresses)."""
    if isinstance(body, Mapping):
        return {k: (v if k in ("type", "id") and isinstance(v, str) else body_shape(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [body_shape(item) for item in body]
    return {str: "string", bool: "boolean", int: "number", float: "number"}.get(type(body), "null")


@dataclass(frozen=True)
class DryRunCall:
    method: str
    path: str  # path and query, as logged
    body: Any
    sent: bool  # True for a read that went to App Store Connect

    @property
    def shape(self) -> Any:
        return body_shape(self.body)


def _answer(status: int, document: Any = None) -> WireResponse:
    return WireResponse(status, json.dumps(document).encode() if document is not None else b"", dict(_JSON))


class DryRunTransport(Transport):
    def __init__(self, reads: Transport | None = None, *, on_call: OnCall | None = None,
                 full_url: Callable[[str], str] = lambda shown: shown) -> None:
        self._reads = reads
        self._on_call = on_call
        self._full_url = full_url
        self.store = FabricatedResources()
        self.calls: list[DryRunCall] = []
        self._next_pages: set[str] = set()
        self._lock = threading.Lock()

    @property
    def writes(self) -> list[DryRunCall]:
        return [call for call in self.calls if call.method != "GET"]

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()

    def send(self, request: WireRequest) -> WireResponse:
        """Answer one call. The memory is locked around each step, not around a forwarded read (the network)."""
        shown = shown_url(request.url, request.params)
        body = json.loads(request.body) if request.body else None
        parts = urlsplit(request.url)
        segments = [s for s in parts.path.split("/") if s][1:]  # without the "v1"
        query = dict(parse_qsl(parts.query)) | dict(request.params)
        with self._lock:
            deleted = len(segments) == 2 and self.store.is_deleted(segments[0], segments[1])
            forward = request.method == "GET" and self._reads is not None and not deleted \
                and not self._names_fabricated(segments, query)
            self.calls.append(DryRunCall(request.method, shown, body, forward))
        if not forward:
            log.info("dry run: would %s %s%s", request.method, shown,
                     f" {json.dumps(body, sort_keys=True)}" if body else "")
            if self._on_call is not None:
                self._on_call(request.method, self._full_url(shown), body)
        if request.method != "GET":
            with self._lock:
                return self._write(request.method, segments, body)
        if deleted:
            return _answer(404, {"errors": [{"status": "404", "code": "NOT_FOUND",
                                             "title": "The resource was deleted earlier in this dry run."}]})
        real = self._read_real(request, shown) if forward else None
        if real is not None and (not 200 <= real.status < 300 or not isinstance(_decode(real.body), dict)):
            return real  # an error, or not a document: the pipeline above judges it as it judges any answer
        with self._lock:
            return self._read(segments, query, real, first_page=shown not in self._next_pages)

    @staticmethod
    def _names_fabricated(segments: list[str], query: Mapping[str, str]) -> bool:
        values = segments + [v for k, value in query.items() if k.startswith("filter[") for v in value.split(",")]
        return any(is_fabricated(value) for value in values)

    def _read_real(self, request: WireRequest, shown: str) -> WireResponse:
        assert self._reads is not None
        response = self._reads.send(request)
        document = _decode(response.body)
        next_url = (document.get("links") or {}).get("next") if isinstance(document, dict) else None
        if isinstance(document, dict):
            data = document.get("data")
            with self._lock:
                self.store.saw([*(data if isinstance(data, list) else [data]), *(document.get("included") or [])])
        if isinstance(next_url, str):
            with self._lock:
                self._next_pages.add(shown_url(next_url, ()))
        return response

    # ------------------------------------------------------------------ writes

    def _write(self, method: str, segments: list[str], body: Any) -> WireResponse:
        data = body.get("data") if isinstance(body, Mapping) else None
        if len(segments) == 4 and segments[2] == "relationships":
            self.store.link(method, segments[0], segments[1], segments[3], data)
            return _answer(204)
        if method == "DELETE" and len(segments) == 2:
            self.store.delete(segments[0], segments[1])
            return _answer(204)
        if method == "POST" and len(segments) == 1 and isinstance(data, Mapping) and "type" in data:
            return _answer(201, {"data": self.store.create(data)})
        if method == "PATCH" and len(segments) == 2 and isinstance(data, Mapping):
            return _answer(200, {"data": self.store.update(segments[0], segments[1], data.get("attributes") or {})})
        return _answer(204)

    # ------------------------------------------------------------------ reads

    def _read(self, segments: list[str], query: Mapping[str, str], real: WireResponse | None, *,
              first_page: bool) -> WireResponse:
        document = _decode(real.body) if real is not None else None
        if not isinstance(document, dict):
            document = {}
        include = [name for name in query.get("include", "").split(",") if name]
        data = document.get("data")
        if len(segments) == 2:
            data = self._single(segments[0], segments[1], data)
        elif len(segments) == 3:
            data = self._related(segments, data, first_page=first_page)
        elif len(segments) == 1:
            filters = {k[len("filter["):-1]: v for k, v in query.items() if k.startswith("filter[")}
            found = self.store.matching(segments[0], filters) if first_page else []
            data = found + self._not_deleted(data)
        members = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        included = self.store.included(members, include)
        known = {(str(r.get("type")), str(r.get("id"))) for r in included}
        included += [r for r in document.get("included") or [] if isinstance(r, dict)
                     and (str(r.get("type")), str(r.get("id"))) not in known]
        answer = {**document, "data": data}
        if included:
            answer["included"] = included
        return _answer(200, answer)

    def _single(self, type_: str, id_: str, real: Any) -> Any:
        fabricated = self.store.get(type_, id_)
        if fabricated is not None:
            return fabricated
        patched = self.store.patched(type_, id_)
        if patched is None:
            return real
        base: dict[str, Any] = real if isinstance(real, dict) else {"type": type_, "id": id_}
        return {**base, "attributes": {**(base.get("attributes") or {}), **patched}}

    def _related(self, segments: list[str], real: Any, *, first_page: bool) -> Any:
        found = self.store.related(segments[0], segments[1], segments[2]) if first_page else []
        if isinstance(real, list) or (real is None and segments[2].endswith("s")):
            # a to-many relationship (their names are plural: buildUploadFiles, items, appStoreVersions)
            return found + self._not_deleted(real)
        return found[0] if found else real

    def _not_deleted(self, members: Any) -> list[dict[str, Any]]:
        return [r for r in members or [] if isinstance(r, dict)
                and not self.store.is_deleted(str(r.get("type")), str(r.get("id")))]


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
