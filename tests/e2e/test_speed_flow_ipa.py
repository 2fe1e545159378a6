"""FlowWorld.ipa makes a sample IPA once a process for each set of arguments, and gives each caller its own file
holding exactly what build_ipa writes for those arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flow_harness
from flow_harness import BUNDLE_ID, FlowWorld
from publish.sandbox.sample_ipa import build_ipa


def test_the_same_arguments_are_built_once_into_separate_files(world: FlowWorld, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    flow_harness._sample_ipa.cache_clear()
    built: list[Path] = []

    def counting(path: Any, **options: Any) -> Any:
        built.append(Path(path))
        return build_ipa(path, **options)

    monkeypatch.setattr(flow_harness, "build_ipa", counting)
    first = world.ipa("31")
    second = world.ipa("31", name="Again.ipa")
    other = world.ipa("32")
    assert len(built) == 2 and first != second
    fresh = build_ipa(tmp_path / "fresh.ipa", bundle_id=BUNDLE_ID, version="1.0.0", build_number="31",
                      display_name="Flow App", uses_non_exempt_encryption=False)
    assert first.read_bytes() == second.read_bytes() == Path(fresh).read_bytes() != other.read_bytes()
    second.write_bytes(b"changed by a test")
    assert world.ipa("31", name="Third.ipa").read_bytes() == first.read_bytes()
