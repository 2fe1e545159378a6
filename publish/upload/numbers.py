"""Build numbers already used on App Store Connect (protocol.md B): find the app, list the builds and build
uploads of a version, and decide whether a new build number may be uploaded, before any byte is sent."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from publish.asc.client import AppStoreConnect
from publish.asc.resources import Resource
from publish.errors import InputError

log = logging.getLogger(__name__)

# Build uploads that hold a build number: AWAITING_UPLOAD ones too (asc counts them for its next number), FAILED
# ones do not (nothing was created from them).
HOLDING_UPLOAD_STATES = ("AWAITING_UPLOAD", "PROCESSING", "COMPLETE")
REUSABLE_BUILD_STATES = ("PROCESSING", "VALID")
REUSABLE_UPLOAD_STATES = ("PROCESSING", "COMPLETE")


def build_number_key(value: str) -> tuple[int, ...] | None:
    """`"1.2.10"` -> (1, 2, 10) with trailing zeros dropped (so "45" == "45.0"); None when not dotted integers."""
    parts = str(value).strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    numbers = [int(p) for p in parts]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def next_build_number(value: str) -> str:
    """The smallest obvious successor: the last component plus one ("45" -> "46", "1.2.9" -> "1.2.10")."""
    parts = str(value).strip().split(".")
    parts[-1] = str(int(parts[-1]) + 1) if parts[-1].isdigit() else parts[-1] + ".1"
    return ".".join(parts)


def upload_state(upload: Resource) -> str | None:
    state = upload.attr("state")
    if isinstance(state, dict):
        return state.get("state")
    return state if isinstance(state, str) else None


def find_app_or_fail(client: AppStoreConnect, bundle_id: str) -> Resource:
    app = client.find_app(bundle_id)
    if app is None:
        raise InputError(
            f"No app with bundle ID {bundle_id} in App Store Connect: create the app in App Store Connect first "
            "(My Apps → + → New App).",
            hint=f"The app record must exist (with bundle ID {bundle_id}, registered under Certificates, "
                 "Identifiers & Profiles) before a build can be uploaded; also check that the API key belongs to "
                 "the team that owns the app.",
        )
    return app


@dataclass(frozen=True)
class UsedBuildNumbers:
    """The builds and the build uploads (in the states that hold a number) of one version and platform."""

    builds: list[Resource]
    uploads: list[Resource]

    def entries(self, *, ignore_upload_ids: Iterable[str] = ()) -> list[tuple[str, str]]:
        """(build number, where it is used) for every numeric build number."""
        ignored = set(ignore_upload_ids)
        found: list[tuple[str, str]] = []
        for build in self.builds:
            number = str(build.attr("version", ""))
            found.append((number, f"build {build.id}, {build.attr('processingState', 'state unknown')}"))
        for upload in self.uploads:
            if upload.id in ignored:
                continue
            number = str(upload.attr("cfBundleVersion", ""))
            found.append((number, f"build upload {upload.id}, {upload_state(upload) or 'state unknown'}"))
        return [(n, where) for n, where in found if build_number_key(n) is not None]

    def highest(self, *, ignore_upload_ids: Iterable[str] = ()) -> tuple[str, str] | None:
        entries = self.entries(ignore_upload_ids=ignore_upload_ids)
        if not entries:
            return None
        return max(entries, key=lambda e: build_number_key(e[0]) or ())


def same_version(a: str, b: str) -> bool:
    """Apple's notion of one version (protocol.md H.8): 1.2 == 1.2.0 == 01.2; text only when not numeric."""
    key_a, key_b = build_number_key(a), build_number_key(b)
    return key_a == key_b if key_a is not None and key_b is not None else str(a) == str(b)


def find_train(client: AppStoreConnect, app_id: str, version: str, platform: str = "IOS") -> Resource | None:
    """The app's preReleaseVersion for `version` in the form App Store Connect holds (H.8: only the form first
    uploaded is queryable, so the app's trains are listed and matched numerically rather than filtered)."""
    for train in client.pre_release_versions(app_id, platform=platform):
        if same_version(str(train.attr("version", "")), version) and train.attr("platform", platform) == platform:
            return train
    return None


def builds_on_train(client: AppStoreConnect, app_id: str, version: str, platform: str = "IOS") -> UsedBuildNumbers:
    """The version's builds only (no build uploads): what a step needs to find a build to reuse, in one call when
    the version has no train yet."""
    train = find_train(client, app_id, version, platform)
    builds = client.list_builds(app_id, pre_release_version_id=train.id) if train is not None else []
    return UsedBuildNumbers(builds=[b for b in builds if _build_version_matches(b, version)], uploads=[])


