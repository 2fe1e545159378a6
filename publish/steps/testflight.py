"""TestFlight pieces shared by send_to_testflight and send_to_app_store (protocol.md B-D):
find the app, reuse or upload the build, wait for processing, export compliance, What to Test, groups, testers,
notifications and the external beta review.

Writes are never blindly repeated: when the answer to a create is lost (`AscAmbiguousWriteError`), the state is
read again and the create is sent only if what it makes is still absent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from publish.asc import AppStoreConnect, AscAmbiguousWriteError, AscApiError, AscNotFoundError, Document, Resource
from publish.errors import InputError, RemoteError
from publish.promote import build_gone, is_promote
from publish.steps import beta_review
from publish.steps.base import (
    DEFAULT_LOCALE,
    StepContext,
    format_duration,
    parse_duration,
    release_notes,
    setting_bool,
    setting_str,
)
from publish.upload import lifecycle
from publish.upload.numbers import build_number_key, builds_on_train, find_existing_build as find_numbered_build

log = logging.getLogger(__name__)
T = TypeVar("T")

USABLE_BUILD_STATES = ("VALID", "PROCESSING")
# One GET of the build returns its whole TestFlight state (protocol.md D; `include` per the OpenAPI).
BUILD_TESTFLIGHT_INCLUDES = ("betaGroups", "individualTesters", "buildBetaDetail", "betaAppReviewSubmission",
                             "betaBuildLocalizations")
_INCLUDE_LIMIT = 50
TESTFLIGHT_SETTINGS = ("what_to_test", "groups", "testers", "notify_testers", "submit_for_beta_review",
                       "uses_non_exempt_encryption", "test_information", "if_another_build_in_review")
WHAT_TO_TEST_MAX_BYTES = 4000  # Apple counts UTF-8 bytes (protocol.md H.17)

MISSING_COMPLIANCE_HINT = (
    "set `uses_non_exempt_encryption: false` (or true) in the step, or add the key ITSAppUsesNonExemptEncryption "
    "to the app's Info.plist; App Store Connect keeps a build without it at 'Missing Compliance'"
)


# ------------------------------------------------------------------------------------------------ safe writes


def create_once(ctx: StepContext, what: str, create: Callable[[], T], find: Callable[[], T | None],
                attempts: int = 3) -> T:
    """Create something; if the answer was lost, look before creating it again (a few times: the answer of the
    next try can be lost too). A conflict after a lost answer is that lost create: it is looked up once more.
    The last lost answer is looked up too: it may be the one that was applied, and giving up without looking would
    report "may or may not" about a create that is there to be found."""
    for attempt in range(attempts):
        try:
            return create()
        except AscAmbiguousWriteError as exc:
            if attempt == attempts - 1:
                found = find()
                if found is not None:
                    ctx.log.info("%s: it had been applied; going on", what)
                    return found
                raise
            ctx.log.warning("%s: %s Checking App Store Connect before trying again.", what, exc.message)
        except AscApiError as exc:
            if attempt == 0 or exc.status != 409:
                raise
            conflict = exc
            found = find()
            if found is None:
                raise conflict from None
            return found
        found = find()
        if found is not None:
            ctx.log.info("%s: it had been applied; going on", what)
            return found
    raise AssertionError("unreachable")


def set_values(ctx: StepContext, what: str, update: Callable[[], T]) -> T:
    """A PATCH that sets absolute values (text, a flag): if its answer was lost, sending it again leaves the same
    state as sending it once, so it is repeated once."""
    try:
        return update()
    except AscAmbiguousWriteError as exc:
        ctx.log.warning("%s: %s Setting the same values again.", what, exc.message)
        return update()


# ------------------------------------------------------------------------------------------------ the app


def ensure_app(ctx: StepContext, client: AppStoreConnect) -> str:
    if ctx.run.app_id:
        return ctx.run.app_id
    app = client.find_app(ctx.ipa.bundle_id)
    if app is None:
        if ctx.dry_run:
            ctx.run.app_id, ctx.run.app_name = "dry-run-app", ctx.ipa.display_name
            return ctx.run.app_id
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


# ------------------------------------------------------------------------------------------------ the build


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
                hint="increase CFBundleVersion (the build number), rebuild the IPA and run again",
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


def processing_timeout(settings: Mapping[str, Any]) -> float:
    return parse_duration(settings.get("processing_timeout"))


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
    settings: Mapping[str, Any],
    *,
    before_upload: Callable[[Resource | None], None] | None = None,
) -> Resource | None:
    """This binary's build: reused when App Store Connect has it, else uploaded; processed when waited for.

    `before_upload(existing_build_or_None)` runs checks that need App Store Connect's answers but must pass
    before an upload is spent. Returns None only when the upload is left processing (wait_for_processing: false).
    """
    app_id = ensure_app(ctx, client)
    wait = setting_bool(settings, "wait_for_processing", True)
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
        build = wait_for_processing(ctx, client, build, processing_timeout(settings))
    ctx.run.build = build
    return build


def _upload(ctx: StepContext, client: AppStoreConnect, settings: Mapping[str, Any], app_id: str,
            wait: bool) -> Resource | None:
    ipa = ctx.ipa
    if ctx.dry_run:
        return _dry_run_upload(ctx, client, app_id)
    apple_id = setting_str(settings, "apple_id")
    if apple_id:
        if ctx.transporter_for is None:
            raise InputError("uploads with an Apple ID are not available here", hint="use an api_key instead")
        ctx.log.info("uploading %s (%s) with Transporter as Apple ID '%s'", ipa.path, _size(ipa.file_size), apple_id)
        ctx.transporter_for(apple_id, settings)(ipa.path, ipa.platform)
        return _wait_for_build_to_appear(ctx, client, app_id, processing_timeout(settings)) if wait else None
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
    """Show the Build Upload API calls an upload makes (nothing is sent in a dry run)."""
    ipa = ctx.ipa
    upload = client.create_build_upload(app_id, version=ipa.version, build_number=ipa.build_number,
                                        platform=ipa.platform)
    file = client.create_build_upload_file(upload.id, file_name=ipa.path.rsplit("/", 1)[-1], file_size=ipa.file_size)
    ctx.log.info("dry run: would PUT the %s IPA in parts to the presigned URLs App Store Connect returns", _size(
        ipa.file_size))
    client.commit_build_upload_file(file.id)
    ctx.run.upload_id = upload.id
    return Resource(type="builds", id="dry-run-build",
                    # Apple reads the answer from Info.plist while processing.
                    attributes={"version": ipa.build_number, "processingState": "VALID",
                                "usesNonExemptEncryption": ipa.uses_non_exempt_encryption})


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


# ------------------------------------------------------------------------------------------------ export compliance


def export_compliance_value(ctx: StepContext, settings: Mapping[str, Any]) -> bool | None:
    value = settings.get("uses_non_exempt_encryption")
    if value is not None:
        if not isinstance(value, bool):
            raise InputError(f"uses_non_exempt_encryption: {value!r} is not true or false", hint=MISSING_COMPLIANCE_HINT)
        return value
    return ctx.ipa.uses_non_exempt_encryption


def require_export_compliance(ctx: StepContext, settings: Mapping[str, Any], build: Resource | None) -> None:
    """Fail before an upload when nothing says whether the app uses non-exempt encryption."""
    if export_compliance_value(ctx, settings) is not None:
        return
    if build is not None and build.attributes.get("usesNonExemptEncryption") is not None:
        return
    where = f"build {label(ctx)} in App Store Connect" if build is not None else "this IPA"
    raise InputError(f"export compliance is not known for {where}: the step has no uses_non_exempt_encryption and "
                     "Info.plist has no ITSAppUsesNonExemptEncryption", hint=MISSING_COMPLIANCE_HINT)


def apply_export_compliance(ctx: StepContext, client: AppStoreConnect, build: Resource,
                            settings: Mapping[str, Any], *, required: bool) -> bool:
    """PATCH usesNonExemptEncryption when App Store Connect has none. Returns True when it was set now."""
    current = build.attributes.get("usesNonExemptEncryption")
    wanted = export_compliance_value(ctx, settings)
    if current is not None:
        if wanted is not None and wanted != current:
            ctx.warn(f"build {label(ctx)} already declares usesNonExemptEncryption={str(current).lower()} in App "
                     f"Store Connect; the flow's {str(wanted).lower()} was not applied (Apple does not change it)")
        return False
    if wanted is None:
        if required:
            require_export_compliance(ctx, settings, build)
        ctx.warn(f"build {label(ctx)} has no export compliance answer, so TestFlight shows 'Missing Compliance': "
                 + MISSING_COMPLIANCE_HINT)
        return False
    try:
        client.update_build(build.id, uses_non_exempt_encryption=wanted)
    except AscAmbiguousWriteError:
        reread = client.get_build(build.id)
        if reread is None or reread.attributes.get("usesNonExemptEncryption") is None:
            client.update_build(build.id, uses_non_exempt_encryption=wanted)
    build.attributes["usesNonExemptEncryption"] = wanted
    ctx.run.export_compliance_set_for = build.id  # H.2: TestFlight takes a moment to see it
    ctx.log.info("export compliance: usesNonExemptEncryption=%s", str(wanted).lower())
    return True


# ------------------------------------------------------------------------------------------------ distribution


@dataclass
class Tester:
    email: str
    first_name: str | None = None
    last_name: str | None = None


@dataclass
class TestFlightPlan:
    """What to do on TestFlight, read from the step's settings (files read, names checked) before any write."""

    notes: dict[str, str] = field(default_factory=dict)
    group_names: list[str] = field(default_factory=list)
    groups: list[Resource] = field(default_factory=list)
    testers: list[Tester] = field(default_factory=list)
    notify: bool = True
    submit_for_beta_review: bool | None = None  # None: when an external group is given
    compliance_required: bool = True
    notes_in_primary_locale: bool = False  # a plain text: it goes to the app's primary locale (H.4, H.12)
    test_information: beta_review.TestInformation = field(default_factory=beta_review.TestInformation)
    if_another_build_in_review: str = "fail"
    review_readiness: beta_review.ReviewReadiness | None = None  # read before the upload
    processing_timeout: float = 3600.0  # the budget of the step's waits

    def submits_for_review(self) -> bool:
        external = any(not g.attr("isInternalGroup") for g in self.groups)
        return self.submit_for_beta_review if self.submit_for_beta_review is not None else external

    @property
    def distributes(self) -> bool:
        return bool(self.group_names or self.testers)


