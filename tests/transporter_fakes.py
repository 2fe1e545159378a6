"""A fake iTMSTransporter / altool for the Apple-ID path's tests (tests/e2e/test_appleid_transporter.py,
test_appleid_e2e.py): an executable that records each call and answers as the real tool does, by FAKE_MODE."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

from publish.upload.transporter import PASSWORD_ENV

# Prints what Transporter prints, by FAKE_MODE; echoes the password once, as a badly behaved tool might. (-S: the
# tool needs no site-packages, and skipping site halves its start.)
FAKE_TOOL = """#!{python} -S
import json
import os
import sys

mode = os.environ.get("FAKE_MODE", "ok")
call = {{"argv": sys.argv, "env": dict(os.environ), "mode": mode}}
with open({record!r}, "a") as out:
    print(json.dumps(call), file=out)
print("[2026-12-01 12:00:00 UTC] <main>  INFO: Transporter is searching for updated software components.")
print("[2026-12-01 12:00:01 UTC] <main> DBG-X: password given: " + os.environ.get({env!r}, "<none>"))
if mode == "ok":
    print("[2026-12-01 12:00:09 UTC] <main>  INFO: Package Summary: 1 package(s) were uploaded successfully")
    sys.exit(0)
lines = {{
    "password": ">  ERROR: Please sign in with an app-specific password. You can create one at appleid.apple.com. (-22910)",
    "redundant": ">  ERROR ITMS-4238: Redundant Binary Upload. There already exists a binary upload with build '7'.",
    "analysis": ">  ERROR: Unable to perform software analysis on Linux. Export an AppStoreInfo.plist from Xcode, and use the -assetDescription option.",
    "silent": None,
}}
if lines[mode]:
    print(lines[mode])
sys.exit(1 if mode != "silent" else 9)
"""


def fake_tool(directory: Path, name: str = "iTMSTransporter") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(FAKE_TOOL.format(python=sys.executable, record=str(directory / "calls.jsonl"), env=PASSWORD_ENV))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def calls(directory: Path) -> list[dict[str, Any]]:
    record = directory / "calls.jsonl"
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
