"""Hostile variants of a sample IPA, for the tests and fuzzers that attack inspection: an end record that lies about
the entry count, a cut-off file, bytes flipped at chosen places. Each rewrites a file that `build_ipa` made.

Only the zip structure is touched (found by its signatures, never with the inspector's own reader), so a variant is
what a damaged download or a tampered archive would really look like.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_EOCD_SIG = b"PK\x05\x06"
_EOCD = struct.Struct("<4s4H2LH")


def _eocd_offset(data: bytes | bytearray) -> int:
    offset = data.rfind(_EOCD_SIG)
    if offset < 0:
        raise ValueError("not a zip archive: no end-of-central-directory record")
    return offset


def declare_entries(path: str | os.PathLike[str], count: int) -> Path:
    """Make the end record claim `count` entries (both of its counts), leaving the central directory as it is."""
    target = Path(path)
    data = bytearray(target.read_bytes())
    offset = _eocd_offset(data)
    fields = list(_EOCD.unpack_from(data, offset))
    fields[3] = fields[4] = count & 0xFFFF
    _EOCD.pack_into(data, offset, *fields)
    target.write_bytes(bytes(data))
    return target


def truncate(path: str | os.PathLike[str], keep: int) -> Path:
    """Keep only the first `keep` bytes (a download cut short)."""
    target = Path(path)
    target.write_bytes(target.read_bytes()[:keep])
    return target


def flip_bytes(path: str | os.PathLike[str], positions: list[int], mask: int = 0xFF) -> Path:
    """XOR the bytes at `positions` (taken modulo the file size) with `mask`."""
    target = Path(path)
    data = bytearray(target.read_bytes())
    for position in positions:
        data[position % len(data)] ^= mask
    target.write_bytes(bytes(data))
    return target
