"""The benchmarks under bench/ still find what they import. They are scripts no test runs (they print figures and
take seconds to minutes), so a helper moved or renamed in tests/ or publish/ broke one unseen: bench/yaml_compose.py
imported from the test module test_yaml_compose, which stopped importing outside pytest once the tests moved to
tests/unit/. Read statically, without running them: every `from M import names` must name a helper module of
tests/ (never a test module), bench/ or publish/ that defines those names, or an installed package."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from suite_paths import REPO

BENCHES = sorted((REPO / "bench").glob("*.py"))


def _module_file(name: str) -> Path | None:
    """The file of a module of this repository that a benchmark may import, or None for one outside it."""
    parts = name.split(".")
    roots = [REPO] if parts[0] == "publish" else [REPO / "tests", REPO / "bench"]
    for root in roots:
        base = root.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _defined_names(path: Path) -> set[str] | None:
    """The names a module defines at its top level; None when it answers any name (a module `__getattr__`)."""
    names: set[str] = set()
    statements = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while statements:
        node = statements.pop()
        if isinstance(node, (ast.If, ast.Try)):  # a name defined one way or another (a fast path, a fallback)
            statements += [*node.body, *node.orelse, *getattr(node, "finalbody", []),
                           *(s for handler in getattr(node, "handlers", []) for s in handler.body)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def import_problems(source: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        module = node.module
        if module.split(".")[-1].startswith("test_"):
            problems.append(f"imports from the test module {module}: move what it needs to a helper module of tests/")
            continue
        path = _module_file(module)
        if path is None:
            if module.split(".")[0] != "publish" and (module.split(".")[0] in sys.stdlib_module_names
                                                      or importlib.util.find_spec(module.split(".")[0])):
                continue
            problems.append(f"imports {module}, which is neither installed nor a module of tests/, bench/ or publish/")
            continue
        defined = _defined_names(path)
        if defined is None:
            continue
        problems += [f"imports {alias.name} from {module}, which does not define it" for alias in node.names
                     if alias.name != "*" and alias.name not in defined
                     and _module_file(f"{module}.{alias.name}") is None]  # a submodule of a package is importable
    return problems


@pytest.mark.parametrize("bench", BENCHES, ids=[path.name for path in BENCHES])
def test_every_benchmark_finds_what_it_imports(bench: Path) -> None:
    assert import_problems(bench.read_text(encoding="utf-8")) == []


def test_the_check_refuses_a_test_module_a_missing_helper_and_a_missing_name() -> None:
    assert import_problems("from test_yaml_compose import assert_read_alike\n") == [
        "imports from the test module test_yaml_compose: move what it needs to a helper module of tests/"]
    assert import_problems("from no_such_helper import x\n") == [
        "imports no_such_helper, which is neither installed nor a module of tests/, bench/ or publish/"]
    assert import_problems("from yaml_corpus import HOSTILE, NO_SUCH_NAME\n") == [
        "imports NO_SUCH_NAME from yaml_corpus, which does not define it"]
    assert import_problems("from publish.asc import session\nfrom publish.spec.yaml_source import parse_yaml\n"
                           "from requests import Session\nfrom collections.abc import Callable\n") == []
