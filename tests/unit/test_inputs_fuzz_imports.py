"""No test module imports Hypothesis at its top level: the suite collects once, in the parent, before the workers
fork (tests/fork_pool.py), and an import there (~0.2 s CPU) is serial time in every run. The fuzz tests import it
when they run (tests/inputs_fuzz.py)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _top_level_imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_hypothesis_while_collected() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        if "hypothesis" in text and "hypothesis" in _top_level_imports(ast.parse(text)):
            offenders.append(str(path.relative_to(TESTS)))
        if "inputs_fuzz" in text and "inputs_fuzz" in _top_level_imports(ast.parse(text)):
            offenders.append(f"{path.relative_to(TESTS)} (inputs_fuzz)")
    assert offenders == []
