"""`appstore-publish status BUNDLE_ID [VERSION]`: where the app's builds and App Store versions stand in App Store
Connect (processing, TestFlight internal/external, beta review, App Store version state, phased release), as text
or JSON (schemas/status.schema.json); with `--wait-until STATE`, polled until VERSION gets there.

Two reads answer the whole picture (the builds with their train, TestFlight detail and beta review included; the
versions with their build and phased release included), so a wait costs two calls a poll. The wait is the client's
bounded wait (publish.upload.lifecycle.Waiting): one visible line per poll, at most --timeout, and it stops early
when VERSION reaches a state it cannot leave for STATE (a rejection, a failed build), so CI does not sit out an
hour for nothing. Nothing is written to App Store Connect. Bad input (a bundle ID, version or state that is not
one) is refused before the first call, exit 2; a wait that times out is exit 1.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from publish.commands._arguments import add_api_arguments, add_command, bounded_float
from publish.commands._state_cli import add_json_argument, print_json, table

PLATFORMS = ("IOS", "MAC_OS", "TV_OS", "VISION_OS")
MAX_TIMEOUT = 7 * 24 * 3600.0  # a week: past any review Apple takes
MAX_POLL_INTERVAL = 3600.0
BUILD_LIMIT = 200  # one page of builds: the newest ones
# Every state a part of the picture can be in (Apple's enums), so a typo in --wait-until is refused at once.
STATES: dict[str, tuple[str, ...]] = {
    "processing": ("PROCESSING", "FAILED", "INVALID", "VALID"),
    "testflight": ("PROCESSING", "PROCESSING_EXCEPTION", "MISSING_EXPORT_COMPLIANCE", "READY_FOR_BETA_TESTING",
                   "IN_BETA_TESTING", "EXPIRED", "IN_EXPORT_COMPLIANCE_REVIEW", "READY_FOR_BETA_SUBMISSION",
                   "WAITING_FOR_BETA_REVIEW", "IN_BETA_REVIEW", "BETA_REJECTED", "BETA_APPROVED"),
    "beta_review": ("WAITING_FOR_REVIEW", "IN_REVIEW", "REJECTED", "APPROVED"),
    "app_store": ("ACCEPTED", "DEVELOPER_REJECTED", "IN_REVIEW", "INVALID_BINARY", "METADATA_REJECTED",
                  "PENDING_APPLE_RELEASE", "PENDING_DEVELOPER_RELEASE", "PREPARE_FOR_SUBMISSION",
                  "PROCESSING_FOR_DISTRIBUTION", "READY_FOR_DISTRIBUTION", "READY_FOR_REVIEW", "REJECTED",
                  "REPLACED_WITH_NEW_VERSION", "WAITING_FOR_EXPORT_COMPLIANCE", "WAITING_FOR_REVIEW"),
    "phased_release": ("INACTIVE", "ACTIVE", "PAUSED", "COMPLETE"),
}
KNOWN_STATES = sorted({state for states in STATES.values() for state in states})
# States a version (or its build) does not leave by waiting: a wait for anything else stops there.
DEAD_ENDS = {"FAILED", "INVALID", "REJECTED", "METADATA_REJECTED", "DEVELOPER_REJECTED", "INVALID_BINARY",
             "BETA_REJECTED", "EXPIRED"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "status", run)
    parser.add_argument("bundle_id", metavar="BUNDLE_ID", help="the app's bundle ID (the profile)")
    parser.add_argument("version", metavar="VERSION", nargs="?", help="one marketing version (default: all)")
    parser.add_argument("--platform", choices=PLATFORMS, default="IOS", help="the platform (default IOS)")
    parser.add_argument("--wait-until", metavar="STATE", dest="wait_until",
                        help="wait until VERSION is in STATE, e.g. VALID, IN_BETA_TESTING, BETA_APPROVED, "
                        "WAITING_FOR_REVIEW, PENDING_DEVELOPER_RELEASE, READY_FOR_DISTRIBUTION, COMPLETE")
    parser.add_argument("--timeout", metavar="SECONDS", type=bounded_float(0, MAX_TIMEOUT, low_open=True,
                                                                          example=3600),
                        default=3600.0, help="how long --wait-until waits at most (default 3600)")
    parser.add_argument("--poll-interval", metavar="SECONDS", dest="poll_interval",
                        type=bounded_float(0, MAX_POLL_INTERVAL, low_open=True, example=30), default=30.0,
                        help="seconds between two looks while waiting (default 30)")
    add_api_arguments(parser, flow_help="a flow file: its api_keys (the profile's api_key is used)")
    add_json_argument(parser)


def _input_error(message: str, hint: str) -> Exception:
    from publish.errors import InputError  # noqa: PLC0415 - `--help` stays light

    return InputError(message, hint=hint)


def check_state(value: str, version: str | None) -> str:
    state = value.strip().upper()
    if state not in KNOWN_STATES:
        from difflib import get_close_matches  # noqa: PLC0415

        close = get_close_matches(state, KNOWN_STATES, n=1)
        raise _input_error(f"--wait-until: {value[:60]!r} is not a state App Store Connect reports",
                           (f"did you mean {close[0]}? " if close else "") + "the states are: " +
                           "; ".join(f"{part}: {', '.join(states)}" for part, states in STATES.items()))
    if version is None:
        raise _input_error("--wait-until needs a VERSION: which version should reach " + state + "?",
                           f"give it after the bundle ID, e.g. `status com.example.app 1.2.3 --wait-until {state}`")
    return state


# ----------------------------------------------------------------------------------------- the picture


def _build_row(build: Any, page: Any) -> dict[str, Any]:
    train = page.find_included("preReleaseVersions", build.related_id("preReleaseVersion"))
    beta = page.find_included("buildBetaDetails", build.related_id("buildBetaDetail"))
    review = page.find_included("betaAppReviewSubmissions", build.related_id("betaAppReviewSubmission"))
    return {
        "id": build.id,
        "version": str(train.attr("version")) if train else None,
        "platform": train.attr("platform") if train else None,
        "build_number": build.attr("version"),
        "uploaded_date": build.attr("uploadedDate"),
        "processing_state": build.attr("processingState"),
        "expired": bool(build.attr("expired")),
        "testflight_internal_state": beta.attr("internalBuildState") if beta else None,
        "testflight_external_state": beta.attr("externalBuildState") if beta else None,
        "beta_review_state": review.attr("betaReviewState") if review else None,
    }


def _version_row(version: Any, page: Any) -> dict[str, Any]:
    build = page.find_included("builds", version.related_id("build"))
    phased = page.find_included("appStoreVersionPhasedReleases", version.related_id("appStoreVersionPhasedRelease"))
    return {
        "id": version.id,
        "version": version.attr("versionString"),
        "state": version.attr("appVersionState") or version.attr("appStoreState"),
        "release_type": version.attr("releaseType"),
        "earliest_release_date": version.attr("earliestReleaseDate"),
        "build_id": version.related_id("build"),
        "build_number": build.attr("version") if build else None,
        "phased_release": None if phased is None else {
            "id": phased.id, "state": phased.attr("phasedReleaseState"),
            "current_day_number": phased.attr("currentDayNumber"), "start_date": phased.attr("startDate"),
        },
    }


def read_status(client: Any, app: Any, platform: str, version: str | None) -> dict[str, Any]:
    """The document `--json` prints (schemas/status.schema.json), from two listings."""
    from publish.steps.appstore import same_version  # noqa: PLC0415 - H8: 1.0 is 1.0.0

    builds: list[dict[str, Any]] = []
    params = {"filter[app]": app.id, "filter[preReleaseVersion.platform]": platform, "sort": "-uploadedDate",
              "include": "preReleaseVersion,buildBetaDetail,betaAppReviewSubmission", "limit": str(BUILD_LIMIT)}
    page = next(iter(client.build_pages(params)), None)  # the newest page is enough
    for build in page.resources if page is not None else []:
        row = _build_row(build, page)
        if version is None or same_version(row["version"], version):
            builds.append(row)
    versions: list[dict[str, Any]] = []
    params = {"filter[platform]": platform, "include": "build,appStoreVersionPhasedRelease", "limit": "200"}
    for page in client.app_store_version_pages(app.id, params):
        for found in page.resources:
            row = _version_row(found, page)
            if version is None or same_version(row["version"], version):
                versions.append(row)
    return {"bundle_id": str(app.attr("bundleId") or ""), "app_id": app.id, "app_name": app.attr("name"),
            "platform": platform, "version": version, "builds": builds, "app_store_versions": versions}


def watched_states(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(part, state) of what --wait-until looks at: the version's App Store state and phased release, and its
    newest build (processing, TestFlight, beta review)."""
    found: list[tuple[str, str]] = []
    for row in document["app_store_versions"][:1]:
        found.append(("app_store", row["state"]))
        if row["phased_release"]:
            found.append(("phased_release", row["phased_release"]["state"]))
    for row in document["builds"][:1]:
        found += [("processing", row["processing_state"]), ("testflight", row["testflight_external_state"]),
                  ("testflight", row["testflight_internal_state"]), ("beta_review", row["beta_review_state"])]
    return [(part, str(state)) for part, state in found if state]


