"""The image's entrypoint: with arguments it is the `appstore-publish` CLI (`docker run IMAGE validate flow.yml`);
without, it is the GitHub Action: inputs (INPUT_*) onto `appstore-publish run`, then the step's outputs
($GITHUB_OUTPUT), annotations and a Markdown job summary ($GITHUB_STEP_SUMMARY).

Every exit path of the action leaves `status` and `error` outputs and a summary, and none prints a traceback: a
bad input, an invalid flow file (each problem also an `::error file=…,line=…,col=…::` annotation), a failing step,
an unusable GITHUB_OUTPUT (found before anything is published). Inside the container it first gives root up for
the owner of the workspace (publish.workspace_owner). Works outside GitHub too (GitLab CI, Jenkins, `docker run
-e INPUT_IPA=...`): without GITHUB_OUTPUT / GITHUB_STEP_SUMMARY those files are simply not written.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from publish.cli import CliContext, main as cli_main
from publish.commands import COMMANDS
from publish.errors import InputError, PublishError
from publish.action_inputs import (  # noqa: F401 - read_flag, one_step_flow ... are this module's API too
    ACTION_INPUTS,
    CREDENTIAL_INPUTS,
    SECRET_INPUTS,
    check_one_private_key,
    debug_requested,
    one_step_flow,
    read_aliased,
    read_build,
    read_concurrency,
    read_flag,
    read_input,
    read_poll_interval,
    read_state_dir,
    unknown_inputs,
)
from publish.workflow_commands import (
    StepFiles,
    StepGroups,
    annotation,
    open_step_files,
    output_block,
    workspace_relative,
)
from publish.workspace_owner import OwnerError, become_owner_of

# CLI flags named in messages, and the action input that does the same; inside the action hints name inputs.
FLAG_TO_INPUT = {
    "--restart": "`restart: true`", "--dry-run": "`dry-run: true`", "--state-dir": "`state-dir`",
    "--ipa": "`ipa`", "--build": "`build`", "--profile": "`profile`", "--api-base-url": "`api-base-url`",
    "--poll-interval": "`poll-interval`", "--concurrency": "`concurrency`", "--verbose": "`verbose: true`",
}
_FLAG_PATTERN = re.compile(r"(?<![\w-])(" + "|".join(re.escape(f) for f in FLAG_TO_INPUT) + r")(?![\w-])")


def write_outputs(path: str, values: Mapping[str, str]) -> None:
    """Append name=value pairs in the heredoc form, which is safe for any value (even multi-line)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(output_block(values))


def name_inputs(text: str, names: Mapping[str, str] | None = None) -> str:
    """A message as the action shows it: CLI flags become the action inputs that do the same, and files the
    action made itself (`names`: path -> what it is) are called what they are to the user."""
    for path, name in (names or {}).items():
        text = text.replace(path, name)
    return _FLAG_PATTERN.sub(lambda m: f"the input {FLAG_TO_INPUT[m.group(1)]}", text)


class ActionStream:
    """The log as the action shows it (see name_inputs)."""

    def __init__(self, stream: TextIO, names: Mapping[str, str] | None = None) -> None:
        self._stream = stream
        self._names = names if names is not None else {}

    def write(self, text: str) -> int:
        # A mask must reach the runner exactly as the secret is, whatever it looks like.
        self._stream.write(text if text.startswith("::add-mask::") else name_inputs(text, self._names))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False  # the runner's log is not a terminal: no progress redraws

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def failure_result(message: str, hint: str | None) -> dict[str, Any]:
    """The run result of a run that stopped before any step (same shape as schemas/run-result.schema.json)."""
    return {"format_version": 1, "status": "failed", "dry_run": False, "app_name": None, "bundle_id": None,
            "version": None, "build_number": None, "platform": None, "fingerprint": None, "profile": None,
            "flow_hash": None, "state_dir": None, "steps": [], "ids": {}, "warnings": [], "links": {},
            "error": {"step": None, "index": None, "message": message, "hint": hint}, "api_calls": 0,
            "duration_s": 0.0}