def read_testflight_settings(ctx: StepContext, settings: Mapping[str, Any], *, only_given: bool = False) \
        -> TestFlightPlan | None:
    """The TestFlight part of a step's settings; with `only_given`, None when the step names none of them."""
    if only_given and not any(name in settings for name in TESTFLIGHT_SETTINGS):
        return None
    locale = setting_str(settings, "locale", DEFAULT_LOCALE) or DEFAULT_LOCALE
    raw_notes = settings.get("what_to_test")
    notes = release_notes(raw_notes, default_locale=locale, base_dir=ctx.flow_dir, setting="what_to_test")
    for note_locale, text in notes.items():
        check_what_to_test(note_locale, text)
    groups = settings.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise InputError(f"groups: {groups!r} is not a list of group names", hint="write groups: [Internal, Beta]")
    testers = [_tester(t) for t in settings.get("testers") or []]
    review = settings.get("submit_for_beta_review")
    if review is not None and not isinstance(review, bool):
        raise InputError(f"submit_for_beta_review: {review!r} is not true or false", hint="write true or false")
    plan = TestFlightPlan(
        notes=notes,
        group_names=list(dict.fromkeys(groups)),
        testers=testers,
        notify=setting_bool(settings, "notify_testers", True),
        submit_for_beta_review=review,
        notes_in_primary_locale=settings.get("locale") is None and (
            isinstance(raw_notes, str) or (isinstance(raw_notes, Mapping) and "file" in raw_notes)),
        test_information=beta_review.read_test_information(settings),
        if_another_build_in_review=beta_review.read_other_review_choice(settings),
        processing_timeout=processing_timeout(settings),
    )
    export_compliance_value(ctx, settings)  # type check
    return plan


