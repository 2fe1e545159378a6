"""The simulator's blob store makes its temporary directory at the first reservation only (most simulators never
receive a file), removes it when the simulator stops, and makes none once stopped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from publish.sandbox import blobs
from publish.sandbox.blobs import BlobStore
from publish.sandbox.server import SandboxServer


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The directories the blob store makes."""
    made: list[Path] = []
    real = blobs.tempfile.mkdtemp

    def recording(*args: Any, **kwargs: Any) -> str:
        made.append(Path(real(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(blobs.tempfile, "mkdtemp", recording)
    return made


def test_a_simulator_that_receives_no_file_makes_no_directory(made: list[Path]) -> None:
    with SandboxServer() as server:
        assert server.blobs.files_on_disk() == []
    assert made == []


def test_the_directory_comes_with_the_first_reservation_and_goes_at_the_stop(made: list[Path]) -> None:
    store = BlobStore(time.time, 1024)
    first, _ = store.reserve("file-1", 3000)
    second, _ = store.reserve("file-2", 10)
    assert len(made) == 1 and first.path.parent == second.path.parent == made[0]
    assert store.files_on_disk() == sorted([first.path, second.path])
    store.close()
    assert not made[0].exists()
    with pytest.raises(FileNotFoundError, match="stopped"):
        store.reserve("file-3", 10)
    assert len(made) == 1 and store.files_on_disk() == []
