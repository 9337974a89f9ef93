"""Seed corpus for fuzz_reasm_frames: command streams (encoding at the top of
fuzz_reasm_frames.c) that complete a download in one run, repeat and conflict,
give hostile lengths, cut the power mid-run, and send a header split over
small fragments out of order. Standard library only.

    python3 fuzz/seed_reasm_frames.py fuzz/corpus-reasm_frames
"""

from __future__ import annotations

import sys

import corpus

SIZES = (16, 24, 32, 64, 128, 200, 256, 512)
BANK = 16 * 256


def head(size_index: int, package_size: int, cut: int = 0, tear: int = 0,
         cut_after: int = 0) -> tuple[bytes, int]:
    """Bytes 0..3 for this geometry, and the fragment count it gives."""
    raw = package_size - 129
    assert 0 <= raw < BANK - 128
    mode = size_index | ((tear + 1) << 3 if cut else 0)
    count = -(-package_size // SIZES[size_index])
    return bytes([mode, raw & 0xFF, raw >> 8, cut_after]), count


def frames(indices: list[int], command: int = 0) -> bytes:
    return b"".join(bytes([command, i]) for i in indices)


def seeds() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    h, n = head(4, 1000)  # 128-byte fragments, 8 of them
    out["in-order"] = h + frames(list(range(n)))
    out["dups-then-rest"] = h + frames([0, 1, 1, 2, 0, 3]) + frames(list(range(4, n)))
    out["conflict"] = h + frames([0, 1, 2]) + bytes([7, 2]) + frames(list(range(3, n)))
    # lengths: one short, one long (into the next frame), one zero, then one past the end
    out["hostile-lengths"] = (h + frames([0, 1]) + bytes([0x08 | 0x20, 2, 0x10, 3, 0x18, 4])
                              + frames(list(range(5, n))) + bytes([0x10 | 0xE0, 1]))
    out["damaged-and-foreign"] = h + frames([0]) + bytes([4, 1, 5, 2, 0x85, 3]) + frames([1, 2, 3])
    out["raw"] = h + frames([0]) + bytes([6, 12]) + b"\xf1" * 12 + frames([1, 2])
    # 64-byte fragments, torn prefix; the session start takes about 18 operations
    hc, nc = head(3, 2000, cut=1, tear=1, cut_after=40)
    out["cut-mid-run"] = hc + frames(list(range(nc))) + frames(list(range(nc)))
    hs, ns = head(0, 700)  # 16-byte fragments: the header spans 8 of them
    out["small-header"] = hs + frames([9, 3, 0, 10, 7, 1, 2, 4, 5, 6, 11]) + frames(
        list(range(12, ns)))
    return out


if __name__ == "__main__":
    sys.exit(corpus.write(seeds(), "corpus-reasm_frames"))
