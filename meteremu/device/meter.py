"""VirtualMeter: the meter as a sans-I/O object.

Bytes and calls in, results and state out, ``advance(seconds)`` for time. It
never opens a socket or reads the wall clock. Boot-state changes go through
``states.transition`` (the one table). Flash, reassembly, image acceptance
and the bootloader are the C core's (``meteremu._lowlevel``): this class
holds only what RAM holds, rebuilt from flash at every power-up, and decides
what each result means for the audit log, the receipts and the boot state
(see ``docs/METER.md``).

The class is split by job: power, NVM and time here; boot, trial and
heartbeat in ``_boot``; download, acceptance and activation in ``_download``;
the battery reserve in ``battery``; the COSEM objects in ``_services``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction

from .._lowlevel.boot import Bank, BootRecord
from .._lowlevel.flash import Flash, FlashError
from .._lowlevel.flash import FlashPowerError as PowerLost
from .._lowlevel.image import PackageHeader
from .._lowlevel.reasm import Reassembler
from ..crypto import load_public_key
from ..errors import FLASH_FAULT, ErrorCode, MeteremuError
from . import audit as _audit
from ._boot import BANK_NAMES, BootServices
from ._download import DownloadServices, _Candidate, _version
from ._services import CosemServices
from .battery import NO_BATTERY, Battery, BatteryServices, Reserve
from .clock import DEFAULT_EPOCH, VirtualClock
from .cosem import ImageTransferStatus
from .layout import Geometry, Layout, Region
from .metrology import LoadSpec, Metrology
from .nvm import AuditRecord, MetrologyRecord, NvmExhausted, RecordRing, seal
from .sessions import ClosedSessions
from .states import BootState, Event, Receipt, transition
from .storage import Storage

__all__ = ["MeterUnavailable", "Receipt", "VirtualMeter"]

_REGIONS = {Bank.A: "bank_a", Bank.B: "bank_b", Bank.GOLDEN: "golden"}


class MeterUnavailable(MeteremuError):
    """The meter does not answer: powered off, booting (slow boot), or no bootable image."""


def _point(key: bytes | str) -> bytes:
    """A trusted key as its 65-byte SEC1 point (PEM text may come as ``str``)."""
    return load_public_key(key.encode() if isinstance(key, str) else bytes(key))


class VirtualMeter(CosemServices, DownloadServices, BootServices, BatteryServices):
    """One virtual meter. See ``docs/METER.md`` for the behaviour in full.

    Keyword arguments: identity (``serial``, ``vendor_id``, ``hw_revision``),
    ``trusted_keys`` (public keys: PEM, DER or SEC1 points), ``factory_package``
    (the golden image, a signed .pkg), ``geometry``, ``state`` (path of a flash
    file: the meter resumes from it as after a power cut), ``clock_start``,
    ``heartbeat_window`` (seconds), ``load`` (watts, steps or a callable),
    ``battery`` (None: mains powered; a :class:`~meteremu.device.Battery`: the
    radio spends its reserve, see ``docs/METER.md``), ``session_timeout``
    (seconds without a new fragment after which an open download yields to
    any new session; default 24 h).
    """

    METROLOGY_INTERVAL = Fraction(900)  # persist energy every 15 virtual minutes
    SWAP_PAUSE = Fraction(5, 1000)  # metrology pause for the bank swap, seconds
    SLOW_BOOT = Fraction(30)  # how long a slow-boot image keeps the meter silent
    MAX_BOOT_ATTEMPTS = 3  # unconfirmed boots of a trial image before revert
    BLOCK_SIZE = 128  # class 18 image_block_size
    BATTERY_DEBIT_FRAMES = 64  # the battery reserve is debited in NVM this many frames ahead

    def __init__(
        self,
        *,
        serial: str,
        vendor_id: int,
        hw_revision: int,
        trusted_keys: Iterable[bytes | str],
        factory_package: bytes,
        geometry: Geometry | None = None,
        state: str | os.PathLike[str] | None = None,
        clock_start: _dt.datetime = DEFAULT_EPOCH,
        heartbeat_window: float = 300,
        load: LoadSpec = 1000,
        battery: Battery | None = None,
        session_timeout: float = 24 * 3600,
    ) -> None:
        self.serial = serial
        self.vendor_id = vendor_id
        self.hw_revision = hw_revision
        self._points = [_point(k) for k in trusted_keys]
        self.geometry = geometry or Geometry()
        self.layout = Layout(self.geometry)
        self.heartbeat_window = Fraction(heartbeat_window)
        self.session_timeout = Fraction(session_timeout)
        self.clock = VirtualClock(clock_start)
        self.metrology = Metrology(load)
        self.counters: Counter[str] = Counter()
        self._battery_fitted = battery
        self._storage = Storage(self.layout, state)
        g = self.geometry
        self._flash = Flash(self.layout.size, g.sector_size, g.align,
                            buffer=self._storage.cells, wear=self._storage.wear)
        self._flash.set_endurance(g.endurance)
        L = self.layout
        self._metro_ring = RecordRing(self._flash, L["metrology"], MetrologyRecord, g.sector_size)
        self._audit_ring = RecordRing(self._flash, L["audit"], AuditRecord, g.sector_size)
        self._closed = ClosedSessions(self._flash, L["sessions"], g.sector_size)
        # RAM state, rebuilt at every power-up
        self._boot = self._new_bootloader()
        self._dl: Reassembler | None = None
        self._state = BootState.IDLE
        self._on = False
        self._lcd = ""
        self._running: PackageHeader | None = None
        self._trial_deadline: Fraction | None = None
        self._busy_until: Fraction | None = None
        self._pause_until = Fraction(0)
        self._next_persist = self.METROLOGY_INTERVAL
        self._it_status = ImageTransferStatus.NOT_INITIATED
        self._it_enabled = True
        self._it_identifier = b""
        self._session_rejects: set[str] = set()
        self._refusal: ErrorCode | None = None  # the last FOTA_ERR written
        self._progress_at = Fraction(0)  # when the open download last took a fragment
        self._candidate: _Candidate | None = None
        self._closed_heard: set[int] = set()  # closed sessions already logged as heard
        self._battery: Reserve | None = None
        self._battery_refused: set[int] = set()
        if self._storage.fresh:
            self._provision(bytes(factory_package))
        self._power_up(resume_clock=True)

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Save the registers as at a mains loss, flush and release the state file
        (the meter object is unusable afterwards)."""
        self._power_fail_save()
        self._on = False
        self._storage.close()

    def __enter__(self) -> VirtualMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _bank_region(self, bank: Bank | int) -> Region:
        return self.layout[_REGIONS[Bank(bank)]]

    def _new_reassembler(self, bank: Bank) -> Reassembler:
        from .._lowlevel.flash import Partition

        region, progress = self._bank_region(bank), self.layout["progress"]
        return Reassembler(self._flash, Partition(region.offset, region.size),
                           Partition(progress.offset, progress.size),
                           self.vendor_id, self.hw_revision)

    @staticmethod
    def active_bank_name(bank: Bank | int) -> str:
        return BANK_NAMES[Bank(bank)]

    # ---------------------------------------------------------------- properties
    @property
    def flash(self) -> Flash:
        """The C flash model with its fault hooks (cut_after, set_tear, flip_bits, ...)."""
        return self._flash

    @property
    def boot_state(self) -> BootState:
        return self._state

    @property
    def active_version(self) -> str | None:
        """Version of the image running now; None while off or without a bootable image."""
        return _version(self._running) if self._running is not None and self._on else None

    @property
    def active_bank(self) -> str | None:
        """Bank of the image running now (``"A"``, ``"B"``, ``"golden"``) or None."""
        bank = self._boot.running if self._on and self._running is not None else None
        return None if bank is None else BANK_NAMES[bank]

    @property
    def running_region(self) -> Region | None:
        """Flash region of the image running now (for harnesses that check its bytes)."""
        bank = self._boot.running if self._on and self._running is not None else None
        return None if bank is None else self._bank_region(bank)

    @property
    def boot_record(self) -> BootRecord:
        """The current boot-control record, as the C bootloader read or wrote it."""
        return self._boot.record

    @property
    def lcd(self) -> str:
        """Fault code on the display (``F.03``, ``F.04``) or empty."""
        return self._lcd

    @property
    def powered(self) -> bool:
        return self._flash.powered

    @property
    def available(self) -> bool:
        """True when the meter answers: on, booted, not inside a slow boot."""
        # _busy_until is None outside a slow boot: the per-frame check stays cheap.
        return self._on and (self._busy_until is None or self.clock.now >= self._busy_until)

    @property
    def energy_wh(self) -> float:
        return float(self.metrology.energy_wh)

    @property
    def energy_floor_wh(self) -> float:
        """The energy last persisted to NVM: what a power cut now would resume from."""
        recs = self._metro_ring.records
        return recs[-1].energy_uwh / 1e6 if recs else 0.0

    @property
    def audit_log(self) -> list[str]:
        """Audit lines as persisted in NVM, oldest first."""
        return [r.text[: r.length].decode("ascii") for r in self._audit_ring.records]

    @property
    def now(self) -> Fraction:
        return self.clock.now

    @property
    def datetime(self) -> _dt.datetime:
        return self.clock.datetime

    def set_load(self, load: LoadSpec) -> None:
        self.metrology.set_load(load)

    # ---------------------------------------------------------------- power
    def _die(self) -> None:
        """The power went: RAM is gone, nothing runs until power-up."""
        self._flash.power_cut()
        self._on = False
        self._running = None
        self._trial_deadline = None
        self._dl = None
        self.counters["power_lost"] += 1

    def _power_fail_save(self) -> None:
        """Mains loss: the supply's hold-up time is enough for one metrology snapshot.
        A cut injected into it leaves the snapshot before it (<= one interval lost)."""
        if self._on and self._flash.powered:
            with contextlib.suppress(PowerLost):  # the power goes anyway
                self._persist()

    def power_off(self) -> None:
        """Mains loss: the power-fail save, then the power goes."""
        if self._flash.powered or self._on:
            self._power_fail_save()
            self._die()

    def power_on(self) -> None:
        if not self._flash.powered:
            self._power_up(resume_clock=False)

    def power_cycle(self) -> None:
        """Mains off (the power-fail save keeps the energy) and on again: a reboot."""
        self.power_off()
        self.power_on()

    def _power_up(self, resume_clock: bool) -> None:
        self._flash.power_up()
        self._lcd = ""
        self._running = None
        self._trial_deadline = None
        self._dl = None
        self._busy_until = None
        self._pause_until = self.clock.now
        self._boot = self._new_bootloader()  # RAM: record copy, verification cache
        try:
            self._metro_ring.load()
            self._audit_ring.load()
            self._closed.load()
            self._progress_at = self.clock.now
            self._candidate = None
            self._closed_heard = set()
            recs = self._metro_ring.records
            last = recs[-1] if recs else None
            self.metrology.energy_wh = Fraction(last.energy_uwh, 10**6) if last else Fraction(0)
            if resume_clock and last is not None:
                self.clock.resume_at_least(last.clock)
            self._state = BootState(last.boot_state) if last else BootState.IDLE
            self._next_persist = self.clock.now + self.METROLOGY_INTERVAL
            self._battery_refused = set()
            self._battery = None
            if self._battery_fitted is not None:
                stored = last.battery_mj if last is not None else NO_BATTERY
                self._battery = Reserve(self._battery_fitted,
                                        None if stored == NO_BATTERY else stored,
                                        self.BATTERY_DEBIT_FRAMES)
                if stored == NO_BATTERY:
                    self._persist()  # a battery just fitted: from now on a cut cannot refill it
            self._on = True
            self._start(cold=True)
            if self._on:
                self._restore_state()
        except PowerLost:
            self._die()

    # ---------------------------------------------------------------- audit and NVM
    def _log(self, line: str) -> None:
        text = line.encode("ascii", "replace")[: 116]
        try:
            self._audit_ring.append(lambda seq: seal(
                AuditRecord, length=len(text), seq=seq, text=text.ljust(116, b"\xff")))
        except PowerLost:
            raise
        except (FlashError, NvmExhausted):
            self.counters["audit_write_failed"] += 1
        self._nvm_faults(self._audit_ring, "audit")

    def _nvm_faults(self, ring: RecordRing, at: str) -> None:
        """Sectors of ``ring`` that went bad (skipped by the ring), and a ring with
        none left: counted, and one 0x9004 record each. A record still in the
        audit log is not repeated when a power-up finds the same sector bad again."""
        sectors, stopped = ring.take_news()
        for sector in sectors:
            self.counters[f"{at}_sector_failed"] += 1
            self._flash_fault(at=at, sector=sector)
        if stopped:
            self._flash_fault(at=at, sector="all", persistence="stopped")

    def _flash_fault(self, **fields: object) -> None:
        tail = _audit.err_line("", FLASH_FAULT, **fields)
        if not any(line.endswith(tail) for line in self.audit_log):
            self._err(FLASH_FAULT, **fields)

    def _err(self, error: ErrorCode, **fields: object) -> ErrorCode:
        """One ``FOTA_ERR`` record (and a counter) for ``error``; returns it."""
        self.counters[f"err {error.code}"] += 1
        self._refusal = error
        self._log(_audit.err_line(self.clock.stamp(), error, **fields))
        return error

    def _ok(self, what: str, **fields: object) -> None:
        self._log(_audit.ok_line(self.clock.stamp(), what, **fields))

    def _evt(self, what: str, **fields: object) -> None:
        self._log(_audit.evt_line(self.clock.stamp(), what, **fields))

    def _persist(self) -> None:
        """Snapshot energy, clock, boot state and battery debit into the metrology ring."""
        uwh = int(self.metrology.energy_wh * 10**6)
        clock = int(self.clock.epoch_seconds)
        state = self._state.value
        battery = NO_BATTERY if self._battery is None else self._battery.debited
        try:
            self._metro_ring.append(lambda seq: seal(
                MetrologyRecord, boot_state=state, seq=seq, energy_uwh=uwh, clock=clock,
                battery_mj=battery))
        except PowerLost:
            raise
        except (FlashError, NvmExhausted):
            self.counters["metrology_write_failed"] += 1
        self._nvm_faults(self._metro_ring, "metrology")

    def _event(self, event: Event) -> None:
        new = transition(self._state, event)
        if new is not self._state:
            self._state = new
            self._persist()

    # ---------------------------------------------------------------- time
    def advance(self, seconds: float | Fraction) -> None:
        """Let ``seconds`` of virtual time pass: metrology, NVM snapshots, trial window."""
        end = self.clock.now + self.clock.checked_step(seconds)
        while True:
            now = self.clock.now
            marks = [end]
            if self._on:
                marks.append(self._next_persist)
                if self._trial_deadline is not None:
                    marks.append(self._trial_deadline)
            step = min(m for m in marks if m >= now)
            if self._on:
                start = max(now, self._pause_until)
                if start < step:
                    self.metrology.integrate(start, step)
            self.clock.advance_to(step)
            if self._on:
                try:
                    if step >= self._next_persist:
                        self._next_persist = step + self.METROLOGY_INTERVAL
                        self._persist()
                    if self._trial_deadline is not None and step >= self._trial_deadline:
                        self._trial_timeout()
                except PowerLost:
                    self._die()
            if step >= end:
                return

    # ---------------------------------------------------------------- availability
    def _require_available(self) -> None:
        if not self._on:
            raise MeterUnavailable("the meter is off" + (f" ({self._lcd})" if self._lcd else ""))
        if self._busy_until is not None and self.clock.now < self._busy_until:
            raise MeterUnavailable(
                f"the meter is booting (slow boot) until +{float(self._busy_until):.0f} s")

