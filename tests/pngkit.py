"""A PNG reader for screenshots (a helper module, not a test module): 8-bit
RGB or RGBA, not interlaced -- what a headless browser writes -- with all
five row filters. ``encode`` writes the same kind, any filter per row, so a
test can check the reader against it."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == SIGNATURE, "not a PNG"
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def decode(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """``(width, height, bytes per pixel, rows)`` of a PNG."""
    chunks = _chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert chunks[0][0] == b"IHDR" and depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 2:  # up: the commonest, done in one pass
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind in (1, 3, 4):
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                c = prev[i - bpp] if i >= bpp else 0
                if kind == 4:
                    a = _paeth(a, prev[i], c)
                elif kind == 3:
                    a = (a + prev[i]) >> 1
                line[i] = (line[i] + a) & 255
        else:
            assert kind == 0, f"unknown filter {kind}"
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def encode(rows: Sequence[bytes], width: int, bpp: int, filters: Sequence[int]) -> bytes:
    """A PNG of ``rows``, row ``y`` filtered with ``filters[y]``."""
    out, prev = bytearray(), bytes(width * bpp)
    for line, kind in zip(rows, filters, strict=True):
        enc = bytearray([kind])
        for i, x in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            c = prev[i - bpp] if i >= bpp else 0
            pred = (0, a, prev[i], (a + prev[i]) >> 1, _paeth(a, prev[i], c))[kind]
            enc.append((x - pred) & 255)
        out += enc
        prev = line

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    head = struct.pack(">IIBBBBB", width, len(rows), 8, 2 if bpp == 3 else 6, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(bytes(out))) \
        + chunk(b"IEND", b"")


def colours(rows: Sequence[bytes], bpp: int, step: int = 1) -> dict[bytes, int]:
    """How many pixels (every ``step``-th of a row) have each RGB colour."""
    count: dict[bytes, int] = {}
    for row in rows:
        for i in range(0, len(row), bpp * step):
            px = row[i:i + 3]
            count[px] = count.get(px, 0) + 1
    return count
