"""Boot, trial and heartbeat, mixed into VirtualMeter.

The C bootloader (``_lowlevel.boot``) picks the bank, re-validates it, counts
trial boots, confirms, reverts and falls back to the golden image. What this
module adds is the meter's side of each outcome: the audit records (BOOT,
BOOT_FAIL, ROLLBACK, F.03/F.04), the emulation behaviours of the image that
comes up (crash-on-boot, slow-boot, no-heartbeat), the heartbeat window, and
the boot state rebuilt from flash after a power-up.

The anti-rollback floor is kept by the C bootloader in the boot-control records
and in the floor region (append-only, never erased: the meter's OTP). At
power-up the meter logs when the two disagree (FLOOR_MISMATCH: a record lost or
rolled back, or a cut between the record and the floor region; the higher
wins) and when the floor region cannot be raised (0x9004 flash fault, 0x9002
when it is full): the record still holds the floor then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lowlevel.boot import Bank, BootError, Bootloader, BootRecord, Outcome
from .._lowlevel.boot import BootState as CoreState
from .._lowlevel.flash import FlashPowerError as PowerLost
from .._lowlevel.image import ImageError, check_package
from ..errors import (
    FLASH_FAULT,
    INVALID_REQUEST,
    MT_ERR,
    NO_BOOTABLE_IMAGE,
    SWAP_FAILURE,
    ErrorCode,
)
from ..wire.package import BEHAVIOURS
from ._download import KIND_DLMS, _version
from .cosem import ImageTransferStatus
from .sessions import CloseReason
from .states import BootState, Event

if TYPE_CHECKING:
    from .meter import VirtualMeter

__all__ = ["BANK_NAMES", "BootServices"]

BANK_NAMES = {Bank.A: "A", Bank.B: "B", Bank.GOLDEN: "golden"}
_NO_HEARTBEAT = BEHAVIOURS["no-heartbeat"]
_CRASH_ON_BOOT = BEHAVIOURS["crash-on-boot"]
_SLOW_BOOT = BEHAVIOURS["slow-boot"]
_OUTCOME_STATE = {Outcome.NONE: BootState.IDLE, Outcome.CONFIRMED: BootState.CONFIRMED,
                  Outcome.REVERTED: BootState.REVERTED}


class BootServices:
    """Bootloader outcomes, trial window, heartbeat; ``self`` is a VirtualMeter."""

    def _new_bootloader(self: VirtualMeter) -> Bootloader:
        L = self.layout
        areas = {name: (L[name].offset, L[name].size)
                 for name in ("bank_a", "bank_b", "golden", "boot0", "boot1", "floor")}
        return Bootloader(self._flash, areas, vendor_id=self.vendor_id,
                          hw_revision=self.hw_revision, trusted_keys=self._points,
                          max_attempts=self.MAX_BOOT_ATTEMPTS)

    def _provision(self: VirtualMeter, package: bytes) -> None:
        """Factory: the golden image into the golden region and bank A, then the
        first boot-control record (bank A, the image's counter as the floor)."""
        try:
            check_package(package, vendor_id=self.vendor_id, hw_revision=self.hw_revision,
                          bank_size=self.geometry.bank_size, trusted_keys=self._points)
        except ImageError as exc:
            raise ValueError(f"factory package refused: {exc.code}") from None
        pad = -len(package) % self.geometry.align
        for name in ("golden", "bank_a"):
            self._flash.program(self.layout[name].offset, package + b"\xff" * pad)
        self._boot.provision()

    @property
    def anti_rollback_floor(self: VirtualMeter) -> int:
        """The lowest security counter the meter accepts for banks A and B: the
        higher of the boot-control record's and the floor region's."""
        return self._boot.floor

    def _floor_mismatch(self: VirtualMeter) -> None:
        """After the power-up load: one record when the boot-control record and the
        floor region disagree about the anti-rollback floor (the higher wins)."""
        boot = self._boot
        if boot.floor_record != boot.floor_otp:
            self._evt("FLOOR_MISMATCH", record=boot.floor_record, otp=boot.floor_otp,
                      floor=boot.floor)

    def _floor_fault(self: VirtualMeter, at: str) -> None:
        """The floor region could not be raised (the record still holds the floor)."""
        fault = self._boot.floor_fault
        if fault is None:
            return
        if fault.err == MT_ERR["MT_E_FLASH_POWER"]:
            raise self._lost_power(at)
        self._err(fault.code or FLASH_FAULT, at="floor", rc=fault.err_name)

    def _lost_power(self: VirtualMeter, what: str) -> PowerLost:
        return PowerLost(MT_ERR["MT_E_FLASH_POWER"], what)

    def _lcd_fault(self: VirtualMeter, error: ErrorCode, **fields: object) -> ErrorCode:
        """A fault the display shows (F.03, F.04): on the LCD and in the audit log."""
        self._lcd = error.code
        return self._err(error, **fields)

    def _boot_failure(self: VirtualMeter, exc: BootError, at: str) -> None:
        """A bootloader error with the power on: F.04 or F.03; nothing runs."""
        if not self._flash.powered:
            raise self._lost_power(at) from None
        no_image = exc.err == MT_ERR["MT_E_NO_BOOTABLE"]
        self._lcd_fault(NO_BOOTABLE_IMAGE if no_image else SWAP_FAILURE, at=at, rc=exc.err_name)
        self._on = False
        self._running = None
        self._dl = None

    def _why_fallback(self: VirtualMeter, before: BootRecord) -> None:
        """The C bootloader left the bank ``before`` named: say why in the audit log.
        The floor is the effective one (record or floor region), as the C check's."""
        if before.state is not CoreState.CONFIRMED and before.attempts >= self.MAX_BOOT_ATTEMPTS:
            reason = "boot-loop"
        else:
            reason = "invalid-bank"
            region = self._bank_region(before.active)
            try:
                check_package(self._flash.read(region.offset, region.size),
                              vendor_id=self.vendor_id, hw_revision=self.hw_revision,
                              bank_size=region.size, trusted_keys=self._points,
                              installed_counter=0 if before.active is Bank.GOLDEN
                              else self._boot.floor)
            except ImageError as exc:
                self._err(exc.code, bank=BANK_NAMES[before.active], at="boot")
        running = self._boot.running
        assert running is not None
        self._evt("ROLLBACK", reason=reason, bank=BANK_NAMES[running])

    def _start(self: VirtualMeter, cold: bool) -> None:
        """Reset: the C bootloader picks the bank, re-validates it and counts a trial
        boot; the image then comes up (boot ok) or crashes (boot failed: again)."""
        boot = self._boot
        before = boot.load()
        if cold:
            self._floor_mismatch()
        reverted = False
        crashes = 0
        while True:
            try:
                bank = boot.start() if crashes == 0 else boot.boot_failed()
            except BootError as exc:
                if cold and crashes == 0 and self._flash.powered:
                    self._floor_fault("boot")
                self._boot_failure(exc, "boot")
                return
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
            self._evt("BOOT_FAIL", version=_version(h), attempt=rec.attempts)
            crashes += 1
            if crashes > 3 * self.MAX_BOOT_ATTEMPTS + 3:  # a confirmed image that crashes
                self._boot_failure(BootError(MT_ERR["MT_E_NO_BOOTABLE"]), "boot-loop")
                return
            before = rec
        try:
            boot.boot_ok()  # the image came up (a reverted one is confirmed again)
        except BootError as exc:
            if not self._flash.powered:
                raise self._lost_power("boot") from None
            self._lcd_fault(SWAP_FAILURE, at="boot-ok", rc=exc.err_name)
        self._running = h
        if not cold:  # the bank swap: metrology pauses while the kernel re-initialises
            self._pause_until = max(self._pause_until, self.clock.now + self.SWAP_PAUSE)
        if h.behaviour == _SLOW_BOOT:
            self._busy_until = self.clock.now + self.SLOW_BOOT
        trial = rec.state is CoreState.TRIAL
        if trial:
            self._trial_deadline = self.clock.now + self.heartbeat_window
        self._evt("BOOT", version=_version(h), bank=BANK_NAMES[bank],
                  trial=1 if trial else None, cold=1 if cold else None)
        self._attach_download()
        if reverted:
            self._event(Event.REVERTED)

    def _attach_download(self: VirtualMeter) -> None:
        """The reassembler for the bank a download may go to now (none during a
        trial), rebuilt from the progress partition. A session still open for the
        bank that runs now was activated: it is closed here."""
        self._dl = None
        running = self._boot.running
        if running in (Bank.A, Bank.B):
            r = self._new_reassembler(running)
            if r.resume():
                self._remember_closed(r.tag, r.session_id, CloseReason.ACTIVATED)
                r.close()
        try:
            target = self._boot.inactive()
        except BootError:
            return
        self._dl = self._new_reassembler(target)
        self._dl.resume()

    def _restore_state(self: VirtualMeter) -> None:
        """After power-up: the boot state from the facts in flash (record, session)."""
        rec = self._boot.record
        dl = self._open_download()
        if rec.state is CoreState.TRIAL:
            self._state = BootState.TRIAL
        elif dl is not None:
            self._it_status = (ImageTransferStatus.INITIATED if dl.tag == KIND_DLMS
                               else ImageTransferStatus.NOT_INITIATED)
            if self._state not in (BootState.DOWNLOADING, BootState.VERIFIED):
                self._event(Event.DOWNLOAD_RESUME)
            self._state = BootState.DOWNLOADING
            if dl.complete:
                self._accept(quiet=True)
        elif self._state in (BootState.DOWNLOADING, BootState.VERIFIED, BootState.TRIAL):
            self._state = _OUTCOME_STATE[rec.outcome]
            self._persist()

    def _trial_timeout(self: VirtualMeter) -> None:
        running = self._running
        assert running is not None
        self._trial_deadline = None
        self._evt("ROLLBACK", reason="no-heartbeat", version=_version(running),
                  bank=BANK_NAMES[self._boot.record.previous])
        self._persist()
        try:
            self._boot.revert()
        except BootError as exc:
            if not self._flash.powered:
                raise self._lost_power("revert") from None
            self._lcd_fault(SWAP_FAILURE, at="revert", rc=exc.err_name)
            return
        self._start(cold=False)
        if self._on and self._state is not BootState.REVERTED:
            self._event(Event.REVERTED)

    def heartbeat(self: VirtualMeter) -> bool:
        """The HES heartbeat (or first authenticated association). True if it confirmed."""
        self._require_available()
        if self._state is not BootState.TRIAL or self._running is None:
            return False
        if self._running.behaviour == _NO_HEARTBEAT:  # this image never confirms
            self.counters["heartbeat_ignored"] += 1
            return False
        try:
            self._boot.confirm()  # C: state confirmed, counter raised
        except BootError as exc:
            if not self._flash.powered:
                self._die()
                return False
            if exc.err == MT_ERR["MT_E_SWAP"]:
                self._lcd = SWAP_FAILURE.code
            self._err(SWAP_FAILURE if self._lcd else INVALID_REQUEST, at="confirm",
                      rc=exc.err_name)
            return False
        try:
            rec = self._boot.record
            self._trial_deadline = None
            self._floor_fault("confirm")  # the record holds the new floor either way
            self._ok("CONFIRMED", version=_version(self._running),
                     bank=BANK_NAMES[rec.active], counter=rec.counter)
            self._event(Event.CONFIRMED)
            self._attach_download()  # the previous image's bank is free now
        except PowerLost:
            self._die()
        return True

