"""`appstore-publish next-build-number` and `latest-build-number`: the build number to stamp into CFBundleVersion
before building, read from App Store Connect.

App Store Connect takes each build number once per version and platform, and a build upload holds its number from
the moment it is created (AWAITING_UPLOAD included: asc counts those too, protocol.md B.4), long before a build
appears. So the highest number is taken over the builds AND the build uploads that hold one, compared as Apple
compares them: component by component as integers ("10" > "9", "1.2.10" > "1.2.9", "45" == "45.0"). A version is
matched in any of its forms (H.8: "1.0" and "1.0.0" are one version, and only the form first uploaded can be
queried), so the app's trains and uploads are listed and compared here rather than filtered by the server.

Nothing is written to App Store Connect. Bad input (a version that is not one, a bundle ID that is not one, an
unusable --github-output) is refused before the first call, exit 2; an app that does not exist is exit 2 too.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

from publish.commands import summary_of
from publish.commands._arguments import add_api_arguments, add_command
from publish.commands._state_cli import add_json_argument, print_json

PLATFORMS = ("IOS", "MAC_OS", "TV_OS", "VISION_OS")
# As the flow file's schema has it (schemas/publish-flow.schema.json): reverse-DNS, at least two labels.
BUNDLE_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
BUNDLE_ID_MAX = 155  # Apple's limit for a bundle ID
VERSION_MAX_COMPONENTS = 3  # CFBundleShortVersionString: one to three period-separated integers
NUMBER_MAX_CHARS = 64  # far above any real CFBundleVersion; bounds what is echoed back in a message

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in ("next-build-number", "latest-build-number"):
        summary = summary_of(name)
        parser = add_command(
            subparsers, name, run,
            description=f"{summary[0].upper()}{summary[1:]}: the highest over the builds and the build uploads "
            "(AWAITING_UPLOAD, PROCESSING, COMPLETE) of the version, or of the whole app without VERSION, compared "
            "as Apple compares them (integer by integer; 1.0 and 1.0.0 are one version). Plain output is the "
            "number alone, for `$(...)`; nothing is changed in App Store Connect.",
        )
        parser.add_argument("bundle_id", metavar="BUNDLE_ID", help="the app's bundle ID")
        parser.add_argument("version", metavar="VERSION", nargs="?",
                            help="the marketing version (CFBundleShortVersionString); default: the whole app")
        parser.add_argument("--platform", choices=PLATFORMS, default="IOS", help="the platform (default IOS)")
        parser.add_argument("--initial", metavar="NUMBER", default="1",
                            help="the next number when none is used yet (default 1)")
        add_api_arguments(parser, flow_help="a flow file: its api_keys (the profile's api_key is used)")
        parser.add_argument("--github-output", action="store_true",
                            help="also set the step outputs latest-build-number and next-build-number "
                            "($GITHUB_OUTPUT)")
        add_json_argument(parser)
        parser.set_defaults(command_name=name)


# ----------------------------------------------------------------------------------------- checks, offline


def _input_error(message: str, hint: str) -> Exception:
    from publish.errors import InputError  # noqa: PLC0415 - `--help` stays light

    return InputError(message, hint=hint)


def _clip(text: str) -> str:
    return text if len(text) <= NUMBER_MAX_CHARS else f"{text[:NUMBER_MAX_CHARS]}... ({len(text)} characters)"


def check_bundle_id(value: str) -> str:
    text = value.strip()
    if len(text) > BUNDLE_ID_MAX or not BUNDLE_ID_PATTERN.match(text):
        raise _input_error(f"{_clip(value)!r} is not a bundle ID",
                           "give the app's bundle ID as App Store Connect shows it (App Information), e.g. "
                           "com.example.app: letters, digits and hyphens in two or more parts separated by periods")
    return text


def check_version(value: str) -> str:
    """A marketing version: one to three period-separated integers (App Store Connect refuses any other)."""
    from publish.upload.numbers import build_number_key  # noqa: PLC0415

    text = value.strip()
    parts = text.split(".")
    if build_number_key(text) is None or len(parts) > VERSION_MAX_COMPONENTS:
        leading_v = " (without the leading 'v')" if text[:1] in "vV" and build_number_key(text[1:]) else ""
        raise _input_error(f"{_clip(value)!r} is not a version: App Store Connect's versions "
                           "(CFBundleShortVersionString) are one to three integers separated by periods",
                           f"give the version like 1.2 or 1.2.3{leading_v}, or leave it out for the whole app")
    return text


def check_build_number(value: str, what: str) -> str:
    from publish.upload.numbers import build_number_key  # noqa: PLC0415

    text = value.strip()
    if build_number_key(text) is None:
        raise _input_error(f"{what} {_clip(value)!r} is not a build number: App Store Connect's build numbers "
                           "(CFBundleVersion) are integers separated by periods", "give one like 1 or 45 or 1.2.3")
    return text


def github_output_path(env: Any) -> str:
    """$GITHUB_OUTPUT, checked now: a run that could not hand its number on should fail before any call."""
    path = str(env.get("GITHUB_OUTPUT") or "")
    if not path:
        raise _input_error("--github-output: GITHUB_OUTPUT is not set, so there is no step output to write",
                           "use --github-output inside a GitHub Actions step (`uses: docker://...` or `run:`); "
                           "elsewhere read the plain output: NUMBER=$(appstore-publish next-build-number ...)")
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise _input_error(f"--github-output: cannot write GITHUB_OUTPUT ({path}): {exc.strerror or exc}",
                           "run the command in a GitHub Actions step, where the runner provides that file") from None
    return path


# ----------------------------------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class UsedNumber:
    """One build number App Store Connect holds: on a build, or on a build upload that has no build yet."""

    build_number: str
    kind: str  # "build" | "build_upload"
    id: str
    state: str | None
    version: str | None

    def to_json(self) -> dict[str, Any]:
        return {"build_number": self.build_number, "kind": self.kind, "id": self.id, "state": self.state,
                "version": self.version}


def highest(used: list[UsedNumber]) -> UsedNumber | None:
    """The highest numeric build number; on a tie the build (listed first) wins over its upload."""
    from publish.upload.numbers import build_number_key  # noqa: PLC0415

    numeric = [u for u in used if build_number_key(u.build_number) is not None]
    if not numeric:
        return None
    return max(numeric, key=lambda u: build_number_key(u.build_number) or ())


def _uploads(client: Any, app_id: str, platform: str, version: str | None) -> list[UsedNumber]:
    from publish.upload.numbers import HOLDING_UPLOAD_STATES, same_version, upload_state  # noqa: PLC0415

    found = []
    # No version filter: an upload keeps the form it was sent in ("1.0" or "1.0.0"), so the app's uploads are
    # compared numerically here; one listing covers every form.
    for upload in client.list_build_uploads(app_id, states=HOLDING_UPLOAD_STATES, platform=platform):
        marketing = str(upload.attr("cfBundleShortVersionString") or "")
        if str(upload.attr("platform") or platform) != platform or upload_state(upload) not in HOLDING_UPLOAD_STATES:
            continue
        if version is not None and not same_version(marketing, version):
            continue
        found.append(UsedNumber(str(upload.attr("cfBundleVersion") or ""), "build_upload", upload.id,
                                upload_state(upload), marketing or None))
    return found


def _builds_of_version(client: Any, app_id: str, platform: str, version: str) -> tuple[list[UsedNumber], str | None]:
    from publish.upload.numbers import find_train  # noqa: PLC0415

    train = find_train(client, app_id, version, platform)
    if train is None:
        return [], None
    form = str(train.attr("version"))
    builds = client.list_builds(app_id, pre_release_version_id=train.id)
    return [UsedNumber(str(b.attr("version") or ""), "build", b.id, b.attr("processingState"), form)
            for b in builds], form


def _builds_of_app(client: Any, app_id: str, platform: str) -> list[UsedNumber]:
    params = {"filter[app]": app_id, "filter[preReleaseVersion.platform]": platform, "include": "preReleaseVersion",
              "limit": 200}
    found = []
    for page in client.build_pages(params):
        for build in page.resources:
            train = page.find_included("preReleaseVersions", build.related_id("preReleaseVersion"))
            if train is not None and str(train.attr("platform") or platform) != platform:
                continue
            found.append(UsedNumber(str(build.attr("version") or ""), "build", build.id,
                                    build.attr("processingState"), str(train.attr("version")) if train else None))
    return found


def build_numbers(client: Any, bundle_id: str, version: str | None, platform: str, initial: str) -> dict[str, Any]:
    """The document `--json` prints (schemas/build-numbers.schema.json)."""
    from publish.commands._remote import require_app  # noqa: PLC0415
    from publish.upload.numbers import next_build_number  # noqa: PLC0415

    app = require_app(client, bundle_id, also="; an app that was never created has no build numbers: its first "
                      "build can use --initial (default 1)")
    form = None
    if version is None:
        builds = _builds_of_app(client, app.id, platform)
    else:
        builds, form = _builds_of_version(client, app.id, platform, version)
    uploads = _uploads(client, app.id, platform, version)
    top = highest(builds + uploads)
    return {
        "bundle_id": bundle_id,
        "app_id": app.id,
        "platform": platform,
        "version": version,
        "version_in_app_store_connect": form,
        "latest": top.to_json() if top is not None else None,
        "next": next_build_number(top.build_number) if top is not None else initial,
        "counted": {"builds": len(builds), "build_uploads": len(uploads)},
        "api_calls": client.call_count,
    }


# ----------------------------------------------------------------------------------------- the command


def run(args: argparse.Namespace, ctx: Any) -> int:
    import logging  # noqa: PLC0415

    bundle_id = check_bundle_id(args.bundle_id)
    version = check_version(args.version) if args.version is not None else None
    initial = check_build_number(args.initial, "--initial")
    output_path = github_output_path(ctx.env) if args.github_output else None
    from publish.commands._remote import connect_for_app  # noqa: PLC0415 - heavy: requests, yaml

    client = connect_for_app(args, ctx, bundle_id)
    try:
        document = build_numbers(client, bundle_id, version, args.platform, initial)
    finally:
        client.close()
    latest = document["latest"]
    what = f"{bundle_id} {version} ({args.platform})" if version else f"{bundle_id}, every version ({args.platform})"
    log = logging.getLogger(__name__)
    if latest is None:
        log.info("%s: App Store Connect holds no build number yet; the next is %s", what, document["next"])
    else:
        kind = "build" if latest["kind"] == "build" else "build upload"
        log.info("%s: highest build number %s (%s %s, %s, version %s); the next is %s", what, latest["build_number"],
                 kind, latest["id"], latest["state"] or "state unknown", latest["version"] or "?", document["next"])
    if output_path is not None:
        from publish.workflow_commands import output_block  # noqa: PLC0415

        with open(output_path, "a", encoding="utf-8") as handle:
            handle.write(output_block({"latest-build-number": latest["build_number"] if latest else "",
                                       "next-build-number": document["next"]}))
    if args.json:
        print_json(ctx, document)
    elif args.command_name == "next-build-number":
        ctx.print(document["next"])
    elif latest is not None:
        ctx.print(latest["build_number"])
    return 0
