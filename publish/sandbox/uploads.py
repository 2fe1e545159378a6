"""Build Upload API (protocol.md section C): buildUploads, buildUploadFiles, commit with checksum verification,
and simulated processing that reads the IPA and either fails the upload or creates a Build."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from publish.sandbox.app import Call, Reply, Sandbox
from publish.sandbox.blobs import BlobFile, BlobStore
from publish.sandbox.ipa_check import ProcessingFailure, read_uploaded_app
from publish.sandbox.jsonapi import version_key
from publish.sandbox.pkg_check import read_uploaded_pkg
from publish.sandbox.model import Record, conflict, iso, not_found

NUMBERS = re.compile(r"^\d+(\.\d+){0,2}$")
EXPIRY_DAYS = 90
ASSET_UTIS = {"IOS": "com.apple.ipa", "TV_OS": "com.apple.ipa", "VISION_OS": "com.apple.ipa",
              "MAC_OS": "com.apple.pkg"}


def blobs(sim: Sandbox) -> BlobStore:
    store: BlobStore = sim.extensions["blobs"]
    return store


def _state(state: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"errors": errors or [], "warnings": [], "infos": [], "state": state}


def create_build_upload(call: Call) -> Reply:
    app = call.related_record("app", "apps")
    attributes = call.attributes
    for name in ("cfBundleShortVersionString", "cfBundleVersion"):
        if not NUMBERS.match(attributes[name]):
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID",
                           f"{name} '{attributes[name]}' must be one to three period-separated integers "
                           "(like 1.2.3 or 45).", pointer=f"/data/attributes/{name}")
    upload = call.store.add("buildUploads", {
        "cfBundleShortVersionString": attributes["cfBundleShortVersionString"],
        "cfBundleVersion": attributes["cfBundleVersion"],
        "platform": attributes["platform"],
        "createdDate": iso(call.sim.clock()),
        "uploadedDate": None,
        "state": _state("AWAITING_UPLOAD"),
    }, {"app": app.id, "build": None, "assetFile": None})
    if call.sim.realism.propagation_delay:
        upload.internal["unseen_reads"] = call.sim.realism.propagation_reads
    return call.created(upload)


def read_just_created(call: Call, type_: str) -> Reply:
    """GET of one build upload or build. H9: one just created answers 404 to its first read(s), as Apple's
    propagation delay does (asc keeps a 404 retry path for it)."""
    record = call.target(type_)
    if record.internal.get("unseen_reads", 0) > 0:
        record.internal["unseen_reads"] -= 1
        raise not_found(type_, record.id)
    call.sim.observe(record)
    return call.ok(record)


def observe_upload_file(sim: Sandbox, file: Record) -> None:
    if file.internal.get("stale_reads", 0) > 0:
        file.internal["stale_reads"] -= 1


def upload_file_as_read(sim: Sandbox, file: Record) -> dict[str, Any]:
    """H9: for a read or two after the commit, the file still says AWAITING_UPLOAD."""
    if file.internal.get("stale_reads", 0) > 0:
        return {"assetDeliveryState": {"errors": [], "warnings": [], "state": "AWAITING_UPLOAD"}}
    return {}


def delete_build_upload(call: Call) -> Reply:
    upload = call.target("buildUploads")
    if upload.attributes["state"]["state"] == "COMPLETE":
        raise conflict("ENTITY_ERROR.STATE_INVALID", "A completed build upload cannot be deleted; expire its build "
                       "instead (PATCH /v1/builds/{id} with expired=true).")
    for file in call.store.where("buildUploadFiles", buildUpload=upload.id):
        blob = file.internal.get("blob")
        if blob is not None:
            blobs(call.sim).discard(blob, forget=True)
        call.store.remove(file)
    call.store.remove(upload)
    return Reply(204)


def create_build_upload_file(call: Call) -> Reply:
    upload = call.related_record("buildUpload", "buildUploads")
    attributes = call.attributes
    if upload.attributes["state"]["state"] != "AWAITING_UPLOAD":
        raise conflict("ENTITY_ERROR.STATE_INVALID", f"Build upload {upload.id} is "
                       f"{upload.attributes['state']['state']}; files can only be reserved while it is "
                       "AWAITING_UPLOAD. Create a new build upload.")
    asset_type = attributes["assetType"]
    if any(f.attributes["assetType"] == asset_type for f in call.store.where("buildUploadFiles",
                                                                            buildUpload=upload.id)):
        raise conflict("ENTITY_ERROR.DUPLICATE", f"Build upload {upload.id} already has an {asset_type} file; "
                       "re-read it with GET /v1/buildUploads/{id}/buildUploadFiles instead of reserving another.",
                       pointer="/data/attributes/assetType")
    if asset_type == "ASSET":
        expected = ASSET_UTIS[upload.attributes["platform"]]
        if attributes["uti"] != expected:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"An ASSET for platform {upload.attributes['platform']} "
                           f"must have uti {expected!r}, not {attributes['uti']!r}.", pointer="/data/attributes/uti")
    file = call.store.add("buildUploadFiles", {
        "fileName": attributes["fileName"], "fileSize": attributes["fileSize"], "uti": attributes["uti"],
        "assetType": asset_type, "assetDeliveryState": {"errors": [], "warnings": [], "state": "AWAITING_UPLOAD"},
    }, {"buildUpload": upload.id})
    blob, operations = blobs(call.sim).reserve(file.id, attributes["fileSize"])
    file.internal["blob"] = blob
    file.attributes["assetToken"] = blob.token
    file.attributes["uploadOperations"] = operations
    rel = {"ASSET": "assetFile", "ASSET_DESCRIPTION": "assetDescriptionFile", "ASSET_SPI": "assetSpiFile"}[asset_type]
    upload.rels[rel] = file.id
    return call.created(file)


def commit_build_upload_file(call: Call) -> Reply:
    call.check_update_id()
    file = call.target("buildUploadFiles")
    attributes = call.attributes
    checksums = attributes.get("sourceFileChecksums") or {}
    if checksums and call.sim.realism.commit_refuses_checksums:
        # H7: a live commit with a client checksum got exactly this; working clients send `uploaded` alone.
        shown = ", ".join(f"{k}={v}" for k, v in sorted(checksums.items()))
        raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", f"'Checksums{{{shown}}}' is not a valid value for the "
                       "attribute 'sourceFileChecksums'.", pointer="/data/attributes/sourceFileChecksums")
    delivery = file.attributes["assetDeliveryState"]["state"]
    if delivery != "AWAITING_UPLOAD":
        previous = file.attributes.get("sourceFileChecksums") or {}
        if checksums.get("file") and previous.get("file") and checksums["file"] != previous["file"]:
            raise conflict("ENTITY_ERROR.ATTRIBUTE.INVALID", "The file was already committed with a different "
                           "checksum.", pointer="/data/attributes/sourceFileChecksums")
        return call.ok(file)  # committing twice is harmless: the first commit stands
    if attributes.get("uploaded") is not True:
        return call.ok(file)
    blob: BlobFile = file.internal["blob"]
    missing = blob.missing()
    if missing:
        shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise conflict("ENTITY_ERROR.UPLOAD_INCOMPLETE", f"Not all bytes of {file.attributes['fileName']} were "
                       f"received: parts {shown} of {len(blob.parts)} are missing. Upload every operation, then "
                       "commit again.", pointer="/data/attributes/uploaded")
    wanted = checksums.get("file")
    if wanted:
        actual = blob.digest(wanted["algorithm"])
        if actual != wanted["hash"].lower():
            raise conflict("ENTITY_ERROR.CHECKSUM_MISMATCH", f"The {wanted['algorithm']} checksum sent "
                           f"({wanted['hash']}) does not match the bytes received ({actual}). Upload the parts "
                           "again from the same file.", pointer="/data/attributes/sourceFileChecksums/file/hash")
    composite = blob.digest("MD5")
    blobs(call.sim).seal(blob)
    if checksums:
        file.attributes["sourceFileChecksums"] = checksums
    elif call.sim.realism.commit_refuses_checksums:
        # as in EAS's recorded answer: no client half, Apple's own composite MD5
        file.attributes["sourceFileChecksums"] = {"composite": {"algorithm": "MD5", "hash": composite}}
    file.attributes["assetDeliveryState"] = {"errors": [], "warnings": [], "state": "UPLOAD_COMPLETE"}
    if call.sim.realism.propagation_delay:
        file.internal["stale_reads"] = call.sim.realism.propagation_reads  # H9: still reads AWAITING_UPLOAD
    upload = call.store.require("buildUploads", file.rels["buildUpload"])
    if file.attributes["assetType"] == "ASSET":
        _start_processing(call.sim, upload, blob, file)
    return call.ok(file)


def _start_processing(sim: Sandbox, upload: Record, blob: BlobFile, file: Record) -> None:
    upload.attributes["state"] = _state("PROCESSING")
    upload.attributes["uploadedDate"] = iso(sim.clock())
    upload.polls = 0
    upload.internal["processing_since"] = sim.clock()
    try:
        upload.internal["app"] = _check(sim, upload, Path(blob.path))
    except UnreadableArchive as failure:
        # Not an app at all: the file itself fails at once (its assetDeliveryState), the upload with it.
        detail = {"code": _code(sim, failure.code), "description": failure.description}
        file.attributes["assetDeliveryState"] = {"errors": [detail], "warnings": [], "state": "FAILED"}
        file.internal.pop("stale_reads", None)
        upload.attributes["state"] = _state("FAILED", [detail])
    except ProcessingFailure as failure:
        upload.internal["failure"] = failure
    finally:
        blobs(sim).discard(blob)  # the bytes are not needed once read


class UnreadableArchive(ProcessingFailure):
    """The committed bytes are no IPA (not a zip, no app inside)."""


def _code(sim: Sandbox, code: str) -> str:
    """H15: Apple's FAILED states carry bare numbers ("90054"); with the switch off, the ITMS-prefixed form."""
    return code.removeprefix("ITMS-") if sim.realism.processing_failure_codes else code


