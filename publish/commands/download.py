"""`appstore-publish download VERSION --out FILE`: a kept binary, copied out of the artifact store and verified."""

from __future__ import annotations

import argparse
from pathlib import Path

from publish.commands._arguments import output_path
from publish.commands._state_cli import (
    add_profile_argument,
    add_state_dir_argument,
    label,
    open_store,
    resolve_binary,
)
from publish.errors import InputError

NOT_KEPT_HINT = (
    "Apple offers no download of uploaded builds; set keep_binaries: true in the profile to keep binaries in the "
    "state directory"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="copy a kept binary out of the state directory",
        description="Copy the IPA of a version out of the state directory's artifact store (profiles with "
        "keep_binaries: true), verifying its sha256. Apple offers no download of uploaded builds.",
    )
    parser.add_argument("version", metavar="VERSION", help="1.2.3 (its latest build) or 1.2.3(45)")
    parser.add_argument("--out", required=True, metavar="FILE", type=output_path, help="where to write the IPA")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    add_profile_argument(parser)
    add_state_dir_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx) -> int:
    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"--out {out} is a directory", hint="give a file name, e.g. --out build/App.ipa")
    if out.exists() and not args.force:
        raise InputError(f"{out} already exists", hint="choose another --out, or pass --force to overwrite it")
    with open_store(args, ctx, required=True) as store:
        binary = resolve_binary(store, args.version, args.profile)
        if not binary["kept_sha256"]:
            raise InputError(f"the binary of {binary['bundle_id']} {label(binary)} was not kept", hint=NOT_KEPT_HINT)
        sha256 = store.export_binary(binary["fingerprint"], out)
        store.record_event(
            kind="download", fingerprint=binary["fingerprint"], detail={"out": str(out), "sha256": sha256}
        )
    ctx.print(f"Wrote {out} ({binary['bundle_id']} {label(binary)}), sha256 {sha256} verified.")
    return 0
