"""tests/inputs_zip.py builds the numbered central-directory records of the hostile-input tests: exactly the bytes
formatting each number in turn gives."""

from __future__ import annotations

import pytest

from inputs_zip import numbered_records


@pytest.mark.parametrize("head, width, count", [
    (b"PK\x01\x02" + bytes(42) + b"f", 7, 23_456), (b"", 1, 10), (b"x", 3, 1000), (b"ab", 4, 1), (b"ab", 2, 0),
    (b"n", 6, 100_001),
])
def test_the_records_are_the_numbers_formatted_one_by_one(head: bytes, width: int, count: int) -> None:
    assert numbered_records(head, width, count) == b"".join(head + b"%0*d" % (width, i) for i in range(count))


@pytest.mark.parametrize("width, count", [(0, 1), (2, 101), (3, -1)])
def test_a_count_the_width_cannot_number_is_refused(width: int, count: int) -> None:
    with pytest.raises(ValueError):
        numbered_records(b"h", width, count)