def _same_version(sim: Sandbox, a: str, b: str) -> bool:
    """H8: X.Y and X.Y.0 (and 01.2 and 1.2) are one version; without the switch, text decides."""
    if not sim.realism.version_forms:
        return a == b
    return _numeric(a) == _numeric(b)


def _numeric(value: str) -> tuple[int, ...] | str:
    parts = str(value).split(".")
    if not all(p.isdigit() for p in parts):
        return str(value)
    numbers = [int(p) for p in parts]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _without_leading_zeros(sim: Sandbox, value: str) -> str:
    parts = str(value).split(".")
    if not sim.realism.version_forms or not all(p.isdigit() for p in parts):
        return value
    return ".".join(str(int(p)) for p in parts)


def _check(sim: Sandbox, upload: Record, path: Path) -> Any:
    attrs = upload.attributes
    binary = "package" if attrs["platform"] == "MAC_OS" else "IPA"  # a Mac build is an installer package
    try:
        uploaded = read_uploaded_pkg(path) if binary == "package" else read_uploaded_app(path)
    except ProcessingFailure as failure:
        raise UnreadableArchive(failure.code, failure.description) from None
    app = sim.store.require("apps", upload.rels["app"])
    if uploaded.bundle_id != app.attributes["bundleId"]:
        raise ProcessingFailure("ITMS-90054", f"The bundle identifier '{uploaded.bundle_id}' in the {binary} does not "
                                f"match the app's bundle ID '{app.attributes['bundleId']}' (app {app.id}).")
    if uploaded.short_version != attrs["cfBundleShortVersionString"]:
        raise ProcessingFailure("ITMS-90060", f"CFBundleShortVersionString '{uploaded.short_version}' in the IPA "
                                f"does not match the upload's cfBundleShortVersionString "
                                f"'{attrs['cfBundleShortVersionString']}'.")
    if uploaded.build_version != attrs["cfBundleVersion"]:
        raise ProcessingFailure("ITMS-90061", f"CFBundleVersion '{uploaded.build_version}' in the IPA does not "
                                f"match the upload's cfBundleVersion '{attrs['cfBundleVersion']}'.")
    taken = existing_build_numbers(sim, app.id, attrs["cfBundleShortVersionString"], attrs["platform"],
                                   exclude_upload=upload.id)
    closed = _closed_train(sim, app.id, attrs["cfBundleShortVersionString"], attrs["platform"])
    if closed is not None:
        raise ProcessingFailure("ITMS-90186", f"Invalid Pre-Release Train. The train version "
                                f"'{attrs['cfBundleShortVersionString']}' is closed for new build submissions "
                                f"(App Store version {closed} was released).")
    if attrs["cfBundleVersion"] in taken or any(version_key(t) == version_key(attrs["cfBundleVersion"])
                                                for t in taken):
        raise ProcessingFailure("ITMS-90189", f"Redundant Binary Upload. You've already uploaded a build with build "
                                f"number '{attrs['cfBundleVersion']}' for version number "
                                f"'{attrs['cfBundleShortVersionString']}'. Make sure you increment the build "
                                "string before you upload your app to App Store Connect.")
    highest = max(taken, key=version_key, default=None)
    if highest is not None and version_key(attrs["cfBundleVersion"]) < version_key(highest):
        raise ProcessingFailure("ITMS-90062", f"The value for key CFBundleVersion [{attrs['cfBundleVersion']}] in "
                                f"the Info.plist file must contain a higher version than that of the previously "
                                f"uploaded version [{highest}].")
    return uploaded


