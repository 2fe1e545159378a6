"""Modules along their seams (issue 14): no module of `publish/` outside the simulator over 400 lines, and the
packages split this session keep their imports one-way (a part never imports what gathers the parts)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PUBLISH = Path(__file__).resolve().parents[2] / "publish"
MAX_LINES = 400


def _imports(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_outside_the_simulator_is_over_400_lines() -> None:
    too_long = {}
    for source in sorted(PUBLISH.rglob("*.py")):
        relative = source.relative_to(PUBLISH).as_posix()
        if relative.startswith("sandbox/"):
            continue
        lines = len(source.read_text().splitlines())
        if lines > MAX_LINES:
            too_long[relative] = lines
    assert too_long == {}, f"split these along their seams: {too_long}"


@pytest.mark.parametrize(("package", "gatherers"), [
    ("state", {"publish.state", "publish.state.store"}),
    ("upload", {"publish.upload.engine"}),
])
def test_the_parts_of_a_split_package_never_import_what_gathers_them(package: str, gatherers: set[str]) -> None:
    for source in sorted((PUBLISH / package).glob("*.py")):
        module = f"publish.{package}.{source.stem}"
        if module in gatherers or source.stem == "__init__":
            continue
        assert not (_imports(source) & gatherers), f"{module} imports {sorted(_imports(source) & gatherers)}"


def test_the_state_package_face_offers_what_callers_import() -> None:
    import publish.state as state

    for name in ("ARTIFACTS_DIR", "DATABASE_NAME", "DEFAULT_STATE_DIR", "SCHEMA_VERSION", "STATE_DIR_ENV",
                 "StateError", "StateStore", "resolve_state_dir"):
        assert name in state.__all__ and hasattr(state, name), name


def test_no_test_module_imports_another_test_module() -> None:
    """tests/README.md's rule: what two test modules share goes into a helper module of tests/ named for what it is
    (importing a test module also collects its tests again under another name, and ties two files' fixtures)."""
    tests = PUBLISH.parent / "tests"
    names = {path.stem for path in tests.rglob("test_*.py")}
    crossing = {path.relative_to(tests).as_posix(): sorted(name for name in _imports(path) if name.split(".")[0] in names)
                for path in sorted(tests.rglob("test_*.py"))}
    assert {path: found for path, found in crossing.items() if found} == {}