class ActionRun:
    """One run of the action: inputs -> argv, the run, then annotations, outputs and summary."""

    def __init__(self, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> None:
        self.environ = environ
        self.env: dict[str, str] = dict(environ)
        self.names: dict[str, str] = {}  # shared by both streams, filled as the action makes files
        self.log = ActionStream(stderr, self.names)
        self.ctx = CliContext(stdout=ActionStream(stdout, self.names), stderr=self.log, env=self.env)
        self.debug = False
        self.annotated = False  # the error was already annotated precisely (flow-file diagnostics)
        self.workdir = Path.cwd()
        self.cleanup: list[Callable[[], None]] = []

    def command(self, line: str) -> None:
        """A workflow command, on the same stream as the log lines so that it lands in order."""
        self.log.flush()
        self.log.write(self.ctx.redactor.redact(line) + "\n")
        self.log.flush()

    def mask_secrets(self) -> None:
        for name in SECRET_INPUTS:
            self.ctx.register_secret(read_input(self.environ, name) or None)
        encoded = read_input(self.environ, "api-private-key-base64")
        if encoded:
            try:
                decoded = base64.b64decode("".join(encoded.split()), validate=True).decode("utf-8", "replace")
                self.ctx.register_secret(decoded)
            except ValueError:
                pass  # reported precisely when the key is resolved

    def argv(self, result_path: Path) -> list[str]:
        environ = self.environ
        self.debug = debug_requested(environ)
        workdir = read_input(environ, "working-directory")
        if workdir:
            target = Path(environ.get("GITHUB_WORKSPACE", ".")) / workdir
            if not target.is_dir():
                raise InputError(f"input working-directory {workdir}: {target} is not a directory",
                                 hint="give a directory of the checkout, relative to the workspace")
            os.chdir(target)
            self.workdir = target
        for warning in unknown_inputs(environ, ACTION_INPUTS):
            self.command(annotation("warning", warning, title="unknown input"))
        check_one_private_key(environ)
        for name, variable in CREDENTIAL_INPUTS.items():
            value = read_aliased(environ, name)
            if value:
                self.env[variable] = value
        # The credentials now live under their own names only; do not hand the inputs on twice.
        for key in [k for k in self.env if k.startswith("INPUT_")]:
            del self.env[key]
        dry_run = read_flag(environ, "dry-run")
        restart = read_flag(environ, "restart")
        concurrency, poll_interval = read_concurrency(environ), read_poll_interval(environ)
        ipa, build = self.binary()
        base_url = read_input(environ, "api-base-url")
        sandbox_data = read_input(environ, "sandbox-data")
        if sandbox_data and base_url:
            raise InputError("inputs sandbox-data and api-base-url are both set",
                             hint="sandbox-data runs the simulator inside the action and points the run at it; "
                             "remove one of the two")
        flow = read_input(environ, "flow")
        if flow:
            self.check_flow(flow)
        if sandbox_data:
            base_url = self.start_simulator(sandbox_data)
        if not flow:
            bundle_id = self.bundle_id_for_one_step_flow(ipa, build)
            generated_flow = result_path.parent / "flow.yaml"  # holds env references only, no secret
            generated_flow.write_text(one_step_flow(environ, bundle_id), encoding="utf-8")
            flow = str(generated_flow)
            self.names[flow] = "the one-step flow made from the inputs"
        argv = ["-v"] if self.debug else []
        argv += ["run", flow, *(["--build", build] if build else ["--ipa", ipa]), "--result-json", str(result_path)]
        return argv + self.option_argv(base_url=base_url, concurrency=concurrency, poll_interval=poll_interval,
                                       restart=bool(restart), dry_run=bool(dry_run))

    def binary(self) -> tuple[str, str]:
        """(ipa, build): the IPA to publish, or the build to promote (a build App Store Connect has, no IPA)."""
        ipa = read_aliased(self.environ, "ipa")
        build = read_build(self.environ, ipa)
        if not ipa and not build:
            raise InputError("input ipa is required: the path of the .ipa to publish",
                             hint="add `ipa: path/to/App.ipa` under `with:` (relative to the workspace; "
                             "`app-path` is accepted as another name), or `build: '1.2.3 (45)'` to promote a build "
                             "App Store Connect already has")
        if ipa and not Path(ipa).is_file():
            raise InputError(f"input ipa: {ipa} " + ("is a directory, not an .ipa file" if Path(ipa).is_dir()
                             else "does not exist"), hint="build or download the IPA in an earlier step (on another runner: hand "
                             "it over with actions/upload-artifact and actions/download-artifact)")
        return ipa, build

    def option_argv(self, *, base_url: str, concurrency: int | None, poll_interval: float | None, restart: bool,
                    dry_run: bool) -> list[str]:
        environ = self.environ
        argv: list[str] = []
        if read_input(environ, "profile"):
            argv += ["--profile", read_input(environ, "profile")]
        if read_state_dir(environ):
            argv += ["--state-dir", read_state_dir(environ)]
        if base_url:
            argv += ["--api-base-url", base_url]
        if concurrency is not None:
            argv += ["--concurrency", str(concurrency)]
        if poll_interval is not None:
            argv += ["--poll-interval", repr(poll_interval)]
        if restart:
            argv.append("--restart")
        if dry_run:
            argv.append("--dry-run")
        return argv

    def bundle_id_for_one_step_flow(self, ipa: str, build: str) -> str:
        """The app the one-step flow is for: the IPA's, or for a promote (no IPA to read it from) `profile`."""
        if build:
            bundle_id = read_input(self.environ, "profile")
            if not bundle_id:
                raise InputError("input build without a flow needs profile: the bundle ID of the app the build "
                                 "belongs to", hint="add `profile: com.example.app` (the one-step TestFlight flow "
                                 "is made for it), or give a `flow` file")
            return bundle_id
        from publish.ipa import IpaError
        from publish.ipa.binary import inspect_binary  # an .ipa or a macOS .pkg, by content

        try:
            return inspect_binary(ipa).bundle_id
        except IpaError as exc:
            raise InputError(exc.message, hint=exc.hint) from None

    def check_flow(self, flow: str) -> None:
        """Load the flow once up front so that each problem becomes an annotation on its line of the file."""
        from publish.spec import FlowError, load_flow

        try:
            load_flow(flow)
        except FlowError as exc:
            workspace = self.environ.get("GITHUB_WORKSPACE")
            for diagnostic in exc.diagnostics:
                self.command(annotation(
                    "error", f"{diagnostic.path}: {diagnostic.message}", title="invalid publish flow",
                    file=workspace_relative(diagnostic.source or flow, workspace), line=diagnostic.line,
                    col=diagnostic.column))
            self.annotated = True
            raise

    def start_simulator(self, data_path: str) -> str:
        """Test mode: the App Store Connect simulator inside this container, on loopback, for this run only."""
        from publish.sandbox.data import SandboxDataError, read_data_file
        from publish.sandbox.server import SandboxServer

        try:
            server = SandboxServer(read_data_file(Path(data_path)), processing_polls=1)
        except UnicodeDecodeError:
            raise InputError(f"input sandbox-data: {data_path} is not UTF-8 text", hint="give the JSON or YAML file "
                             "written by `appstore-publish sandbox keygen --out DIR`") from None
        except SandboxDataError as exc:
            raise InputError(f"input sandbox-data: {exc}", hint="write one with `appstore-publish sandbox keygen "
                             "--out DIR`") from None
        server.start()
        self.cleanup.append(server.stop)
        self.ctx.print(f"sandbox-data: publishing to the App Store Connect simulator at {server.url} "
                       "(nothing is sent to Apple)")
        return server.url

    def report(self, result: Mapping[str, Any], files: StepFiles) -> int:
        """Annotations, outputs and the summary. Returns 0, or 1 when the outputs could not be written."""
        from publish.summary import outputs, render_markdown

        result = self.ctx.redactor.redact_obj(result)  # type: ignore[assignment]
        for warning in result.get("warnings") or []:
            self.command(annotation("warning", str(warning), title="pre-flight"))
        error = result.get("error")
        if error and not self.annotated:
            where = f"step {error['index'] + 1} ({error.get('step')})" if isinstance(error.get("index"), int) \
                else "appstore-publish"
            text = str(error.get("message") or "") + (f"\nHow to fix: {error['hint']}" if error.get("hint") else "")
            self.command(annotation("error", text, title=f"{where} failed"))
        code = 0
        values = {name: name_inputs(self.ctx.redactor.redact(value), self.names) for name, value in outputs(result).items()}
        if files.output is not None:
            try:
                files.output.write(output_block(values))
                files.output.flush()
            except OSError as exc:
                code = 1
                self.ctx.error(f"error: could not write the step outputs to GITHUB_OUTPUT ({files.output_path}): "
                               f"{exc.strerror or exc}; the run itself ended with status {values['status']}. "
                               "Outputs: " + ", ".join(f"{k}={v!r}" for k, v in values.items() if v))
        if files.summary is not None:
            try:
                files.summary.write(name_inputs(self.ctx.redactor.redact(render_markdown(result)), self.names) + "\n")
                files.summary.flush()
            except OSError as exc:
                self.command(annotation("warning", f"could not write the job summary to GITHUB_STEP_SUMMARY "
                                        f"({files.summary_path}): {exc.strerror or exc}; the outputs are written"))
        return code


def run(environ: Mapping[str, str], stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr,
        become_owner: Callable[[str, MutableMapping[str, str]], object] | None = None) -> int:
    """The action. `become_owner(directory, env)` gives root up; the container passes become_owner_of (a library
    caller, such as a test, keeps its identity)."""
    action = ActionRun(environ, stdout, stderr)
    action.mask_secrets()  # first, before anything could print them
    files, problems = open_step_files(environ)
    if problems:
        # Found before anything is published; the file that does work still gets the failure.
        message = "; ".join(problems) + "; nothing was published"
        action.ctx.error(f"error: {message}")
        action.report(failure_result(message, "fix the runner's environment (these files are the runner's)"), files)
        files.close()
        return 2
    groups = StepGroups(action.log)
    publish_logger = logging.getLogger("publish")
    publish_logger.addHandler(groups)  # before the CLI's handler: see StepGroups
    result_dir = None
    try:
        try:
            if become_owner is not None:
                become_owner(workspace_directory(environ), action.env)
            result_dir = Path(tempfile.mkdtemp(prefix="appstore-publish-"))
            result_path = result_dir / "result.json"
            argv = action.argv(result_path)
        except (PublishError, OwnerError) as exc:
            hint = getattr(exc, "hint", None)
            action.ctx.error(f"error: {exc}")
            code = exc.exit_code if isinstance(exc, PublishError) else 1
            return max(code, action.report(failure_result(getattr(exc, "message", str(exc)), hint), files))
        code = cli_main(argv, ctx=action.ctx)
        groups.close()
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # `run` writes a result on every path it handles; none means its arguments were refused.
            result = failure_result(f"the run stopped before it started (exit code {code}); see the log above",
                                    None)
        if code != 0 and result.get("status") != "failed":
            result = {**result, "status": "failed"}
        report_code = action.report(result, files)
        return code or report_code
    except Exception as exc:  # noqa: BLE001 - the last line: outputs and summary even for a bug of ours
        groups.close()
        action.ctx.error(f"error: internal error ({type(exc).__name__}: {exc}); please report it with the log "
                         "above (re-run with debug logging for the traceback)")
        if action.debug or environ.get("RUNNER_DEBUG") == "1":
            action.ctx.error("".join(traceback.format_exception(exc)))
        return max(1, action.report(failure_result(f"internal error: {type(exc).__name__}: {exc}", None), files))
    finally:
        groups.close()
        publish_logger.removeHandler(groups)
        for stop in action.cleanup:
            stop()
        files.close()
        if result_dir is not None:
            shutil.rmtree(result_dir, ignore_errors=True)


def workspace_directory(environ: Mapping[str, str]) -> str:
    """Whose files we write: GITHUB_WORKSPACE's owner when it is set (the checkout), else the working directory's."""
    workspace = environ.get("GITHUB_WORKSPACE", "")
    return workspace if workspace and os.path.isdir(workspace) else os.getcwd()


def cli_commands() -> set[str]:
    return {command.name for command in COMMANDS} | {"help"}


def main(argv: Sequence[str], environ: MutableMapping[str, str]) -> int:
    """The container's entrypoint. Arguments that are a CLI command (or options) go to the CLI, run as the owner
    of the working directory; another program on PATH is run as it is: GitLab's job shell (`sh -c ...`) and
    Jenkins' `cat` start that way. No argument: the action."""
    if not argv:
        return run(environ, become_owner=become_owner_of)
    first = argv[0]
    if not first.startswith("-") and first not in cli_commands() and shutil.which(first):
        os.execvp(first, list(argv))
    ctx = CliContext(env=environ)
    try:
        become_owner_of(workspace_directory(environ), environ)
    except OwnerError as exc:
        ctx.error(f"error: {exc}")
        return 1
    return cli_main(list(argv), ctx=ctx)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