def _closed_train(sim: Sandbox, app_id: str, version: str, platform: str) -> str | None:
    """H15: a version already released on the App Store takes no new builds (90186 / 90062 / 90478)."""
    if not sim.realism.processing_failure_codes:
        return None
    for record in sim.store.where("appStoreVersions", app=app_id):
        a = record.attributes
        if (a.get("platform") == platform and a.get("appVersionState") == "READY_FOR_DISTRIBUTION"
                and _same_version(sim, str(a.get("versionString")), version)):
            return str(a.get("versionString"))
    return None


def existing_build_numbers(sim: Sandbox, app_id: str, version: str, platform: str, *,
                           exclude_upload: str | None = None) -> list[str]:
    """Build numbers already used on a version train: builds, and uploads being processed or done."""
    numbers = []
    for train in sim.store.where("preReleaseVersions", app=app_id):
        if _same_version(sim, train.attributes["version"], version) and train.attributes["platform"] == platform:
            numbers += [b.attributes["version"] for b in sim.store.where("builds", preReleaseVersion=train.id)]
    for other in sim.store.where("buildUploads", app=app_id):
        a = other.attributes
        if (other.id != exclude_upload and a["state"]["state"] in ("PROCESSING", "COMPLETE")
                and _same_version(sim, a["cfBundleShortVersionString"], version) and a["platform"] == platform):
            numbers.append(a["cfBundleVersion"])
    return numbers


