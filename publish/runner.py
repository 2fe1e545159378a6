"""The flow runner: one binary through the steps of its publish profile, in order, restartably.

1. Inspect the binary (the run's subject, obtained in `inspect` only) and build the plan (publish.plan): the
   profile, every step's settings checked offline (so a typo in step 3 cannot leave steps 1-2 done and the rest
   not), which steps are already done, the pre-flight. Pre-flight errors stop the run before anything remote
   happens; warnings are logged and summarised. `plan` shows this very plan.
2. Record the binary in the state store and run the planned steps. A step the plan found already done for this
   binary with the same settings is skipped (`--restart` runs everything again); each run is recorded with its
   duration, the App Store Connect ids it touched and its error. The first failing step stops the flow.

The result is a dict documented by schemas/run-result.schema.json; publish.summary renders it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from publish.asc import AppStoreConnect
from publish.asc.errors import AscTransportError
from publish.asc.transport import DEFAULT_BASE_URL
from publish.credentials_needed import check_profile_credentials
from publish.errors import InputError, PublishError
from publish.ipa import IpaError
from publish.ipa.binary import BinaryInfo, binary_kind, inspect_binary
from publish.plan import DeliverySettings, Plan, PlannedStep, StepSettings, build_plan
from publish.promote import provisional_binary
from publish.promote_lookup import promoted_plan
from publish.redact import Redactor
from publish.run_report import POLLS, RETRIES, RunMeter
from publish.secrets import resolve_api_key, resolve_apple_id
from publish.spec import FlowSpec
from publish.state import DATABASE_NAME, StateStore
from publish.steps import RunState, StepContext, StepOutcome, get_step, step_log

log = logging.getLogger(__name__)

RESULT_FORMAT_VERSION = 1
ASC_WEB = "https://appstoreconnect.apple.com"
PLATFORM_PATH = {"IOS": "ios", "TV_OS": "tvos", "VISION_OS": "visionos", "MAC_OS": "macos"}
OnCall = Callable[[str, str, Any], None]
# A dry run reads App Store Connect (it checks the key and the flow's names for real): unreachable, it cannot run.
DRY_RUN_UNREACHABLE_HINT = (
    "a dry run reads App Store Connect (only writes are left out), so it needs the network and a working API key; "
    "to check the flow offline instead, run `validate` (the flow file), `plan` (the steps it would run) or `check` "
    "(the binary)")


@dataclass
class RunOptions:
    flow: FlowSpec
    ipa_path: Path | None  # None only with `build` (a promote)
    state_dir: Path
    profile: str | None = None
    base_url: str = DEFAULT_BASE_URL
    restart: bool = False
    dry_run: bool = False
    concurrency: int = 6
    poll_interval: float = 10.0
    env: Mapping[str, str] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    register_secret: Callable[[str | None], None] | None = None  # also masks under GitHub Actions
    on_call: OnCall | None = None  # every App Store Connect call (dry-run listing, call counting)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    progress_stream: Any = None  # where upload progress goes (stderr by default)
    build: str | None = None  # promote hook: "VERSION (NUMBER)" of a build App Store Connect has (publish.promote)


class FlowFailed(PublishError):
    """A step failed. Carries the run result (status failed) and the failing step's exit code."""

    def __init__(self, message: str, *, hint: str | None, exit_code: int, result: dict[str, Any]) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
        self.result = result


def inspect(path: Path) -> BinaryInfo:
    """The .ipa or .pkg (told apart by content) the flow publishes: IpaInfo or PkgInfo, which the steps read alike."""
    try:
        return inspect_binary(path)
    except IpaError as exc:
        raise InputError(str(exc)) from None


class _Clients:
    """One App Store Connect client per API key name, built on first use."""

    def __init__(self, options: RunOptions, sleep: Callable[[float], None] | None = None) -> None:
        self._options = options
        self._sleep = sleep or options.sleep
        self._clients: dict[str | None, AppStoreConnect] = {}
        self._deadline: float | None = None

    def __call__(self, api_key_name: str | None) -> AppStoreConnect:
        if api_key_name not in self._clients:
            o = self._options
            key = resolve_api_key(o.flow, api_key_name, env=o.env, base_dir=o.flow.base_dir, redactor=o.redactor,
                                  mask=o.register_secret)
            self._clients[api_key_name] = AppStoreConnect(key, base_url=o.base_url, sleep=self._sleep,
                                                          dry_run=o.dry_run, dry_run_reads=o.dry_run,
                                                          on_call=o.on_call)
            self._clients[api_key_name].deadline = self._deadline
        return self._clients[api_key_name]

    @contextmanager
    def waits_within(self, seconds: float) -> Iterator[None]:
        """No wait the clients make inside the block (a rate limit's Retry-After, a backoff) ends later than `seconds`
        from now: a step's waits, Apple's included, stay within its processing_timeout instead of each request
        having a budget of its own."""
        self._deadline = time.time() + seconds
        for client in self._clients.values():
            client.deadline = self._deadline
        try:
            yield
        finally:
            self._deadline = None
            for client in self._clients.values():
                client.deadline = None

    @property
    def call_count(self) -> int:
        return sum(c.call_count for c in self._clients.values())

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def _uploader_factory(options: RunOptions, store: StateStore | None,
                      meter: RunMeter) -> Callable[[AppStoreConnect, DeliverySettings], Any]:
    def make(client: AppStoreConnect, settings: DeliverySettings) -> Any:
        from publish.upload.engine import BuildUploader

        state_dir = store.state_dir if store is not None else options.state_dir
        return meter.uploader(BuildUploader(
            client, state_dir=state_dir, concurrency=options.concurrency, sleep=meter.sleep(options.sleep, POLLS),
            poll_interval=options.poll_interval, processing_timeout=settings.processing_timeout,
            progress=meter.progress(options.progress_stream)))
    return make


