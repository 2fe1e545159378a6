"""`appstore-publish download VERSION --out FILE`: a kept binary, copied out of the artifact store and verified.

The artifact store keeps IPAs and macOS installer packages alike; the file written is named for what the binary is,
so a package never comes out as `App.ipa` (which `run` would read as a package anyway, by content, but a person or
another tool would not)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import output_path
from publish.commands._state_cli import (
    add_profile_argument,
    add_state_dir_argument,
    label,
    open_store,
    resolve_binary,
)
from publish.errors import InputError

if TYPE_CHECKING:
    from publish.cli import CliContext

NOT_KEPT_HINT = (
    "Apple offers no download of uploaded builds; set keep_binaries: true in the profile to keep binaries in the "
    "state directory"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "download",
        help="copy a kept binary out of the state directory",
        description="Copy the IPA of a version out of the state directory's artifact store (profiles with "
        "keep_binaries: true), verifying its sha256: an .ipa, or a macOS app's .pkg. Apple offers no download of "
        "uploaded builds.",
    )
    parser.add_argument("version", metavar="VERSION", help="1.2.3 (its latest build) or 1.2.3(45)")
    parser.add_argument("--out", required=True, metavar="FILE", type=output_path,
                        help="where to write the binary: FILE.ipa for an app's IPA, FILE.pkg for a macOS package")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    add_profile_argument(parser)
    add_state_dir_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"--out {out} is a directory", hint="give a file name, e.g. --out build/App.ipa")
    if out.exists() and not args.force:
        raise InputError(f"{out} already exists", hint="choose another --out, or pass --force to overwrite it")
    store = open_store(args, ctx, required=True)
    assert store is not None  # required: a missing state directory is an error there
    with store:
        binary = resolve_binary(store, args.version, args.profile)
        if not binary["kept_sha256"]:
            raise InputError(f"the binary of {binary['bundle_id']} {label(binary)} was not kept", hint=NOT_KEPT_HINT)
        kind, suffix = binary_kind(binary)
        if out.suffix.lower() in SUFFIXES and out.suffix.lower() != suffix:
            raise InputError(f"the kept binary of {binary['bundle_id']} {label(binary)} is {kind}, and --out {out} "
                             f"would name it {out.suffix}; nothing was written",
                             hint=f"write it as {suffix}: --out {out.with_suffix(suffix)}")
        sha256 = store.export_binary(binary["fingerprint"], out)
        store.record_event(
            kind="download", fingerprint=binary["fingerprint"], detail={"out": str(out), "sha256": sha256}
        )
    ctx.print(f"Wrote {out} ({kind} of {binary['bundle_id']} {label(binary)}), sha256 {sha256} verified.")
    return 0


SUFFIXES = (".ipa", ".pkg")


def binary_kind(binary: dict[str, Any]) -> tuple[str, str]:
    """(how to name it, file suffix) of a kept binary, from its recorded inspection: only a package has its UTI."""
    from publish.ipa.pkg_model import PKG_UTI  # noqa: PLC0415 - `download --help` stays light (no cryptography)

    info = binary.get("info") or {}
    if info.get("uti") == PKG_UTI:
        return "a macOS installer package (.pkg)", ".pkg"
    return "an IPA (.ipa)", ".ipa"
