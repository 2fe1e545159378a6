"""tests/inputs_deflate.py builds the bombs of the hostile-input tests: each container inflates, through the
standard library's own readers, to exactly the bytes it stands for, with a valid checksum."""

from __future__ import annotations

import gzip
import zlib

import pytest

from inputs_deflate import deflate_repeated


@pytest.mark.parametrize("level", [1, 6, 9])
@pytest.mark.parametrize("head, block, count, tail", [
    (b"<xar><toc>", b" " * 70_000, 5, b"</toc></xar>"), (b"", b"\0" * 1024, 0, b""), (b"PLIST", b"\0", 3000, b"end"),
])
def test_each_container_inflates_to_the_repeated_bytes(level: int, head: bytes, block: bytes, count: int,
                                                       tail: bytes) -> None:
    plain = head + block * count + tail
    assert zlib.decompress(deflate_repeated(head, block, count, tail, level=level), -15) == plain
    wrapped = deflate_repeated(head, block, count, tail, level=level, wbits=15)
    assert zlib.decompress(wrapped) == plain and wrapped[:2] == zlib.compress(plain, level)[:2]
    assert gzip.decompress(deflate_repeated(head, block, count, tail, level=level, wbits=31)) == plain


def test_a_repeated_block_costs_its_compressed_size_once_a_repeat() -> None:
    bomb = deflate_repeated(b"", b"\0" * (1024 * 1024), 64)
    assert len(bomb) < 128 * 1024 and zlib.decompressobj(-15).decompress(bomb, 2**27) == b"\0" * (64 * 1024 * 1024)