def check_what_to_test(locale: str, text: str) -> None:
    """H.17, offline: Apple takes at most 4000 bytes of UTF-8 and refuses '<' and characters outside the Basic
    Multilingual Plane (emoji); say what and where."""
    size = len(text.encode("utf-8"))
    if size > WHAT_TO_TEST_MAX_BYTES:
        raise InputError(f"what_to_test ({locale}) is {size} bytes of UTF-8; App Store Connect takes at most "
                         f"{WHAT_TO_TEST_MAX_BYTES} bytes", hint="shorten it (accented letters take 2 bytes, most "
                         "other scripts 3)")
    for line_number, line in enumerate(text.splitlines(), 1):
        for column, char in enumerate(line, 1):
            if char == "<" or ord(char) > 0xFFFF:
                raise InputError(f"what_to_test ({locale}) line {line_number}, column {column}: App Store Connect "
                                 f"refuses the character {char!r} (U+{ord(char):04X})",
                                 hint="remove it (Apple refuses '<' and emoji in What to Test)")


def notes_for_app(ctx: StepContext, plan: TestFlightPlan) -> dict[str, str]:
    """What to Test per locale; a plain text goes to the app's primary locale rather than en-US."""
    primary = ctx.run.app_primary_locale
    if plan.notes_in_primary_locale and primary and len(plan.notes) == 1:
        return {primary: next(iter(plan.notes.values()))}
    return dict(plan.notes)


