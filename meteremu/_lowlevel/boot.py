"""Thin typed wrapper over the C bootloader (csrc/mt_boot.h).

The C side owns the rules (record placement, boot flow, fallbacks, F.03); this
module holds the caller-owned C state, checks arguments, and turns return
codes into exceptions: acceptance failures of verify/activate raise
:class:`~meteremu.errors.PackageRefused`, everything else
:class:`BootError` (``MT_E_SWAP`` is the LCD's F.03, ``MT_E_NO_BOOTABLE``
F.04, ``MT_E_STATE`` an operation not valid now).

The flash device is a :class:`meteremu._lowlevel.flash.Flash`; this module
only builds areas over it and never writes flash itself.

The anti-rollback floor lives in the boot-control records and in the floor
area (append-only, never erased, as OTP): :attr:`Bootloader.floor` is the
effective floor, :attr:`Bootloader.floor_record` and
:attr:`Bootloader.floor_otp` what the two said at the last load, and
:attr:`Bootloader.floor_fault` why the last raise of the area failed (the
bootloader goes on without it: the record holds the floor).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import MT_ERR, MT_NAMES, BootError, MeteremuError, c_error
from ..wire.boot import BOOT_RECORD_SIZE as RECORD_SIZE
from ..wire.boot import FLOOR_SLOT_SIZE
from . import ffi, lib
from .crypto import CRC_IMPL, SHA256_IMPL
from .flash import Flash
from .image import ImageCache, PackageHeader, _header_from_c, _header_of, _keys

__all__ = [
    "Bank",
    "BootError",
    "BootRecord",
    "BootState",
    "Bootloader",
    "Outcome",
    "decode_floor_slot",
    "decode_record",
    "encode_floor_slot",
    "encode_record",
]

_NONE = 0xFF
_E_STATE = MT_ERR["MT_E_STATE"]


class Bank(enum.IntEnum):
    A = 0
    B = 1
    GOLDEN = 2


_BANKS = (Bank.A, Bank.B, Bank.GOLDEN)


def _bank(value: int) -> Bank:
    """``Bank(value)`` without the enum's call (a ValueError all the same)."""
    return _BANKS[value] if 0 <= value < 3 else Bank(value)


class BootState(enum.IntEnum):
    """The record's trial flag: confirmed, trial (awaiting its heartbeat),
    reverted (an older image brought back, on probation until it boots once)."""

    CONFIRMED = 0
    TRIAL = 1
    REVERTED = 2


class Outcome(enum.IntEnum):
    """How the last update ended (the record's ``outcome`` byte): it outlives
    the state, so a reverted image that booted again still says REVERTED."""

    NONE = 0
    CONFIRMED = 1
    REVERTED = 2


@dataclass(frozen=True)
class BootRecord:
    """A boot-control record (layout in csrc/mt_boot.h)."""

    sequence: int
    active: Bank
    state: BootState
    attempts: int
    previous: Bank
    counter: int
    outcome: Outcome = Outcome.NONE


def _record_from_c(r: object) -> BootRecord:
    c = r  # cdata mt_boot_record, never leaves this function
    return _record_of(int(c.sequence), int(c.active), int(c.state), int(c.attempts),
                      int(c.previous), int(c.counter), int(c.outcome))


# Where the record and the running header sit in a bootloader's RAM, and how
# many of the record's bytes hold its fields (the rest is padding, which a
# struct copy in C may leave as anything: never part of a key).
_REC_AT = ffi.offsetof("mt_boot", "rec")
_REC_END = _REC_AT + ffi.offsetof("mt_boot_record", "outcome") + 1
_HDR_AT = ffi.offsetof("mt_boot", "running_header")
_HDR_END = _HDR_AT + ffi.sizeof("mt_pkg_header")
# record by the bytes of its fields: a fleet's meters hold the same few records
_RECORDS: dict[bytes, BootRecord] = {}


@functools.lru_cache(maxsize=256)
def _record_of(sequence: int, active: int, state: int, attempts: int, previous: int,
               counter: int, outcome: int) -> BootRecord:
    """The record of these field values, made once: a BootRecord is immutable, and
    a fleet's meters read the same few records many times. A value outside
    its enum raises ValueError every time (exceptions are not cached)."""
    return BootRecord(sequence=sequence, active=Bank(active), state=BootState(state),
                      attempts=attempts, previous=Bank(previous), counter=counter,
                      outcome=Outcome(outcome))


