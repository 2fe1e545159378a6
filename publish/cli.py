"""The `appstore-publish` command line: parses flags and dispatches to publish.commands.

Each command lives in its own module under publish/commands/ and exposes
`register(subparsers) -> None`, which adds its parser and sets `handler` to a
function `(args: argparse.Namespace, ctx: CliContext) -> int`.

Start-up is kept short (issue 14: `--help` took ~260 ms): the commands are listed from the light table in
publish.commands, and only the module of the command on the line is imported, with its dependencies
(requests, cryptography, jsonschema, yaml); the others are stand-ins that carry their one-line summary.
This module imports the standard library's argparse and little else before a command runs.

Usage errors are reported as one `error:` line with a fix, exit 2: a misspelt command or flag gets a
did-you-mean, and `-v`/`--quiet` are accepted before or after the command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from publish import __version__
from publish.commands import COMMANDS, examples_text

# Not typing.TYPE_CHECKING: importing typing is ~4 ms of a ~60 ms start. Type checkers treat any constant of
# this name as true, and every annotation here is a string (from __future__ import annotations).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence
    from typing import Any, TextIO

    from publish.redact import Redactor

PROG = "appstore-publish"
# Kept for callers that listed the modules; the table in publish.commands is the source.
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(c.module for c in COMMANDS))


class ClosedPipeTolerantStream:
    """The process's stdout or stderr, surviving the reader going away (`appstore-publish run ... | head`).

    A BrokenPipeError raised from a print in the middle of a step would fail that step half-done (after the upload,
    before the build joins its groups), only because nobody reads the log any more. So the first broken pipe turns
    the stream's descriptor into /dev/null (also sparing the interpreter's flush at exit) and the run goes on.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_pipe = False

    def _drop(self) -> None:
        self.closed_pipe = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass  # no descriptor (a replaced sys.stdout): writes are simply dropped below

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _tolerant(stream: TextIO) -> TextIO:
    # A TextIO by delegation (__getattr__), which a checker cannot see; typing.cast would cost typing's import.
    return ClosedPipeTolerantStream(stream)  # type: ignore[return-value]


class CliContext:
    """What a command needs from the process, injected so tests can capture it."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None,
                 env: Mapping[str, str] | None = None, redactor: Redactor | None = None,
                 stdin: TextIO | None = None, *, verbose: bool = False, quiet: bool = False) -> None:
        if redactor is None:
            from publish.redact import Redactor  # noqa: PLC0415 - not needed for --help

            redactor = Redactor()
        # The process's own streams survive a reader that goes away; an injected stream is the caller's.
        self.stdout: TextIO = stdout if stdout is not None else _tolerant(sys.stdout)
        self.stderr: TextIO = stderr if stderr is not None else _tolerant(sys.stderr)
        self.env: Mapping[str, str] = env if env is not None else dict(os.environ)
        self.redactor: Redactor = redactor
        self.stdin: TextIO = stdin if stdin is not None else sys.stdin
        self.verbose = verbose
        self.quiet = quiet  # no info logs, no progress bar; results and errors still print

    def print(self, text: str = "") -> None:
        self.stdout.write(self.redactor.redact(text) + "\n")

    def error(self, text: str) -> None:
        self.stderr.write(self.redactor.redact(text) + "\n")

    @property
    def in_github_actions(self) -> bool:
        return self.env.get("GITHUB_ACTIONS") == "true"

    def register_secret(self, secret: str | None) -> None:
        """Mask a secret in everything we print; under GitHub Actions ask the runner to mask it too."""
        for fragment in self.redactor.add(secret):
            if self.in_github_actions and "\n" not in fragment:
                # `::add-mask::` itself is never echoed by the runner.
                self.stdout.write(f"::add-mask::{fragment}\n")

    def with_stdout(self, stdout: TextIO) -> CliContext:
        """The same context printing to `stdout` (run --json sends everything but the JSON to stderr)."""
        return CliContext(stdout, self.stderr, self.env, self.redactor, self.stdin, verbose=self.verbose,
                          quiet=self.quiet)


# ---------------------------------------------------------------------------------------------- the parser


class UsageError(Exception):
    """A command line argparse (or we) refused; reported as one line plus a fix, exit 2."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _close_match(word: str, candidates: Collection[str]) -> str | None:
    import difflib  # noqa: PLC0415 - only on a usage error

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _did_you_mean(word: str, candidates: Collection[str]) -> str:
    match = _close_match(word, candidates)
    return f"; did you mean '{match}'?" if match else ""


