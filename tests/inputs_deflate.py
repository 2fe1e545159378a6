"""Deflate bombs for the hostile-input tests, built without compressing their tens of megabytes.

`deflate_repeated(head, block, count, tail)` is `head + block * count + tail` compressed, in a raw deflate, zlib or
gzip container (wbits as zlib takes them: -15, 15, 31). The block is compressed once, ended by a full flush: after a
full flush a deflate stream refers to nothing before it, so that compressed block repeated is a valid stream of the
block repeated, and it inflates to exactly the bytes zlib.compress would have been given (the compressed bytes
differ only where the flushes fall, a few bytes a block). Compressing 100 MB of zeros takes zlib 0.7 s of CPU; this
takes the checksum's time, a few milliseconds.
"""

from __future__ import annotations

import struct
import zlib

_FULL = zlib.Z_FULL_FLUSH


def deflate_repeated(head: bytes, block: bytes, count: int, tail: bytes = b"", *, level: int = 6,
                     wbits: int = -15) -> bytes:
    if wbits not in (-15, 15, 31) or count < 0 or not 0 <= level <= 9:
        raise ValueError(f"wbits {wbits} (want -15, 15 or 31), count {count}, level {level} (want 0 to 9)")
    engine = zlib.compressobj(level, zlib.DEFLATED, -15)
    first = engine.compress(head) + engine.flush(_FULL)
    piece = engine.compress(block) + engine.flush(_FULL)
    raw = first + piece * count + engine.compress(tail) + engine.flush()
    if wbits == -15:
        return raw
    check = zlib.crc32 if wbits == 31 else zlib.adler32
    value = check(head, 0 if wbits == 31 else 1)
    for _ in range(count):
        value = check(block, value)
    value = check(tail, value)
    if wbits == 15:
        # The zlib header zlib.compress writes at this level (FLEVEL in bits 6-7), then the Adler-32, big-endian.
        flevel = 0 if level in (0, 1) else 1 if level < 6 else 2 if level == 6 else 3
        cmf_flg = 0x7800 | (flevel << 6)
        cmf_flg += (31 - cmf_flg % 31) % 31
        return struct.pack(">H", cmf_flg) + raw + struct.pack(">L", value)
    size = (len(head) + len(block) * count + len(tail)) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + raw + struct.pack("<2L", value, size)
