"""No App Store Connect path is spelled outside the client (issue 14): steps, commands and the upload engine call
typed helpers of `publish.asc`, so a path, its query and its body shape live in one place. The simulator is the
other place allowed to spell paths (it implements them). Docstrings may name a path to explain a call."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("publish/asc/", "publish/sandbox/")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings (of the module, a class or a function)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def raw_paths(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, text) of every string constant holding "/v1/" that is not a docstring; f-string parts included."""
    tree = ast.parse(source, filename)
    docstrings = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/v1/" in node.value
            and id(node) not in docstrings]


def _modules() -> list[Path]:
    files = [p for p in sorted((ROOT / "publish").rglob("*.py"))
             if not p.relative_to(ROOT).as_posix().startswith(ALLOWED)]
    return files + [ROOT / "entrypoint.py"]


def test_no_module_outside_the_client_and_the_simulator_spells_an_api_path() -> None:
    modules = _modules()
    assert len(modules) > 30 and ROOT / "publish/steps/testflight.py" in modules
    offenders = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in modules
                 for line, text in raw_paths(path.read_text(encoding="utf-8"), str(path))]
    assert offenders == [], "call a typed helper of publish.asc instead:\n" + "\n".join(offenders)


def test_the_finder_sees_plain_strings_and_f_strings_but_not_docstrings() -> None:
    source = '''"""Module: GET /v1/apps is fine here."""
def read(client, build_id):
    """GET /v1/builds/{id} explained."""
    client.paginate("/v1/preReleaseVersions")
    return client.get_document(f"/v1/builds/{build_id}")
class Help:
    """POST /v1/betaTesters explained."""
    text = "(PATCH /v1/builds/{id})"
'''
    assert sorted(line for line, _ in raw_paths(source)) == [4, 5, 8]
