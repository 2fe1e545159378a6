"""A CLI call made in-process (the action's entrypoint, tests) leaves the `publish` logger as it found it."""

from __future__ import annotations

import io
import logging

from publish.cli import CliContext, main


def test_an_in_process_cli_call_puts_the_logger_back() -> None:
    logger = logging.getLogger("publish")
    before = (logger.level, logger.propagate, list(logger.handlers))
    code = main(["schema"], ctx=CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={}))
    assert code == 0
    assert (logger.level, logger.propagate, list(logger.handlers)) == before
