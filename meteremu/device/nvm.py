"""The meter's own NVM records: metrology snapshots and the audit log.

Both live in rings of fixed-size slots over a few flash sectors, written only
through the flash interface. A slot is free while it reads all 0xFF; a record
carries a sequence number and a CRC-32, so a slot torn by a power cut is
recognised and skipped, and the newest valid record wins. When the current
sector is full the next one (the oldest) is erased and writing goes on there,
so a ring of N sectors always keeps at least N-1 sectors of history.

Formats (little-endian, defined once here in construct):

Metrology record, 32 bytes::

    0  2 magic "MR"        8  8 energy, micro-watt-hours (floor)
    2  1 version = 1      16  8 meter clock, seconds since 1970 UTC
    3  1 boot state       24  4 battery reserve debit, mJ (0xFFFFFFFF: no battery)
    4  4 sequence         28  4 CRC-32 of bytes 0..27

The battery field was reserved (0xFF) before meters had batteries, so older
records read as "no battery" unchanged.

Audit record, 128 bytes::

    0  2 magic "AL"        8 116 text (ASCII), padded with 0xFF
    2  1 version = 1     124  4 CRC-32 of bytes 0..123
    3  1 text length
    4  4 sequence
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from construct import Bytes, Const, Int8ul, Int32ul, Int64ul, Struct

from ..crypto import crc32
from .layout import Region

__all__ = ["AUDIT_TEXT_MAX", "AuditRecord", "MetrologyRecord", "RecordRing"]

MetrologyRecord = Struct(
    "magic" / Const(b"MR"),
    "version" / Const(1, Int8ul),
    "boot_state" / Int8ul,
    "seq" / Int32ul,
    "energy_uwh" / Int64ul,
    "clock" / Int64ul,
    "battery_mj" / Int32ul,
    "crc" / Int32ul,
)
assert MetrologyRecord.sizeof() == 32

AUDIT_TEXT_MAX = 116
AuditRecord = Struct(
    "magic" / Const(b"AL"),
    "version" / Const(1, Int8ul),
    "length" / Int8ul,
    "seq" / Int32ul,
    "text" / Bytes(AUDIT_TEXT_MAX),
    "crc" / Int32ul,
)
assert AuditRecord.sizeof() == 128


def seal(fmt: Any, **fields: Any) -> bytes:
    """Build a record with its trailing CRC-32 over everything before it."""
    raw = fmt.build(dict(fields, crc=0))
    body = raw[:-4]
    return body + crc32(body).to_bytes(4, "little")


def unseal(fmt: Any, raw: bytes) -> Any | None:
    """The parsed record, or None for a free, torn or foreign slot."""
    if crc32(raw[:-4]) != int.from_bytes(raw[-4:], "little"):
        return None
    try:
        return fmt.parse(raw)
    except Exception:  # a CRC-valid slot of another format: treat as foreign
        return None


class RecordRing:
    """Fixed-size records appended round-robin over the sectors of ``region``.

    ``flash`` is the meter's flash (read/program/erase). Power-loss exceptions
    from it propagate: the caller decides what a cut means. Call :meth:`load`
    after every power-up before appending.
    """

    def __init__(self, flash: Any, region: Region, fmt: Any, sector_size: int) -> None:
        self.flash = flash
        self.region = region
        self.fmt = fmt
        self.slot = fmt.sizeof()
        self.per_sector = sector_size // self.slot
        self.sector_size = sector_size
        self.sectors = region.size // sector_size
        self.records: list[Any] = []  # valid records, oldest first
        self._pos: dict[int, int] = {}  # seq -> slot index
        self._next: int | None = None  # slot to write next; None: erase the next sector
        self._seq = 0

    def load(self) -> list[Any]:
        """Scan the ring; returns the valid records, oldest first."""
        total = self.sectors * self.per_sector
        blob = self.flash.read(self.region.offset, total * self.slot)
        slots = [blob[i * self.slot : (i + 1) * self.slot] for i in range(total)]
        free = [raw == b"\xff" * self.slot for raw in slots]
        found = []
        for i, raw in enumerate(slots):
            rec = None if free[i] else unseal(self.fmt, raw)
            if rec is not None:
                found.append((rec.seq, i, rec))
        found.sort(key=lambda x: x[0])
        self.records = [rec for _, _, rec in found]
        self._pos = {seq: i for seq, i, _ in found}
        self._seq = found[-1][0] if found else 0
        # Write after the newest record, in its sector, at the first free slot;
        # a torn slot is never reused (it would need an erase).
        if found:
            newest = found[-1][1]
            end = (newest // self.per_sector + 1) * self.per_sector
            self._next = next((i for i in range(newest + 1, end) if free[i]), None)
        else:
            self._next = 0 if all(free[: self.per_sector]) else None
        return self.records

    def append(self, build: Callable[[int], bytes]) -> Any:
        """Write the record ``build(seq)`` with the next sequence number; returns it parsed."""
        seq = self._seq + 1
        raw = build(seq)
        if self._next is None:
            newest = self._pos.get(self._seq)
            sector = 0 if newest is None else (newest // self.per_sector + 1) % self.sectors
            lo = sector * self.per_sector
            hi = lo + self.per_sector
            self.flash.erase(self.region.offset + sector * self.sector_size, self.sector_size)
            lost = {s for s, i in self._pos.items() if lo <= i < hi}
            self.records = [r for r in self.records if r.seq not in lost]
            for s in lost:
                del self._pos[s]
            self._next = lo
        index = self._next
        self.flash.program(self.region.offset + index * self.slot, raw)
        rec = unseal(self.fmt, raw)
        self._seq = seq
        self._pos[seq] = index
        self.records.append(rec)
        self._next = index + 1 if (index + 1) % self.per_sector else None
        return rec