def check_beta_review_before_upload(ctx: StepContext, client: AppStoreConnect, app_id: str, plan: TestFlightPlan,
                                    existing_build: Resource | None) -> None:
    """H.3/H.4 before anything is uploaded: when the flow will submit for beta review, the test information and
    What to Test must be there, and (unless the flow says otherwise) no other build may be in review."""
    if ctx.dry_run or not plan.submits_for_review():
        return
    if existing_build is not None and _already_in_review(client, existing_build.id):
        return  # submitted by an earlier run: nothing more is sent
    plan.review_readiness = beta_review.check_before_upload(
        ctx, client, app_id, plan.test_information, notes_for_app(ctx, plan), plan.if_another_build_in_review,
        existing_build.id if existing_build is not None else None)


def _already_in_review(client: AppStoreConnect, build_id: str) -> bool:
    return bool(client.list_beta_app_review_submissions(build_id))


def _tester(value: Any) -> Tester:
    if isinstance(value, str) and "@" in value:
        return Tester(value.strip())
    if isinstance(value, Mapping) and isinstance(value.get("email"), str) and "@" in value["email"]:
        return Tester(value["email"].strip(), value.get("first_name"), value.get("last_name"))
    raise InputError(f"testers: {value!r} is not an e-mail address or {{email, first_name, last_name}}",
                     hint="write testers: [ann@example.com, {email: bob@example.com, first_name: Bob}]")


def _group_kind(group: Resource) -> str:
    return "internal" if group.attr("isInternalGroup") else "external"


def resolve_groups(ctx: StepContext, client: AppStoreConnect, app_id: str, plan: TestFlightPlan) -> None:
    """Find the plan's groups by name; an unknown name is an error listing the app's groups (before any write)."""
    if not plan.group_names:
        return
    groups = client.list_beta_groups(app_id)
    by_name = {str(g.attr("name")): g for g in groups}
    missing = [name for name in plan.group_names if name not in by_name]
    if missing and ctx.dry_run:
        ctx.log.info("dry run: group names are not checked (nothing is read from App Store Connect)")
        plan.groups = [Resource(type="betaGroups", id=f"dry-run-group-{name}", attributes={"name": name})
                       for name in plan.group_names]
        return
    if missing:
        listing = ", ".join(f"{name} ({_group_kind(g)})" for name, g in sorted(by_name.items())) or "none"
        close = [name for name in by_name for m in missing if name.lower() == m.lower()]
        raise InputError(
            f"beta group{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} not found for "
            f"{ctx.run.app_name or ctx.ipa.bundle_id}; the app's groups are: {listing}",
            hint=(f"did you mean {', '.join(repr(c) for c in close)}? Group names are case-sensitive. "
                  if close else "") + "Fix the names under `groups:` or create the group in App Store Connect > "
            "TestFlight",
        )
    plan.groups = [by_name[name] for name in plan.group_names]