def used_build_numbers(client: AppStoreConnect, app_id: str, version: str, platform: str = "IOS") -> UsedBuildNumbers:
    train = find_train(client, app_id, version, platform)
    builds = client.list_builds(app_id, pre_release_version_id=train.id) if train is not None else []
    forms = list(dict.fromkeys([version] + ([str(train.attr("version"))] if train is not None else [])))
    uploads: list[Resource] = []
    for form in forms:  # an upload keeps the form it was sent in; the train the form first uploaded
        uploads += [u for u in client.list_build_uploads(app_id, version=form, platform=platform,
                                                         states=HOLDING_UPLOAD_STATES)
                    if u.id not in {seen.id for seen in uploads}]
    # Filters are the server's business; the comparison is ours: keep only this version (numerically) and platform.
    builds = [b for b in builds if _build_version_matches(b, version)]
    uploads = [u for u in uploads if same_version(str(u.attr("cfBundleShortVersionString", version)), version)
               and str(u.attr("platform", platform)) == platform]
    return UsedBuildNumbers(builds=builds, uploads=uploads)


def _build_version_matches(build: Resource, version: str) -> bool:
    # A build's marketing version lives on its preReleaseVersion; the train already chose it. Some answers carry
    # it in attributes too (e.g. `preReleaseVersion` included): when present, it must agree.
    marketing = build.attr("cfBundleShortVersionString")
    return marketing is None or same_version(str(marketing), version)


def require_numeric(build_number: str) -> tuple[int, ...]:
    key = build_number_key(build_number)
    if key is None:
        raise InputError(
            f"The build number (CFBundleVersion) {build_number!r} is not made of period-separated integers.",
            hint="App Store Connect needs a CFBundleVersion like 45 or 1.2.3; set it in the Xcode project "
                 "(CURRENT_PROJECT_VERSION) and rebuild.",
        )
    return key


def check_build_number(client: AppStoreConnect, app_id: str, version: str, build_number: str,
                       platform: str = "IOS", *, used: UsedBuildNumbers | None = None,
                       ignore_upload_ids: Iterable[str] = ()) -> None:
    """Raise InputError unless `build_number` is higher than every build and build upload of `version` (compared
    as dotted integers), naming the highest one and the next number to use."""
    key = require_numeric(build_number)
    if used is None:
        used = used_build_numbers(client, app_id, version, platform)
    highest = used.highest(ignore_upload_ids=ignore_upload_ids)
    if highest is None:
        return
    highest_number, where = highest
    if key > (build_number_key(highest_number) or ()):
        return
    raise InputError(
        f"Build number {build_number} of version {version} ({platform}) is not higher than the highest build "
        f"number already used on App Store Connect for that version: {highest_number} ({where}).",
        hint=f"Set CFBundleVersion to {next_build_number(highest_number)} or higher, rebuild the app (IPA or package) and run again "
             "(App Store Connect takes each build number once per version). Nothing was uploaded.",
    )


@dataclass(frozen=True)
class ExistingBuild:
    """A build (or a processed build upload) that already carries this build number."""

    build_number: str
    build: Resource | None
    upload: Resource | None

    @property
    def state(self) -> str | None:
        if self.build is not None:
            state: str | None = self.build.attr("processingState")
            return state
        return upload_state(self.upload) if self.upload is not None else None


def find_existing_build(client: AppStoreConnect, app_id: str, version: str, build_number: str,
                        platform: str = "IOS", *, used: UsedBuildNumbers | None = None) -> ExistingBuild | None:
    """The build of `version` with exactly this build number that is processing or valid (or its build upload,
    PROCESSING/COMPLETE, when the build is not visible yet). The step layer decides whether to reuse it."""
    key = require_numeric(build_number)
    if used is None:
        used = used_build_numbers(client, app_id, version, platform)
    build = next((b for b in used.builds if build_number_key(str(b.attr("version", ""))) == key
                  and b.attr("processingState") in REUSABLE_BUILD_STATES), None)
    uploads = [u for u in used.uploads if build_number_key(str(u.attr("cfBundleVersion", ""))) == key
               and upload_state(u) in REUSABLE_UPLOAD_STATES]
    upload = None
    if build is not None:
        upload = next((u for u in uploads if u.related_id("build") == build.id), None)
    elif uploads:
        upload = uploads[0]
    if build is None and upload is None:
        return None
    return ExistingBuild(build_number=build_number, build=build, upload=upload)


def open_build_upload(used: UsedBuildNumbers, build_number: str) -> Resource | None:
    """A build upload for exactly this build number still waiting for its file (a cancelled earlier run)."""
    key = build_number_key(build_number)
    for upload in used.uploads:
        if build_number_key(str(upload.attr("cfBundleVersion", ""))) == key and upload_state(upload) == "AWAITING_UPLOAD":
            return upload
    return None