def _transporter_factory(options: RunOptions) -> Callable[[str, DeliverySettings], Callable[[str, str], Any]]:
    """Uploads with an Apple ID through iTMSTransporter / altool: returns `upload(ipa_path, platform)`."""
    def make(apple_id_name: str, settings: DeliverySettings) -> Callable[[str, str], Any]:
        from publish.upload.transporter import TransporterUploader

        credentials = resolve_apple_id(options.flow, apple_id_name, env=options.env, base_dir=options.flow.base_dir,
                                       redactor=options.redactor, mask=options.register_secret)
        uploader = TransporterUploader(env=options.env, redactor=options.redactor,
                                       xcode_version=settings.xcode_version)

        def upload(ipa_path: str, platform: str) -> Any:
            return uploader.upload(ipa_path, apple_id=credentials.apple_id, password=credentials.password,
                                   platform=platform)
        return upload
    return make


def run_flow(options: RunOptions) -> dict[str, Any]:
    """Run the flow on the IPA; returns the result (status succeeded). A failing step raises FlowFailed."""
    started = time.monotonic()
    # promote hook: no binary to inspect, a build App Store Connect has (publish.promote)
    ipa = inspect(options.ipa_path) if options.ipa_path is not None else provisional_binary(options)
    store = _existing_store(options)
    try:
        plan = build_plan(options.flow, ipa, profile=options.profile, store=store, restart=options.restart)
        plan.require_preflight(options.ipa_path or "")
        for warning in plan.preflight_warnings:
            log.warning("warning: %s", warning)
        result = _new_result(options, ipa, plan)
        if not plan.steps:
            raise InputError(f"profile {plan.profile.bundle_id} has no steps", hint="add steps under its `flow:`")
        if store is None and not options.dry_run:
            store = StateStore.open(options.state_dir)  # a dry run creates nothing
        return _run_plan(options, plan, store, result, started)
    finally:
        if store is not None:
            store.close()


