"""`appstore-publish demo`: a complete publish flow against the built-in App Store Connect simulator — upload,
processing, TestFlight (internal and external group, beta review); then, as after testing, the build is marked
as release candidate and promoted to the App Store (version, review submission) with `run --build`, without the
IPA and without a second upload. No account, no network; each run goes through the same code as
`appstore-publish run`."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publish.commands._arguments import local_path
from publish.errors import InputError

if TYPE_CHECKING:
    from publish.sandbox.demo import DemoWorkspace

# The simulator and `run` are imported when the demo runs, not with this module: `demo --help` and `completion`
# (which registers every command) would otherwise pay for the simulator, jsonschema and cryptography (~0.5 s).

# The simulator moves a build on by looks, not by seconds: a shorter pause between looks shows the same waits,
# each on its own line, and the whole demo ends ~0.25 s sooner (six waits of 0.05 s were pure idle time).
DEMO_POLL_INTERVAL = 0.01


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="try a complete publish flow offline, against the built-in App Store Connect simulator",
        description="Start the App Store Connect simulator in-process, make a throwaway API key and a sample "
        "signed IPA, and run a complete publish flow against it (upload, processing, TestFlight, App Store "
        "submission). Nothing leaves this machine.",
    )
    parser.add_argument("--keep", metavar="DIR", type=local_path, help="keep the demo's files (flow, IPA, key, state) in DIR")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: Any) -> int:
    from publish.sandbox.server import SandboxServer

    if args.keep:
        directory = Path(args.keep)
        if directory.exists() and any(directory.iterdir()):
            raise InputError(f"--keep {directory}: the directory is not empty",
                             hint="give a new or empty directory, so the demo overwrites nothing")
        return _demo(ctx, directory, SandboxServer, keep=True)
    with tempfile.TemporaryDirectory(prefix="appstore-publish-demo-") as tmp:
        return _demo(ctx, Path(tmp), SandboxServer, keep=False)


def _upload_then_promote(ctx: Any, workspace: DemoWorkspace, base_url: str) -> int:
    """Upload to TestFlight; mark the tested build; promote that same build to the App Store (no IPA)."""
    from publish.cli import main  # noqa: PLC0415 - the CLI imports this module
    from publish.commands.run import run_command  # noqa: PLC0415 - see the top
    from publish.sandbox.demo import DEMO_BUILD_NUMBER, DEMO_VERSION  # noqa: PLC0415

    build = f"{DEMO_VERSION} ({DEMO_BUILD_NUMBER})"
    ctx.print(f"\n$ appstore-publish run {workspace.flow_path.name} --ipa {workspace.ipa_path.name}\n")
    code = run_command(ctx, flow_path=workspace.flow_path, ipa_path=workspace.ipa_path, api_base_url=base_url,
                       state_dir=workspace.state_dir, poll_interval=DEMO_POLL_INTERVAL, concurrency=4)
    if code != 0:
        return code
    ctx.print(f"\n(the testers try build {build} on TestFlight; it is good)\n")
    ctx.print(f"$ appstore-publish mark-rc '{build}'")
    code = main(["mark-rc", build, "--note", "tested on TestFlight", "--state-dir", str(workspace.state_dir)],
                ctx=ctx)
    if code != 0:
        return code
    ctx.print(f"\n$ appstore-publish run {workspace.app_store_flow_path.name} --build '{build}'\n")
    return run_command(ctx, flow_path=workspace.app_store_flow_path, build=build, api_base_url=base_url,
                       state_dir=workspace.state_dir, poll_interval=DEMO_POLL_INTERVAL)


def _demo(ctx: Any, directory: Path, server_class: Any, *, keep: bool) -> int:
    from publish.sandbox.demo import DEMO_PART_SIZE, DEMO_RELEASED_VERSION, DEMO_VERSION, prepare_demo  # noqa: PLC0415
    server = server_class(part_size=DEMO_PART_SIZE, processing_polls=2)
    server.start()
    try:
        workspace = prepare_demo(directory, server)
        ctx.print(f"App Store Connect simulator running at {server.url}")
        ctx.print(f"  app {workspace.app_id} with beta groups 'QA Team' (internal) and 'Public Beta' (external), "
                  f"version {DEMO_RELEASED_VERSION} on the store (en-US, de-DE)")
        ctx.print("  it answers as App Store Connect really does: not-yet answers and delays are waited out, and "
                  "each wait is shown")
        ctx.print(f"  sample IPA {workspace.ipa_path.name}, throwaway API key, flows {workspace.flow_path.name} "
                  f"(TestFlight) and {workspace.app_store_flow_path.name} (App Store)")
        code = _upload_then_promote(ctx, workspace, server.url)
    finally:
        server.stop()
    if keep:
        ctx.print(f"\nThe demo's files are in {directory}: the flow file shows every step's settings.")
        ctx.print(f"  appstore-publish history --state-dir {workspace.state_dir}")
        ctx.print(f"  appstore-publish show {DEMO_VERSION} --state-dir {workspace.state_dir}")
    else:
        ctx.print("\nNext: write your own flow (appstore-publish schema prints its JSON Schema), check it with "
                  "`appstore-publish validate`, and run it with `appstore-publish run FLOW --ipa YOUR.ipa` (or on a build "
                  "App Store Connect has, with `--build 'VERSION (NUMBER)'`). "
                  "`appstore-publish demo --keep DIR` keeps the demo's files to start from.")
    return code