def _described(states: list[tuple[str, str]]) -> str:
    return ", ".join(f"{part} {state}" for part, state in states) or "nothing in App Store Connect yet"


# ----------------------------------------------------------------------------------------- the command


def _text(document: dict[str, Any]) -> str:
    what = f"{document['bundle_id']} ({document['app_name']})" if document["app_name"] else document["bundle_id"]
    lines = [f"{what}, {document['platform']}" + (f", version {document['version']}" if document["version"] else "")]
    if document["builds"]:
        lines += ["", "builds:", table([(b["version"], b["build_number"], b["processing_state"],
                                         b["testflight_internal_state"], b["testflight_external_state"],
                                         b["beta_review_state"], "yes" if b["expired"] else "")
                                        for b in document["builds"]],
                                       ("VERSION", "BUILD", "PROCESSING", "TESTFLIGHT INTERNAL", "TESTFLIGHT EXTERNAL",
                                        "BETA REVIEW", "EXPIRED"))]
    else:
        lines += ["", "builds: none"]
    if document["app_store_versions"]:
        lines += ["", "App Store versions:", table([
            (v["version"], v["state"], v["release_type"], v["build_number"],
             (f"{v['phased_release']['state']}" + (f" (day {v['phased_release']['current_day_number']})"
                                                   if v["phased_release"].get("current_day_number") else ""))
             if v["phased_release"] else "") for v in document["app_store_versions"]],
            ("VERSION", "STATE", "RELEASE TYPE", "BUILD", "PHASED RELEASE"))]
    else:
        lines += ["", "App Store versions: none"]
    return "\n".join(lines)