class CliFormatter(argparse.HelpFormatter):
    """Wraps prose as usual but keeps indented blocks (the examples) line for line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = text.split("\n\n")
        filled = [block if "\n  " in block or block.startswith("  ") else super(CliFormatter, self)._fill_text(
            block, width, indent) for block in blocks]
        return "\n\n".join(filled)


class CliParser(argparse.ArgumentParser):
    """Every parser of the CLI: -v/--quiet everywhere, examples in the help, usage errors as UsageError."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", CliFormatter)
        # The terminal's width once a parser, as HelpFormatter asks it, not in each add_argument's formatter (~14).
        self._help_width = shutil.get_terminal_size().columns - 2
        super().__init__(*args, **kwargs)
        examples = examples_text(self.command_path)
        if examples:
            self.epilog = f"{self.epilog}\n\n{examples}" if self.epilog else examples
        group = self.add_argument_group("output")
        # SUPPRESS: a subcommand's parser must not reset what was given before the command.
        group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                           help="log HTTP calls and decisions")
        group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                           help="only warnings, errors and results (no progress)")

    def _get_formatter(self) -> argparse.HelpFormatter:
        return self.formatter_class(prog=self.prog, width=self._help_width)  # type: ignore[call-arg]  # HelpFormatters

    @property
    def command_path(self) -> str:
        """'run', 'sandbox serve', or '' for the top level."""
        return self.prog.partition(" ")[2]

    def error(self, message: str) -> Any:  # argparse's own errors land here
        raise UsageError(_reword(message), _help_hint(self.command_path))

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        names = [str(c) for c in action.choices]
        if isinstance(action, argparse._SubParsersAction):
            kind = f"{self.command_path} command" if self.command_path else "command"
            message = f"unknown {kind} '{_clip(value)}'{_did_you_mean(str(value), names)}"
        else:
            message = (f"invalid value '{_clip(value)}' for {_action_name(action)} (choose from {', '.join(names)})"
                       f"{_did_you_mean(str(value), names)}")
        raise argparse.ArgumentError(None, message)