def encode_record(rec: BootRecord) -> bytes:
    """The 32-byte on-flash form of ``rec`` (layout in csrc/mt_boot.h), as the
    bootloader writes it. Fields are stored as given: the C encoder does not
    check bank, state or outcome values (the decoder does)."""
    for name in ("sequence", "counter"):
        if not 0 <= getattr(rec, name) <= 0xFFFFFFFF:
            raise ValueError(f"{name} must fit 32 bits")
    for name in ("active", "state", "attempts", "previous", "outcome"):
        if not 0 <= getattr(rec, name) <= 0xFF:
            raise ValueError(f"{name} must fit 8 bits")
    c = ffi.new("mt_boot_record *", {
        "sequence": rec.sequence, "counter": rec.counter, "active": rec.active,
        "state": rec.state, "attempts": rec.attempts, "previous": rec.previous,
        "outcome": rec.outcome,
    })
    out = ffi.new("uint8_t[]", RECORD_SIZE)
    lib.mt_boot_record_encode(c, out)
    return bytes(ffi.buffer(out, RECORD_SIZE))


def decode_record(raw: bytes) -> BootRecord | None:
    """Decode a 32-byte on-flash record; None when it is not a valid one."""
    if len(raw) != RECORD_SIZE:
        raise ValueError(f"a boot-control record is {RECORD_SIZE} bytes, got {len(raw)}")
    out = ffi.new("mt_boot_record *")
    if lib.mt_boot_record_decode(out, ffi.from_buffer("uint8_t[]", raw)) != 0:
        return None
    return _record_from_c(out)


def encode_floor_slot(floor: int) -> bytes:
    """The 16-byte floor-area slot for ``floor`` (layout in csrc/mt_boot.h)."""
    if not 0 <= floor <= 0xFFFFFFFF:
        raise ValueError(f"a floor is a 32-bit counter, got {floor}")
    out = ffi.new("uint8_t[]", FLOOR_SLOT_SIZE)
    lib.mt_boot_floor_encode(floor, out)
    return bytes(ffi.buffer(out, FLOOR_SLOT_SIZE))


def decode_floor_slot(raw: bytes) -> int | None:
    """The floor a 16-byte floor-area slot holds; None when it is not a valid
    slot (erased, torn, flipped)."""
    if len(raw) != FLOOR_SLOT_SIZE:
        raise ValueError(f"a floor slot is {FLOOR_SLOT_SIZE} bytes, got {len(raw)}")
    out = ffi.new("uint32_t *")
    if lib.mt_boot_floor_decode(out, ffi.from_buffer("uint8_t[]", raw)) != 0:
        return None
    return int(out[0])


def _raise(rc: int) -> None:
    if rc:
        raise c_error(rc)