def _run_plan(options: RunOptions, plan: Plan, store: StateStore | None, result: dict[str, Any],
              started: float) -> dict[str, Any]:
    ipa, profile = plan.binary, plan.profile
    meter = RunMeter()  # the run report: calls, bytes, waits, as they happen
    clients = _Clients(options, sleep=meter.sleep(options.sleep, RETRIES))
    run_state = RunState()
    ctx = StepContext(
        ipa=ipa, profile=profile, store=store, client_for=clients,
        uploader_for=_uploader_factory(options, store, meter),
        transporter_for=_transporter_factory(options), flow_dir=options.flow.base_dir, run=run_state,
        clock=options.clock, sleep=meter.sleep(options.sleep, POLLS), poll_interval=options.poll_interval,
        dry_run=options.dry_run, log=step_log(dry_run=options.dry_run),
        warnings=result["warnings"], env=options.env, register_secret=options.redactor.add,
    )
    try:
        check_profile_credentials(profile, options.env, binary=None if options.dry_run else options.ipa_path,
                                  skipped={planned.spec.index for planned in plan.steps if planned.would_skip})
        if options.build is not None:  # promote hook: the build found and checked before any step; now ctx.ipa
            try:
                plan = promoted_plan(ctx, plan, options, result)
            except AscTransportError as unreachable:  # its reads come before any step: the dry-run hint too
                if options.dry_run:
                    unreachable.hint = DRY_RUN_UNREACHABLE_HINT
                raise
            ipa = plan.binary
        steps = [(planned, get_step(planned.spec.step)) for planned in plan.steps]
        if store is not None and not options.dry_run:
            store.record_binary(ipa.to_json())
            _preload(run_state, store, ipa.fingerprint)
            if profile.keep_binaries and options.build is None and store.artifact_path(ipa.fingerprint) is None:
                sha256 = store.keep_binary(ipa.fingerprint, ipa.path)
                log.info("kept a copy of the %s in the state directory (sha256 %s)", binary_kind(ipa), sha256[:12])
        log.info("%s %s (%s) [%s]: %d step%s%s", ipa.display_name, ipa.version, ipa.build_number, ipa.bundle_id,
                 len(steps), "s" if len(steps) != 1 else "", " (dry run: App Store Connect is read, nothing is written)" if options.dry_run else "")
        result["flow_hash"] = plan.flow_hash
        for position, (planned, step) in enumerate(steps):
            spec = planned.spec
            entry = _run_step(ctx, options, store, planned, step, plan.flow_hash, total=len(steps))
            result["steps"].append(entry)
            if entry["status"] == "failed":
                _finish(result, ctx, started, clients, "failed", meter)
                for later, _ in steps[position + 1:]:
                    result["steps"].append({**_entry(later), "status": "not_run",
                                            "message": "not run: an earlier step failed"})
                error = entry.pop("_exception")
                hint = error.hint if isinstance(error, PublishError) else None
                if options.dry_run and isinstance(error, AscTransportError):
                    hint = DRY_RUN_UNREACHABLE_HINT
                result["error"] = {"step": spec.step, "index": spec.index, "message": options.redactor.redact(
                    getattr(error, "message", str(error))), "hint": hint}
                raise FlowFailed(
                    f"step {spec.index + 1} ({spec.step}) failed: {getattr(error, 'message', str(error))}",
                    hint=(hint + " " if hint else "") + ("Steps after it did not run." if options.dry_run else
                                                         "Steps after it did not run; fix the problem and run the "
                                                         "same command again: the steps already done are skipped."),
                    exit_code=getattr(error, "exit_code", 1),
                    result=options.redactor.redact_obj(result),  # type: ignore[arg-type]
                ) from error
        _finish(result, ctx, started, clients, "succeeded", meter)
        return options.redactor.redact_obj(result)  # type: ignore[return-value]
    finally:
        clients.close()


def _existing_store(options: RunOptions) -> StateStore | None:
    """The state store when runs were recorded in the state directory, else None (nothing is done yet)."""
    if not (options.state_dir / DATABASE_NAME).is_file():
        return None
    return StateStore.open(options.state_dir)


def _preload(run_state: RunState, store: StateStore, fingerprint: str) -> None:
    """Ids recorded for this very binary by earlier runs: later steps need not look them up again."""
    binary = store.get_binary(fingerprint) or {}
    remote = binary.get("remote") or {}
    run_state.merge({k: remote.get(k) for k in ("app_id", "build_id")})


def _new_result(options: RunOptions, ipa: BinaryInfo, plan: Plan) -> dict[str, Any]:
    return {
        "format_version": RESULT_FORMAT_VERSION,
        "status": "running",
        "dry_run": options.dry_run,
        "app_name": ipa.display_name,
        "bundle_id": ipa.bundle_id,
        "version": ipa.version,
        "build_number": ipa.build_number,
        "platform": ipa.platform,
        "fingerprint": ipa.fingerprint,
        "profile": plan.profile.name or plan.profile.bundle_id,
        "flow_hash": None,
        "state_dir": str(options.state_dir),
        "steps": [],
        "ids": {},
        "warnings": list(plan.preflight_warnings),
        "links": {},
        "error": None,
        "api_calls": 0,
        "duration_s": 0.0,
        "promote": None,  # a promote (publish.promote) says which build it ran on
    }


@contextmanager
def _waits_within_the_step(ctx: StepContext, settings: StepSettings) -> Iterator[None]:
    clients = ctx.client_for
    if not isinstance(clients, _Clients):
        yield
        return
    with clients.waits_within(settings.wait_budget):
        yield


def _entry(planned: PlannedStep) -> dict[str, Any]:
    """A step's entry in the result, with the settings it ran with as `plan` shows them."""
    spec = planned.spec
    return {"index": spec.index, "name": spec.step, "status": "running", "duration_s": 0.0, "message": "",
            "asc_ids": {}, "error": None, "settings": planned.settings.to_json(), "settings_hash": spec.settings_hash}


