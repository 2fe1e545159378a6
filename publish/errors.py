"""Exceptions whose messages tell the user what went wrong and how to fix it.

Exit codes (documented in the README):
  0  success
  1  a remote or publish failure (App Store Connect refused, processing failed, ...)
  2  bad input or usage (flow file, keys, IPA, command-line flags)
"""

from __future__ import annotations


class PublishError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  How to fix: {self.hint}"
        return self.message


class InputError(PublishError):
    """Something the user gave us (flow file, key, IPA, flag) is wrong."""

    exit_code = 2


class RemoteError(PublishError):
    """App Store Connect (or the upload) failed or refused."""

    exit_code = 1
