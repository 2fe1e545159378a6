"""What the state commands (profiles, versions, show, history, mark-rc, download, delete) share:
the --state-dir / --profile flags, opening the store, and turning `1.2.3 (45)` into one binary."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from publish.commands._arguments import local_path
from publish.errors import InputError

if TYPE_CHECKING:
    from publish.state import StateStore

# publish.state (sqlite3, hashlib, its schema: ~50 ms) is imported where a store is opened, so that a state
# command's --help does not pay for it. A test holds this copy equal to publish.state.STATE_DIR_ENV.
STATE_DIR_ENV = "APPSTORE_PUBLISH_STATE_DIR"

_VERSION_REF = re.compile(
    r"""^\s*(?P<version>[^\s()+]+)           # 1.2.3
        \s*(?:\(\s*(?P<paren>[^\s()]+)\s*\)  # (45)  or  " (45)"
          |\+(?P<plus>[^\s()+]+))?           # +45
        \s*$""",
    re.VERBOSE,
)


def add_state_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        type=local_path,
        help=f"state directory (default: ${STATE_DIR_ENV}, else the flow's state_dir, else .appstore-publish/ "
        "in the working directory)",
    )


def add_profile_argument(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    parser.add_argument(
        "--profile",
        metavar="BUNDLE_ID",
        help=help_text or "the publish profile (bundle ID), needed when several profiles have the version",
    )


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (documented by a schema in schemas/)")


def state_dir_for(args: argparse.Namespace, ctx: Any, flow: Any | None = None) -> Path:
    from publish.state import resolve_state_dir  # noqa: PLC0415 - see STATE_DIR_ENV

    flow_state_dir = None
    flow_base = None
    if flow is not None:
        flow_state_dir = getattr(flow, "state_dir", None) or (getattr(flow, "raw", None) or {}).get("state_dir")
        flow_base = getattr(flow, "base_dir", None) or Path(flow.path).resolve().parent
    return resolve_state_dir(getattr(args, "state_dir", None), ctx.env, flow_state_dir, Path.cwd(), flow_base=flow_base)


@overload
def open_store(args: argparse.Namespace, ctx: Any, flow: Any | None = None, *,
               required: Literal[True]) -> StateStore: ...
@overload
def open_store(args: argparse.Namespace, ctx: Any, flow: Any | None = None, *,
               required: bool) -> StateStore | None: ...
def open_store(args: argparse.Namespace, ctx: Any, flow: Any | None = None, *, required: bool) -> StateStore | None:
    """The store of this state directory; None (or an InputError when `required`) when nothing was recorded there."""
    from publish.state import DATABASE_NAME, StateStore  # noqa: PLC0415 - see STATE_DIR_ENV

    state_dir = state_dir_for(args, ctx, flow)
    if state_dir.exists() and not state_dir.is_dir():
        # Not "nothing recorded yet": a state directory that is a file (often a mistyped path, the IPA itself)
        # would otherwise make `history` and `versions` answer "none yet" with success.
        raise InputError(f"state directory {state_dir} is a file, not a directory",
                         hint="point --state-dir (or APPSTORE_PUBLISH_STATE_DIR, or the flow's state_dir) at the "
                         "directory your runs keep their state in")
    if not (state_dir / DATABASE_NAME).is_file():
        if not required:
            return None
        raise InputError(
            f"no state in {state_dir}: nothing has been published with this state directory",
            hint="pass --state-dir (or set APPSTORE_PUBLISH_STATE_DIR) to where your runs keep their state; in CI, "
            "restore the state directory from the cache or artifact of earlier runs first",
        )
    return StateStore.open(state_dir)


@dataclass(frozen=True)
class VersionRef:
    version: str
    build_number: str | None

    def __str__(self) -> str:
        return self.version if self.build_number is None else f"{self.version} ({self.build_number})"


MAX_VERSION_REF = 64  # "1.2.3 (45)" and friends; Apple's own limits are far below this
# What ordering_key makes of a version or build number: per part (0, number, "") or (1, 0, text).
VersionKey = tuple[tuple[int, int, str], ...]


def parse_version_ref(text: str) -> VersionRef:
    match = _VERSION_REF.match(text or "") if len(text or "") <= MAX_VERSION_REF else None
    if not match:
        shown = text if len(text or "") <= MAX_VERSION_REF else f"{text[:MAX_VERSION_REF]}... ({len(text)} characters)"
        raise InputError(
            f"{shown!r} is not a version",
            hint="write the version as 1.2.3 (its latest build), or 1.2.3(45), 1.2.3+45 or '1.2.3 (45)' for one build",
        )
    return VersionRef(match["version"], match["paren"] or match["plus"])


def ordering_key(text: str | None) -> VersionKey:
    """Sort key for version strings and build numbers: numeric parts compare as numbers (1.10 > 1.9)."""
    parts = re.split(r"[.\-]", text or "")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def binary_order(binary: dict[str, Any]) -> tuple[VersionKey, VersionKey]:
    return (ordering_key(binary["version"]), ordering_key(binary["build_number"]))


def label(binary: dict[str, Any]) -> str:
    return f"{binary['version']} ({binary['build_number']})"


def known_versions_text(binaries: Iterable[dict[str, Any]]) -> str:
    items = sorted(binaries, key=lambda b: (b["bundle_id"], binary_order(b)), reverse=True)
    if not items:
        return "none"
    return ", ".join(f"{label(b)} [{b['bundle_id']}]" for b in items)


def resolve_binary(store: StateStore, ref_text: str, bundle_id: str | None) -> dict[str, Any]:
    """The one binary `ref_text` names: its latest build when no build number is given."""
    ref = parse_version_ref(ref_text)
    matches = store.find_binaries(bundle_id=bundle_id, version=ref.version, build_number=ref.build_number)
    if not matches:
        known = store.find_binaries(bundle_id=bundle_id)
        where = f" for {bundle_id}" if bundle_id else ""
        raise InputError(
            f"version {ref} is not in the state store{where}; known versions: {known_versions_text(known)}",
            hint="pick one of the known versions (`appstore-publish versions` lists them)",
        )
    profiles = sorted({b["bundle_id"] for b in matches})
    if len(profiles) > 1:
        candidates = "; ".join(
            f"{p}: {', '.join(label(b) for b in matches if b['bundle_id'] == p)}" for p in profiles
        )
        raise InputError(
            f"version {ref} is known for several profiles ({candidates})",
            hint=f"add --profile BUNDLE_ID, e.g. --profile {profiles[0]}",
        )
    # Newest build number; among binaries with the same numbers (a rebuilt IPA), the last one seen.
    return max(matches, key=binary_order)


def print_json(ctx: Any, document: Any) -> None:
    ctx.print(json.dumps(document, indent=2, sort_keys=False, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    return "\n".join(lines)


def latest_state(store: StateStore, binary: dict[str, Any]) -> str:
    """One word or two on where a version stands: its last step's outcome, else what Apple last said."""
    steps = store.history(fingerprint=binary["fingerprint"], kind="step", limit=1)
    if steps:
        return f"{steps[0]['step_name']} {steps[0]['status']}"
    remote = binary.get("remote") or {}
    for key in ("app_store_state", "app_store_version_state", "processing_state"):
        if remote.get(key):
            return str(remote[key])
    return "inspected"