class _TimedOut(Exception):
    """The wait's budget ran out; carries the last status read (reported, not re-read)."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.document = document


def _wait(client: Any, app: Any, args: argparse.Namespace, state: str, ctx: Any) -> tuple[dict[str, Any], bool]:
    import logging  # noqa: PLC0415

    from publish.upload.lifecycle import Waiting  # noqa: PLC0415

    clock = getattr(ctx, "clock", None) or time.monotonic
    sleep = getattr(ctx, "sleep", None) or time.sleep
    log = logging.getLogger(__name__)
    waiting = Waiting(timeout=args.timeout, interval=args.poll_interval, clock=clock, sleep=sleep, report=log.info)
    outcome: dict[str, Any] = {}

    def done(document: dict[str, Any]) -> bool:
        states = watched_states(document)
        if any(found == state for _, found in states):
            return True
        stuck = [(part, found) for part, found in states if found in DEAD_ENDS]
        if stuck:
            outcome["dead_end"] = stuck
            return True
        return False

    def timed_out(document: dict[str, Any]) -> Exception:
        outcome["timed_out"] = True
        return _TimedOut(document)

    planned = max(1, math.ceil(args.timeout / args.poll_interval))
    what = f"bring version {args.version} to {state} (looking every {args.poll_interval:g} s, {planned} looks at most)"
    try:
        document = waiting.until(what, lambda: read_status(client, app, args.platform, args.version), done, timed_out)
    except _TimedOut as last:
        document = last.document
    reached = not outcome.get("timed_out") and not outcome.get("dead_end")
    document["wait"] = {"until": state, "reached": reached, "polls": waiting.polls,
                        "stopped_at": [f"{part} {found}" for part, found in outcome.get("dead_end", [])] or None}
    return document, reached


def run(args: argparse.Namespace, ctx: Any) -> int:
    from publish.commands.build_numbers import check_bundle_id, check_version  # noqa: PLC0415

    bundle_id = check_bundle_id(args.bundle_id)
    args.version = check_version(args.version) if args.version is not None else None
    state = check_state(args.wait_until, args.version) if args.wait_until is not None else None
    from publish.commands._remote import connect_for_app, require_app  # noqa: PLC0415 - heavy: requests, yaml
    from publish.errors import RemoteError  # noqa: PLC0415

    client = connect_for_app(args, ctx, bundle_id)
    try:
        app = require_app(client, bundle_id)
        if state is None:
            document, reached = read_status(client, app, args.platform, args.version), True
        else:
            document, reached = _wait(client, app, args, state, ctx)
        document["api_calls"] = client.call_count
    finally:
        client.close()
    if args.json:
        print_json(ctx, document)
    else:
        ctx.print(_text(document))
    if reached:
        return 0
    now = _described(watched_states(document))
    if document["wait"]["stopped_at"]:
        raise RemoteError(f"version {args.version} will not reach {state}: it is {now}",
                          hint="a rejected version or a failed build does not move on by itself; see App Store "
                          "Connect (Resolution Center, the build's processing e-mail), fix it and submit again")
    raise RemoteError(f"version {args.version} did not reach {state} within {args.timeout:g} s: it is {now}",
                      hint="App Store Connect may simply need longer (App Review takes hours to days); run again "
                      "with a longer --timeout")
