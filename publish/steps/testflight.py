"""The app and the build, shared by the uploading steps (protocol.md B-C): find the app, reuse the build App Store
Connect already has for this binary or upload it (Build Upload API or Transporter), and wait for processing.

This is where a run gets hold of its build; what is then done with it on TestFlight lives in export_compliance.py,
what_to_test.py and testflight_distribution.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from publish.asc import AppStoreConnect, AscNotFoundError, Resource
from publish.errors import InputError, RemoteError
from publish.ipa.binary import binary_kind
from publish.promote import build_gone, is_promote
from publish.steps.base import StepContext, format_duration
from publish.steps.testflight_state import read_build_with_testflight_state
from publish.upload import lifecycle
from publish.upload.numbers import build_number_key, builds_on_train, find_existing_build as find_numbered_build

if TYPE_CHECKING:
    from publish.plan import DeliverySettings

log = logging.getLogger(__name__)


def ensure_app(ctx: StepContext, client: AppStoreConnect) -> str:
    if ctx.run.app_id:
        return ctx.run.app_id
    app = client.find_app(ctx.ipa.bundle_id)
    if app is None:
        raise InputError(
            f"App Store Connect has no app with bundle ID {ctx.ipa.bundle_id} (or this API key cannot see it)",
            hint="create the app record in App Store Connect (Apps > + > New App) with this bundle ID, or use an "
            "API key of the team that owns the app",
        )
    ctx.run.app_id = app.id
    ctx.run.app_name = app.attr("name") or ctx.ipa.display_name
    ctx.run.app_primary_locale = app.attr("primaryLocale")
    ctx.remember(app_id=app.id)
    return app.id


def label(ctx: StepContext) -> str:
    return f"{ctx.ipa.version} ({ctx.ipa.build_number})"


def find_existing_build(ctx: StepContext, client: AppStoreConnect, app_id: str) -> Resource | None:
    """The build App Store Connect already has for this version and build number, if it is this binary. The
    rule is the upload engine's (numbers.find_existing_build): the version found in the form Apple holds, build
    numbers compared numerically (protocol.md H.8)."""
    used = builds_on_train(client, app_id, ctx.ipa.version, ctx.ipa.platform)
    existing = find_numbered_build(client, app_id, ctx.ipa.version, ctx.ipa.build_number, ctx.ipa.platform,
                                   used=used)
    build = existing.build if existing is not None else None
    if build is None or build.attr("expired"):
        wanted = build_number_key(ctx.ipa.build_number)
        same_numbers = [b for b in used.builds if build_number_key(str(b.attr("version", ""))) == wanted]
        if same_numbers:
            state = same_numbers[0].attr("processingState") or "unknown"
            expired = " and expired" if same_numbers[0].attr("expired") else ""
            raise InputError(
                f"build {label(ctx)} was already uploaded and App Store Connect marked it {state}{expired}; "
                "a build number cannot be uploaded twice",
                hint=f"increase CFBundleVersion (the build number), rebuild the {binary_kind(ctx.ipa)} and run again",
            )
        return None
    _check_same_binary(ctx, build)
    return build


def _check_same_binary(ctx: StepContext, build: Resource) -> None:
    """Refuse to treat a build uploaded from another binary with the same numbers as this one."""
    if ctx.store is None:
        return
    known = [b for b in ctx.store.find_binaries(bundle_id=ctx.ipa.bundle_id, version=ctx.ipa.version,
                                                build_number=ctx.ipa.build_number)
             if (b.get("remote") or {}).get("build_id") == build.id]
    if not known:
        ctx.log.info("App Store Connect already has build %s (id %s); reusing it (its checksum is not known here, "
                     "so it is taken to be this binary)", label(ctx), build.id)
        return
    if any(b["fingerprint"] == ctx.ipa.fingerprint for b in known):
        ctx.log.info("App Store Connect already has this binary as build %s (id %s); reusing it", label(ctx),
                     build.id)
        return
    other = known[0]
    raise InputError(
        f"App Store Connect already has build {label(ctx)} (id {build.id}), uploaded from a different binary "
        f"(fingerprint {other['fingerprint'][:12]}..., this IPA is {ctx.ipa.fingerprint[:12]}...)",
        hint="Apple accepts each build number once: increase CFBundleVersion, rebuild and run again",
    )


def load_build(ctx: StepContext, client: AppStoreConnect, build_id: str) -> Resource | None:
    """Read a build together with its TestFlight state (one call); None when App Store Connect has no such build."""
    try:
        build, state = read_build_with_testflight_state(client, build_id)
    except AscNotFoundError:
        return None
    if build is not None:
        ctx.run.testflight_state = state
    return build


def ensure_build(
    ctx: StepContext,
    client: AppStoreConnect,
    settings: DeliverySettings,
    *,
    before_upload: Callable[[Resource | None], None] | None = None,
) -> Resource | None:
    """This binary's build: reused when App Store Connect has it, else uploaded; processed when waited for.

    `before_upload(existing_build_or_None)` runs checks that need App Store Connect's answers but must pass
    before an upload is spent. Returns None only when the upload is left processing (wait_for_processing: false).
    """
    app_id = ensure_app(ctx, client)
    wait = settings.wait_for_processing
    ctx.run.testflight_state = None
    build: Resource | None = None
    cached = ctx.run.build
    if cached is not None and cached.id == ctx.run.build_id and cached.attr("processingState") == "VALID":
        build = cached  # processed by an earlier step of this run: its state cannot go back
    elif ctx.run.build_id:
        build = load_build(ctx, client, ctx.run.build_id)
        if build is None:
            ctx.log.info("build %s recorded earlier is gone from App Store Connect; looking again", ctx.run.build_id)
            ctx.run.build_id = None
    if build is None and is_promote(ctx.ipa):  # promote hook: never an upload (publish.promote)
        raise build_gone(ctx.ipa)  # type: ignore[arg-type]
    if build is None:
        build = find_existing_build(ctx, client, app_id)
    if before_upload is not None:
        before_upload(build)
    if build is None:
        build = _upload(ctx, client, settings, app_id, wait)
        if build is None:
            return None
    ctx.run.build_id = build.id
    ctx.run.processing_state = build.attr("processingState")
    ctx.remember(build_id=build.id, processing_state=ctx.run.processing_state)
    if wait and build.attr("processingState") == "PROCESSING":
        build = wait_for_processing(ctx, client, build, settings.processing_timeout)
    ctx.run.build = build
    return build


def _upload(ctx: StepContext, client: AppStoreConnect, settings: DeliverySettings, app_id: str,
            wait: bool) -> Resource | None:
    ipa = ctx.ipa
    if ctx.dry_run:
        return _dry_run_upload(ctx, client, app_id)
    apple_id = settings.apple_id
    if apple_id:
        if ctx.transporter_for is None:
            raise InputError("uploads with an Apple ID are not available here", hint="use an api_key instead")
        ctx.log.info("uploading %s (%s) with Transporter as Apple ID '%s'", ipa.path, _size(ipa.file_size), apple_id)
        ctx.transporter_for(apple_id, settings)(ipa.path, ipa.platform)
        return _wait_for_build_to_appear(ctx, client, app_id, settings.processing_timeout) if wait else None
    ctx.log.info("uploading %s (%s) through the Build Upload API", ipa.path, _size(ipa.file_size))
    uploader = ctx.uploader_for(client, settings)
    result = uploader.upload(ipa.path, app_id=app_id, bundle_id=ipa.bundle_id, version=ipa.version,
                             build_number=ipa.build_number, platform=ipa.platform, wait_for_processing=wait,
                             uti=getattr(ipa, "uti", None))
    ctx.run.upload_id = result.upload_id
    ctx.remember(upload_id=result.upload_id, md5_hex=result.md5_hex, build_id=result.build_id,
                 processing_state=result.processing_state)
    how = "resumed an earlier upload" if result.reused else f"sent {_size(result.bytes_sent)}"
    ctx.log.info("upload %s complete (%s)", result.upload_id, how)
    if not result.build_id:
        if wait:
            raise RemoteError(
                f"upload {result.upload_id} finished but App Store Connect reported no build for it",
                hint="run again in a few minutes: the build is looked up before anything is uploaded again",
            )
        ctx.log.info("not waiting for processing (wait_for_processing: false)")
        return None
    build = load_build(ctx, client, result.build_id)
    if build is None:
        raise RemoteError(f"App Store Connect reported build {result.build_id} for upload {result.upload_id} but "
                          "has no such build", hint="run again in a few minutes")
    return build


def _dry_run_upload(ctx: StepContext, client: AppStoreConnect, app_id: str) -> Resource:
    """Show the Build Upload API calls an upload makes. A branch on dry run because the bytes go to presigned URLs
    outside the API (and the upload journal is a file in the state directory), so the dry-run transport cannot
    leave them out; the calls to the API go through it as in a real upload. (Every such branch of the steps, with
    its reason: tests/unit/steps/test_steps_dry_run_branches.py.)"""
    ipa = ctx.ipa
    upload = client.create_build_upload(app_id, version=ipa.version, build_number=ipa.build_number,
                                        platform=ipa.platform)
    file = client.create_build_upload_file(upload.id, file_name=ipa.path.rsplit("/", 1)[-1], file_size=ipa.file_size)
    ctx.log.info("dry run: would PUT the %s IPA in parts to the presigned URLs App Store Connect returns", _size(
        ipa.file_size))
    client.commit_build_upload_file(file.id)
    ctx.run.upload_id = upload.id
    # The dry run answers the upload processed, with its build (publish/asc/dry_run.py).
    uploaded = client.get_build_upload(upload.id, include_build=True)
    build_id = (uploaded.resource or upload).related_id("build")
    build = load_build(ctx, client, build_id) if build_id else None
    if build is None:
        raise RemoteError("dry run: the build of the upload it answered could not be read back",
                          hint="this is a bug of the dry run; report it with the log")
    # Apple reads the answer from Info.plist while processing.
    build.attributes.setdefault("usesNonExemptEncryption", ipa.uses_non_exempt_encryption)
    return build


def waiting(ctx: StepContext, timeout: float) -> lifecycle.Waiting:
    """The step's waiting budget: every wait of the step draws from processing_timeout."""
    return lifecycle.Waiting(timeout=timeout, interval=ctx.poll_interval, clock=ctx.clock, sleep=ctx.sleep,
                             report=ctx.log.info)


