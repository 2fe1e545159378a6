"""No App Store Connect path is spelled outside the client (issue 14): steps, commands and the upload engine call
typed helpers of `publish.asc`, so a path, its query and its body shape live in one place. The simulator is the
other place allowed to spell paths (it implements them). Docstrings may name a path to explain a call."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("publish/asc/", "publish/sandbox/")

# A string constant holds "/v1/" only if its source has one of: the four characters inside one literal; a literal
# ending in "/", "/v" or "/v1" followed by another literal (implicit concatenation, f-strings alike: between two
# literals only blanks, comments and backslash-newlines may stand); an escape that spells "/", "v" or "1" (\x2f,
# \x76, \x31, their \u and \U forms, the octal \57, \166, \61 with or without a leading 0, any \N{...}); or a
# backslash-newline inside the path, which then has one of "/", "v", "1" right before the backslash or right after
# the newline (the characters either side of a gap that spells nothing are the path's). Other escapes (\x00, \n,
# \") and a backslash-newline between code spell none of them. A source with none of these is not parsed: about
# 37 files in 43 that the previous, wider screen passed (any \x, any backslash-newline: ~0.27 s of its ~0.33 s).
_NEWLINE = r"(?:\r\n?|\n)"
_MAY_SPELL_A_PATH = re.compile(
    r"/v1/"
    r"|/(?:v1?)?['\"](?:\s|\\" + _NEWLINE + r"|#[^\r\n]*)*[rRbBfFuU]{0,2}['\"]"
    r"|\\(?:[xX](?:2[fF]|76|31)|u(?:002[fF]|0076|0031)|U0000(?:002[fF]|0076|0031)|0?57|166|0?61|N\{)"
    r"|[/v1]\\" + _NEWLINE + r"|\\" + _NEWLINE + r"[/v1]")


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
    if not _MAY_SPELL_A_PATH.search(source):
        return []
    tree = ast.parse(source, filename)
    spelt = [(node, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/v1/" in node.value]
    docstrings = _docstrings(tree) if spelt else set()  # a second walk only where a path is spelt (~0.1 s)
    return [(node.lineno, text) for node, text in spelt if id(node) not in docstrings]


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


@pytest.mark.parametrize("literal", [
    r'"/v1/apps"', r'"/" "v1/apps"', r'"/v" "1/apps"', r"'/v1' '/apps'", '(f"/v"\n f"1/{x}")', r"'''/v1'''  '/apps'",
    r'"\x2fv1/apps"', r'"/\x76\x31/apps"', r'"\057v1/apps"', r'"\u002fv1/apps"', r'"\U0000002fv1/apps"',
    r'"\N{SOLIDUS}v1/apps"', '"/v1\\\n/apps"', r'"" "/v" "\61/apps"', '"/v1\\\r\n/apps"',
    r'"/\166\061/apps"', r'"\57\x76\u0031/apps"', r'"\x2F\N{latin small letter v}1/apps"', '"/v\\\n1/apps"',
    '"\\\n/v1/apps"', '"/" \\\n "v1/apps"', '("/v"  # the version\n "1/apps")', '"/v1\\\r/apps"',
    'r"" f"/v" Rf"1/apps"',
])
def test_the_text_filter_passes_every_way_of_spelling_a_path_to_the_parser(literal: str) -> None:
    source = f"x = 1\nclient.get({literal})\n"
    assert [text for _, text in raw_paths(source)] in (["/v1/apps"], ["/v1/"]), source


def test_a_source_that_cannot_spell_a_path_is_not_parsed() -> None:
    # not Python at all: parsing it would raise, so an empty answer shows the parser was never asked
    assert raw_paths('def broken(:\n    return "/v2/apps", "\\n", r"\\d", "a/b"\n') == []
    # nor one whose escapes spell other characters, whose backslash-newlines join code, whose "/" literals are not
    # followed by another literal
    assert raw_paths('def broken(:\n    return b"\\x00\\xff\\u00e9\\0\\n\\"", 1 + \\\n  2, f"{a}/" + "v1/"\n') == []