def _processing_done(sim: Sandbox, record: Record, since_key: str) -> bool:
    if record.polls >= sim.processing_polls:
        return True
    seconds = sim.processing_seconds
    return seconds is not None and sim.clock() - record.internal.get(since_key, sim.clock()) >= seconds


def observe_upload(sim: Sandbox, upload: Record) -> None:
    if upload.attributes["state"]["state"] != "PROCESSING" or not _processing_done(sim, upload, "processing_since"):
        return
    files = list(sim.store.where("buildUploadFiles", buildUpload=upload.id))
    failure: ProcessingFailure | None = upload.internal.get("failure")
    if failure is not None:
        detail = {"code": _code(sim, failure.code), "description": failure.description}
        upload.attributes["state"] = _state("FAILED", [detail])
        for file in files:
            file.attributes["assetDeliveryState"] = {"errors": [dict(detail)], "warnings": [], "state": "FAILED"}
        return
    build = create_build(sim, upload.rels["app"], upload.attributes["cfBundleShortVersionString"],
                         upload.attributes["cfBundleVersion"], upload.attributes["platform"],
                         uploaded=upload.internal["app"], upload_id=upload.id, fresh=True)
    upload.rels["build"] = build.id
    upload.attributes["state"] = _state("COMPLETE")
    for file in files:
        file.attributes["assetDeliveryState"] = {"errors": [], "warnings": [], "state": "COMPLETE"}


def find_or_create_train(sim: Sandbox, app_id: str, version: str, platform: str) -> Record:
    """H8: the train keeps the form first uploaded (leading zeros dropped); 1.2 and 1.2.0 land on one train,
    and filters match only the form it holds."""
    for train in sim.store.where("preReleaseVersions", app=app_id):
        if _same_version(sim, train.attributes["version"], version) and train.attributes["platform"] == platform:
            return train
    return sim.store.add("preReleaseVersions", {"version": _without_leading_zeros(sim, version),
                                                "platform": platform}, {"app": app_id})


