"""The meter's side of the bootloader: boot, trial, heartbeat, revert.

The C bootloader (``_lowlevel.boot``) picks the bank, re-validates it, counts
trial boots, confirms, reverts and falls back to the golden image. This part
adds what the meter makes of each outcome: the events (BOOT, BOOT_FAIL,
ROLLBACK, CONFIRMED, F.03/F.04 on the display), the emulation behaviours of
the image that comes up (crash-on-boot, slow-boot, no-heartbeat) and the
heartbeat window.

The anti-rollback floor is kept by the C bootloader in the boot-control
records and in the floor region (append-only, never erased: the meter's OTP).
At power-up the meter reports when the two disagree (FLOOR_MISMATCH: a record
lost or rolled back, or a cut between the record and the floor region; the
higher wins) and when the floor region cannot be raised (0x9004 flash fault,
0x9002 when it is full): the record still holds the floor then.

The bootloader's RAM (its verification cache included) is kept across
power-ups: every check it skips is keyed on the bytes it read and the bank's
write generation, so a cut or a fault still forces a full check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .._lowlevel.boot import Bank, Bootloader, BootRecord, Outcome
from .._lowlevel.boot import BootState as RecordState
from .._lowlevel.flash import Flash
from .._lowlevel.image import ImageCache, PackageHeader, check_package
from ..errors import (
    FLASH_FAULT,
    INVALID_REQUEST,
    MT_ERR,
    NO_BOOTABLE_IMAGE,
    SWAP_FAILURE,
    BootError,
    ErrorCode,
    FlashPowerError,
    PackageError,
    StateError,
    UsageError,
)
from ..wire.package import BEHAVIOURS
from .clock import plus
from .events import Booted, BootFailed, Confirmed, FloorMismatch, Refused, RolledBack
from .layout import Layout, Region
from .lifecycle import Lifecycle
from .power import Power
from .rules import AvailabilityEvent, Event

__all__ = ["BANK_NAMES", "Boot", "version_of"]

BANK_NAMES = {Bank.A: "A", Bank.B: "B", Bank.GOLDEN: "golden"}
_REGIONS = {Bank.A: "bank_a", Bank.B: "bank_b", Bank.GOLDEN: "golden"}
_NO_HEARTBEAT = BEHAVIOURS["no-heartbeat"]
_CRASH_ON_BOOT = BEHAVIOURS["crash-on-boot"]
_SLOW_BOOT = BEHAVIOURS["slow-boot"]
# read at every boot and heartbeat: module names, not an enum class's attributes
_TRIAL = RecordState.TRIAL
_BOOTED = AvailabilityEvent.BOOTED
_HEARTBEAT, _CONFIRMED, _REVERTED = Event.HEARTBEAT, Event.CONFIRMED, Event.REVERTED


def version_of(h: PackageHeader) -> str:
    return h.version_text


def _lost(at: str) -> FlashPowerError:
    return FlashPowerError(MT_ERR["MT_E_FLASH_POWER"], at)


@dataclass(frozen=True)
class BootTimes:
    heartbeat_window: Fraction  # a trial image's time to get its heartbeat
    slow_boot: Fraction  # how long a slow-boot image keeps the meter silent
    swap_pause: Fraction  # metrology pause for a bank swap
    max_attempts: int  # unconfirmed boots of a trial image before revert


_BOOT_AREAS = ("bank_a", "bank_b", "golden", "boot0", "boot1", "floor")
# the parts of the newest layouts asked for: id(layout) -> (layout, regions, areas);
# the entry holds the layout, so its id cannot be another object's meanwhile
_PARTS: dict[int, tuple[Layout, dict[Bank, Region], dict[str, tuple[int, int]]]] = {}


def _parts(layout: Layout) -> tuple[dict[Bank, Region], dict[str, tuple[int, int]]]:
    """The banks' regions of ``layout`` and the bootloader's areas (offset, size),
    worked out once per layout: a layout is frozen, and meters of one geometry
    share one (``meter._layout``). Used only for that very object (``is``);
    the caller copies what it keeps."""
    got = _PARTS.get(id(layout))
    if got is not None and got[0] is layout:
        return got[1], got[2]
    regions = {b: layout[name] for b, name in _REGIONS.items()}
    areas = {name: (layout[name].offset, layout[name].size) for name in _BOOT_AREAS}
    if len(_PARTS) >= 16:
        _PARTS.clear()
    _PARTS[id(layout)] = (layout, regions, areas)
    return regions, areas


class Boot:
    """Boot, trial and heartbeat of one meter."""

    def __init__(self, flash: Flash, layout: Layout, *, vendor_id: int, hw_revision: int,
                 trusted_keys: Sequence[bytes], times: BootTimes, power: Power,
                 lifecycle: Lifecycle, emit: Callable[..., object]) -> None:
        self._flash = flash
        self._layout = layout
        self._identity = (vendor_id, hw_revision)
        self._keys = list(trusted_keys)
        regions, areas = _parts(layout)
        self._regions = dict(regions)
        self.times = times
        self._power = power
        self._lifecycle = lifecycle
        self._emit = emit
        self.loader = Bootloader(flash, areas, vendor_id=vendor_id, hw_revision=hw_revision,
                                 trusted_keys=self._keys, max_attempts=times.max_attempts)
        self.running: PackageHeader | None = None
        self.trial_deadline: Fraction | None = None
        # the bank the boot-control record named when the last boot began: an
        # image was activated there, whatever the boot then fell back to
        self.named: Bank | None = None

    # ---------------------------------------------------------------- views
    @property
    def bank(self) -> Bank | None:
        """The bank running now, None when nothing runs."""
        return self.loader.running if self.running is not None else None

    def region(self, bank: Bank | int) -> Region:
        got = self._regions.get(bank) if type(bank) is Bank or type(bank) is int else None
        # (a Bank and its int are one key; anything else, or a bad value, the long way)
        return got if got is not None else self._layout[_REGIONS[Bank(bank)]]

    @property
    def record(self) -> BootRecord:
        return self.loader.record

    @property
    def floor(self) -> int:
        return self.loader.floor

    def inactive(self) -> Bank | None:
        """The bank a download may go to now; None during a trial or with nothing running."""
        return self.loader.inactive_or_none()

    # ---------------------------------------------------------------- factory
    def provision(self, package: bytes, bank_size: int) -> None:
        """Factory: the golden image into the golden region and bank A, then the
        first boot-control record (bank A, the image's counter as the floor).
        The package is checked in full once, before anything is written; the
        bootloader adopts that check's content key, so its own check of bank A
        makes one pass and no ECDSA, and the first boot (the bank unwritten
        since) none."""
        vendor_id, hw_revision = self._identity
        cache = ImageCache()
        try:
            check_package(package, vendor_id=vendor_id, hw_revision=hw_revision,
                          bank_size=bank_size, trusted_keys=self._keys, cache=cache)
        except PackageError as exc:
            raise UsageError(f"factory package refused: {exc.error}") from None
        pad = -len(package) % self._flash.align
        for name in ("golden", "bank_a"):
            self._flash.program(self._layout[name].offset, package + b"\xff" * pad)
        self.adopt(cache)
        self.loader.provision()

    def check_policy(self) -> tuple[int, int, int, tuple[bytes, ...]]:
        """What a package check for the bank a download goes to depends on here:
        (vendor, hardware revision, bank size, trusted keys). Two meters with
        the same policy reach the same verdict on the same bytes."""
        vendor_id, hw_revision = self._identity
        return vendor_id, hw_revision, self.region(Bank.B).size, tuple(self._keys)

    def adopt_download(self, cache: ImageCache) -> None:
        """The bank a download goes to now adopts ``cache``, a passed check of a
        package (:func:`check_package` with this meter's :meth:`check_policy`).
        Sound for any bytes: the cache is keyed on every byte the check reads,
        recomputed from the bank at each validation, so a bank holding other
        bytes (one differs, or a fault) misses it and is checked in full. No-op
        while no bank is inactive (off, in a trial)."""
        bank = self.inactive()
        if bank is not None:
            self.loader.adopt(bank, cache)

    def adopt(self, cache: ImageCache) -> None:
        """``cache`` holds a passed check of the factory package: the golden region
        and bank A adopt it (a bank holding other bytes misses it, csrc/mt_image.h)."""
        for bank in (Bank.GOLDEN, Bank.A):
            self.loader.adopt(bank, cache)

    # ---------------------------------------------------------------- faults
    def _refused(self, error: ErrorCode, **fields: object) -> None:
        self._emit(Refused, error=error, fields=tuple(fields.items()))

    def _lcd_fault(self, error: ErrorCode, **fields: object) -> ErrorCode:
        """A fault the display shows (F.03, F.04): on the LCD and in the audit log."""
        self._power.lcd = error.code
        self._refused(error, **fields)
        return error

    def _boot_failure(self, exc: BootError, at: str) -> None:
        """A bootloader error with the power on: F.04 or F.03; nothing runs."""
        if not self._flash.powered:
            raise _lost(at) from None
        no_image = exc.err == MT_ERR["MT_E_NO_BOOTABLE"]
        self._lcd_fault(NO_BOOTABLE_IMAGE if no_image else SWAP_FAILURE, at=at, rc=exc.err_name)
        self._power.on(AvailabilityEvent.NO_IMAGE if no_image else AvailabilityEvent.SWAP_FAULT)
        self.running = None

    def _floor_fault(self, at: str) -> None:
        """The floor region could not be raised (the record still holds the floor)."""
        fault = self.loader.floor_fault
        if fault is None:
            return
        if fault.err == MT_ERR["MT_E_FLASH_POWER"]:
            raise _lost(at)
        self._refused(fault.error or FLASH_FAULT, at="floor", rc=fault.err_name)

    def _why_fallback(self, before: BootRecord) -> None:
        """The C bootloader left the bank ``before`` named: say why. The floor is
        the effective one (record or floor region), as the C check's."""
        if before.state is not RecordState.CONFIRMED and (
                before.attempts >= self.times.max_attempts):
            reason = "boot-loop"
        else:
            reason = "invalid-bank"
            region = self.region(before.active)
            vendor_id, hw_revision = self._identity
            try:
                check_package(self._flash.read(region.offset, region.size),
                              vendor_id=vendor_id, hw_revision=hw_revision,
                              bank_size=region.size, trusted_keys=self._keys,
                              installed_counter=0 if before.active is Bank.GOLDEN
                              else self.loader.floor)
            except PackageError as exc:
                self._refused(exc.error, bank=BANK_NAMES[before.active], at="boot")
        running = self.loader.running
        assert running is not None
        self._emit(RolledBack, reason=reason, bank=BANK_NAMES[running])

    # ---------------------------------------------------------------- boot
    def start(self, cold: bool) -> bool:
        """Reset: the C bootloader picks the bank, re-validates it and counts a trial
        boot; the image then comes up (boot ok) or crashes (boot failed: again).
        True when an image runs; the life cycle hears of a revert."""
        boot = self.loader
        self.running = None
        self.trial_deadline = None
        before = boot.load()
        self.named = before.active
        if cold and boot.floor_record != boot.floor_otp:
            self._emit(FloorMismatch, record=boot.floor_record, otp=boot.floor_otp,
                       floor=boot.floor)
        reverted = False
        crashes = 0
        while True:
            try:
                bank = boot.start() if crashes == 0 else boot.boot_failed()
            except BootError as exc:
                if cold and crashes == 0 and self._flash.powered:
                    self._floor_fault("boot")
                self._boot_failure(exc, "boot")
                return False
            if cold and crashes == 0:
                self._floor_fault("boot")  # the repair of the floor region
            if bank is not before.active:
                self._why_fallback(before)
                reverted = True
            h = boot.running_header
            assert h is not None
            rec = boot.record
            if h.behaviour != _CRASH_ON_BOOT:
                break
            # crash-on-boot: the watchdog resets, the bootloader counts the attempt
            self._emit(BootFailed, version=version_of(h), attempt=rec.attempts)
            crashes += 1
            if crashes > 3 * self.times.max_attempts + 3:  # a confirmed image that crashes
                self._boot_failure(BootError(MT_ERR["MT_E_NO_BOOTABLE"]), "boot-loop")
                return False
            before = rec
        try:
            boot.boot_ok()  # the image came up (a reverted one is confirmed again)
        except BootError as exc:
            if not self._flash.powered:
                raise _lost("boot") from None
            self._lcd_fault(SWAP_FAILURE, at="boot-ok", rc=exc.err_name)
        self.running = h
        power = self._power
        power.on(_BOOTED)
        times = self.times
        if not cold:
            power.swap_pause(times.swap_pause)
        if h.behaviour == _SLOW_BOOT:
            power.slow_boot(times.slow_boot)
        trial = rec.state is _TRIAL
        if trial:
            self.trial_deadline = plus(power.clock.now, times.heartbeat_window)
        self._emit(Booted, version=version_of(h), bank=BANK_NAMES[bank], trial=trial,
                   cold=cold)
        if reverted:
            self._lifecycle.apply(_REVERTED)
        return True

    def trial_timeout(self) -> bool:
        """No heartbeat in the window: give the trial image up. True when the
        revert was written (the caller restarts the meter)."""
        running = self.running
        assert running is not None
        self.trial_deadline = None
        self._emit(RolledBack, reason="no-heartbeat", version=version_of(running),
                   bank=BANK_NAMES[self.loader.record.previous])
        try:
            self.loader.revert()
        except BootError as exc:
            if not self._flash.powered:
                raise _lost("revert") from None
            self._lcd_fault(SWAP_FAILURE, at="revert", rc=exc.err_name)
            return False
        return True

    def confirm(self) -> bool:
        """The heartbeat: a trial image (that does confirm) is confirmed and the
        floor raised. False when there is nothing to confirm or it failed."""
        running = self.running
        if self._lifecycle.refusal(_HEARTBEAT) is not None or running is None:
            return False
        if running.behaviour == _NO_HEARTBEAT:  # this image never confirms
            return False
        loader = self.loader
        try:
            loader.confirm()  # C: state confirmed, counter raised
        except (BootError, StateError) as exc:
            if not self._flash.powered:
                raise _lost("confirm") from None
            swap = isinstance(exc, BootError) and exc.err == MT_ERR["MT_E_SWAP"]
            if swap:
                self._power.lcd = SWAP_FAILURE.code
            self._refused(SWAP_FAILURE if self._power.lcd else INVALID_REQUEST, at="confirm",
                          rc=getattr(exc, "err_name", None))
            return False
        rec = loader.record
        self.trial_deadline = None
        self._floor_fault("confirm")  # the record holds the new floor either way
        self._emit(Confirmed, version=running.version_text, bank=BANK_NAMES[rec.active],
                   counter=rec.counter)
        self._lifecycle.apply(_CONFIRMED)
        return True

    def outcome(self) -> Outcome:
        return self.loader.record.outcome
