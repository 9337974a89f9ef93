"""Download progress: fragments straight into the inactive bank, bitmap in flash.

A stand-in with the reassembler's semantics (SPEC section 6) for as long as
the C reassembler has no binding. Mesh fragments and DLMS image blocks both
come here. The progress region holds one session:

    0   32 session record (below)
    32  16 "bank erased" marker: programmed to 0x00 once the target bank's
           sectors are erased (a cut during the erase redoes it at power-up)
    48  16 "closed" marker: 0x00 once the session is over (activated, stopped)
    64   . received bitmap, NOR's own trick: erased 1 = missing, 0 = received;
           bit i is bit (i % 8) of byte i // 8. Marking a fragment programs one
           write unit with one bit cleared; no erase is ever needed.

Session record, 32 bytes, little-endian: magic "DP", version 1, target bank,
kind (0 mesh, 1 DLMS), reserved, fragment size u16, session ID u32, fragment
count u32, package size u32 (0 = not announced), 8 reserved 0xFF, CRC-32 of
bytes 0..27.

A fragment's payload is programmed at ``index * fragment_size`` in the bank
(the last one padded with 0xFF to the write alignment), then its bitmap bit. A
cut between the two leaves the fragment "missing"; when it comes again the
same bytes are programmed over the same bytes, which NOR allows.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from .layout import PROGRESS_HEADER, Region

__all__ = ["Conflict", "Progress", "Session"]

KIND_MESH, KIND_DLMS = 0, 1
_REC = struct.Struct("<2sBBBBHIII8s")
_ERASED_AT, _CLOSED_AT = 32, 48


class Conflict(Exception):
    """A duplicate fragment with content different from what is written."""


@dataclass(frozen=True)
class Session:
    target: int
    kind: int
    fragment_size: int
    session_id: int
    fragment_count: int
    package_size: int

    def encode(self) -> bytes:
        body = _REC.pack(b"DP", 1, self.target, self.kind, 0xFF, self.fragment_size,
                         self.session_id, self.fragment_count, self.package_size, b"\xff" * 8)
        return body + zlib.crc32(body).to_bytes(4, "little")

    @classmethod
    def decode(cls, raw: bytes) -> Session | None:
        if zlib.crc32(raw[:28]) != int.from_bytes(raw[28:32], "little"):
            return None
        magic, ver, target, kind, _, fsize, sid, count, psize, _ = _REC.unpack(raw[:28])
        if magic != b"DP" or ver != 1 or target > 1 or kind > 1 or not fsize or not count:
            return None
        return cls(target, kind, fsize, sid, count, psize)


class Progress:
    """The one download session of a meter, over ``region`` and the target bank."""

    def __init__(self, flash: Any, region: Region, banks: tuple[Region, Region],
                 align: int) -> None:
        self.flash = flash
        self.region = region
        self.banks = banks
        self.align = align
        self.session: Session | None = None
        self.closed = True
        self.received: bytearray = bytearray()  # 1 per fragment, RAM copy of the bitmap
        self.count_received = 0

    @property
    def capacity(self) -> int:
        """Most fragments the bitmap can track."""
        return (self.region.size - PROGRESS_HEADER) * 8

    def load(self) -> Session | None:
        """Read the session back after power-up (open or closed); finish an interrupted erase."""
        head = self.flash.read(self.region.offset, PROGRESS_HEADER)
        s = Session.decode(head[:32])
        self.session = s
        if s is None or s.fragment_count > self.capacity:
            self.session, self.closed = None, True
            return None
        self.closed = head[_CLOSED_AT] != 0xFF
        nbytes = -(-s.fragment_count // 8)
        bitmap = self.flash.read(self.region.offset + PROGRESS_HEADER, nbytes)
        self.received = bytearray(
            0 if bitmap[i // 8] >> (i % 8) & 1 else 1 for i in range(s.fragment_count))
        self.count_received = sum(self.received)
        if not self.closed and head[_ERASED_AT] == 0xFF:
            self._erase_bank()  # the cut hit the bank erase: redo it, nothing is received
        return s

    def start(self, session: Session) -> None:
        if session.fragment_count > self.capacity:
            raise ValueError("more fragments than the progress bitmap can track")
        self.flash.erase(self.region.offset, self.region.size)
        self.session, self.closed = session, False
        self.received = bytearray(session.fragment_count)
        self.count_received = 0
        self.flash.program(self.region.offset, session.encode())
        self._erase_bank()

    def _erase_bank(self) -> None:
        s = self.session
        assert s is not None
        bank = self.banks[s.target]
        sector = int(self.flash.sector_size)
        span = min(bank.size, s.fragment_count * s.fragment_size)
        span = -(-span // sector) * sector
        self.flash.erase(bank.offset, span)
        self.flash.program(self.region.offset + _ERASED_AT, bytes(self.align))
        self.received = bytearray(s.fragment_count)
        self.count_received = 0

    @property
    def complete(self) -> bool:
        return self.session is not None and self.count_received == self.session.fragment_count

    def missing(self) -> list[int]:
        return [i for i, got in enumerate(self.received) if not got]

    def write(self, index: int, payload: bytes) -> bool:
        """Write fragment ``index``; True if new, False for an identical duplicate."""
        s = self.session
        assert s is not None and not self.closed
        bank = self.banks[s.target]
        off = bank.offset + index * s.fragment_size
        if self.received[index]:
            if self.flash.read(off, len(payload)) != payload:
                raise Conflict(index)
            return False
        pad = -len(payload) % self.align
        try:
            self.flash.program(off, payload + b"\xff" * pad)
        except Exception as exc:
            if getattr(exc, "err", None) == -22:  # MT_E_FLASH_ONE: bytes differ from a torn copy
                raise Conflict(index) from None
            raise
        byte = PROGRESS_HEADER + index // 8
        unit = byte // self.align * self.align
        # The model refuses a 1 over a 0, so the unit is programmed with the bits
        # already cleared in it kept cleared.
        data = bytearray(self.flash.read(self.region.offset + unit, self.align))
        data[byte - unit] &= 0xFF ^ (1 << (index % 8))
        self.flash.program(self.region.offset + unit, bytes(data))
        self.received[index] = 1
        self.count_received += 1
        return True

    def close(self) -> None:
        if self.session is not None and not self.closed:
            self.flash.program(self.region.offset + _CLOSED_AT, bytes(self.align))
        self.closed = True
