"""A NOR flash device in pure Python, with the semantics of ``csrc/mt_flash.h``.

This is the meter's stand-in until the C flash model has its binding: the same
rules (erased = 0xFF, program only clears bits, aligned programs, whole-sector
erases, wear counters and endurance), the same operation counting (a program is
one operation, an erase one per sector) and the same sticky power cut. Storage
is caller memory -- a ``bytearray`` or an ``mmap`` of a state file -- so a
killed process leaves exactly what a power cut would.

Errors carry the C core's return codes (``meteremu.errors.MT_ERR``).
"""

from __future__ import annotations

import random
import struct
from typing import Any

from ..errors import MT_ERR, MeteremuError

__all__ = ["FlashError", "PowerLost", "SimFlash"]

ENDURANCE_DEFAULT = 100_000


class FlashError(MeteremuError):
    """A flash operation failed; ``rc`` is the C return code (``MT_E_FLASH_*``)."""

    def __init__(self, rc: int, what: str) -> None:
        super().__init__(what)
        self.rc = rc


class PowerLost(FlashError):
    """The power is cut (sticky until :meth:`SimFlash.power_up`)."""


class SimFlash:
    """NOR flash over caller memory ``mem`` (cells) and ``wear`` (u32 LE per sector)."""

    def __init__(
        self,
        mem: Any,
        wear: Any,
        *,
        sector_size: int = 4096,
        align: int = 8,
        endurance: int = ENDURANCE_DEFAULT,
    ) -> None:
        size = len(mem)
        if sector_size & (sector_size - 1) or not 16 <= sector_size <= 65536:
            raise ValueError(f"sector size must be a power of two in 16..65536, not {sector_size}")
        if size == 0 or size % sector_size:
            raise ValueError("flash size must be a non-zero multiple of the sector size")
        if align not in (1, 2, 4, 8, 16):
            raise ValueError(f"write alignment must be 1, 2, 4, 8 or 16, not {align}")
        if len(wear) != 4 * (size // sector_size):
            raise ValueError("wear needs 4 bytes per sector")
        self.mem = mem
        self.wear_mem = wear
        self.size = size
        self.sector_size = sector_size
        self.align = align
        self.endurance = endurance
        self.ops = 0
        self.ops_total = 0
        self._cut_left: int | None = None
        self._powered = True
        self._tear = ("none", 0)
        self._rng = random.Random(1)
        self._endur: dict[int, int] = {}
        self._stuck: dict[int, tuple[int, int]] = {}

    # -- queries --------------------------------------------------------------
    @property
    def powered(self) -> bool:
        return self._powered

    def wear(self, addr: int) -> int:
        if not 0 <= addr < self.size:
            return 0
        i = addr // self.sector_size
        return int(struct.unpack_from("<I", self.wear_mem, 4 * i)[0])

    def read(self, addr: int, length: int) -> bytes:
        if not self._powered:
            raise PowerLost(MT_ERR["MT_E_FLASH_POWER"], "read: power is cut")
        self._range(addr, length)
        return bytes(self.mem[addr : addr + length])

    # -- operations -------------------------------------------------------------
    def program(self, addr: int, data: bytes) -> None:
        if not self._powered:
            raise PowerLost(MT_ERR["MT_E_FLASH_POWER"], "program: power is cut")
        n = len(data)
        self._range(addr, n)
        if addr % self.align or n % self.align:
            raise FlashError(MT_ERR["MT_E_FLASH_ALIGN"], "program not write-aligned")
        first, last = addr // self.sector_size, (addr + n - 1) // self.sector_size if n else -1
        for s in range(first, last + 1):
            if self._worn(s):
                raise FlashError(MT_ERR["MT_E_FLASH_WORN"], f"sector {s} worn out")
        old = bytes(self.mem[addr : addr + n])
        o, d = int.from_bytes(old, "big"), int.from_bytes(data, "big")
        if d & ~o:  # a 1 asked over a 0: fine only where the 0 is a stuck bit
            for i in range(n):
                stuck0 = self._stuck.get(addr + i, (0, 0))[0]
                if ~old[i] & data[i] & ~stuck0 & 0xFF:
                    raise FlashError(
                        MT_ERR["MT_E_FLASH_ONE"], f"program at 0x{addr + i:x} needs an erase"
                    )
        if self._operation():
            k = self._tear_len(n)
            for i in range(k):
                self.mem[addr + i] = old[i] & data[i]
            if self._tear[0] == "bits" and k < n:
                for i in range(k, min(n, k + self.align)):
                    self.mem[addr + i] = old[i] & (data[i] | self._rng.getrandbits(8))
            self._apply_stuck(addr, n)
            raise PowerLost(MT_ERR["MT_E_FLASH_POWER"], "power cut during program")
        self.mem[addr : addr + n] = (o & d).to_bytes(n, "big")
        self._apply_stuck(addr, n)

    def erase(self, addr: int, length: int) -> None:
        if not self._powered:
            raise PowerLost(MT_ERR["MT_E_FLASH_POWER"], "erase: power is cut")
        self._range(addr, length)
        ss = self.sector_size
        if addr % ss or length % ss:
            raise FlashError(MT_ERR["MT_E_FLASH_ALIGN"], "erase not on sector boundaries")
        sectors = range(addr // ss, (addr + length) // ss)
        for s in sectors:
            if self._worn(s):
                raise FlashError(MT_ERR["MT_E_FLASH_WORN"], f"sector {s} worn out")
        for s in sectors:
            base = s * ss
            cut = self._operation()
            self._bump_wear(s)
            if cut:
                k = self._tear_len(ss)
                self.mem[base : base + k] = b"\xff" * k
                if self._tear[0] == "bits":
                    for i in range(k, ss):
                        self.mem[base + i] |= self._rng.getrandbits(8) & self._rng.getrandbits(8)
                self._apply_stuck(base, ss)
                raise PowerLost(MT_ERR["MT_E_FLASH_POWER"], "power cut during erase")
            self.mem[base : base + ss] = b"\xff" * ss
            self._apply_stuck(base, ss)

    # -- power and faults ---------------------------------------------------------
    def cut_after(self, n: int) -> None:
        """Let ``n`` more operations complete; the next one is hit by the cut."""
        if n < 0:
            raise ValueError("cut_after needs n >= 0")
        self._cut_left = n

    def cut_disarm(self) -> None:
        self._cut_left = None

    def power_cut(self) -> None:
        self._powered = False
        self._cut_left = None

    def power_up(self) -> None:
        self._powered = True
        self._cut_left = None
        self.ops = 0

    def set_tear(self, mode: str, k: int | None = None) -> None:
        """What the operation hit by a cut leaves: ``none``, ``prefix`` or ``bits``.

        ``k`` bytes are done first (``None``: random in [0, length]).
        """
        if mode not in ("none", "prefix", "bits"):
            raise ValueError(f"tear mode must be none, prefix or bits, not {mode!r}")
        self._tear = (mode, -1 if k is None else k)

    def seed(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def flip_bits(self, addr: int, mask: int) -> None:
        self._range(addr, 1)
        self.mem[addr] ^= mask & 0xFF

    def stick_bits(self, addr: int, stuck0: int = 0, stuck1: int = 0) -> None:
        self._range(addr, 1)
        z, o = self._stuck.get(addr, (0, 0))
        self._stuck[addr] = (z | stuck0, o | stuck1)
        self._apply_stuck(addr, 1)

    def set_sector_endurance(self, addr: int, endurance: int) -> None:
        self._range(addr, 1)
        self._endur[addr // self.sector_size] = endurance

    def clear_faults(self) -> None:
        self._stuck.clear()
        self._endur.clear()
        self._cut_left = None
        self._tear = ("none", 0)

    # -- internals ------------------------------------------------------------------
    def _range(self, addr: int, length: int) -> None:
        if addr < 0 or length < 0 or addr > self.size or length > self.size - addr:
            raise FlashError(MT_ERR["MT_E_FLASH_RANGE"], f"0x{addr:x}+{length} outside the flash")

    def _worn(self, sector: int) -> bool:
        limit = self._endur.get(sector, self.endurance)
        return self.wear(sector * self.sector_size) >= limit

    def _bump_wear(self, sector: int) -> None:
        w = self.wear(sector * self.sector_size)
        struct.pack_into("<I", self.wear_mem, 4 * sector, min(w + 1, 0xFFFFFFFF))

    def _operation(self) -> bool:
        """Count one operation; True when the power cut lands on it."""
        if self._cut_left is not None:
            if self._cut_left == 0:
                self._cut_left = None
                self._powered = False
                return True
            self._cut_left -= 1
        self.ops += 1
        self.ops_total += 1
        return False

    def _tear_len(self, length: int) -> int:
        mode, k = self._tear
        if mode == "none":
            return 0
        return self._rng.randint(0, length) if k < 0 else min(k, length)

    def _apply_stuck(self, addr: int, length: int) -> None:
        for a, (z, o) in self._stuck.items():
            if addr <= a < addr + length:
                self.mem[a] = (self.mem[a] & ~z | o) & 0xFF
