"""A publish flow against the simulator over real loopback HTTP, driven through publish.cli.main: shared by the
flow tests and bench/api_calls.py."""

from __future__ import annotations

import functools
import io
import json
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli_parsers import PARSERS
from publish.cli import CliContext, main
from publish.sandbox.demo import make_api_key
from publish.sandbox.sample_ipa import build_ipa

BUNDLE_ID = "com.example.flow"
KEY_ID = "FLOWKEY123"
ISSUER_ID = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"
INTERNAL = "QA Team"
EXTERNAL = "Public Beta"
ALL_ACCESS = "Everyone Internal"
# The App Store step the flow suites share: a manual release with a phased rollout (suites add submit_for_review).
APP_STORE_PHASED = """
- step: send_to_app_store
  api_key: main
  stage_type: app_store
  whats_new: Faster start.
  release_type: manual
  phased_release: true
"""
# The harness's poll interval: the simulator advances a build or a review by looks, not by seconds
# (processing_polls), so the waits need only be short; each flow test would otherwise sleep ~70 ms.
POLL_INTERVAL = 0.001


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def flow_document(steps_yaml: str, *, key_id: str = KEY_ID, issuer_id: str = ISSUER_ID, bundle_id: str = BUNDLE_ID,
                  profile_name: str = "Flow App", keep_binaries: bool = True) -> str:
    """A one-profile publish flow whose key `main` is the AuthKey.p8 beside it, with these steps."""
    return (
        "version: 1\n"
        "api_keys:\n"
        f"  main:\n    key_id: {key_id}\n    issuer_id: {issuer_id}\n    private_key: {{file: AuthKey.p8}}\n"
        "profiles:\n"
        f"  - bundle_id: {bundle_id}\n"
        f"    name: {profile_name}\n"
        f"    keep_binaries: {'true' if keep_binaries else 'false'}\n"
        "    flow:\n" + textwrap.indent(textwrap.dedent(steps_yaml).strip(), " " * 6) + "\n"
    )

class FlowWorld:
    """A simulator with one app and three beta groups, an API key, and a working directory for flows and IPAs."""

    def __init__(self, directory: Path, *, part_size: int = 64 * 1024, beta_test_information: bool = True) -> None:
        from publish.sandbox.server import SandboxServer
        from publish.sandbox.testflight import add_beta_test_information

        self.directory = directory
        self.server = SandboxServer(processing_polls=2, part_size=part_size)
        self.server.start()
        self.app_id = self.server.add_app(BUNDLE_ID, "Flow App", sku="FLOW")
        if beta_test_information:  # as an app that has been through beta review once (protocol.md H.4)
            add_beta_test_information(self.server.sim, self.app_id)
        self.groups = {
            INTERNAL: self.server.add_beta_group(self.app_id, INTERNAL, internal=True),
            EXTERNAL: self.server.add_beta_group(self.app_id, EXTERNAL, internal=False),
        }
        self.private_pem, public_pem = make_api_key()
        self.server.register_key(KEY_ID, ISSUER_ID, public_pem)
        (directory / "AuthKey.p8").write_text(self.private_pem)
        self.state_dir = directory / "state"

    def close(self) -> None:
        self.server.stop()

    def ipa(self, build_number: str = "1", *, version: str = "1.0.0", name: str | None = None,
            **options: Any) -> Path:
        options.setdefault("uses_non_exempt_encryption", False)
        path = self.directory / (name or f"App-{version}-{build_number}.ipa")
        try:
            made = _sample_ipa(version, build_number, tuple(sorted(options.items())))
        except TypeError:  # an option that cannot be a cache key (a list): made for this call alone
            return Path(build_ipa(path, bundle_id=BUNDLE_ID, version=version, build_number=build_number,
                                  display_name="Flow App", **options))
        path.write_bytes(made)
        return path

    def flow(self, steps_yaml: str, *, name: str = "flow.yml", keep_binaries: bool = True) -> Path:
        path = self.directory / name
        path.write_text(flow_document(steps_yaml, keep_binaries=keep_binaries))
        return path

    def run(self, flow: Path, ipa: Path, *extra: str, env: dict[str, str] | None = None) -> Outcome:
        result_path = self.directory / "result.json"
        result_path.unlink(missing_ok=True)
        argv = ["run", str(flow), "--ipa", str(ipa), "--api-base-url", self.server.url, "--state-dir",
                str(self.state_dir), "--poll-interval", str(POLL_INTERVAL), "--result-json", str(result_path), *extra]
        return self.cli(argv, env=env, result_path=result_path)

    def run_counted(self, flow: Path, ipa: Path, *, restart: bool = False) -> Outcome:
        """The same run through `run_command` (what `run` calls), recording every App Store Connect call."""
        from publish.commands.run import run_command

        stdout, stderr = io.StringIO(), io.StringIO()
        calls: list[tuple[str, str, Any]] = []
        ctx = CliContext(stdout=stdout, stderr=stderr, env={})
        try:
            code = run_command(ctx, flow_path=flow, ipa_path=ipa, api_base_url=self.server.url,
                               state_dir=self.state_dir, restart=restart, poll_interval=POLL_INTERVAL,
                               on_call=lambda method, url, body: calls.append((method, url, body)))
        except Exception as error:  # noqa: BLE001 - an early failure is an outcome to count too
            code = getattr(error, "exit_code", 1)
            stderr.write(f"error: {error}\n")
        return Outcome(code, stdout.getvalue(), stderr.getvalue(), None, calls)

    def cli(self, argv: Sequence[str], *, env: dict[str, str] | None = None, result_path: Path | None = None,
            stdin: str | None = None) -> Outcome:
        stdout, stderr = io.StringIO(), io.StringIO()
        ctx = CliContext(stdout=stdout, stderr=stderr, env=dict(env or {}),
                         stdin=None if stdin is None else io.StringIO(stdin))
        code = main(list(argv), ctx=ctx, build=PARSERS)
        result = json.loads(result_path.read_text()) if result_path and result_path.exists() else None
        return Outcome(code, stdout.getvalue(), stderr.getvalue(), result)

    # -- what the simulator holds ------------------------------------------------------------------------------

    def records(self, type_: str) -> list[Any]:
        return list(self.server.store.all(type_))


@functools.lru_cache(maxsize=16)
def _sample_ipa(version: str, build_number: str, options: tuple[tuple[str, Any], ...]) -> bytes:
    """A sample IPA's bytes, made once a process for each set of arguments: the same arguments give the same bytes
    wherever the file is written (sample_ipa is deterministic), and signing and compressing one costs ~10 ms of CPU
    that a hundred flow tests would otherwise pay again for `ipa("1")`. Each caller gets its own file."""
    with tempfile.TemporaryDirectory(prefix="flow-ipa-") as scratch:
        made = build_ipa(Path(scratch) / "App.ipa", bundle_id=BUNDLE_ID, version=version, build_number=build_number,
                         display_name="Flow App", **dict(options))
        return Path(made).read_bytes()
