"""The tests' cache of sample builds: one build for each distinct set of arguments, and a copy for each use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from built_samples import BuiltSamples
from publish.sandbox.sample_ipa import build_ipa


def test_each_distinct_sample_is_built_once_and_each_use_gets_its_own_copy(tmp_path: Path) -> None:
    builds: list[dict[str, Any]] = []

    def counted(path: Path, **arguments: Any) -> Path:
        builds.append(arguments)
        return Path(build_ipa(path, **arguments))

    samples = BuiltSamples(tmp_path / "built", counted, ".ipa")
    (tmp_path / "built").mkdir()
    first = samples.copy(tmp_path / "first.ipa", build_number="7", bundle_id="com.example.copies")
    fresh = build_ipa(tmp_path / "fresh.ipa", bundle_id="com.example.copies", build_number="7")
    assert first.read_bytes() == fresh.read_bytes()
    first.write_bytes(b"changed by a test")
    again = samples.copy(tmp_path / "again.ipa", bundle_id="com.example.copies", build_number="7")
    assert again.read_bytes() == fresh.read_bytes() and len(builds) == 1
    other = samples.copy(tmp_path / "other.ipa", bundle_id="com.example.copies", build_number="8")
    assert other.read_bytes() != fresh.read_bytes() and len(builds) == 2
