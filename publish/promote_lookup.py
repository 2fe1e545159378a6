"""Promote, the App Store Connect half: find the named build, refuse it when no step could use it, and tie it to
the binary the state store knows, all with reads only and before the first step, so that a wrong build number
changes nothing remotely.

* The build: the app by bundle ID, the version's train (every platform's; matched numerically, protocol.md H.8,
  because only the form first uploaded can be queried), its builds, the number compared numerically.
* Usable: VALID and not expired. A build still PROCESSING, FAILED or INVALID, or expired, is an error naming it
  and the builds the version does have.
* The binary: the state store's binary with these numbers whose recorded build id is this build ("the exact
  binary that was tested", with its RC mark). A binary recorded as another build is refused; a build no binary
  is recorded for is recorded as a binary of its own (fingerprint from its id) so history and versions show it,
  and `require_rc: true` refuses it unless that very build was marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from publish.asc import AppStoreConnect, Resource
from publish.errors import InputError
from publish.plan import Plan, build_plan
from publish.promote import (
    BuildLabel,
    PromotedBuild,
    fingerprint_of_build,
    from_known_binary,
    lookup_api_key,
    parse_build_label,
)
from publish.steps.base import StepContext
from publish.upload.numbers import build_number_key, same_version

if TYPE_CHECKING:
    from publish.ipa.binary import BinaryInfo

UPLOAD_STEPS = ("send_to_testflight", "send_to_app_store")
_SHOWN_BUILDS = 12  # builds listed in an error; a version rarely has more worth reading


def promoted_plan(ctx: StepContext, plan: Plan, options: Any, result: dict[str, Any]) -> Plan:
    """The runner's plan, made again for the build found (publish.runner: RunOptions with `build`): its steps'
    skip decisions are those of that binary. Says in `result` which build the run promotes."""
    provisional = cast(PromotedBuild, plan.binary)
    promoted = locate_promoted_build(ctx, provisional, parse_build_label(options.build),
                                     lookup_api_key(options.flow, plan.profile))
    result.update(promoted.result_fields())
    return build_plan(options.flow, cast("BinaryInfo", promoted), profile=options.profile, store=ctx.store,
                      restart=options.restart)


def locate_promoted_build(ctx: StepContext, provisional: PromotedBuild, label: BuildLabel,
                          api_key: str | None) -> PromotedBuild:
    """The build to promote, checked and tied to its binary: it becomes ctx.ipa (what the steps run on), and
    ctx.run holds its ids. `api_key`: the flow's key name to look it up with (publish.promote.lookup_api_key)."""
    promoted = _locate(ctx, provisional, label, api_key)
    ctx.ipa = promoted  # type: ignore[assignment]  # it has the BinaryInfo attributes the steps read
    return promoted


def _locate(ctx: StepContext, provisional: PromotedBuild, label: BuildLabel, api_key: str | None) -> PromotedBuild:
    client = ctx.client_for(api_key)
    app = client.find_app(provisional.bundle_id)
    if app is None:
        raise InputError(f"--build {label}: App Store Connect has no app with bundle ID {provisional.bundle_id} "
                         "(or this API key cannot see it)",
                         hint="check --profile and the flow's API key: it must belong to the team that owns the app")
    train, build = _find_build(client, app.id, provisional, label)
    _require_usable(build, label, provisional.bundle_id)
    promoted = _tie_to_binary(ctx, app, train, build, provisional)
    _require_rc_early(ctx, promoted)
    ctx.run.app_id, ctx.run.app_name = app.id, app.attr("name") or promoted.display_name
    ctx.run.app_primary_locale = app.attr("primaryLocale")
    ctx.run.build_id, ctx.run.build = build.id, build
    ctx.run.processing_state = build.attr("processingState")
    _record(ctx, promoted, build)
    _explain(ctx, promoted)
    return promoted


def _find_build(client: AppStoreConnect, app_id: str, provisional: PromotedBuild,
                label: BuildLabel) -> tuple[Resource, Resource]:
    platform = provisional.platform if provisional.known else None  # the known binary's, else every platform's
    trains = [t for t in client.pre_release_versions(app_id, platform=platform)
              if same_version(str(t.attr("version", "")), label.version)
              and (platform is None or t.attr("platform", platform) == platform)]
    if not trains:
        raise InputError(f"--build {label}: App Store Connect has no build of version {label.version} of "
                         f"{provisional.bundle_id}; nothing was changed",
                         hint="check the version (CFBundleShortVersionString): `appstore-publish versions --remote` "
                         "lists the builds App Store Connect has")
    wanted = build_number_key(label.build_number)
    found: list[tuple[Resource, Resource]] = []
    others: list[Resource] = []
    for train in trains:
        for build in client.list_builds(app_id, pre_release_version_id=train.id):
            if build_number_key(str(build.attr("version", ""))) == wanted:
                found.append((train, build))
            else:
                others.append(build)
    if not found:
        raise InputError(f"--build {label}: App Store Connect has no build {label.build_number} of version "
                         f"{label.version} of {provisional.bundle_id}; the version's builds: "
                         f"{describe_builds(others)}; nothing was changed",
                         hint="pick one of those build numbers, or upload the build first (run with --ipa)")
    if len(found) > 1:
        platforms = ", ".join(str(t.attr("platform")) for t, _ in found)
        raise InputError(f"--build {label}: App Store Connect has build {label} on several platforms ({platforms}) "
                         "and the state store knows no binary that says which is meant",
                         hint="run the flow with the IPA or .pkg of that platform instead (--ipa); nothing was changed")
    return found[0]


