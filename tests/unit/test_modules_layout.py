"""Modules along their seams (issue 14): no module of `publish/` outside the simulator over 400 lines, and the
packages split this session keep their imports one-way (a part never imports what gathers the parts)."""

from __future__ import annotations

import ast
import re
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


# Every identifier of a text that could name a test module, as written: `import test_x` and `from test_x import y`
# hold the top-level name as one such word, so a text without any of the names cannot import one (an identifier
# outside ASCII is normalized by the parser, NFKC: such a text is parsed whatever it holds).
_TEST_MODULE_WORD = re.compile(r"\btest_\w+")


def _test_module_imports(source: Path, names: set[str]) -> list[str]:
    """The test modules `source` imports by their top-level name, as _imports finds them; the parse (~3 ms a module,
    ~0.4 s for the suite's ~140) only of a text that holds one of the names as a word or is not ASCII."""
    text = source.read_text()
    if text.isascii() and not names.intersection(_TEST_MODULE_WORD.findall(text)):
        return []
    return sorted(name for name in _imports(source) if name.split(".")[0] in names)


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
    crossing = {path.relative_to(tests).as_posix(): _test_module_imports(path, names)
                for path in sorted(tests.rglob("test_*.py"))}
    assert {path: found for path, found in crossing.items() if found} == {}


@pytest.mark.parametrize("text", [
    "import test_a\n", "import os, test_a.b\n", "from test_a import x\n", "from test_a.b import x\n",
    "import os, \\\n    test_a\n", "if True: import test_a\n", "def f():\n    from test_a import (\n        x)\n",
    "x = 1; import test_a as t\n", "import \uff54est_a\n",  # a fullwidth t: the parser reads `test_a`
])
def test_the_word_screen_never_hides_an_import_of_a_test_module(tmp_path: Path, text: str) -> None:
    source = tmp_path / "test_b.py"
    source.write_text(text, encoding="utf-8")
    assert _test_module_imports(source, {"test_a", "test_b"}) == sorted(
        name for name in _imports(source) if name.split(".")[0] in {"test_a", "test_b"}) != []


def test_the_word_screen_skips_the_parse_only_where_no_name_is_a_word(tmp_path: Path) -> None:
    source = tmp_path / "test_b.py"
    source.write_text("import os\n\n\ndef test_a_thing():\n    assert 'test_ab'\n")
    assert _test_module_imports(source, {"test_a", "test_b"}) == []
    source.write_text("this is not python: test_a\n")  # named as a word: parsed, and a syntax error shows
    with pytest.raises(SyntaxError):
        _test_module_imports(source, {"test_a", "test_b"})
    source.write_text("this is not python either\n")
    assert _test_module_imports(source, {"test_a", "test_b"}) == []