@dataclass
class BuildTestFlightState:
    """The build's TestFlight state from one GET with includes (or from separate reads when not included)."""

    group_ids: set[str] | None  # None: not known (not included)
    tester_ids: set[str] | None
    beta_detail: Resource | None
    localizations: list[Resource] | None
    beta_review: Resource | None
    beta_review_known: bool


def read_build_with_testflight_state(client: AppStoreConnect, build_id: str) \
        -> tuple[Resource | None, BuildTestFlightState]:
    params: dict[str, Any] = {"include": list(BUILD_TESTFLIGHT_INCLUDES)}
    for rel in ("betaGroups", "individualTesters", "betaBuildLocalizations"):
        params[f"limit[{rel}]"] = _INCLUDE_LIMIT
    document = client.get_document(f"/v1/builds/{build_id}", params)
    build = document.resource
    if build is None:
        return None, BuildTestFlightState(None, None, None, None, None, False)

    def linked(rel: str) -> list[str] | None:
        """Ids linked through `rel`; None when the answer does not say (not included, or cut at the limit)."""
        relationship = build.relationships.get(rel)
        if not isinstance(relationship, Mapping) or "data" not in relationship:
            return None
        ids = build.related_ids(rel)
        return None if isinstance(relationship["data"], list) and len(ids) >= _INCLUDE_LIMIT else ids

    groups, testers, loc_ids = linked("betaGroups"), linked("individualTesters"), linked("betaBuildLocalizations")
    detail_ids, review_ids = linked("buildBetaDetail"), linked("betaAppReviewSubmission")
    localizations = None
    if loc_ids is not None:
        found = [document.find_included("betaBuildLocalizations", i) for i in loc_ids]
        localizations = [r for r in found if r is not None] if all(found) else None
    review = _included(document, "betaAppReviewSubmissions", review_ids)
    return build, BuildTestFlightState(
        group_ids=set(groups) if groups is not None else None,
        tester_ids=set(testers) if testers is not None else None,
        beta_detail=_included(document, "buildBetaDetails", detail_ids),
        localizations=localizations,
        beta_review=review,
        beta_review_known=review_ids is not None and (not review_ids or review is not None),
    )


def _included(document: Document, type_: str, ids: Sequence[str] | None) -> Resource | None:
    if not ids:
        return None
    return document.find_included(type_, ids[0])


def upsert_what_to_test(ctx: StepContext, client: AppStoreConnect, build_id: str, notes: Mapping[str, str],
                        existing: list[Resource] | None) -> int:
    """Create or update the What to Test text per locale (locales compared case-insensitively). Apple creates
    the primary-locale localization itself some time after processing (H.17), so a create can collide: then the
    localization is read again and updated. Returns the number of writes."""
    if not notes:
        return 0
    locs = existing if existing is not None else client.list_beta_build_localizations(build_id)
    by_locale = {str(loc.attr("locale")).lower(): loc for loc in locs}
    writes = 0
    for locale, text in notes.items():
        current = by_locale.get(locale.lower())
        if current is not None and (current.attr("whatsNew") or "").strip() == text:
            continue
        if current is None:
            try:
                create_once(
                    ctx, f"What to Test ({locale})",
                    lambda locale=locale, text=text: client.create_beta_build_localization(build_id, locale, text),
                    lambda locale=locale: _find_localization(client, build_id, locale),
                )
                writes += 1
                continue
            except AscApiError as exc:
                if exc.status != 409:
                    raise
                current = _find_localization(client, build_id, locale)
                if current is None:
                    raise
                ctx.log.info("What to Test (%s): App Store Connect had just created it; updating it", locale)
                if (current.attr("whatsNew") or "").strip() == text:
                    continue
        set_values(ctx, f"What to Test ({locale})",
                   lambda current=current, text=text: client.update_beta_build_localization(current.id, text))
        writes += 1
    ctx.log.info("What to Test: %s", ", ".join(notes) + (" (already up to date)" if not writes else ""))
    return writes


def _find_localization(client: AppStoreConnect, build_id: str, locale: str) -> Resource | None:
    return next((loc for loc in client.list_beta_build_localizations(build_id)
                 if str(loc.attr("locale", "")).lower() == locale.lower()), None)


