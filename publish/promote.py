"""Promote: run a profile's flow on a build App Store Connect already has, named `VERSION (NUMBER)`, with no IPA
and no upload (`run FLOW --build '1.2.3 (45)'`). What the tested binary went through on TestFlight is taken on
to the App Store without rebuilding or re-uploading it: Apple accepts each build number once, so a second upload
would have to be another binary anyway.

This module is the offline half: the build label, the profile (by bundle ID, from the binaries the state store
knows with those numbers, or `--profile`), and `PromotedBuild`, the stand-in the steps read where a run with an
IPA has the inspection (the same attribute names as publish.ipa's BinaryInfo). The App Store Connect half (find
the build, check it is usable and is the binary the state store knows) is publish.promote_lookup.

Why a stand-in instead of a flag on every step: the steps already work on "this binary's build", which they find
through the run state; given the build id up front they reuse it, and the one place that could upload
(steps.testflight.ensure_build) asks `is_promote` before it would.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from publish.errors import InputError, RemoteError
from publish.plan import choose_profile
from publish.spec import FlowSpec, ProfileSpec
from publish.upload.numbers import build_number_key, same_version

if TYPE_CHECKING:
    from publish.ipa.binary import BinaryInfo

MAX_BUILD_LABEL = 64  # "1.2.3 (45)"; Apple's own limits (18 + 18 characters) are far below this
# VERSION then NUMBER in parentheses, with or without a space between: `1.2.3 (45)`, `1.2.3(45)`.
_BUILD_LABEL = re.compile(r"^\s*(?P<version>[0-9][0-9.]*)\s*\(\s*(?P<number>[0-9][0-9.]*)\s*\)\s*$")
BUILD_LABEL_HINT = ("write the build as VERSION (NUMBER), the app's CFBundleShortVersionString and CFBundleVersion, "
                    "e.g. --build '1.2.3 (45)' or --build 1.2.3(45); `appstore-publish versions` lists the builds "
                    "the state store knows")
SOURCE_APP_STORE_CONNECT = "app_store_connect"  # info["source"] of a binary known only as an App Store Connect build


@dataclass(frozen=True)
class BuildLabel:
    """A build as people name it: marketing version and build number."""

    version: str
    build_number: str

    def matches(self, version: str, build_number: str) -> bool:
        """Apple's equality (protocol.md H.8): 1.2 == 1.2.0, 045 == 45; component by component."""
        return same_version(str(version), self.version) and \
            build_number_key(str(build_number)) == build_number_key(self.build_number)

    def __str__(self) -> str:
        return f"{self.version} ({self.build_number})"


def parse_build_label(text: str | None) -> BuildLabel:
    """`'1.2.3 (45)'` or `'1.2.3(45)'`; anything else is bad input (exit 2) naming the expected form."""
    value = text or ""
    match = _BUILD_LABEL.match(value) if len(value) <= MAX_BUILD_LABEL else None
    version, number = (match["version"], match["number"]) if match else ("", "")
    if not match or build_number_key(version) is None or build_number_key(number) is None \
            or len(version.split(".")) > 3:
        shown = value if len(value) <= MAX_BUILD_LABEL else f"{value[:MAX_BUILD_LABEL]}... ({len(value)} characters)"
        raise InputError(f"--build {shown!r} is not a build: expected VERSION (NUMBER), such as '1.2.3 (45)'",
                         hint=BUILD_LABEL_HINT)
    return BuildLabel(version, number)


