"""The copy-paste material is right: every yaml block of the README parses, every use of the action (README,
example workflows, self-test) passes only inputs action.yml declares, every `appstore-publish` command line shown
parses, every example flow validates, each matrix job has its own cache key, the act recipe names every secret
the examples read, and the release workflow's pinning of the prebuilt image does what it says."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from publish.cli import build_parser
from publish.spec import load_flow

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
WORKFLOWS = sorted((REPO / "examples" / "workflows").glob("*.yml")) + sorted((REPO / ".github" / "workflows").glob(
    "*.yml"))


@functools.cache
def action_inputs() -> frozenset[str]:
    """The inputs action.yml declares; read when a test first compares with them (PyYAML's pure-Python reading of
    action.yml was most of what collecting this module cost every xdist worker)."""
    return frozenset(yaml.safe_load((REPO / "action.yml").read_text())["inputs"])


def fenced(language: str, text: str = README) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def action_uses(node: Any) -> list[dict[str, Any]]:
    """Every step (mapping) that uses this action, wherever it sits in a document."""
    found = []
    if isinstance(node, dict):
        uses = str(node.get("uses", ""))
        if uses.startswith("appstore-publish/appstore-publish@") or uses.split("#")[0].strip() == "./":
            found.append(node)
        for value in node.values():
            found += action_uses(value)
    elif isinstance(node, list):
        for item in node:
            found += action_uses(item)
    return found


def test_workflow_files_exist_as_the_brief_lists_them() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"testflight-on-push.yml", "app-store-on-tag.yml", "matrix-apps.yml", "macos-build-linux-publish.yml",
            "release.yml", "self-test.yml"} <= names


@pytest.mark.parametrize("block", fenced("yaml"), ids=lambda b: b.splitlines()[0][:40])
def test_readme_yaml_blocks_parse_and_use_only_declared_inputs(block: str) -> None:
    document = yaml.safe_load(block)
    for step in action_uses(document):
        assert set(step.get("with") or {}) <= action_inputs(), step


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_use_only_declared_inputs_and_run_on_linux(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    for job in workflow["jobs"].values():
        for step in action_uses(job):
            assert set(step.get("with") or {}) <= action_inputs(), (path.name, step)
            assert "ubuntu" in str(job["runs-on"]), f"{path.name}: a Docker action needs a Linux runner"
    assert workflow.get("permissions") == {}, f"{path.name}: permissions are granted per job"


def test_matrix_jobs_have_a_cache_key_per_app() -> None:
    workflow = yaml.safe_load((REPO / "examples" / "workflows" / "matrix-apps.yml").read_text())
    (job,) = workflow["jobs"].values()
    cache = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache"))
    assert "matrix.app.name" in cache["with"]["key"] and "matrix.app.name" in cache["with"]["restore-keys"]
    readme_cache = next(b for b in fenced("yaml") if "actions/cache" in b)
    assert "matrix.app" in readme_cache


def cli_lines(text: str) -> list[str]:
    lines = []
    for block in fenced("bash", text):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if ("appstore-publish " in line or "ghcr.io/" in line) and not line.startswith(("pip", "python3 -m venv", "act ")):
                words = shlex.split(line)
                if "docker" in words[:1]:
                    image = next(i for i, w in enumerate(words) if w.startswith("ghcr.io/"))
                    lines.append(shlex.join(words[image + 1:]))
                else:
                    lines.append(shlex.join(words[words.index("appstore-publish") + 1:]))
    return lines


def recipe_commands() -> list[str]:
    gitlab = yaml.safe_load((REPO / "examples" / "gitlab" / ".gitlab-ci.yml").read_text())
    commands = [line for job in gitlab.values() if isinstance(job, dict) for line in job.get("script", [])]
    jenkins = (REPO / "examples" / "jenkins" / "Jenkinsfile").read_text()
    commands += [line.split("appstore-publish ", 1)[1].rstrip("'") for line in re.findall(r"sh '.*'", jenkins)]
    assert len(commands) >= 4
    return [c.split("appstore-publish ", 1)[-1] for c in commands]


@functools.cache
def whole_parser() -> argparse.ArgumentParser:
    """Every command's parser, built once for the ~17 lines: parsing leaves a parser as it was (each line gets a
    namespace of its own), and building all of them was most of what each line cost (~14 ms)."""
    return build_parser()


@pytest.mark.parametrize("command", cli_lines(README) + recipe_commands())
def test_every_command_line_shown_parses(command: str) -> None:
    args = whole_parser().parse_args(shlex.split(command))
    assert callable(args.handler)


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")) + [REPO / ".github/self-test/publish.yaml"],
                         ids=lambda p: p.name)
def test_example_flows_validate(path: Path) -> None:
    assert load_flow(path).profiles


def test_self_test_invalid_flow_is_invalid() -> None:
    from publish.spec import FlowError

    with pytest.raises(FlowError):
        load_flow(REPO / ".github" / "self-test" / "invalid.yaml")


def test_act_recipe_names_every_secret_the_examples_read() -> None:
    used = set()
    for path in WORKFLOWS:
        used |= set(re.findall(r"secrets\.([A-Z0-9_]+)", path.read_text())) - {"GITHUB_TOKEN"}
    assert used == {"ASC_KEY_ID", "ASC_ISSUER_ID", "ASC_PRIVATE_KEY"}
    for text in ((REPO / "examples" / "act" / "README.md").read_text(),
                 (REPO / "examples" / "act" / "secrets.env.example").read_text(),
                 next(b for b in fenced("bash") if b.startswith("act "))):
        for secret in used:
            assert f"{secret}=" in text


def test_pre_commit_hook_validates_flow_files(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "appstore-publish-validate" and hook["language"] == "python"
    assert re.search(hook["files"], "ci/publish.yaml") and not re.search(hook["files"], "docs/other.yaml")
    from publish.flow_files_hook import main as hook_main

    good = REPO / "examples" / "testflight.yaml"
    bad = REPO / ".github" / "self-test" / "invalid.yaml"
    assert hook["entry"] == "python -m publish.flow_files_hook"
    assert hook_main([str(good)]) == 0
    assert hook_main([str(good), str(bad)]) == 2


def load_pinner() -> Any:
    spec = importlib.util.spec_from_file_location("pin_action_image", REPO / ".ci" / "pin-action-image.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_release_pins_the_prebuilt_image_and_the_workflow_pushes_version_tags(tmp_path: Path) -> None:
    pinner = load_pinner()
    copy = tmp_path / "action.yml"
    copy.write_text((REPO / "action.yml").read_text())
    assert pinner.main(["pin", "ghcr.io/appstore-publish/appstore-publish:1.2.3", str(copy)]) == 0
    runs = yaml.safe_load(copy.read_text())["runs"]
    assert runs == {"using": "docker", "image": "docker://ghcr.io/appstore-publish/appstore-publish:1.2.3"}
    assert yaml.safe_load(copy.read_text())["inputs"] == yaml.safe_load((REPO / "action.yml").read_text())["inputs"]
    assert pinner.main(["pin", "ghcr.io/x/y:1.2.3", str(copy)]) == 2  # already pinned: refused, not doubled
    with pytest.raises(ValueError):
        pinner.pin((REPO / "action.yml").read_text(), "not an image")
    release = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert "ghcr.io" in release and ".ci/pin-action-image.py" in release
    assert '"$VERSION" "${VERSION%.*}" "${VERSION%%.*}" latest' in release
    assert yaml.safe_load(release)["jobs"]["image"]["permissions"] == {"contents": "write", "packages": "write"}


def test_readme_says_where_docker_actions_run_and_how_forks_work() -> None:
    assert "Linux runners only" in README and "macos-build-linux-publish.yml" in README
    macos = yaml.safe_load((REPO / "examples" / "workflows" / "macos-build-linux-publish.yml").read_text())
    assert "macos" in macos["jobs"]["build"]["runs-on"] and "ubuntu" in macos["jobs"]["publish"]["runs-on"]
    assert "fork" in README and "builds the image from the `Dockerfile`" in README
    for way in ("### 1. GitHub Action", "### 2. Docker image", "### 3. CLI", "### 4. act"):
        assert way in README