def _run_step(ctx: StepContext, options: RunOptions, store: StateStore | None, planned: PlannedStep, step: Any,
              hash_: str, *, total: int) -> dict[str, Any]:
    spec = planned.spec
    number = f"#{spec.index + 1}"
    position = f"{spec.index + 1}/{total}"
    entry = _entry(planned)
    done = planned.done  # the plan's decision (--restart: none)
    if done is not None:
        log.info("skipping %s %s: already done for this binary with the same settings (use --restart to run it "
                 "again)", spec.step, number)
        ctx.run.merge(done.get("asc_ids") or {})
        if not options.dry_run:
            run_id = store.start_step_run(fingerprint=ctx.ipa.fingerprint, bundle_id=ctx.ipa.bundle_id,  # type: ignore[union-attr]
                                          flow_hash=hash_, step_index=spec.index, step_name=spec.step,
                                          settings_hash=spec.settings_hash)
            store.finish_step_run(run_id, status="skipped", asc_ids=done.get("asc_ids") or None,  # type: ignore[union-attr]
                                  outputs={"skipped_because": f"done in run {done['id']}"})
        entry.update(status="skipped", message=f"already done ({done.get('finished_at') or 'earlier'})",
                     asc_ids=done.get("asc_ids") or {})
        return entry

    # `extra` marks step boundaries for log consumers (the action folds each step into a `::group::`).
    log.info("step %s: %s", position, spec.step, extra={"step_boundary": "start"})
    run_id = None
    if store is not None and not options.dry_run:
        run_id = store.start_step_run(fingerprint=ctx.ipa.fingerprint, bundle_id=ctx.ipa.bundle_id, flow_hash=hash_,
                                      step_index=spec.index, step_name=spec.step, settings_hash=spec.settings_hash)
    started = time.monotonic()
    try:
        with _waits_within_the_step(ctx, planned.settings):
            outcome: StepOutcome = step.run(ctx, planned.settings)
    except BaseException as exc:
        duration = time.monotonic() - started
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        if isinstance(exc, KeyboardInterrupt):
            message = "interrupted"
        text = options.redactor.redact(str(exc) if isinstance(exc, PublishError) else message)
        if run_id is not None:
            store.finish_step_run(run_id, status="failed", asc_ids=ctx.run.ids() or None, error=text)  # type: ignore[union-attr]
        log.error("step %s: %s failed after %.1f s", position, spec.step, duration, extra={"step_boundary": "end"})
        if not isinstance(exc, PublishError):
            raise
        entry.update(status="failed", duration_s=round(duration, 3), message=options.redactor.redact(exc.message),
                     asc_ids=ctx.run.ids(), error=text, _exception=exc)
        return entry
    duration = time.monotonic() - started
    asc_ids = {k: v for k, v in outcome.asc_ids.items() if v}
    if run_id is not None:
        store.finish_step_run(run_id, status="succeeded", asc_ids=asc_ids or None,  # type: ignore[union-attr]
                              outputs=options.redactor.redact_obj(outcome.outputs) or None)  # type: ignore[arg-type]
    log.info("step %s: %s done in %.1f s%s: %s", position, spec.step, duration,
             " (dry run: nothing written)" if options.dry_run else "", outcome.message, extra={"step_boundary": "end"})
    entry.update(status="succeeded", duration_s=round(duration, 3), message=outcome.message, asc_ids=asc_ids)
    return entry


def _finish(result: dict[str, Any], ctx: StepContext, started: float, clients: _Clients, status: str,
            meter: RunMeter) -> None:
    ids = {k: v for k, v in ctx.run.ids().items() if not str(v).startswith("dry-run-")}
    result["status"] = status
    result["app_name"] = ctx.run.app_name or result["app_name"]
    result["ids"] = {
        "app_id": ids.get("app_id"),
        "build_id": ids.get("build_id"),
        "upload_id": ids.get("upload_id"),
        "app_store_version_id": ids.get("app_store_version_id"),
        "review_submission_id": ids.get("review_submission_id"),
        "beta_review_submission_id": ids.get("beta_review_submission_id"),
    }
    result["links"] = links(ids, ctx.ipa.platform)
    result["api_calls"] = clients.call_count
    result["duration_s"] = round(time.monotonic() - started, 3)
    result["report"] = meter.report(api_calls=clients.call_count)


def links(ids: Mapping[str, str | None], platform: str = "IOS") -> dict[str, str]:
    """App Store Connect web pages of what the run touched."""
    app_id = ids.get("app_id")
    if not app_id:
        return {}
    path = PLATFORM_PATH.get(platform, "ios")
    out = {"app": f"{ASC_WEB}/apps/{app_id}", "testflight": f"{ASC_WEB}/apps/{app_id}/testflight/{path}"}
    if ids.get("build_id"):
        out["build"] = f"{ASC_WEB}/apps/{app_id}/testflight/{path}/{ids['build_id']}"
    if ids.get("app_store_version_id"):
        out["app_store_version"] = f"{ASC_WEB}/apps/{app_id}/distribution/{path}/version/inflight"
    if ids.get("review_submission_id"):
        out["review_submission"] = f"{ASC_WEB}/apps/{app_id}/distribution/reviewsubmissions/details/" \
                                   f"{ids['review_submission_id']}"
    return out
