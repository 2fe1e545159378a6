"""Secret canaries through every command that reads a flow's secrets, on success and on failure, quiet and with
`-v` debug logging: the private key (in every form it could be printed: PEM, body lines, base64) and the app-specific
password never appear in stdout, stderr, the result JSON or any file left in the state directory. Prints its figure
(`canaries: N command runs, 0 hits`)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path


from flow_harness import BUNDLE_ID, INTERNAL, ISSUER_ID, KEY_ID, FlowWorld
from publish.cli import CliContext, main

PASSWORD = "canary-pass-word-7f3e"
RUNS: list[str] = []
HITS: list[str] = []


def _flow(world: FlowWorld, groups: str) -> Path:
    path = world.directory / f"canary-{abs(hash(groups))}.yml"
    path.write_text(
        "version: 1\n"
        "api_keys:\n"
        f"  main:\n    key_id: {KEY_ID}\n    issuer_id: {ISSUER_ID}\n    private_key: {{file: AuthKey.p8}}\n"
        "apple_ids:\n"
        "  login:\n    apple_id: ci@example.com\n    app_specific_password: {env: CANARY_PASSWORD}\n"
        "profiles:\n"
        f"  - bundle_id: {BUNDLE_ID}\n"
        "    keep_binaries: true\n"
        "    flow:\n"
        "      - step: send_to_testflight\n"
        "        api_key: main\n"
        "        what_to_test: Canary build\n"
        f"        groups: {groups}\n")
    return path


def _forms(world: FlowWorld) -> list[str]:
    body = [line for line in world.private_pem.splitlines() if line and not line.startswith("-----")]
    return [*body, "".join(body), base64.b64encode(world.private_pem.encode()).decode()[:40], PASSWORD]


def _files(root: Path) -> Iterator[Path]:
    yield from (path for path in root.rglob("*") if path.is_file())


def _commands(world: FlowWorld, ipa: Path) -> list[list[str]]:
    good, bad = str(_flow(world, f'["{INTERNAL}"]')), str(_flow(world, '["No Such Group"]'))
    base = ["--api-base-url", world.server.url, "--state-dir", str(world.state_dir)]
    state = ["--state-dir", str(world.state_dir)]
    result = ["--result-json", str(world.directory / "canary-result.json")]
    return [
        ["validate", good, "--check-secrets"],
        ["-v", "plan", good, "--ipa", str(ipa), "--check-secrets", *state],
        ["run", bad, "--ipa", str(ipa), *base, *result],                   # fails before the upload
        ["-v", "run", good, "--ipa", str(ipa), "--dry-run", *base],
        ["-v", "run", good, "--ipa", str(ipa), "--poll-interval", "0.01", *base, *result],
        ["run", good, "--ipa", str(ipa), "--json", *base],                 # every step skipped: done already
        ["-v", "versions", "--remote", "--flow", good, *base],
        ["profiles", good, *state],
        ["show", "1.0.0", "--json", *state],
        ["history", *state],
    ]


def test_no_secret_reaches_any_output_or_file(world: FlowWorld) -> None:
    ipa = world.ipa("1")
    forms = _forms(world)
    for argv in _commands(world, ipa):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(argv, ctx=CliContext(stdout=stdout, stderr=stderr, env={"CANARY_PASSWORD": PASSWORD}))
        RUNS.append(" ".join(argv[:2]))
        printed = stdout.getvalue() + stderr.getvalue()
        assert "Traceback" not in printed, printed
        if argv[0] == "run" and "No Such Group" in Path(argv[1]).read_text():
            assert code == 2, printed
        HITS.extend(f"{' '.join(argv[:3])}: printed" for form in forms if form in printed)
    assert world.records("builds"), "the successful run must have published, or nothing was tested"
    for path in _files(world.directory):
        if path.name == "AuthKey.p8" or path.suffix == ".yml":
            continue  # the user's own key file and flow files
        data = path.read_bytes()
        HITS.extend(f"{path.relative_to(world.directory)}: written" for form in forms if form.encode() in data)
    print(f"\ncanaries: {len(RUNS)} command runs and {sum(1 for _ in _files(world.directory))} files searched, "
          f"{len(HITS)} hits")
    assert not HITS, HITS
