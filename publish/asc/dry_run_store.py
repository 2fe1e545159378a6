"""What a dry run has pretended to create: the resources it fabricated for writes it did not send, so that a later
read of one of them answers as App Store Connect would once the work is done, and a listing that would find it
finds it.

Why this exists: a step that creates a build upload, then reads the upload until it is COMPLETE and lists the
version's builds to find the new one, must be able to run unchanged in a dry run. Without a memory of what was
"created", every such read would come back empty and each step would need its own `if dry_run` branch.

What it knows, and no more (it models answers, not App Store Connect's rules):
- a created resource is the body's type, attributes and relationships, with an id `dry-run-<type>-<n>`;
- its finished state (`FINISHED`) is what a read after the wait would show: an upload COMPLETE, a build VALID and
  ready for testing, a submission waiting for review;
- a build upload also brings its train and its build (Apple creates both while processing), linked both ways;
- a PATCH of a resource it never fabricated is remembered too, so a later read shows the change;
- filters match on attributes, on a relationship's id (`filter[app]`) and one relationship deep
  (`filter[preReleaseVersion.version]`); a filter naming something the resource lacks does not match, so a
  fabricated resource never shows up where it would not.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

ID_PREFIX = "dry-run-"

# What a read shows once App Store Connect has finished with a resource of this type.
FINISHED: dict[str, dict[str, Any]] = {
    "buildUploads": {"state": {"state": "COMPLETE", "errors": [], "warnings": [], "infos": []}},
    "buildUploadFiles": {"assetDeliveryState": {"state": "COMPLETE", "errors": [], "warnings": []}},
    "builds": {"processingState": "VALID", "expired": False},
    "buildBetaDetails": {"autoNotifyEnabled": True, "internalBuildState": "READY_FOR_BETA_TESTING",
                         "externalBuildState": "READY_FOR_BETA_SUBMISSION"},
    "betaAppReviewSubmissions": {"betaReviewState": "WAITING_FOR_REVIEW"},
    "appStoreVersions": {"appStoreState": "PREPARE_FOR_SUBMISSION", "appVersionState": "PREPARE_FOR_SUBMISSION"},
    "reviewSubmissions": {"state": "READY_FOR_REVIEW"},
}
# A review submission's state follows what was PATCHed into it, as a read after Apple's work shows it: a cancel
# has passed CANCELING (H11) and is COMPLETE, a submit is waiting for review.
_SUBMISSION_STATES = (("canceled", "COMPLETE"), ("submitted", "WAITING_FOR_REVIEW"))
# What creating one of these does to the version it names, as a read after Apple's work shows it: a version in a
# review submission's items is ready for review once Apple has checked it (H1); a released one is on sale.
_VERSION_AFTER: dict[str, dict[str, str]] = {
    "reviewSubmissionItems": {"appStoreState": "READY_FOR_REVIEW", "appVersionState": "READY_FOR_REVIEW"},
    "appStoreVersionReleaseRequests": {"appStoreState": "READY_FOR_SALE", "appVersionState": "READY_FOR_DISTRIBUTION"},
}
# A to-many relationship whose name is not its resources' type.
_MEMBER_TYPES = {"items": "reviewSubmissionItems", "individualTesters": "betaTesters"}
# Real resources remembered from reads (`FabricatedResources.saw`).
_SEEN_TYPES = ("preReleaseVersions",)


def is_fabricated(id_: str) -> bool:
    return str(id_).startswith(ID_PREFIX)


def _key(resource: Mapping[str, Any]) -> tuple[str, str]:
    return str(resource.get("type")), str(resource.get("id"))


def _linked(resource: Mapping[str, Any], rel: str) -> list[tuple[str, str]]:
    relationship = (resource.get("relationships") or {}).get(rel)
    data = relationship.get("data") if isinstance(relationship, Mapping) else None
    items = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else []
    return [_key(item) for item in items if isinstance(item, Mapping)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FabricatedResources:
    """The resources a dry run answered writes with, by (type, id); `next_id` numbers them across types."""

    def __init__(self) -> None:
        self._resources: dict[tuple[str, str], dict[str, Any]] = {}
        self._patched: dict[tuple[str, str], dict[str, Any]] = {}
        self._deleted: set[tuple[str, str]] = set()
        self._seen: dict[tuple[str, str], dict[str, Any]] = {}  # real resources read earlier (see `saw`)
        self._numbers = itertools.count(1)

    # ------------------------------------------------------------------ writes

    def create(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The resource a POST of `data` creates, as the answer to the POST shows it."""
        type_ = str(data["type"])
        resource = {"type": type_, "id": str(data.get("id") or f"{ID_PREFIX}{type_}-{next(self._numbers)}"),
                    "attributes": dict(data.get("attributes") or {}),
                    "relationships": copy.deepcopy(dict(data.get("relationships") or {}))}
        self._resources[_key(resource)] = resource
        if type_ == "buildUploads":
            self._add_build_for(resource)
        for version in _linked(resource, "appStoreVersion") if type_ in _VERSION_AFTER else []:
            self._change(version, _VERSION_AFTER[type_])
        return copy.deepcopy(resource)

    def _change(self, key: tuple[str, str], attributes: Mapping[str, Any]) -> None:
        if key in self._resources:
            self._resources[key]["attributes"].update(attributes)
        else:
            self._patched.setdefault(key, {}).update(attributes)

    def update(self, type_: str, id_: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """The resource after a PATCH of `attributes` (only those, for a resource this dry run did not create)."""
        key = (type_, str(id_))
        if key in self._resources:
            self._resources[key]["attributes"].update(attributes)
            return self.finished(self._resources[key])
        patch = self._patched.setdefault(key, {})
        patch.update(attributes)
        if type_ == "reviewSubmissions":
            state = next((state for flag, state in _SUBMISSION_STATES if patch.get(flag)), None)
            if state is not None:
                patch["state"] = state
        return {"type": type_, "id": str(id_), "attributes": dict(patch)}

    def delete(self, type_: str, id_: str) -> None:
        self._resources.pop((type_, str(id_)), None)
        self._deleted.add((type_, str(id_)))

    def link(self, method: str, type_: str, id_: str, rel: str, data: Any) -> None:
        """A relationship change on a fabricated resource (real ones are left to App Store Connect)."""
        resource = self._resources.get((type_, str(id_)))
        if resource is None:
            return
        items = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else []
        linkages = [{"type": str(i.get("type")), "id": str(i.get("id"))} for i in items if isinstance(i, Mapping)]
        relationships = resource["relationships"]
        if method == "PATCH" and not isinstance(data, list):
            relationships[rel] = {"data": linkages[0] if linkages else None}
            return
        current = [item for item in (relationships.get(rel) or {}).get("data") or [] if isinstance(item, Mapping)]
        if method == "DELETE":
            current = [item for item in current if item not in linkages]
        else:
            current += [item for item in linkages if item not in current]
        relationships[rel] = {"data": current}

    def saw(self, resources: Iterable[Any]) -> None:
        """Real resources a read brought back. Only trains are kept: an upload of a version App Store Connect
        already has a train for joins that train (as Apple does), so the build it becomes is found where a listing
        of the real train's builds looks."""
        for resource in resources:
            if isinstance(resource, Mapping) and resource.get("type") in _SEEN_TYPES and resource.get("id"):
                self._seen[_key(resource)] = copy.deepcopy(dict(resource))

    def _add_build_for(self, upload: dict[str, Any]) -> None:
        """Apple makes a build (and the version's train, if new) out of a processed upload."""
        attributes = upload["attributes"]
        app = upload["relationships"].get("app") or {"data": None}
        version, platform = attributes.get("cfBundleShortVersionString"), attributes.get("platform", "IOS")
        seen = [r for (t, _), r in self._seen.items() if t == "preReleaseVersions"]
        train = next((r for r in self.of_type("preReleaseVersions") + seen
                      if (r.get("attributes") or {}).get("version") == version
                      and (r.get("attributes") or {}).get("platform") == platform
                      and _linked(r, "app") in ([], _linked(upload, "app"))), None)
        if train is None:
            train = self.create({"type": "preReleaseVersions", "attributes": {"version": version, "platform": platform},
                                 "relationships": {"app": app}})
        detail = self.create({"type": "buildBetaDetails"})
        build = self.create({
            "type": "builds",
            "attributes": {"version": attributes.get("cfBundleVersion"), "uploadedDate": "dry run"},
            "relationships": {"app": app, "preReleaseVersion": {"data": {"type": train["type"], "id": train["id"]}},
                              "buildUpload": {"data": {"type": "buildUploads", "id": upload["id"]}},
                              "buildBetaDetail": {"data": {"type": detail["type"], "id": detail["id"]}}}})
        self._resources[_key(detail)]["relationships"]["build"] = {"data": {"type": "builds", "id": build["id"]}}
        upload["relationships"]["build"] = {"data": {"type": "builds", "id": build["id"]}}

    # ------------------------------------------------------------------ reads

    def get(self, type_: str, id_: str) -> dict[str, Any] | None:
        resource = self._resources.get((type_, str(id_)))
        return self.finished(resource) if resource is not None else None

    def patched(self, type_: str, id_: str) -> dict[str, Any] | None:
        """What a dry run changed in a resource it did not create (None when nothing)."""
        return self._patched.get((type_, str(id_)))

    def is_deleted(self, type_: str, id_: str) -> bool:
        return (type_, str(id_)) in self._deleted

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for (t, _), r in self._resources.items() if t == type_]

    def finished(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The resource as a read after App Store Connect has done its work shows it."""
        done = copy.deepcopy(dict(resource))
        attributes = {**FINISHED.get(done["type"], {}), **done.get("attributes", {})}
        if done["type"] == "reviewSubmissions":
            attributes["state"] = next((state for flag, state in _SUBMISSION_STATES if attributes.get(flag)),
                                       attributes["state"])
        done["attributes"] = attributes
        return done

    def related(self, type_: str, id_: str, rel: str) -> list[dict[str, Any]]:
        """Fabricated resources reached from (type_, id_) through `rel`: linked from it, or linking back to it."""
        parent = self._resources.get((type_, str(id_)))
        found = [self._resources[k] for k in _linked(parent, rel) if k in self._resources] if parent else []
        member_type = _MEMBER_TYPES.get(rel, rel)
        found += [r for r in self.of_type(member_type) if (type_, str(id_)) in
                  (k for name in r.get("relationships", {}) for k in _linked(r, name)) and r not in found]
        return [self.finished(r) for r in found]

    def matching(self, type_: str, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        """Fabricated resources of `type_` that every `filter[...]` of a listing would let through."""
        return [self.finished(r) for r in self.of_type(type_)
                if all(self._passes(self.finished(r), name, value) for name, value in filters.items())]

    def included(self, resources: Iterable[Mapping[str, Any]], include: Iterable[str]) -> list[dict[str, Any]]:
        """The fabricated resources `include=` names, for the `included` member of an answer."""
        out: list[dict[str, Any]] = []
        for resource in resources:
            for rel in include:
                for key in _linked(resource, rel):
                    if key in self._resources and all(_key(r) != key for r in out):
                        out.append(self.finished(self._resources[key]))
        return out

    def _passes(self, resource: Mapping[str, Any], name: str, value: str) -> bool:
        wanted = set(value.split(","))
        head, _, tail = name.partition(".")
        if tail:
            targets = [self.get(t, i) or self._seen.get((t, i)) for t, i in _linked(resource, head)]
            return any(t is not None and self._passes(t, tail, value) for t in targets)
        if head in ("id", "ids"):
            return str(resource.get("id")) in wanted
        attributes = resource.get("attributes") or {}
        if head in attributes:
            return _text(attributes[head]) in wanted
        linked = _linked(resource, head)
        return bool(linked) and any(i in wanted for _, i in linked)
