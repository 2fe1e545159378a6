"""Shared fixtures. Tests that need ../shared skip with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-world fixtures and the OpenAPI description are not available here")
    return SHARED


@pytest.fixture(scope="session")
def openapi_path(shared_dir: Path) -> Path:
    path = shared_dir / "reference" / "asc" / "app-store-connect-openapi.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path
