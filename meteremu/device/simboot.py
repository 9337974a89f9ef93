"""The boot-control record, alternating between two sectors (SPEC section 5).

A stand-in with the bootloader's record semantics for as long as the C boot
subsystem has no binding. Each write erases the sector that does *not* hold
the newest record and programs the new one there, so a cut at any point leaves
the old or the new record valid, never neither; at power-up the valid record
with the highest sequence number wins.

Record, 32 bytes, little-endian::

    0  2 magic "BC"      6 1 attempts (unconfirmed boots of a trial image)
    2  1 version = 1     7 1 outcome of the last update (0 none, 1 confirmed,
    3  1 active bank         2 reverted)
    4  1 previous bank   8 4 sequence
    5  1 trial flag     12 4 installed security counter (of the confirmed image)
                        16 12 reserved 0xFF, 28 4 CRC-32 of bytes 0..27

Banks: 0 = A, 1 = B, 2 = golden.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace
from typing import Any

from .layout import Layout

__all__ = ["BANK_A", "BANK_B", "GOLDEN", "BootControl", "BootRecord"]

BANK_A, BANK_B, GOLDEN = 0, 1, 2
OUTCOME_NONE, OUTCOME_CONFIRMED, OUTCOME_REVERTED = 0, 1, 2
_REC = struct.Struct("<2sBBBBBBII12s")


@dataclass(frozen=True)
class BootRecord:
    active: int = BANK_A
    previous: int = GOLDEN
    trial: bool = False
    attempts: int = 0
    outcome: int = OUTCOME_NONE
    counter: int = 0
    seq: int = 0

    def encode(self) -> bytes:
        body = _REC.pack(b"BC", 1, self.active, self.previous, int(self.trial), self.attempts,
                         self.outcome, self.seq, self.counter, b"\xff" * 12)
        return body + zlib.crc32(body).to_bytes(4, "little")

    @classmethod
    def decode(cls, raw: bytes) -> BootRecord | None:
        body = raw[:28]
        if zlib.crc32(body) != int.from_bytes(raw[28:32], "little"):
            return None
        magic, ver, active, prev, trial, attempts, outcome, seq, counter, _ = _REC.unpack(body)
        if magic != b"BC" or ver != 1 or active > 2 or prev > 2 or trial > 1:
            return None
        return cls(active, prev, bool(trial), attempts, outcome, counter, seq)

    def next(self, **changes: Any) -> BootRecord:
        return replace(self, seq=self.seq + 1, **changes)


class BootControl:
    def __init__(self, flash: Any, layout: Layout) -> None:
        self.flash = flash
        self.sectors = (layout["boot0"], layout["boot1"])
        self.current: BootRecord | None = None
        self._where = -1  # sector index holding current

    def load(self) -> BootRecord | None:
        best, where = None, -1
        for i, region in enumerate(self.sectors):
            rec = BootRecord.decode(self.flash.read(region.offset, 32))
            if rec is not None and (best is None or rec.seq > best.seq):
                best, where = rec, i
        self.current, self._where = best, where
        return best

    def write(self, rec: BootRecord) -> None:
        target = 1 - self._where if self._where >= 0 else 0
        region = self.sectors[target]
        self.flash.erase(region.offset, region.size)
        self.flash.program(region.offset, rec.encode())
        self.current, self._where = rec, target
