"""Thin typed wrapper over the C NOR flash model and partition map (csrc/mt_flash.h,
csrc/mt_layout.h).

A :class:`Flash` owns its cells through any writable buffer -- a ``bytearray`` by
default, or an ``mmap`` of a file so that a process killed with ``kill -9`` leaves
exactly the flash state a power cut would. The per-sector erase counters live in a
second writable buffer (4 bytes per sector, native byte order) for the same reason.

Each :class:`Flash` also keeps the per-sector write generations (csrc/mt_flash.h)
in memory of its own: RAM only, never in a state file. Every program, erase and
injected fault moves the generation of the sectors it touches on, which lets the
bootloader skip re-checking a bank nothing has written since its last full check;
a new ``Flash`` (a new process over a state file) starts with every sector
stamped afresh, so nothing is skipped on its strength.

Every failing C call raises a :class:`FlashError` subclass; nothing here returns
cdata.
"""

from __future__ import annotations

import enum
import mmap
import weakref
from dataclasses import dataclass
from typing import Any

from ..errors import (
    MT_ERR,
    FlashAlignError,
    FlashError,
    FlashOneError,
    FlashPowerError,
    FlashRangeError,
    FlashWornError,
    MeteremuError,
    UsageError,
    c_error,
)
from . import ffi, lib, nbytes

__all__ = [
    "ALIGN_DEFAULT",
    "ENDURANCE_DEFAULT",
    "ENDURANCE_UNLIMITED",
    "GEN_UNKNOWN",
    "SECTOR_DEFAULT",
    "Flash",
    "FlashAlignError",
    "FlashError",
    "FlashOneError",
    "FlashPowerError",
    "FlashRangeError",
    "FlashWornError",
    "Layout",
    "Partition",
    "Tear",
    "compute_layout",
]

SECTOR_DEFAULT = 4096
ALIGN_DEFAULT = 8
ENDURANCE_DEFAULT = 100_000
ENDURANCE_UNLIMITED = 0xFFFFFFFF
STUCK_MAX = 8
ENDUR_MAX = 4
_TEAR_RANDOM = 0xFFFFFFFF
_U32 = 0xFFFFFFFF
GEN_UNKNOWN = 0xFFFFFFFF  # MT_FLASH_GEN_UNKNOWN: a generation that says nothing
_BYTES = ffi.typeof("uint8_t[]")
_new_uncleared = ffi.new_allocator(should_clear_after_alloc=False)


def flash_error(rc: int, detail: str = "") -> MeteremuError:
    """The exception for a (nonzero) C return code, by the one table in meteremu.errors."""
    if rc == MT_ERR["MT_E_LENGTH"]:
        detail = f"{detail}: fault table full"
    return c_error(rc, detail)


def raise_for(rc: int, detail: str = "") -> None:
    """Raise the exception for a C return code (flash codes get their own class)."""
    if rc != 0:
        raise flash_error(rc, detail)


class Tear(enum.IntEnum):
    """What the operation hit by a power cut leaves behind (csrc/mt_flash.h)."""

    NONE = 0    #: nothing: the operation never started
    PREFIX = 1  #: a prefix of the bytes programmed / of the sector erased
    BITS = 2    #: prefix, then one write unit partly cleared / the rest of the sector noisy


def _u32(name: str, value: int) -> int:
    if not 0 <= value <= _U32:
        raise ValueError(f"{name} must fit 32 bits, got {value}")
    return value


def _release(*views: object) -> None:
    for view in views:
        ffi.release(view)


