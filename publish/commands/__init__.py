"""One module per CLI command (see publish.cli), and the light table that lists them.

The table is what `appstore-publish --help` and the did-you-mean of a misspelt command need: names, one-line
summaries and examples; with them, each command's description, so that its help is all in one place. It imports nothing, so the CLI can list every command while importing only the module
of the one that runs (and with it requests, cryptography, jsonschema, yaml). Each summary must equal the `help=`
its module registers; tests/test_cli_startup.py holds the two in step.
"""

from __future__ import annotations

from collections import namedtuple

# module: publish.commands.<module> registers the command. (Not typing.NamedTuple: typing costs ~4 ms of start-up.)
Command = namedtuple("Command", "name module summary")


# Order is the order of `--help`.
COMMANDS: tuple[Command, ...] = (
    Command("validate", "validate", "check a publish-flow file"),
    Command("plan", "plan", "show what a flow would do with an IPA, offline"),
    Command("run", "run", "run the publish flow on an IPA (upload, TestFlight, App Store)"),
    Command("info", "info", "show what is inside an .ipa or a macOS .pkg"),
    Command("check", "check", "check that an .ipa or a macOS .pkg would be accepted by App Store Connect"),
    Command("profiles", "profiles", "the flow's publish profiles with their latest version"),
    Command("versions", "versions", "the versions handled (and, with --remote, App Store Connect's builds)"),
    Command("show", "show", "everything known about one version"),
    Command("next-build-number", "build_numbers",
            "the next free build number (CFBundleVersion) of a version, from App Store Connect"),
    Command("latest-build-number", "build_numbers", "the highest build number App Store Connect holds for a version"),
    Command("release", "release",
            "release an approved App Store version, or pause, resume or complete its phased release"),
    Command("status", "status", "where each build and App Store version of an app stands in App Store Connect"),
    Command("history", "history", "the log of past actions, newest first"),
    Command("mark-rc", "mark_rc", "mark a version as release candidate"),
    Command("unmark-rc", "mark_rc", "remove the release-candidate mark"),
    Command("download", "download", "copy a kept binary out of the state directory"),
    Command("delete", "delete", "remove a version (or a whole profile) from the local state"),
    Command("schema", "schema", "print the publish-flow JSON Schema"),
    Command("sandbox", "sandbox", "run the App Store Connect simulator, or make a key for it"),
    Command("demo", "demo", "try a complete publish flow offline, against the built-in App Store Connect simulator"),
    Command("completion", "completion", "print a shell completion script (bash, zsh or fish)"),
)

# `appstore-publish <command> --help` opens with these (above the options): what the command does, in full.
DESCRIPTIONS: dict[str, str] = {
    "validate": (
        "Check a publish-flow file: YAML syntax, the JSON Schema, and references (API key and Apple ID "
        "names, duplicate bundle IDs, release-note files). Every problem is listed as FILE:LINE:COLUMN. Exit code 2 "
        "when the file has problems."
    ),
    "info": (
        "Show an IPA's app information — bundle ID, version, build, platform, icons, app extensions and "
        "watch app, provisioning profile and signing — reading only the zip directory and a few small files. A macOS "
        "installer package (.pkg, told apart by its content) shows its app, installer signature and profile."
    ),
    "check": (
        "Run the pre-flight checks (layout, Info.plist, version format, signing, provisioning profile, "
        "extensions; for a .pkg: package kind, installer signature) that every upload runs before sending a byte. "
        "Exit 2 if any error is found, 0 otherwise (warnings are printed but do not fail)."
    ),
    "profiles": (
        "The publish profiles of a flow file with, for each, the app name and icon name of the latest "
        "binary seen, its number of versions and the latest version's state."
    ),
    "versions": (
        "The versions this tool has handled, from the state store; with --remote, merged with App Store "
        "Connect's builds of the app (uploaded date, processing, TestFlight and App Store version states, expired). "
        "Builds known only to App Store Connect are listed too."
    ),
    "show": (
        "Everything known about one binary: the IPA inspection, its App Store Connect IDs and states, "
        "the release-candidate mark, the kept binary and its recent history."
    ),
    "release": (
        "Release an App Store version that App Review approved and that waits for you "
        "(release type MANUAL, state PENDING_DEVELOPER_RELEASE); or, with --pause, --resume or --complete, change "
        "its phased release (only once the version is released). What the version's state does not allow is "
        "refused before anything changes."
    ),
    "status": (
        "Where each build and App Store version of an app stands in App Store Connect: processing, "
        "TestFlight (internal/external), beta review, App Store version state, phased release. With VERSION, only "
        "that version; with --wait-until STATE, poll until VERSION (its App Store version, its phased release or "
        "its newest build) is in STATE. Nothing is changed in App Store Connect."
    ),
    "history": (
        "The log of past actions (step runs with time, duration, outcome, App Store Connect IDs and "
        "errors; RC marks; downloads; deletions), newest first."
    ),
    "mark-rc": (
        "Mark a version as release candidate (recorded in history). A send_to_app_store step with "
        "require_rc: true only ships marked versions."
    ),
    "unmark-rc": (
        "Remove the release-candidate mark from a version (recorded in history)."
    ),
    "delete": (
        "Remove a version and its kept binary from the local state directory (its history is kept). "
        "Nothing is removed from App Store Connect; --expire-build additionally expires the build in TestFlight. "
        "Without VERSION, --profile BUNDLE_ID removes every version of that profile."
    ),
    "schema": (
        "Print a JSON Schema: by default the publish-flow file's (point your editor at it to complete "
        "and check flow files); NAME picks another, e.g. the JSON output of a command."
    ),
    "completion": (
        "Print a completion script for SHELL on stdout: commands, subcommands, options and their "
        "choices, generated from this version's parser. Install it where your shell looks (see the examples) "
        "and open a new shell."
    ),
}

