"""`appstore-publish schema [NAME]`: print a JSON Schema (by default the publish-flow file's)."""

from __future__ import annotations

import argparse
from importlib import resources
from typing import TYPE_CHECKING

from publish.commands._arguments import add_command
from publish.errors import InputError

if TYPE_CHECKING:
    from publish.cli import CliContext

DEFAULT = "publish-flow"
SUFFIX = ".schema.json"


def available() -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in resources.files("publish.schemas").iterdir()
                  if p.name.endswith(SUFFIX))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(subparsers, "schema", run)
    parser.add_argument("name", nargs="?", default=DEFAULT, metavar="NAME",
                        help=f"which schema (default {DEFAULT}); `--list` shows them")
    parser.add_argument("--list", action="store_true", help="list the available schemas")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    names = available()
    if args.list:
        for name in names:
            ctx.print(name)
        return 0
    name = args.name.removesuffix(SUFFIX).removesuffix(".json")
    if name not in names:
        raise InputError(f"no schema named {args.name!r}", hint=f"available: {', '.join(names)}")
    ctx.stdout.write(resources.files("publish.schemas").joinpath(name + SUFFIX).read_text(encoding="utf-8"))
    return 0