class Flash:
    """A NOR flash device: erased bytes read 0xFF, programming only clears bits,
    erase works on whole sectors, with wear and fault injection.

    ``buffer`` (``size`` bytes) and ``wear`` (``4 * size // sector_size`` bytes)
    are kept as they are when given -- they may hold a previous run's state; when
    omitted, fresh factory-erased ones are made.
    """

    def __init__(
        self,
        size: int,
        sector_size: int = SECTOR_DEFAULT,
        align: int = ALIGN_DEFAULT,
        *,
        buffer: bytearray | memoryview | mmap.mmap | None = None,
        wear: bytearray | memoryview | mmap.mmap | None = None,
    ) -> None:
        if sector_size <= 0 or size <= 0 or size % sector_size:
            raise ValueError(
                f"size {size} must be a positive multiple of sector_size {sector_size}"
            )
        _u32("size", size)
        sectors = size // sector_size
        self._mem = bytearray(size) if buffer is None else buffer
        self._wear = bytearray(4 * sectors) if wear is None else wear
        if len(memoryview(self._mem).cast("B")) != size:
            raise ValueError(f"buffer must be exactly {size} bytes")
        if len(memoryview(self._wear).cast("B")) != 4 * sectors:
            raise ValueError(f"wear buffer must be exactly {4 * sectors} bytes ({sectors} sectors)")
        self._cmem = ffi.from_buffer("uint8_t[]", self._mem, require_writable=True)
        self._cwear = ffi.from_buffer("uint32_t[]", self._wear, require_writable=True)
        # A flash dropped without close() lets go of the two views when it dies, before
        # the garbage collector clears anything: CPython 3.11 clears a memoryview a
        # view still holds (an mmap's slice, as a state file gives) and then crashes
        # when that view is freed. Held here, the two views are never garbage.
        self._let_go = weakref.finalize(self, _release, self._cmem, self._cwear)
        self._f = ffi.new("mt_flash *")
        rc = lib.mt_flash_init(self._f, self._cmem, size, self._cwear, sector_size, align)
        if rc:
            raise ValueError(
                f"bad geometry: sector_size {sector_size} (power of two, 16..65536), "
                f"align {align} (1, 2, 4, 8 or 16)"
            )
        self._size = size  # (fixed: read checks its range without a C call)
        self._areas: dict[tuple[int, int], Any] = {}  # see _area
        self._gen = ffi.new("uint32_t[]", sectors)  # write generations, RAM only
        lib.mt_flash_track(self._f, self._gen)
        if buffer is None:
            lib.mt_flash_factory_erase(self._f)
        self._closed = False

    def close(self) -> None:
        """Let go of the cells and wear buffers (an mmap's views can then be
        released): the power is cut for good, every later operation fails as
        unpowered, and :meth:`power_up` refuses."""
        if self._closed:
            return
        self._closed = True
        lib.mt_flash_power_cut(self._f)
        self._let_go()

    def _live(self) -> None:
        if self._closed:
            raise UsageError("this flash was closed (its meter was closed)")

    # -- geometry and counters -------------------------------------------------
    @property
    def size(self) -> int:
        return int(lib.mt_flash_size(self._f))

    @property
    def sector_size(self) -> int:
        return int(lib.mt_flash_sector_size(self._f))

    @property
    def align(self) -> int:
        return int(lib.mt_flash_align(self._f))

    @property
    def ops(self) -> int:
        """Program/erase operations since the last power-up (one per sector erased)."""
        return int(lib.mt_flash_ops(self._f))

    @property
    def ops_total(self) -> int:
        return int(lib.mt_flash_ops_total(self._f))

    @property
    def powered(self) -> bool:
        return bool(lib.mt_flash_powered(self._f))

    def wear(self, addr: int) -> int:
        """Erase count of the sector holding ``addr``."""
        self._live()
        return int(lib.mt_flash_wear(self._f, _u32("addr", addr)))

    def generation(self, addr: int, length: int = 0) -> int:
        """Write generation of ``[addr, addr + length)`` (the sector holding ``addr``
        when ``length`` is 0): the newest among its sectors, moved on by every
        program, erase and injected fault that touches them. :data:`GEN_UNKNOWN`
        out of range."""
        return int(lib.mt_flash_generation(self._f, _u32("addr", addr), _u32("length", length)))

    # -- operations ------------------------------------------------------------
    def read(self, addr: int, length: int) -> bytes:
        if not (0 <= addr <= _U32 and 0 <= length <= _U32):
            _u32("addr", addr)
            _u32("length", length)
        if addr + length > self._size:
            raise FlashRangeError(MT_ERR["MT_E_FLASH_RANGE"], f"read [{addr}, {addr + length})")
        out = _new_uncleared(_BYTES, length or 1)  # C fills it, or it is dropped
        rc = lib.mt_flash_read(self._f, addr, out, length)
        if rc:
            raise flash_error(rc, f"read at {addr}")
        return ffi.buffer(out, length)[:]

    def holds(self, addr: int, data: bytes) -> bool:
        """``read(addr, len(data)) == data`` -- the same answer, and the same
        exception where the read raises one -- without copying the cells: a
        program read back."""
        n = len(data)
        cells = lib.mt_flash_peek(self._f, addr, n) if 0 <= addr <= _U32 and n <= _U32 else ffi.NULL
        if cells == ffi.NULL:  # off or out of range: the read raises what it raises
            return self.read(addr, n) == data
        return ffi.buffer(cells, n) == data

    def peek(self, addr: int, length: int) -> memoryview | None:
        """Zero-copy read-only view of the cells, or ``None`` when out of range or
        the power is cut (as the C ``mt_flash_peek``)."""
        self._live()
        _u32("addr", addr)
        _u32("length", length)
        if lib.mt_flash_peek(self._f, addr, length) == ffi.NULL:
            return None
        return memoryview(self._mem).cast("B")[addr : addr + length].toreadonly()

    def program(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        _u32("addr", addr)
        if type(data) is bytes:  # cffi hands bytes to a const uint8_t * without a copy
            n = len(data)
            buf: object = data if n else ffi.NULL
        else:
            n = nbytes(data)
            buf = ffi.from_buffer("uint8_t[]", data) if n else ffi.NULL
        _u32("length", n)
        rc = lib.mt_flash_program(self._f, addr, buf, n)
        if rc:
            raise flash_error(rc, f"program {n} bytes at {addr}")

    def program_holds(self, addr: int, data: bytes) -> bool:
        """``program(addr, data)``, then ``holds(addr, data)``: a program read back
        (a stuck bit shows as False), with the exceptions program raises -- in
        two calls into C, not two here and more in each."""
        n = len(data)
        if type(data) is not bytes or not (0 <= addr <= _U32 and 0 < n <= _U32):
            self.program(addr, data)
            return self.holds(addr, data)
        rc = lib.mt_flash_program(self._f, addr, data, n)
        if rc:
            raise flash_error(rc, f"program {n} bytes at {addr}")
        cells = lib.mt_flash_peek(self._f, addr, n)
        if cells == ffi.NULL:  # (not after a program that passed: as holds does)
            return self.read(addr, n) == data
        return ffi.buffer(cells, n) == data

    def erase(self, addr: int, length: int | None = None) -> None:
        """Erase whole sectors (one sector when ``length`` is omitted)."""
        n = self.sector_size if length is None else length
        raise_for(
            lib.mt_flash_erase(self._f, _u32("addr", addr), _u32("length", n)),
            f"erase {n} bytes at {addr}",
        )

    def factory_erase(self) -> None:
        """Every byte 0xFF, every wear counter 0 (not a flash operation)."""
        self._live()
        lib.mt_flash_factory_erase(self._f)

    def dump(self) -> bytes:
        """The raw cells, readable even with the power cut (a test-bench view)."""
        self._live()
        return bytes(self._mem)

    def wear_counters(self) -> list[int]:
        self._live()
        return [int(self._cwear[i]) for i in range(self.size // self.sector_size)]

    # -- power and faults ------------------------------------------------------
    def seed(self, seed: int) -> None:
        lib.mt_flash_seed(self._f, _u32("seed", seed))

    def cut_after(self, n: int) -> None:
        """Let ``n`` more operations complete; the next one is hit by a power cut."""
        lib.mt_flash_cut_after(self._f, _u32("n", n))

    def cut_disarm(self) -> None:
        lib.mt_flash_cut_disarm(self._f)

    def power_cut(self) -> None:
        lib.mt_flash_power_cut(self._f)

    def power_up(self) -> None:
        self._live()
        lib.mt_flash_power_up(self._f)

    def set_tear(self, mode: Tear, length: int | None = None) -> None:
        """Tear mode for the operation a cut hits; ``length`` bytes complete, or a
        seeded random length when ``None``."""
        param = _TEAR_RANDOM if length is None else _u32("length", length)
        raise_for(lib.mt_flash_set_tear(self._f, int(Tear(mode)), param), "tear mode")

    def flip_bits(self, addr: int, mask: int) -> None:
        self._live()
        raise_for(lib.mt_flash_flip_bits(self._f, _u32("addr", addr), mask & 0xFF), "flip")

    def stick_bits(self, addr: int, zero: int = 0, one: int = 0) -> None:
        self._live()
        if zero & one & 0xFF:
            raise ValueError("a bit cannot be stuck at 0 and at 1")
        raise_for(
            lib.mt_flash_stick_bits(self._f, _u32("addr", addr), zero & 0xFF, one & 0xFF),
            f"stuck bits at {addr}",
        )

    def set_endurance(self, endurance: int) -> None:
        lib.mt_flash_set_endurance(self._f, _u32("endurance", endurance))

    def set_sector_endurance(self, addr: int, endurance: int) -> None:
        """A sector that wears out early (``endurance`` erases, 0 = worn now)."""
        raise_for(
            lib.mt_flash_set_sector_endurance(
                self._f, _u32("addr", addr), _u32("endurance", endurance)
            ),
            f"endurance of sector at {addr}",
        )

    def clear_faults(self) -> None:
        lib.mt_flash_clear_faults(self._f)

    # -- for the other binding modules ----------------------------------------
    def _area(self, off: int, size: int):  # -> cdata mt_flash_area *, binding-internal
        # Made once per span: the C core only reads an area once it is made
        # (const mt_flash_area * everywhere but mt_flash_area_init), and a
        # meter makes reassemblers over the same two spans at every attach.
        key = (off, size) if type(off) is int and type(size) is int else None
        area = self._areas.get(key) if key is not None else None
        if area is not None:
            return area
        area = ffi.new("mt_flash_area *")
        if lib.mt_flash_area_init(area, self._f, _u32("off", off), _u32("size", size)):
            raise ValueError(
                f"partition [{off:#x}, +{size:#x}) is not whole sectors inside the device"
            )
        if key is not None:
            self._areas[key] = area
        return area


@dataclass(frozen=True)
class Partition:
    off: int
    size: int

    @property
    def end(self) -> int:
        return self.off + self.size


_PART_NAMES = (
    "bank_a", "bank_b", "golden", "boot0", "boot1", "progress", "metrology", "audit",
    "floor", "sessions",
)


@dataclass(frozen=True)
class Layout:
    """The partition map computed by the C core (csrc/mt_layout.h)."""

    sector_size: int
    used: int
    bank_a: Partition
    bank_b: Partition
    golden: Partition
    boot0: Partition
    boot1: Partition
    progress: Partition
    metrology: Partition
    audit: Partition
    floor: Partition
    sessions: Partition

    def partitions(self) -> dict[str, Partition]:
        return {name: getattr(self, name) for name in _PART_NAMES}


def compute_layout(
    device_size: int | None = None,
    *,
    sector_size: int = SECTOR_DEFAULT,
    bank_size: int = 128 * 1024,
    golden_size: int | None = None,
    boot_sectors: int = 1,
    progress_sectors: int = 1,
    metrology_sectors: int = 2,
    audit_sectors: int = 4,
    floor_sectors: int = 1,
    session_sectors: int = 2,
) -> Layout:
    """Offsets for the meter's partitions; ``device_size`` defaults to exactly what
    they need. Raises ``ValueError`` for sizes that are not whole sectors, a
    progress partition too small for the bank, or a device too small."""
    p = ffi.new("mt_layout_params *")
    p.sector_size = _u32("sector_size", sector_size)
    p.bank_size = _u32("bank_size", bank_size)
    p.golden_size = _u32("golden_size", bank_size if golden_size is None else golden_size)
    p.boot_sectors = _u32("boot_sectors", boot_sectors)
    p.progress_sectors = _u32("progress_sectors", progress_sectors)
    p.metrology_sectors = _u32("metrology_sectors", metrology_sectors)
    p.audit_sectors = _u32("audit_sectors", audit_sectors)
    p.floor_sectors = _u32("floor_sectors", floor_sectors)
    p.session_sectors = _u32("session_sectors", session_sectors)
    out = ffi.new("mt_layout *")
    dev = _U32 - (_U32 % sector_size) if device_size is None else _u32("device_size", device_size)
    rc = lib.mt_layout_compute(out, p, dev)
    if rc == MT_ERR["MT_E_TOO_BIG"]:
        raise ValueError(f"the partitions do not fit a {device_size}-byte device")
    if rc:
        raise ValueError("bad layout parameters (sizes must be whole, non-zero sectors)")
    parts = [Partition(int(p.off), int(p.size)) for p in out.part[0 : len(_PART_NAMES)]]
    return Layout(int(out.sector_size), int(out.used), *parts)
