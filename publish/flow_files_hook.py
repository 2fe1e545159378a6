"""`python -m publish.flow_files_hook FILE...`: the pre-commit hook (.pre-commit-hooks.yaml). pre-commit hands a
hook every matching file at once, while `appstore-publish validate` takes one; this checks each file the same
way (load_flow: YAML, the schema, references, FILE:LINE:COL for each problem) and reports them all."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from publish.errors import InputError
from publish.spec import load_flow


def main(paths: Sequence[str], stderr: TextIO = sys.stderr) -> int:
    """0 when every file is a valid publish flow, 2 otherwise (each problem printed)."""
    if not paths:
        stderr.write("usage: python -m publish.flow_files_hook FLOW...\n")
        return 2
    failed = 0
    for path in paths:
        try:
            load_flow(path)
        except InputError as exc:
            failed += 1
            stderr.write(f"{exc}\n")
    if failed:
        stderr.write(f"{failed} of {len(paths)} publish flow file(s) have problems\n")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