@dataclass(frozen=True)
class PromotedBuild:
    """The binary a promote runs on, as the steps see it (BinaryInfo's attributes). `known` binaries come from
    the state store (their inspection kept as `info`); others are known only as an App Store Connect build and get
    a fingerprint derived from that build's id, so the run's history has a binary to be recorded against."""

    bundle_id: str
    version: str
    build_number: str
    display_name: str
    platform: str
    fingerprint: str
    uses_non_exempt_encryption: bool | None
    known: bool  # the state store has this binary (inspected from its IPA or .pkg in an earlier run)
    verified: bool = False  # App Store Connect's build is the one recorded for this binary
    build_id: str | None = None
    app_id: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    # The binaries the state store knows with these numbers (several when an IPA was rebuilt): the candidates.
    candidates: tuple[Mapping[str, Any], ...] = ()
    path: str = ""  # no file: nothing may be uploaded
    file_size: int = 0
    uti: str | None = None
    is_promote: bool = True

    @property
    def label(self) -> str:
        return f"{self.version} ({self.build_number})"

    def to_json(self) -> dict[str, Any]:
        """What the state store records: the kept inspection of a known binary, else what App Store Connect said."""
        if self.known and self.info:
            return dict(self.info)
        return {"format_version": 1, "source": SOURCE_APP_STORE_CONNECT, "path": None, "file_size": None,
                "fingerprint": self.fingerprint, "bundle_id": self.bundle_id, "version": self.version,
                "build_number": self.build_number, "display_name": self.display_name, "platform": self.platform,
                "uses_non_exempt_encryption": self.uses_non_exempt_encryption, "icon_names": [],
                "app_store_connect_build_id": self.build_id}

    def result_fields(self) -> dict[str, Any]:
        """The run result's description of the binary, and the `promote` block saying the run was one."""
        inspected = self.known and self.info.get("source") != SOURCE_APP_STORE_CONNECT
        return {"app_name": self.display_name, "bundle_id": self.bundle_id, "version": self.version,
                "build_number": self.build_number, "platform": self.platform, "fingerprint": self.fingerprint,
                "promote": {"build": self.label, "build_id": self.build_id, "binary_known": inspected,
                            "verified": self.verified}}


def fingerprint_of_build(app_id: str, build_id: str) -> str:
    """A stable fingerprint for a build whose binary this state store never saw (64 hex, like a binary's)."""
    return hashlib.sha256(f"app-store-connect-build:{app_id}:{build_id}".encode()).hexdigest()


def binaries_with_numbers(binaries: Sequence[Mapping[str, Any]], label: BuildLabel) -> list[Mapping[str, Any]]:
    return [b for b in binaries if label.matches(str(b.get("version")), str(b.get("build_number")))]


def choose_promoted_profile(flow: FlowSpec, label: BuildLabel, override: str | None,
                            known: Sequence[Mapping[str, Any]], state_dir: str,
                            recorded: Sequence[Mapping[str, Any]] = ()) -> ProfileSpec:
    """The profile of the app whose build this is: `--profile`, else the bundle ID of the binaries the state store
    knows with these numbers, when that is one app of the flow. No guess among the flow's profiles otherwise.
    `recorded` (every binary the store knows) only makes the error name the builds of the same version it has."""
    if override:
        return choose_profile(flow, "", override)
    profiles = {p.bundle_id for p in flow.profiles}
    bundles = sorted({str(b["bundle_id"]) for b in known} & profiles)
    if len(bundles) == 1:
        return choose_profile(flow, bundles[0], None)
    names = ", ".join(sorted(profiles)) or "none"
    if not bundles:
        elsewhere = sorted({str(b["bundle_id"]) for b in known})
        also = f" (it knows {label} of {', '.join(elsewhere)}, which no profile of this flow is for)" if elsewhere \
            else ""
        nearby = sorted({f"{b['version']} ({b['build_number']}) of {b['bundle_id']}" for b in recorded
                         if same_version(str(b.get("version")), label.version)})
        if nearby and not elsewhere:
            also = f" (of version {label.version} it knows {', '.join(nearby[:5])})"
        raise InputError(
            f"--build {label}: the state store in {state_dir} knows no binary {label} for a profile of this flow"
            f"{also}, so it cannot tell which app the build belongs to",
            hint=f"name the app with --profile BUNDLE_ID (the flow's profiles: {names}); or point --state-dir at the "
            "state of the run that uploaded it")
    raise InputError(f"--build {label}: the state store knows binaries {label} of several apps of this flow "
                     f"({', '.join(bundles)})", hint=f"pick one with --profile, e.g. --profile {bundles[0]}")