def distribute(ctx: StepContext, client: AppStoreConnect, build: Resource, plan: TestFlightPlan) -> dict[str, Any]:
    """Apply the plan to a processed build. Returns outputs for the history."""
    app_id = ctx.run.app_id or ""
    if ctx.dry_run:
        state = BuildTestFlightState(set(), set(), None, [], None, True)
    elif ctx.run.testflight_state is not None:
        state = ctx.run.testflight_state
    else:
        state = read_build_with_testflight_state(client, build.id)[1]
    ctx.run.testflight_state = None  # what follows changes it
    outputs: dict[str, Any] = {}
    upsert_what_to_test(ctx, client, build.id, notes_for_app(ctx, plan), state.localizations)

    # Notifications: follow the build's auto-notify setting unless the flow says not to notify.
    detail = state.beta_detail or (None if ctx.dry_run else client.get_build_beta_detail(build.id))
    auto_notify = bool(detail.attr("autoNotifyEnabled")) if detail is not None else True
    if plan.distributes and not plan.notify and auto_notify and detail is not None:
        set_values(ctx, "auto-notify", lambda: client.update_build_beta_detail(detail.id, auto_notify_enabled=False))
        auto_notify = False

    external = [g for g in plan.groups if not g.attr("isInternalGroup")]
    submit_review = plan.submits_for_review()
    if (plan.groups or submit_review) and not ctx.dry_run:
        # H.2: VALID is not yet ready for TestFlight; wait for its beta state (no call when it already is ready)
        detail = lifecycle.wait_until_testflight_ready(
            client, build.id, waiting(ctx, plan.processing_timeout), label=label(ctx),
            external=bool(external) or submit_review,
            compliance_set_now=ctx.run.export_compliance_set_for == build.id, known=detail)

    groups_added: list[Resource] = []
    for group in plan.groups:
        if group.attr("isInternalGroup") and group.attr("hasAccessToAllBuilds"):
            ctx.log.info("group '%s' is internal with access to all builds: it gets this build anyway",
                         group.attr("name"))
            continue
        if state.group_ids is not None and group.id in state.group_ids:
            ctx.log.info("group '%s' already has this build", group.attr("name"))
            continue
        groups_added.append(group)
    if groups_added:
        ids = [g.id for g in groups_added]
        budget = waiting(ctx, plan.processing_timeout)
        try:
            lifecycle.retry_while_not_ready(budget, "the beta groups",
                                            lambda: client.add_build_to_beta_groups(build.id, ids),
                                            lambda: client.get_build_beta_detail(build.id))
        except AscAmbiguousWriteError:
            # Adding a build to a group it is in changes nothing, so the link can be sent again safely.
            client.add_build_to_beta_groups(build.id, ids)
        ctx.log.info("added to group%s: %s", "s" if len(ids) > 1 else "",
                     ", ".join(f"{g.attr('name')} ({_group_kind(g)})" for g in groups_added))
    outputs["groups"] = [str(g.attr("name")) for g in plan.groups]

    testers_added = add_testers(ctx, client, app_id, build.id, plan.testers, state.tester_ids)
    if plan.testers:
        outputs["testers"] = [t.email for t in plan.testers]

    if submit_review:
        review = submit_beta_review(ctx, client, build.id, state, plan)
        outputs["beta_review_state"] = review.attr("betaReviewState")

    reached_now = testers_added or any(g.attr("isInternalGroup") for g in groups_added)
    if plan.notify and not auto_notify and reached_now:
        try:
            client.create_build_beta_notification(build.id)
            ctx.log.info("testers notified")
        except AscAmbiguousWriteError:
            # No call tells whether it went out; a missed e-mail is better than a double one.
            ctx.warn("the tester notification may not have been sent (the answer was lost)")
        except AscApiError as exc:
            # H.10: "Auto-notify already enabled": Apple is notifying the testers already; that is what we wanted
            if not (exc.status == 409 and (exc.has_code("STATE_ERROR.ENTITY_STATE_INVALID")
                                           or "auto-notify already enabled" in exc.detail_text().lower())):
                raise
            ctx.log.info("testers notified (App Store Connect was notifying them already)")
        outputs["notified"] = True
    return outputs


