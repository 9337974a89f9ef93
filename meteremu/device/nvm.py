"""The meter's own NVM records: metrology snapshots and the audit log.

Both live in rings of fixed-size slots over a few flash sectors, written only
through the flash interface. A slot is free while it reads all 0xFF; a record
carries a sequence number and a CRC-32, so a slot torn by a power cut is
recognised and skipped, and the newest valid record wins. When the current
sector is full the next one (the oldest) is erased and writing goes on there,
so a ring of N sectors always keeps at least N-1 sectors of history. A sector
that fails (worn out, bits stuck) is skipped until the next power-up, so the
ring writes on, with less history, while any sector works.

The record formats are :mod:`meteremu.wire.nvm` (documented field by field
in docs/FORMAT.md); :func:`seal` and :func:`unseal` write and read them
through their ``struct`` twins, derived from the construct definitions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._lowlevel.crypto import crc32
from ..errors import FlashError, FlashPowerError, NvmExhausted
from ..wire.nvm import AUDIT_TEXT_MAX, AuditRecord, MetrologyRecord, record_struct
from .layout import Region

__all__ = ["AUDIT_TEXT_MAX", "AuditRecord", "MetrologyRecord", "NvmExhausted", "RecordRing",
           "seal", "unseal"]


def seal(fmt: Any, **fields: Any) -> bytes:
    """The record ``fields`` in the sealed format ``fmt`` (a definition of
    :mod:`meteremu.wire.nvm`), its trailing CRC-32 over everything before it."""
    body = record_struct(fmt).pack_body(fields)
    return body + crc32(body).to_bytes(4, "little")


def unseal(fmt: Any, raw: bytes) -> Any | None:
    """The parsed record, or None for a free, torn or foreign slot."""
    twin = record_struct(fmt)
    n = twin.body.size
    if crc32(raw[:n]) != int.from_bytes(raw[n:], "little"):
        return None
    return twin.unpack(raw)  # None: a CRC-valid slot of another format (foreign)


@functools.lru_cache(maxsize=32)
def _erased(n: int) -> bytes:
    return b"\xff" * n


class RecordRing:
    """Fixed-size records appended round-robin over the sectors of ``region``.

    ``flash`` is the meter's flash (read/program/erase, and ``holds`` when it has
    one: ``Flash.holds``). Power-loss exceptions
    from it propagate: the caller decides what a cut means. Call :meth:`load`
    after every power-up before appending.

    A sector whose erase or program fails with any other flash error (worn
    out, stuck bits: a program is read back and compared) is skipped: the
    record goes to the next sector, and the sector stays bad in RAM until the
    next :meth:`load`, after which it is tried again. :meth:`take_news` tells
    the caller which sectors went bad, so it can log each one. Only when no
    sector is left does :meth:`append` raise :class:`NvmExhausted`.

    A cut loses at most the record being written (and, if it hits an erase,
    the oldest sector's records, which were being erased anyway) -- as long as
    a second sector works. With a single usable sector left the ring must
    erase the sector holding its newest record to write on; a cut in that
    erase or in the program right after it leaves the ring empty.
    """

    def __init__(self, flash: Any, region: Region, fmt: Any, sector_size: int) -> None:
        self.flash = flash
        self.region = region
        self.fmt = fmt
        twin = self._twin = record_struct(fmt)
        self._sealed = twin.sealer(crc32)  # see append_fields
        self._base = region.offset
        # read(addr, len(data)) == data; a Flash answers it without a copy
        try:
            self._holds: Callable[[int, bytes], bool] = flash.holds
        except AttributeError:
            self._holds = lambda addr, data: flash.read(addr, len(data)) == data
        # program, then read back: a Flash does both in one step
        try:
            self._program_holds: Callable[[int, bytes], bool] = flash.program_holds
        except AttributeError:
            self._program_holds = self._program_then_holds
        self.slot = slot = twin.size
        self.per_sector = sector_size // slot
        self.sector_size = sector_size
        self.sectors = region.size // sector_size
        self._records: list[Any] = []  # valid records, parsed, oldest first
        self._unparsed: list[bytes] = []  # records appended after them, as written
        self._pos: dict[int, int] = {}  # seq -> slot index
        self._next: int | None = None  # slot to write next; None: erase the next sector
        self._cur: int | None = None  # sector written last (the next one follows it)
        self._seq = 0
        self.bad: set[int] = set()  # sectors that failed since the last load
        self._news: list[int] = []  # ... not yet taken by take_news()
        self._exhausted = False
        self._exhausted_news = False
        #: whether take_news has anything to tell (kept as news comes and goes: read
        #: after every record)
        self.has_news = False

    @property
    def records(self) -> list[Any]:
        """The valid records, oldest first. A record appended is kept as written
        and parsed when first asked for: most are never read back while the
        meter runs (an audit line, a snapshot superseded by the next)."""
        if self._unparsed:
            unpack = self._twin.unpack  # sealed by append's build: the CRC holds
            self._records.extend([unpack(raw) for raw in self._unparsed])
            self._unparsed = []
        return self._records

    def _program_then_holds(self, addr: int, raw: bytes) -> bool:
        self.flash.program(addr, raw)
        return self._holds(addr, raw)

    def load(self) -> list[Any]:
        """Scan the ring; returns the valid records, oldest first. Forgets bad sectors."""
        if self._holds(self.region.offset, _erased(self.sectors * self.per_sector * self.slot)):
            # A blank ring (a new meter's), told by one compare: what _scan makes
            # of it -- nothing found, every slot free -- without the scan.
            self._records = []
            self._unparsed = []
            self._pos = {}
            self._seq = 0
            self.bad = set()
            self._news = []
            self._exhausted = self._exhausted_news = self.has_news = False
            self._next = self._cur = 0
            return self._records
        return self._scan()

    def _scan(self) -> list[Any]:
        """:meth:`load` the long way: every sector looked at."""
        total = self.sectors * self.per_sector
        slot = self.slot
        # Only slots holding a byte other than 0xFF need a look; a ring is mostly
        # erased sectors, compared whole where they lie (no copy), and only the
        # others read.
        per, span = self.per_sector, self.per_sector * slot
        erased, blank = _erased(span), _erased(slot)
        free = [True] * total
        found = []
        at = self.region.offset
        for sector in range(self.sectors):
            base = at + sector * span
            if self._holds(base, erased):
                continue
            blob = self.flash.read(base, span)
            used = -(-len(blob.rstrip(b"\xff")) // slot)  # the slots after it are erased
            for j in range(used):
                raw = blob[j * slot : (j + 1) * slot]
                i = sector * per + j
                if raw == blank:
                    continue
                free[i] = False
                rec = unseal(self.fmt, raw)
                if rec is not None:
                    found.append((rec.seq, i, rec))
        found.sort(key=lambda x: x[0])
        self._records = [rec for _, _, rec in found]
        self._unparsed = []
        self._pos = {seq: i for seq, i, _ in found}
        self._seq = found[-1][0] if found else 0
        self.bad = set()
        self._news = []
        self._exhausted = self._exhausted_news = self.has_news = False
        # Write after the newest record, in its sector, at the first free slot;
        # a torn slot is never reused (it would need an erase).
        if found:
            newest = found[-1][1]
            self._cur = newest // self.per_sector
            end = (self._cur + 1) * self.per_sector
            self._next = next((i for i in range(newest + 1, end) if free[i]), None)
        else:
            self._next = 0 if all(free[: self.per_sector]) else None
            self._cur = None if self._next is None else 0
        return self.records

    def take_news(self) -> tuple[list[int], bool]:
        """Sectors (0-based within the ring) found bad since the last call, and
        whether the ring ran out of usable sectors since then."""
        news, stopped = self._news, self._exhausted_news
        self._news, self._exhausted_news = [], False
        self.has_news = False
        return news, stopped

    def _fail(self, sector: int) -> None:
        if sector not in self.bad:
            self.bad.add(sector)
            self._news.append(sector)
            self.has_news = True

    def _open_sector(self) -> int:
        """Erase the next usable sector after the current one; its first slot."""
        start = 0 if self._cur is None else self._cur + 1
        for k in range(self.sectors):
            sector = (start + k) % self.sectors
            if sector in self.bad:
                continue
            try:
                self.flash.erase(self.region.offset + sector * self.sector_size,
                                 self.sector_size)
            except FlashPowerError:
                raise
            except FlashError:
                self._fail(sector)
                continue
            lo = sector * self.per_sector
            hi = lo + self.per_sector
            lost = {s for s, i in self._pos.items() if lo <= i < hi}
            if lost:
                self._records = [r for r in self.records if r.seq not in lost]
                for s in lost:
                    del self._pos[s]
            self._cur = sector
            return lo
        if not self._exhausted:
            self._exhausted = self._exhausted_news = self.has_news = True
        raise NvmExhausted(f"no usable sector left in {self.region.name}")

    def append(self, build: Callable[[int], bytes]) -> int:
        """Write the record ``build(seq)`` with the next sequence number; returns
        that number."""
        seq = self._seq + 1
        return self._write(seq, build(seq))

    def append_fields(self, *values: Any) -> int:
        """:meth:`append` of the record whose non-constant fields after ``seq``
        are ``values``, in byte order: ``append(lambda seq: seal(fmt, seq=seq,
        ...))`` for a record written again and again -- the same flash, records,
        sequence numbers, news and exceptions -- sealed by the format's own
        packer (``RecordStruct.sealer``), and a record that lands on the first
        try written without the retry loop."""
        seq = self._seq + 1
        raw = self._sealed(seq, *values)
        index = self._next
        if index is None:
            return self._write(seq, raw)
        try:
            ok = self._program_holds(self._base + index * self.slot, raw)
        except FlashPowerError:
            raise
        except FlashError:
            ok = False
        if not ok:  # (a sealed record is always a slot long)
            return self._write(seq, raw, failed=index)
        self._seq = seq
        self._pos[seq] = index
        self._unparsed.append(raw)
        index += 1
        self._next = index if index % self.per_sector else None
        return seq

    def _write(self, seq: int, raw: bytes, failed: int | None = None) -> int:
        """Write ``raw``, record ``seq``, at the next slot that takes it (a slot
        that fails skips its sector); ``failed``: the slot that just did."""
        if failed is not None:
            self._fail(failed // self.per_sector)
            self._next = None
        while True:
            if self._next is None:
                self._next = self._open_sector()
            index = self._next
            addr = self.region.offset + index * self.slot
            try:
                # read back (without a copy): a stuck bit shows here
                ok = self._program_holds(addr, raw) and len(raw) == self.slot
            except FlashPowerError:
                raise
            except FlashError:
                ok = False
            if ok:
                break
            self._fail(index // self.per_sector)  # skipped: the record goes to the next one
            self._next = None
        self._seq = seq
        self._pos[seq] = index
        self._unparsed.append(raw)
        self._next = index + 1 if (index + 1) % self.per_sector else None
        return seq