def _clip(value: object, limit: int = 40) -> str:
    """A word from the command line, cut short for a message."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _action_name(action: argparse.Action) -> str:
    return "/".join(action.option_strings) if action.option_strings else str(action.metavar or action.dest)


def _help_hint(path: str) -> str:
    return f"see `{PROG} {path + ' ' if path else ''}--help` for the usage and examples"


def _reword(message: str) -> str:
    if message.startswith("the following arguments are required: COMMAND"):
        return "no command given"
    prefix, _, rest = message.partition(": ")
    if prefix.startswith("argument ") and rest.startswith(prefix[len("argument "):].split("/")[-1] + " "):
        return rest  # "argument --limit: --limit must be ..." says the flag once
    return message


def _add_command_parsers(parser: CliParser, load: Collection[str] | None) -> None:
    import importlib  # noqa: PLC0415

    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    loaded: set[str] = set()
    wanted = None if load is None else {c.module for c in COMMANDS if c.name in load}  # a module and its siblings
    stand_in: argparse.ArgumentParser | None = None
    for command in COMMANDS:
        if command.name in subparsers.choices:
            continue  # registered with a sibling (mark-rc and unmark-rc share a module)
        if (wanted is None or command.module in wanted) and command.module not in loaded:
            loaded.add(command.module)
            try:
                module = importlib.import_module(f"publish.commands.{command.module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"publish.commands.{command.module}":
                    raise
            else:
                module.register(subparsers)
                if command.name in subparsers.choices:
                    continue
        # Listed with its summary, for --help and did-you-mean, but not built: each parser costs ~0.4 ms (argparse
        # looks up translations of its headings on disk). One shared stand-in answers for all of them.
        stand_in = stand_in or argparse.ArgumentParser(prog=f"{PROG} COMMAND", add_help=False)
        # A plain parser on purpose (no -v/--quiet, no examples to look up); argparse only lists it.
        subparsers._name_parser_map[command.name] = stand_in  # type: ignore[assignment]
        subparsers._choices_actions.append(subparsers._ChoicesPseudoAction(command.name, (), command.summary))


def build_parser(load: Collection[str] | None = None) -> CliParser:
    """The whole parser (`load` None: every command's module imported, for completion and tests), or one where
    only the commands named in `load` are real."""
    description = "Ship an iOS .ipa to TestFlight and the App Store through App Store Connect's Build Upload API."
    parser = CliParser(prog=PROG, description=description,
                       epilog="Exit codes: 0 success, 1 remote or publish failure, 2 bad input or usage.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_command_parsers(parser, load)
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The command on the line: the first word that is not an option (the top level's options take no value)."""
    for token in argv:
        if token == "--":
            return None
        if not token.startswith("-"):
            return token
    return None


def parser_chain(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[argparse.ArgumentParser]:
    """The parsers `argv` goes through: the top level, the command, a subcommand (`sandbox serve`)."""
    chain = [parser]
    for token in argv:
        if token == "--":
            break
        subcommand = _subcommand(chain[-1], token)
        if subcommand is not None:
            chain.append(subcommand)
    return chain


def _subcommand(parser: argparse.ArgumentParser, token: str) -> argparse.ArgumentParser | None:
    """The parser of the command (or subcommand) `token` names under `parser`, if it names one."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    choices: dict[str, argparse.ArgumentParser] = actions[0].choices if actions else {}
    return None if token.startswith("-") else choices.get(token)


def unknown_option(parser: argparse.ArgumentParser, argv: Sequence[str]) -> UsageError | None:
    """A `--flag` that the parser it falls to does not know (argparse would first complain of a missing
    required argument, which sends the user to the wrong fix). The flags of the parsers above count too:
    `-v` belongs to every level."""
    for index, token in enumerate(argv):
        if token == "--":
            break
        if not token.startswith("--") or " " in token:
            continue  # a command's name among them moves the flags that follow to its parser
        chain = parser_chain(parser, argv[:index])
        name = token.partition("=")[0]
        leaf = chain[-1]
        known = {s for p in chain for s in p._option_string_actions}
        if name in known or any(s.startswith(name) for s in leaf._option_string_actions):
            continue  # an abbreviation: argparse takes it, or says which flags it could be
        path = getattr(leaf, "command_path", "")
        where = f" for '{path}'" if path else ""
        return UsageError(f"unknown option '{_clip(name)}'{where}{_did_you_mean(name, known)}", _help_hint(path))
    return None


def _unexpected(chain: Sequence[argparse.ArgumentParser], extras: Sequence[str]) -> UsageError:
    path = getattr(chain[-1], "command_path", "")
    known = {s for p in chain for s in p._option_string_actions}
    first = extras[0]
    if first.startswith("-") and len(first) > 1:
        name = first.partition("=")[0]
        where = f" for '{path}'" if path else ""
        return UsageError(f"unknown option '{_clip(name)}'{where}{_did_you_mean(name, known)}", _help_hint(path))
    more = f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
    return UsageError(f"unexpected argument '{_clip(first)}'{more}", _help_hint(path))


def parse(argv: Sequence[str], build: Callable[..., CliParser] | None = None) -> argparse.Namespace:
    """Parse `argv` with `build(load=...)`'s parser (build_parser; a caller making many calls may hand its own again),
    importing only the module of its command. UsageError on any refusal; SystemExit(0) after --help or --version."""
    word = command_word(argv)
    known_names = {c.name for c in COMMANDS}
    parser = (build or build_parser)(load={word} if word is not None and word in known_names else ())
    chain = parser_chain(parser, argv)
    if word in known_names and not any(t in ("-h", "--help") for t in argv):
        refused = unknown_option(parser, argv)
        if refused is not None:
            raise refused
    try:
        args, extras = parser.parse_known_args(argv)
    except argparse.ArgumentError as exc:  # raised by _check_value outside parse_args' own handling
        raise UsageError(str(exc), _help_hint(getattr(chain[-1], "command_path", ""))) from None
    if extras:
        raise _unexpected(chain, extras)
    if getattr(args, "verbose", False) and getattr(args, "quiet", False):
        raise UsageError("-v/--verbose and -q/--quiet contradict each other", "give one of them")
    return args


def main(argv: Sequence[str] | None = None, ctx: CliContext | None = None, *,
         build: Callable[..., CliParser] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["help"]:  # `appstore-publish help [COMMAND ...]`, as git and docker spell it (and the image)
        argv = [*argv[1:], "--help"]
    try:
        args = parse(argv, build)
    except SystemExit as exc:  # --help and --version print and exit 0
        return int(exc.code or 0)
    except UsageError as exc:
        stream = ctx.stderr if ctx is not None else sys.stderr
        stream.write(f"error: {exc.message}\n  How to fix: {exc.hint}\n")
        return 2
    handler_function = getattr(args, "handler", None)
    if handler_function is None:
        (ctx.stderr if ctx is not None else sys.stderr).write(f"error: the {args.command} command is not installed\n")
        return 2
    return _run(handler_function, args, ctx or CliContext())


def _run(handler_function: Any, args: argparse.Namespace, ctx: CliContext) -> int:
    import logging  # noqa: PLC0415 - ~10 ms, not needed for --help

    from publish.errors import PublishError  # noqa: PLC0415

    ctx.verbose = bool(getattr(args, "verbose", False)) or ctx.verbose
    ctx.quiet = bool(getattr(args, "quiet", False)) or ctx.quiet
    handler = logging.StreamHandler(ctx.stderr)
    handler.addFilter(ctx.redactor.logging_filter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("publish")
    # The logger is process-wide: what this call changes it puts back, so a CLI call made in-process (tests, the
    # action's entrypoint) leaves logging as it found it.
    saved_level, saved_propagate = root.level, root.propagate
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if ctx.verbose else logging.WARNING if ctx.quiet else logging.INFO)
    root.propagate = False
    try:
        return int(handler_function(args, ctx))
    except PublishError as exc:
        ctx.error(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.error("interrupted")
        return 130
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        root.propagate = saved_propagate
