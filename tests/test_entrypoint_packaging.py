"""action.yml, the Dockerfile and requirements.lock agree with the code: every input is read, every output is
written, the image runs as root (GitHub's rule; the entrypoint then becomes the workspace's owner), labelled, from
hash-pinned requirements that cover every runtime dependency."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from publish.summary import outputs

REPO = Path(__file__).resolve().parent.parent


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_action_inputs_are_all_read_by_the_entrypoint() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert {"icon", "color"} <= set(action["branding"])
    source = (REPO / "entrypoint.py").read_text()
    for name, spec in action["inputs"].items():
        assert name == name.lower() and "_" not in name, f"input {name} is not kebab-case"
        assert f'"{name}"' in source, f"entrypoint.py never reads input {name}"
        assert spec.get("description")
    required = {"flow", "ipa", "api-key-id", "api-issuer-id", "api-private-key", "api-private-key-base64",
                "apple-id", "app-specific-password", "profile", "dry-run", "api-base-url", "state-dir",
                "working-directory"}
    assert required <= set(action["inputs"])


def test_action_outputs_match_what_the_summary_produces() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert set(action["outputs"]) == set(outputs({}))


def test_dockerfile_is_slim_root_by_default_labelled_and_hash_pinned() -> None:
    """GitHub runs a Docker action as the image's default user and requires root; entrypoint.py then becomes the
    workspace's owner (tests/test_entrypoint_github.py), so the image must not set another USER."""
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "--require-hashes" in text and "requirements.lock" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert not users or users[-1] in ("root", "0")
    for label in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{label}=" in text
    assert 'ENTRYPOINT ["python", "/app/entrypoint.py"]' in text


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = (REPO / "requirements.lock").read_text()
    pins = {normalise(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, re.M)}
    for requirement in project["dependencies"]:
        name = normalise(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])
        assert name in pins, f"{name} is a dependency but not pinned in requirements.lock"
    blocks = re.split(r"\n(?=[A-Za-z])", lock.split("\n\n", 1)[1].strip())
    assert all("--hash=sha256:" in block for block in blocks)
