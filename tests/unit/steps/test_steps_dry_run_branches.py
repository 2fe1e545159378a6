"""Where a step may branch on `dry_run` (issue 14). The client's dry-run transport answers and records every write to
App Store Connect, so a step runs the same code in both modes; what is left for the steps to decide are the effects
that do not go through the API. This test holds that list: a new `ctx.dry_run` in a step fails it until it is
added below with its reason (and a write to App Store Connect never is one: it belongs to the transport)."""

from __future__ import annotations

import ast

from suite_paths import REPO as ROOT
STEP_CODE = sorted((ROOT / "publish" / "steps").glob("*.py")) + [ROOT / "publish" / "credentials_upload_only.py"]

# (module, function) -> why that function reads dry_run
ALLOWED = {
    ("publish/steps/base.py", "StepContext.remember"): "the state store, which a dry run never writes",
    ("publish/steps/mark_as_rc.py", "MarkAsRc.run"): "its one write is to the state store",
    ("publish/steps/testflight.py", "_upload"): "the IPA's bytes go to presigned URLs outside the API, and the "
                                                "upload journal is a file in the state directory",
    ("publish/credentials_upload_only.py", "upload_with_apple_id_only"): "Transporter/altool, outside the API",
    ("publish/steps/beta_review.py", "clear_other_review"): "waiting out another build's beta review: nothing will "
                                                            "be submitted, so a dry run does not wait; and its "
                                                            "warning says 'would expire'",
}


def dry_run_reads(source: str) -> set[str]:
    """The qualified function (or `<module>`) of every `<expr>.dry_run` read in `source`."""
    found: set[str] = set()

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, scope + [child.name])
                continue
            if isinstance(child, ast.Attribute) and child.attr == "dry_run" and isinstance(child.ctx, ast.Load):
                found.add(".".join(scope) or "<module>")
            visit(child, scope)

    visit(ast.parse(source), [])
    return found


def test_steps_branch_on_dry_run_only_for_effects_outside_app_store_connect() -> None:
    found = {(path.relative_to(ROOT).as_posix(), scope)
             for path in STEP_CODE for scope in dry_run_reads(path.read_text(encoding="utf-8"))}
    unexpected = sorted(found - set(ALLOWED))
    assert not unexpected, (
        f"{unexpected}: a step reads dry_run here; a write to App Store Connect needs no branch (the dry-run transport "
        "records and answers it). If this is an effect outside the API, add it to ALLOWED with its reason.")
    assert sorted(set(ALLOWED) - found) == [], "no longer reads dry_run: take it out of ALLOWED"


def test_the_scan_names_reads_in_methods_nested_functions_and_the_module() -> None:
    source = ("FLAG = options.dry_run\n"
              "class A:\n    def f(self, ctx):\n        def g():\n            return ctx.dry_run\n        return g\n"
              "def h(ctx):\n    ctx.dry_run = True\n    return step_log(dry_run=False)\n")
    assert dry_run_reads(source) == {"<module>", "A.f.g"}  # an assignment and a keyword argument are not reads