def provisional_build(profile: ProfileSpec, label: BuildLabel,
                      known: Sequence[Mapping[str, Any]]) -> PromotedBuild:
    """Before App Store Connect is asked: the binary the state store knows (the most recently seen one of this app
    with these numbers), else the label alone. publish.promote_lookup replaces it with the build it finds."""
    mine = tuple(b for b in known if b["bundle_id"] == profile.bundle_id)
    if mine:
        first = mine[0]
        return from_known_binary(first, candidates=mine, verified=False)
    return PromotedBuild(bundle_id=profile.bundle_id, version=label.version, build_number=label.build_number,
                         display_name=profile.name or profile.bundle_id, platform="IOS", fingerprint="",
                         uses_non_exempt_encryption=None, known=False)


def from_known_binary(binary: Mapping[str, Any], *, candidates: tuple[Mapping[str, Any], ...], verified: bool,
                      build_id: str | None = None, app_id: str | None = None) -> PromotedBuild:
    info = binary.get("info") or {}
    remote = binary.get("remote") or {}
    return PromotedBuild(
        bundle_id=str(binary["bundle_id"]), version=str(binary["version"]), build_number=str(binary["build_number"]),
        display_name=str(binary.get("display_name") or info.get("display_name") or binary["bundle_id"]),
        platform=str(info.get("platform") or "IOS"), fingerprint=str(binary["fingerprint"]),
        uses_non_exempt_encryption=info.get("uses_non_exempt_encryption"), known=True, verified=verified,
        build_id=build_id or remote.get("build_id"), app_id=app_id or remote.get("app_id"), info=info,
        candidates=candidates, file_size=int(binary.get("file_size") or 0), uti=info.get("uti"))


def is_promote(binary: Any) -> bool:
    """Whether the steps are running on a promoted build (no file: nothing may be uploaded)."""
    return bool(getattr(binary, "is_promote", False))


def lookup_api_key(flow: FlowSpec, profile: ProfileSpec) -> str | None:
    """The API key the build is looked up with: the first step's that names one, else the flow's only key, else
    the one the conventional environment variables give (None)."""
    named = next((s.settings["api_key"] for s in profile.flow if s.settings.get("api_key")), None)
    if named is None and len(flow.api_keys) == 1:
        return next(iter(flow.api_keys))
    return named


@dataclass(frozen=True)
class PromotePlan:
    """What a promote knows before App Store Connect is asked."""

    label: BuildLabel
    profile: ProfileSpec
    provisional: PromotedBuild
    api_key: str | None  # the flow's key name the build is looked up with


def prepare_promote(flow: FlowSpec, build: str, override: str | None, state_dir: Path) -> PromotePlan:
    """The build label, its profile and the binaries the state store knows with those numbers (read only: a
    promote that is refused here leaves no state directory behind)."""
    from publish.state import DATABASE_NAME, StateStore

    label = parse_build_label(build)
    known: list[Mapping[str, Any]] = []
    recorded: Sequence[Mapping[str, Any]] = []
    if (state_dir / DATABASE_NAME).is_file():
        with StateStore.open(state_dir) as store:
            recorded = store.find_binaries()
            known = binaries_with_numbers(recorded, label)
    profile = choose_promoted_profile(flow, label, override, known, str(state_dir), recorded)
    if not profile.flow:
        raise InputError(f"profile {profile.bundle_id} has no steps", hint="add steps under its `flow:`")
    return PromotePlan(label, profile, provisional_build(profile, label, known), lookup_api_key(flow, profile))


def provisional_binary(options: Any) -> BinaryInfo:
    """What the runner plans with in place of an inspected binary (publish.runner.RunOptions with `build`): a
    PromotedBuild, which has every attribute of BinaryInfo the plan and the steps read."""
    plan = prepare_promote(options.flow, options.build, options.profile, options.state_dir)
    return cast("BinaryInfo", plan.provisional)


def build_gone(binary: PromotedBuild) -> RemoteError:
    """Asked for by the upload step when the promoted build cannot be read any more: a promote never uploads."""
    return RemoteError(f"build {binary.label} (id {binary.build_id}) is no longer in App Store Connect; a promote "
                       "runs on the build that is there and never uploads one",
                       hint="run the flow with the IPA (--ipa) to upload a new build, or promote another build")