class Bootloader:
    """The meter's bootloader state over a flash device.

    ``areas`` maps ``"bank_a"``, ``"bank_b"``, ``"golden"``, ``"boot0"``,
    ``"boot1"`` and ``"floor"`` (the anti-rollback floor area) to ``(offset,
    size)`` in the device (sector multiples).
    """

    def __init__(
        self,
        flash: Flash,
        areas: dict[str, tuple[int, int]],
        *,
        vendor_id: int,
        hw_revision: int,
        trusted_keys: Sequence[bytes],
        max_attempts: int = 3,
    ) -> None:
        if not 1 <= max_attempts <= 255:
            raise ValueError(f"max_attempts must be 1..255, got {max_attempts}")
        if not 0 <= vendor_id <= 0xFFFFFFFF or not 0 <= hw_revision <= 0xFFFF:
            raise ValueError("vendor_id or hw_revision out of range")
        if not isinstance(flash, Flash):
            raise TypeError(f"flash must be a meteremu._lowlevel.flash.Flash, not {flash!r:.60}")
        self._flash = flash  # keeps the device (and its memory) alive
        self._dev = flash._f  # the mt_flash * behind it, never handed in from outside
        self._keys, count = _keys(trusted_keys)
        cfg = ffi.new("mt_boot_config *")
        bank, control, dev, init = cfg.bank, cfg.control, self._dev, lib.mt_flash_area_init
        for fa, name in ((bank, "bank_a"), (bank + 1, "bank_b"), (bank + 2, "golden"),
                         (control, "boot0"), (control + 1, "boot1"),
                         (ffi.addressof(cfg, "floor"), "floor")):
            span = areas[name]
            off, size = span  # (self._area, inline: six per meter)
            if not (0 <= off <= 0xFFFFFFFF and 0 < size <= 0xFFFFFFFF):
                raise ValueError(f"bad area {span}")
            if init(fa, dev, off, size) != 0:
                raise ValueError(f"area {span} is not sector-aligned inside the device")
        cfg.vendor_id = vendor_id
        cfg.hw_revision = hw_revision
        cfg.max_attempts = max_attempts
        cfg.keys = self._keys
        cfg.key_count = count
        self._b = ffi.new("mt_boot *")
        self._refs: list[bytes | None] | None = None  # per bank, what its cache's ref names
        self._ram = ffi.buffer(self._b)  # its bytes, read in place (record, header)
        # the CPU's answers, asked once per process at import (no CPUID per meter)
        rc = lib.mt_boot_init_impl(self._b, cfg, SHA256_IMPL, CRC_IMPL)
        if rc != 0:
            raise ValueError(f"bad boot configuration ({MT_NAMES.get(rc, rc)})")

    def _area(self, fa: object, span: tuple[int, int]) -> None:
        off, size = span
        if not (0 <= off <= 0xFFFFFFFF and 0 < size <= 0xFFFFFFFF):
            raise ValueError(f"bad area {span}")
        if lib.mt_flash_area_init(fa, self._dev, off, size) != 0:
            raise ValueError(f"area {span} is not sector-aligned inside the device")

    # ---- state ----

    @property
    def record(self) -> BootRecord:
        """The current boot-control record (what flash says): the record its
        fields' bytes made before, else :func:`_record_from_c` of them (a value
        outside its enum raises ValueError every time, nothing kept)."""
        key = self._ram[_REC_AT:_REC_END]
        got = _RECORDS.get(key)
        if got is None:
            got = _record_from_c(self._b.rec)
            if len(_RECORDS) >= 256:
                _RECORDS.clear()
            _RECORDS[key] = got
        return got

    @property
    def running(self) -> Bank | None:
        r = self._b.running
        return None if r == _NONE else _bank(r)

    @property
    def running_header(self) -> PackageHeader | None:
        """Header of the running image; its ``behaviour`` is the emulation flag
        (the header of its bytes, as :func:`_header_from_c` reads them)."""
        r = self._b.running
        if r == _NONE:
            return None
        if r > 2:
            Bank(r)  # the ValueError :attr:`running` raises
        return _header_of(self._ram[_HDR_AT:_HDR_END])

    @property
    def fault(self) -> bool:
        """F.03 latched: a record write failed; cleared by the next start."""
        return bool(self._b.fault)

    @property
    def records_written(self) -> int:
        return int(self._b.writes)

    @property
    def floor(self) -> int:
        """The effective anti-rollback floor: the higher of the record's counter
        and the floor area's (validations of banks A and B use it)."""
        return int(self._b.floor)

    @property
    def floor_record(self) -> int:
        """The current record's counter at the last load (0 with no record)."""
        return int(self._b.floor_record)

    @property
    def floor_otp(self) -> int:
        """The floor area's floor at the last load (0 when it holds none)."""
        return int(self._b.floor_otp)

    @property
    def floor_fault(self) -> MeteremuError | None:
        """Why the last raise of the floor area (by provision, confirm, or the
        repair in start) failed; None when it worked or none was needed. Its
        ``code`` is the operator record: 0x9002 for a full area, 0x9004 for a
        flash fault."""
        rc = int(self._b.floor_rc)
        return None if rc == 0 else c_error(rc, "floor area")

    def checks(self, bank: Bank) -> tuple[int, int]:
        """Diagnostics of the bank's verification cache since this bootloader was
        built: (validations that read the bank's image, ECDSA verifications run).
        A validation of a bank nothing has written since its last full check
        reads neither (csrc/mt_boot.h, "Verification cache")."""
        c = self._b.cache[int(Bank(bank))]
        return int(c.hashed), int(c.verified)

    def matched(self, bank: Bank) -> int:
        """Validations of ``bank`` that an adopted reference answered: the bank
        held the very bytes of a package checked elsewhere, compared instead
        of hashed (csrc/mt_image.h, "By reference"). Counted in :meth:`checks`'
        first figure too: the compare reads the image."""
        return int(self._b.cache[int(Bank(bank))].matched)

    # ---- operations ----

    def adopt(self, bank: Bank, cache: ImageCache) -> None:
        """Take the content key of a package that passed :func:`check_package`
        with ``cache`` for ``bank``, and the package itself as kept by the cache:
        the bank's validations then spare the image SHA-256 and ECDSA while the
        bank holds those very bytes (one compare with them instead), and run in
        full on any other bytes. The factory's check of its package, before
        writing it; a broadcast's check of its package, once for many meters."""
        if not isinstance(cache, ImageCache):
            raise TypeError(f"cache must be an ImageCache, not {cache!r:.60}")
        if not cache.filled:
            raise ValueError("the cache holds no verified package")
        at = int(Bank(bank))
        _raise(lib.mt_boot_adopt(self._b, at, cache._c))
        # the bank's cache now names cache's reference bytes: they live as long
        refs = self._refs
        if refs is None:
            refs = self._refs = [None, None, None]
        refs[at] = cache._ref

    def provision(self) -> BootRecord:
        """Factory: write the first record (bank A, confirmed, A's security
        counter as the anti-rollback floor), then that floor into the floor area
        (see :attr:`floor_fault`). BootError(MT_E_STATE) when a record exists
        already; PackageRefused when bank A does not validate."""
        _raise(lib.mt_boot_provision(self._b))
        return self.record

    def load(self) -> BootRecord:
        """Read the newest valid record and the floor area without booting or
        writing anything (:attr:`floor_record`, :attr:`floor_otp`)."""
        _raise(lib.mt_boot_load(self._b))
        return self.record

    def start(self) -> Bank:
        """Power-up or reset: pick the record, raise the floor area to it if it
        lags (:attr:`floor_fault` when that fails), validate, count a trial
        boot, run."""
        _raise(lib.mt_boot_start(self._b))
        return _bank(int(self._b.running))

    def boot_ok(self) -> None:
        _raise(lib.mt_boot_boot_ok(self._b))

    def boot_failed(self) -> Bank:
        """The running image crashed: a watchdog reset (start again)."""
        _raise(lib.mt_boot_boot_failed(self._b))
        return Bank(int(self._b.running))

    def inactive(self) -> Bank:
        rc = lib.mt_boot_inactive(self._b)
        _raise(rc if rc < 0 else 0)
        return _bank(rc)

    def inactive_or_none(self) -> Bank | None:
        """:meth:`inactive`, or None where it raises the StateError of
        ``MT_E_STATE`` (a trial runs, or nothing does) -- without making that
        exception, which costs more than the question (a meter asks at every
        attach during its trial)."""
        rc = lib.mt_boot_inactive(self._b)
        if rc == _E_STATE:
            return None
        _raise(rc if rc < 0 else 0)
        return _bank(rc)

    def verify(self, *, complete: bool = True) -> PackageHeader:
        out = ffi.new("mt_pkg_header *")
        _raise(lib.mt_boot_verify(self._b, out, 1 if complete else 0))
        return _header_from_c(out)

    def activate(self, *, complete: bool = True) -> None:
        _raise(lib.mt_boot_activate(self._b, 1 if complete else 0))

    def confirm(self) -> None:
        """The heartbeat: the record says confirmed with the image's counter, then
        the floor area is raised (:attr:`floor_fault` when that fails)."""
        _raise(lib.mt_boot_confirm(self._b))

    def revert(self) -> None:
        _raise(lib.mt_boot_revert(self._b))

    def forget_fallback(self) -> None:
        """A download is about to take the bank the record names as the confirmed
        image's fallback: the record stops naming it (one record write, or none)."""
        _raise(lib.mt_boot_forget_fallback(self._b))

    def golden(self) -> None:
        _raise(lib.mt_boot_golden(self._b))
