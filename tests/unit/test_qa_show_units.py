"""`show` prints a kept binary's size in the units the upload progress uses: powers of 1024 are KiB, not KB."""

from __future__ import annotations

import pytest

from publish.commands.show import _size


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (1023, "1023 B"), (614400, "600.0 KiB"), (3 * 1024 ** 2 // 2, "1.5 MiB"),
    (5 * 1024 ** 3, "5.0 GiB"), (3 * 1024 ** 4, "3072.0 GiB"), (None, None),
])
def test_sizes_are_in_binary_units(size: int | None, text: str | None) -> None:
    assert _size(size) == text