# `appstore-publish <path> --help` ends with these; tests parse every line, so an example cannot go stale.
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (
        ("appstore-publish demo", "try a whole flow offline against the built-in simulator"),
        ("appstore-publish validate publish.yml", "check a flow file"),
        ("appstore-publish run publish.yml --ipa build/App.ipa", "publish an IPA"),
        ("appstore-publish completion bash > ~/.local/share/bash-completion/completions/appstore-publish",
         "install completion"),
    ),
    "validate": (
        ("appstore-publish validate publish.yml", "syntax, schema and references"),
        ("appstore-publish validate publish.yml --check-secrets", "also check that every key can be read"),
        ("appstore-publish validate publish.yml --json", "a JSON summary for scripts"),
    ),
    "plan": (
        ("appstore-publish plan publish.yml --ipa build/App.ipa", "the steps that would run, offline"),
        ("appstore-publish plan publish.yml --ipa build/App.ipa --profile com.example.app --json", "as JSON"),
    ),
    "run": (
        ("appstore-publish run publish.yml --ipa build/App.ipa", "upload, TestFlight, App Store"),
        ("appstore-publish run publish.yml --ipa build/App.ipa --dry-run", "read for real, print the writes, make none"),
        ("appstore-publish run app-store.yml --build '1.2.3 (45)'", "promote an uploaded build: no IPA, no upload"),
        ("appstore-publish run publish.yml --ipa build/App.ipa --json > result.json", "the result as JSON"),
        ("appstore-publish run publish.yml --ipa build/App.ipa --restart --poll-interval 30 -v",
         "redo every step, poll every 30 s, log HTTP calls"),
    ),
    "info": (
        ("appstore-publish info build/App.ipa", "bundle ID, version, build, icons, extensions"),
        ("appstore-publish info build/App.ipa --json --icon-out icon.png", "as JSON, and save the icon"),
    ),
    "check": (
        ("appstore-publish check build/App.ipa", "the pre-flight checks"),
        ("appstore-publish check build/App.ipa --bundle-id com.example.app --json", "pin the bundle ID; JSON"),
    ),
    "profiles": (
        ("appstore-publish profiles publish.yml", "each profile with its latest version"),
        ("appstore-publish profiles publish.yml --json", "as JSON"),
    ),
    "versions": (
        ("appstore-publish versions", "the versions in .appstore-publish/"),
        ("appstore-publish versions --flow publish.yml --remote", "merged with App Store Connect's builds"),
        ("appstore-publish versions --profile com.example.app --state-dir ci-state --json", "one profile, JSON"),
    ),
    "show": (
        ("appstore-publish show 1.2.3", "the latest build of 1.2.3"),
        ("appstore-publish show '1.2.3 (45)' --profile com.example.app --json", "one build, as JSON"),
    ),
    "next-build-number": (
        ("appstore-publish next-build-number com.example.app 1.2.3", "the number to stamp, alone on stdout"),
        ("appstore-publish next-build-number com.example.app --flow publish.yml --json", "whole app; JSON"),
        ("appstore-publish next-build-number com.example.app 1.2.3 --github-output", "as step outputs"),
    ),
    "latest-build-number": (
        ("appstore-publish latest-build-number com.example.app 1.2.3", "the highest one in App Store Connect"),
        ("appstore-publish latest-build-number com.example.app --platform MAC_OS --json", "macOS, as JSON"),
    ),
    "release": (
        ("appstore-publish release com.example.app 1.2.3 --flow publish.yml", "put the approved 1.2.3 on sale"),
        ("appstore-publish release com.example.app 1.2.3 --pause", "pause its phased release (--resume, --complete)"),
    ),
    "status": (
        ("appstore-publish status com.example.app --flow publish.yml", "every build and App Store version"),
        ("appstore-publish status com.example.app 1.2.3 --wait-until PENDING_DEVELOPER_RELEASE --timeout 86400",
         "wait for App Review"),
        ("appstore-publish status com.example.app 1.2.3 --json", "one version, as JSON"),
    ),
    "history": (
        ("appstore-publish history", "the last entries, newest first"),
        ("appstore-publish history 1.2.3 --limit 0", "everything about 1.2.3"),
        ("appstore-publish history --profile com.example.app --json", "one profile, as JSON"),
    ),
    "mark-rc": (
        ("appstore-publish mark-rc 1.2.3", "the latest build of 1.2.3 becomes the candidate"),
        ("appstore-publish mark-rc '1.2.3 (45)' --note 'QA signed off'", "one build, with a note"),
    ),
    "unmark-rc": (
        ("appstore-publish unmark-rc 1.2.3", "remove the mark"),
    ),
    "download": (
        ("appstore-publish download 1.2.3 --out App-1.2.3.ipa", "the kept IPA of 1.2.3"),
        ("appstore-publish download '1.2.3 (45)' --out App.ipa --force", "overwrite App.ipa"),
    ),
    "delete": (
        ("appstore-publish delete 1.2.3", "asks you to type the version again"),
        ("appstore-publish delete 1.2.3 --yes --expire-build --flow publish.yml", "in CI; also expire it"),
        ("appstore-publish delete --profile com.example.app --yes", "every version of a profile"),
    ),
    "schema": (
        ("appstore-publish schema > publish-flow.schema.json", "the flow file's schema, for your editor"),
        ("appstore-publish schema --list", "the other schemas"),
        ("appstore-publish schema run-result", "the schema of `run --result-json`"),
    ),
    "sandbox": (
        ("appstore-publish sandbox keygen --out sim", "a throwaway key and a data file"),
        ("appstore-publish sandbox serve --data sim/sandbox-data.json --port 8080", "serve the simulator"),
    ),
    "sandbox serve": (
        ("appstore-publish sandbox serve --data sim/sandbox-data.json --port 8080", "on http://127.0.0.1:8080"),
        ("appstore-publish sandbox serve --error-rate 0.05 --latency-ms 200 --seed 7", "with faults"),
    ),
    "sandbox keygen": (
        ("appstore-publish sandbox keygen --out sim", "key, fastlane JSON and data file in sim/"),
        ("appstore-publish sandbox keygen --out sim --bundle-id com.example.app --app-name Example --force",
         "for your app"),
    ),
    "demo": (
        ("appstore-publish demo", "a whole flow in a temporary directory"),
        ("appstore-publish demo --keep demo-files", "keep the flow, IPA, key and state to start from"),
    ),
    "completion": (
        ("appstore-publish completion bash > ~/.local/share/bash-completion/completions/appstore-publish", "bash"),
        ("appstore-publish completion zsh > \"${fpath[1]}/_appstore-publish\"", "zsh"),
        ("appstore-publish completion fish > ~/.config/fish/completions/appstore-publish.fish", "fish"),
    ),
}


def summary_of(name: str) -> str:
    """The one-line summary of the command `name` (its `help=` in `--help`'s list)."""
    summary: str = next(command.summary for command in COMMANDS if command.name == name)
    return summary


def examples_text(path: str) -> str | None:
    """The "examples:" block of `appstore-publish <path> --help`, or None."""
    examples = EXAMPLES.get(path)
    if not examples:
        return None
    rows = [f"  # {comment}\n  {line}" for line, comment in examples]
    return "examples:\n" + "\n".join(rows)
