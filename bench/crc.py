"""CRC-32 against zlib.crc32 and CRC-16/X-25 against crcmod's C extension."""

from __future__ import annotations

import pathlib
import random
import zlib
from collections.abc import Callable

import crcmod.predefined

from meteremu import crypto

from ._rows import Row
from ._timing import Budget, calls_per_second

# The binding asks the CPU once, at import, and hands the answer to the C
# _impl entry points: buffers from this size on take the carry-less-multiply
# path when the CPU has it (MT_CRC_FOLD_MIN in csrc/mt_crc_impl.h), smaller ones
# the slicing tables.
FOLD_MIN = 64
MIB = 1 << 20


def _accelerated() -> tuple[bool, str]:
    probe = getattr(crypto, "crc_accelerated", None)
    if probe is not None:
        return bool(probe()), ""
    try:  # the binding does not say; the CPU flags tell the same on Linux
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False, "path unknown"
    return " pclmulqdq" in flags and " sse4_1" in flags, "path read from /proc/cpuinfo"


def _path(size: int, accel: bool) -> str:
    return "PCLMUL folding" if accel and size >= FOLD_MIN else "braided tables"


def _label(size: int) -> str:
    if size >= MIB:
        return f"{size // MIB} MiB"
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def _bound(fn: Callable[[bytes], int], data: bytes) -> Callable[[], int]:
    return lambda: fn(data)


def run(budget: Budget) -> list[Row]:
    rng = random.Random(1)
    accel, note = _accelerated()
    x25 = crcmod.predefined.mkCrcFun("x-25")
    rows = []
    # (name, ours, peer name, peer, target, sizes, how many of them (the first) the target judges)
    cases = [
        ("CRC-32", crypto.crc32, "zlib.crc32", zlib.crc32, 1.0, [MIB, 128 * 1024, 4096], 3),
        ("CRC-16/X-25", crypto.crc16_x25, "crcmod (C ext)", x25, 5.0, [MIB, 4096, 128], 1),
    ]
    for area, ours, peer_name, peer, target, sizes, judged in cases:
        for i, size in enumerate(sizes):
            data = rng.randbytes(size)
            wrong = ours(data) != peer(data)
            mine, theirs = calls_per_second([_bound(ours, data), _bound(peer, data)], budget)
            rows.append(
                Row(
                    area=area,
                    case=_label(size),
                    unit="MB/s",
                    ours=mine * size / 1e6,
                    peer=peer_name,
                    theirs=theirs * size / 1e6,
                    target=target if i < judged else None,
                    path=_path(size, accel),
                    note="WRONG RESULT" if wrong else note,
                )
            )
    return rows