def describe_builds(builds: Sequence[Resource]) -> str:
    """"44 (VALID), 46 (PROCESSING, expired)": what a version has, for an error that names the one missing."""
    if not builds:
        return "none"
    ordered = sorted(builds, key=lambda b: build_number_key(str(b.attr("version", ""))) or (), reverse=True)
    shown = [f"{b.attr('version')} ({b.attr('processingState') or 'state unknown'}"
             f"{', expired' if b.attr('expired') else ''})" for b in ordered[:_SHOWN_BUILDS]]
    more = len(ordered) - _SHOWN_BUILDS
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _require_usable(build: Resource, label: BuildLabel, bundle_id: str) -> None:
    state = build.attr("processingState")
    what = f"--build {label}: build {label} of {bundle_id} (id {build.id})"
    if build.attr("expired"):
        raise InputError(f"{what} is expired; TestFlight and the App Store can no longer use it, and nothing was "
                         "changed", hint="raise CFBundleVersion, build and upload a new build (run with --ipa)")
    if state == "PROCESSING":
        raise InputError(f"{what} is still being processed by App Store Connect; nothing was changed",
                         hint="run again once processing is done (the build shows in TestFlight), usually within "
                         "minutes to an hour of the upload")
    if state != "VALID":
        raise InputError(f"{what} is {state or 'in an unknown state'}: App Store Connect refused the binary, so no "
                         "step can use it; nothing was changed",
                         hint="see the e-mail Apple sent about this build, fix the app, raise CFBundleVersion and "
                         "upload a new build (run with --ipa)")


def _tie_to_binary(ctx: StepContext, app: Resource, train: Resource, build: Resource,
                   provisional: PromotedBuild) -> PromotedBuild:
    candidates = provisional.candidates
    recorded = [c for c in candidates if _recorded_build(c) == build.id]
    if recorded:
        return from_known_binary(recorded[0], candidates=candidates, verified=True, build_id=build.id,
                                 app_id=app.id)
    elsewhere = [c for c in candidates if _recorded_build(c)]
    if elsewhere and len(elsewhere) == len(candidates):
        other = elsewhere[0]
        raise InputError(
            f"--build {provisional.label}: App Store Connect's build {provisional.label} is id {build.id}, but the "
            f"binary the state store knows with these numbers (fingerprint {str(other['fingerprint'])[:12]}...) "
            f"was uploaded as build {_recorded_build(other)}; it is not promoted as that binary, and nothing was "
            "changed", hint="check that the flow's API key and --api-base-url are those of the team the binary "
            "was uploaded to; if that record is stale, `appstore-publish delete` forgets it")
    if candidates:
        ctx.warn(f"the state store knows binary {provisional.label} (fingerprint "
                 f"{str(candidates[0]['fingerprint'])[:12]}...) but not which App Store Connect build it became; "
                 f"this run is recorded against App Store Connect's build {build.id}, not against that binary")
    return PromotedBuild(
        bundle_id=provisional.bundle_id, version=str(train.attr("version") or provisional.version),
        build_number=str(build.attr("version") or provisional.build_number),
        display_name=str(app.attr("name") or provisional.display_name),
        platform=str(train.attr("platform") or "IOS"), fingerprint=fingerprint_of_build(app.id, build.id),
        uses_non_exempt_encryption=build.attr("usesNonExemptEncryption"), known=False, build_id=build.id,
        app_id=app.id, candidates=candidates)


def _recorded_build(binary: Mapping[str, Any]) -> str | None:
    value = (binary.get("remote") or {}).get("build_id")
    return str(value) if value else None


def _require_rc_early(ctx: StepContext, promoted: PromotedBuild) -> None:
    """`require_rc: true` before any step runs (unless the flow marks the build itself first): a promote is meant
    to ship the binary that was tested, and finding out at step 2 would leave step 1 done."""
    for spec in ctx.profile.flow:
        if spec.step == "mark_as_rc":
            return
        if spec.settings.get("require_rc") is not True or ctx.store is None:
            continue
        if ctx.store.is_rc(promoted.fingerprint):
            return
        if not promoted.verified:
            raise InputError(
                f"step {spec.index + 1} ({spec.step}) has require_rc: true, and build {promoted.label} (id "
                f"{promoted.build_id}) is not a binary the state store recorded as uploaded and marked as a release "
                "candidate, so it cannot be shown to be the binary that was tested; nothing was changed",
                hint="promote with the state directory of the run that uploaded and tested it (--state-dir), or "
                f"mark this build with `appstore-publish mark-rc '{promoted.label}'` if it is the one")
        raise InputError(
            f"step {spec.index + 1} ({spec.step}) has require_rc: true, and {promoted.label} (the binary uploaded "
            f"as build {promoted.build_id}) is not marked as a release candidate; nothing was changed",
            hint=f"mark it with `appstore-publish mark-rc '{promoted.label}'` once it has been tested, then run again")


def _record(ctx: StepContext, promoted: PromotedBuild, build: Resource) -> None:
    if ctx.store is None:
        return
    ctx.store.record_binary(promoted.to_json())
    ctx.store.update_remote(promoted.fingerprint, app_id=promoted.app_id, build_id=build.id,
                            processing_state=build.attr("processingState"))


def _explain(ctx: StepContext, promoted: PromotedBuild) -> None:
    which = (f"the binary {promoted.fingerprint[:12]}... the state store recorded" if promoted.verified
             else "a build this state store has no binary for")
    ctx.log.info("promote: build %s (id %s) is in App Store Connect and processed: %s; nothing is uploaded",
                 promoted.label, promoted.build_id, which)
    for spec in ctx.profile.flow:
        if spec.step in UPLOAD_STEPS:
            ctx.log.info("step %d (%s): its upload is skipped (the build is there); the rest of the step runs on it",
                         spec.index + 1, spec.step)

