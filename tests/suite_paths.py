"""Where the suite finds the repository, its own files and ../shared, wherever a test sits below tests/."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
OPENAPI = SHARED / "reference" / "asc" / "app-store-connect-openapi.json"
FLOWS = TESTS / "flows"