def _wait_for_build_to_appear(ctx: StepContext, client: AppStoreConnect, app_id: str, timeout: float) -> Resource:
    def read() -> Resource | None:
        used = builds_on_train(client, app_id, ctx.ipa.version, ctx.ipa.platform)
        wanted = build_number_key(ctx.ipa.build_number)
        return next((b for b in used.builds if build_number_key(str(b.attr("version", ""))) == wanted), None)

    def timed_out(_: Resource | None) -> Exception:
        return RemoteError(
            f"build {label(ctx)} did not appear in App Store Connect within {format_duration(timeout)}",
            hint="raise processing_timeout, or run again later: the build is looked up before any new upload",
        )

    found = waiting(ctx, timeout).until("show the uploaded build", read, lambda b: b is not None, timed_out)
    assert found is not None
    return found


def wait_for_processing(ctx: StepContext, client: AppStoreConnect, build: Resource, timeout: float) -> Resource:
    ctx.log.info("waiting for App Store Connect to process build %s (id %s)", label(ctx), build.id)
    build = lifecycle.wait_until_processed(client, build, waiting(ctx, timeout), label=label(ctx))
    state = build.attr("processingState")
    ctx.run.processing_state = state
    ctx.remember(processing_state=state)
    if state != "VALID":
        raise RemoteError(
            f"App Store Connect could not process build {label(ctx)} (id {build.id}): its state is {state}",
            hint="Apple e-mails the reason to the account holder and shows it in App Store Connect > TestFlight; "
            "fix the problem, increase the build number and upload again",
        )
    ctx.log.info("build %s is processed (VALID)", label(ctx))
    return build


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