def find_testers(client: AppStoreConnect, emails: Sequence[str], app_id: str | None) -> dict[str, Resource]:
    """The app's testers with these e-mails (lower-cased keys), in one paged call."""
    params = {"filter[email]": list(emails), "filter[apps]": app_id, "limit": 200}
    wanted = {e.strip().lower() for e in emails}
    found: dict[str, Resource] = {}
    for tester in client.paginate("/v1/betaTesters", params):
        email = str(tester.attr("email", "")).strip().lower()
        if email in wanted:
            found.setdefault(email, tester)
    return found


def add_testers(ctx: StepContext, client: AppStoreConnect, app_id: str, build_id: str, testers: Sequence[Tester],
                already: set[str] | None) -> int:
    if not testers:
        return 0
    existing = find_testers(client, [t.email for t in testers], app_id) if not ctx.dry_run else {}
    to_link: list[str] = []
    created = 0
    for tester in testers:
        found = existing.get(tester.email.lower())
        if found is None:
            try:
                create_once(
                    ctx, f"tester {tester.email}",
                    lambda t=tester: client.create_beta_tester(t.email, first_name=t.first_name,
                                                               last_name=t.last_name, build_ids=[build_id]),
                    lambda t=tester: client.find_beta_tester(t.email, app_id),
                )
                created += 1
                continue
            except AscApiError as exc:
                if exc.status != 409:
                    raise
                # Known to the team but not yet to this app: find them team-wide and link them.
                found = client.find_beta_tester(tester.email)
                if found is None:
                    raise
        if already is None or found.id not in already:
            to_link.append(found.id)
    if to_link:
        try:
            client.add_individual_testers(build_id, to_link)
        except AscAmbiguousWriteError:
            client.add_individual_testers(build_id, to_link)  # linking twice changes nothing
    ctx.log.info("individual testers: %d added, %d created, %d already had the build", len(to_link), created,
                 len(testers) - len(to_link) - created)
    return len(to_link) + created


def submit_beta_review(ctx: StepContext, client: AppStoreConnect, build_id: str,
                       state: BuildTestFlightState, plan: TestFlightPlan | None = None) -> Resource:
    existing = state.beta_review
    if existing is None and not state.beta_review_known:
        existing = next(iter(client.list_beta_app_review_submissions(build_id)), None)
    if existing is not None:
        ctx.log.info("beta app review: already submitted (%s)", existing.attr("betaReviewState") or "state unknown")
        ctx.run.beta_review_submission_id = existing.id
        return existing
    app_id = ctx.run.app_id or ""
    if plan is not None and not ctx.dry_run:
        readiness = plan.review_readiness
        if readiness is None:  # not checked before an upload (e.g. the build was reused): check now
            readiness = beta_review.check_before_upload(ctx, client, app_id, plan.test_information,
                                                        notes_for_app(ctx, plan), plan.if_another_build_in_review,
                                                        build_id)
        beta_review.write_test_information(ctx, client, app_id, plan.test_information, readiness)
        beta_review.clear_other_review(ctx, client, app_id, build_id, plan.if_another_build_in_review,
                                       waiting(ctx, plan.processing_timeout))
    try:
        budget = waiting(ctx, plan.processing_timeout if plan is not None else 3600.0)
        review = create_once(
            ctx, "beta app review submission",
            lambda: lifecycle.retry_while_not_ready(budget, "the beta review submission",
                                                    lambda: client.create_beta_app_review_submission(build_id),
                                                    lambda: client.get_build_beta_detail(build_id)),
            lambda: next(iter(client.list_beta_app_review_submissions(build_id)), None),
        )
    except AscAmbiguousWriteError:
        # H.4: a 500 here is how Apple says "test information missing", not only "maybe applied"
        if next(iter(client.list_beta_app_review_submissions(build_id)), None) is None and plan is not None:
            raise beta_review.explain_refused_submission(client, app_id, plan.test_information) from None
        raise
    ctx.run.beta_review_submission_id = review.id
    ctx.log.info("submitted for beta app review (%s)", review.attr("betaReviewState") or "WAITING_FOR_REVIEW")
    return review
