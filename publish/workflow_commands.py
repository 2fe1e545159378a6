"""GitHub Actions workflow commands: annotations (`::error file=…,line=…,col=…::`), log groups, and the step's
output and summary files, written so that no value can break out of its command or its output.

Why a module of its own: the runner parses these lines out of the log, so every message and property must be
escaped exactly as the runner unescapes it (`%`, CR, LF in messages; also `:` and `,` in properties), and the
output file's heredoc delimiter must never occur in a value. Pure formatting apart from the file handles, which
are opened by the caller (the entrypoint opens them before it gives up root, see publish.workspace_owner).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

# A message longer than this is cut: the runner shows annotations in the UI, not whole logs.
MAX_ANNOTATION_CHARS = 4000


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, *, file: str | None = None, line: int | None = None,
               col: int | None = None, title: str | None = None) -> str:
    """One `::error ...::message` (or warning / notice) line, without the newline."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"not an annotation level: {level}")
    properties = []
    if file:
        properties.append(f"file={escape_property(file)}")
        if line and line > 0:
            properties.append(f"line={line}")
            if col and col > 0:
                properties.append(f"col={col}")
    if title:
        properties.append(f"title={escape_property(title)}")
    if len(message) > MAX_ANNOTATION_CHARS:
        message = message[:MAX_ANNOTATION_CHARS] + " …"
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    return f"{head}::{escape_data(message)}"


def workspace_relative(path: str, workspace: str | None) -> str:
    """The path as GitHub wants it in an annotation: relative to the repository checkout when inside it."""
    absolute = os.path.abspath(path)
    if workspace:
        root = os.path.abspath(workspace)
        if os.path.commonpath([absolute, root]) == root:
            return os.path.relpath(absolute, root)
    return path


def output_block(values: Mapping[str, str]) -> str:
    """name=value pairs in the heredoc form, with a delimiter chosen so that no value contains it."""
    chunks = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        while delimiter in value:  # practically never; but a value must not be able to end the block
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(chunks)


class StepGroups(logging.Handler):
    """Folds each flow step's log lines into a `::group::`. The runner marks a step's first and last log records
    with `step_boundary` = "start" / "end"; this handler is attached before the one that prints the records, so
    the group opens just before the step's first line and closes just before its closing line (which thus stays
    visible when the group is folded)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.open = False

    def emit(self, record: logging.LogRecord) -> None:
        boundary = getattr(record, "step_boundary", None)
        if boundary == "start":
            self.close()
            self.stream.write(f"::group::{escape_data(record.getMessage())}\n")
            self.stream.flush()
            self.open = True
        elif boundary == "end":
            self.close()

    def close(self) -> None:
        if self.open:
            self.stream.write("::endgroup::\n")
            self.stream.flush()
            self.open = False


@dataclass
class StepFiles:
    """The files GITHUB_OUTPUT and GITHUB_STEP_SUMMARY name, opened for appending up front: an unusable one is
    found before anything is published, and the handles stay valid after the process gives up root."""

    output: TextIO | None = None
    summary: TextIO | None = None
    output_path: str = ""
    summary_path: str = ""

    def close(self) -> None:
        for handle in (self.output, self.summary):
            if handle is not None:
                try:
                    handle.close()
                except OSError:
                    pass  # a failed flush was already reported by the write that preceded it


class StepFileError(Exception):
    """GITHUB_OUTPUT or GITHUB_STEP_SUMMARY cannot be used; the message says which and why."""


def open_step_files(environ: Mapping[str, str]) -> tuple[StepFiles, list[str]]:
    """Both files, each opened for appending if it can be; the problems of those that cannot (one line each)."""
    files, problems = StepFiles(), []
    for variable, what in (("GITHUB_OUTPUT", "output"), ("GITHUB_STEP_SUMMARY", "summary")):
        path = environ.get(variable, "")
        if not path:
            continue
        setattr(files, f"{what}_path", path)
        try:
            setattr(files, what, _open_append(variable, path))
        except StepFileError as exc:
            problems.append(str(exc))
    return files, problems


def _open_append(variable: str, path: str) -> TextIO:
    if "\x00" in path:
        raise StepFileError(f"{variable} contains a NUL character; it must name a file")
    if os.path.isdir(path):
        raise StepFileError(f"{variable} names a directory ({path}); it must name a file the step may append to")
    try:
        return open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open until the end of the run
    except OSError as exc:
        raise StepFileError(f"cannot append to {variable} ({path}): {exc.strerror or exc}") from None
