"""The one exception IPA inspection raises."""

from __future__ import annotations


class IpaError(Exception):
    """The IPA cannot be inspected. The message says what is wrong and how to fix it.

    `finding_id` names the pre-flight check this corresponds to (e.g. "zip.not_a_zip"), so that
    `run_preflight` can report an inspection failure as an ordinary finding.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, finding_id: str = "ipa.invalid", hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.finding_id = finding_id
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} {self.hint}"
        return self.message