def create_build(sim: Sandbox, app_id: str, version: str, build_number: str, platform: str, *,
                 uploaded: Any = None, upload_id: str | None = None, processing_state: str = "PROCESSING",
                 uses_non_exempt_encryption: bool | None = None, fresh: bool = False) -> Record:
    """A build on its train. `fresh` (just made by processing): its first reads may answer 404 (H9)."""
    train = find_or_create_train(sim, app_id, version, platform)
    now = sim.clock()
    if uploaded is not None:
        uses_non_exempt_encryption = uploaded.uses_non_exempt_encryption
    build = sim.store.add("builds", {
        "version": _without_leading_zeros(sim, build_number),
        "uploadedDate": iso(now),
        "expirationDate": iso(now + EXPIRY_DAYS * 86400),
        "expired": False,
        "minOsVersion": getattr(uploaded, "minimum_os", None) or "15.0",
        "processingState": processing_state,
        "buildAudienceType": "APP_STORE_ELIGIBLE",
        "usesNonExemptEncryption": uses_non_exempt_encryption,
    }, {"app": app_id, "preReleaseVersion": train.id, "betaGroups": [], "individualTesters": [],
        "appEncryptionDeclaration": None}, processing_since=now)
    if fresh and sim.realism.propagation_delay:
        build.internal["unseen_reads"] = sim.realism.propagation_reads
    sim.store.add("buildBetaDetails", {"autoNotifyEnabled": True, "didNotify": False}, {"build": build.id})
    return build


def observe_build(sim: Sandbox, build: Record) -> None:
    if build.attributes["processingState"] == "PROCESSING" and _processing_done(sim, build, "processing_since"):
        build.attributes["processingState"] = "VALID"
        realism = sim.realism
        if realism.beta_state_lags_valid:
            build.internal["beta_lag"] = realism.beta_state_reads  # H2, read by catalog.beta_detail_states
        if realism.default_beta_localization:
            app = sim.store.get("apps", build.rels["app"])
            # H17: Apple adds the primary-locale What to Test itself, a little later (see testflight.py)
            build.internal["default_locale"] = (app.attributes.get("primaryLocale") if app else None) or "en-US"
            build.internal["default_locale_after"] = max(1, realism.beta_state_reads)
        return
    count_beta_read(sim, build)


def count_beta_read(sim: Sandbox, build: Record) -> None:
    """A read of the build (or of its beta detail) after VALID: Apple's TestFlight state catches up (H2), and
    its own default What to Test appears (H17)."""
    if build.internal.get("beta_lag", 0) > 0:
        build.internal["beta_lag"] -= 1
    if build.internal.get("compliance_lag", 0) > 0:
        build.internal["compliance_lag"] -= 1
    if build.internal.get("default_locale"):
        build.internal["default_locale_after"] = build.internal.get("default_locale_after", 0) - 1
        if build.internal["default_locale_after"] <= 0:
            add_default_beta_localization(sim, build)


def add_default_beta_localization(sim: Sandbox, build: Record) -> Record | None:
    """The primary-locale betaBuildLocalization App Store Connect creates by itself (H17)."""
    locale = build.internal.pop("default_locale", None)
    if not locale:
        return None
    existing = [loc for loc in sim.store.where("betaBuildLocalizations", build=build.id)
                if str(loc.attributes["locale"]).lower() == locale.lower()]
    if existing:
        return existing[0]
    return sim.store.add("betaBuildLocalizations", {"locale": locale, "whatsNew": None}, {"build": build.id})


HANDLERS = {
    ("get", "/v1/buildUploads/{id}"): lambda call: read_just_created(call, "buildUploads"),
    ("get", "/v1/builds/{id}"): lambda call: read_just_created(call, "builds"),
    ("post", "/v1/buildUploads"): create_build_upload,
    ("delete", "/v1/buildUploads/{id}"): delete_build_upload,
    ("post", "/v1/buildUploadFiles"): create_build_upload_file,
    ("patch", "/v1/buildUploadFiles/{id}"): commit_build_upload_file,
}

OBSERVERS = {"buildUploadFiles": observe_upload_file}
COMPUTED = {"buildUploadFiles": upload_file_as_read}
