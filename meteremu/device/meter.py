"""VirtualMeter: the meter as a sans-I/O object, composed of parts.

Bytes and calls in, results and events out, ``advance(seconds)`` for time. It
never opens a socket or reads the wall clock. Each part owns its fields:

* :class:`~.power.Power` -- clock, availability (off, booting, on, F.03/F.04), display;
* :class:`~.lifecycle.Lifecycle` -- boot state and class 18 status, by :mod:`.rules`;
* :class:`~.boot.Boot` -- bootloader, trial window, heartbeat;
* :class:`~.download.Download` -- sessions, reassembly, acceptance, activation;
* :class:`~.services.CosemServer` -- the COSEM objects, per client;
* :class:`~.battery.RadioBudget` -- what the radio may spend;
* :class:`~.metrology.Metrology` -- the energy register;

and this class holds what joins them: the flash and its NVM rings, the events
(drained by the caller, written to the audit log), power-up, power-down and
time. Flash, reassembly, image acceptance and the bootloader are the C core's
(``meteremu._lowlevel``); see ``docs/METER.md``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from .._lowlevel.boot import BootRecord
from .._lowlevel.boot import BootState as RecordState
from .._lowlevel.flash import Flash
from .._lowlevel.image import ImageCache
from .._lowlevel.reasm import Reassembler
from ..crypto import load_public_key
from ..errors import (
    FLASH_FAULT,
    ErrorCode,
    FlashError,
    FlashPowerError,
    MeterUnavailable,
    MeterUsageError,
    NvmExhausted,
)
from . import rules
from .battery import NO_BATTERY, Battery, RadioBudget
from .boot import BANK_NAMES, Boot, BootTimes, version_of
from .clock import _ZERO, DEFAULT_EPOCH, VirtualClock, plus
from .cosem import Client
from .download import Download
from .events import DownloadProgress, Event, Refused
from .layout import Geometry, Layout, Region
from .lifecycle import Lifecycle
from .metrology import LoadSpec, Metrology
from .nvm import AuditRecord, MetrologyRecord, RecordRing
from .power import Power
from .receipts import Receipt
from .rules import AvailabilityEvent, BootState, ImageTransferEvent, restored_state
from .services import BLOCK_SIZE, CosemServer, client_of
from .storage import Storage

__all__ = ["VirtualMeter"]

_NO_LINE = Event.line  # the line of an event the audit log does not keep (None)

PowerLost = FlashPowerError


@functools.lru_cache(maxsize=16)
def _layout(geometry: Geometry) -> Layout:
    """The (immutable) layout of ``geometry``, computed once per geometry."""
    return Layout(geometry)


def _point(key: bytes | str) -> bytes:
    """A trusted key as its 65-byte SEC1 point (PEM text may come as ``str``)."""
    return _point_of(key.encode() if isinstance(key, str) else bytes(key))


@functools.lru_cache(maxsize=64)
def _point_of(raw: bytes) -> bytes:
    """load_public_key, once per distinct key (a fleet gives every meter the same
    keys); a key it refuses raises every time (exceptions are not cached)."""
    return load_public_key(raw)


def _micro(wh: Fraction | float) -> int:
    """``int(wh * 10**6)``, micro-watt-hours truncated (a Fraction without Fraction work)."""
    if type(wh) is Fraction:
        n, d = wh.numerator * 1_000_000, wh.denominator
        return n // d if n >= 0 else -(-n // d)
    return int(wh * 10**6)



def _fraction(value: float | Fraction) -> Fraction:
    """``Fraction(value)``, made once per value and type (a fleet's meters share
    their windows and timeouts; a Fraction is immutable). A value Fraction
    refuses raises every time."""
    if type(value) is int or type(value) is float or type(value) is Fraction:
        return _fraction_of(value)
    return Fraction(value)


@functools.lru_cache(maxsize=64, typed=True)
def _fraction_of(value: float | Fraction) -> Fraction:
    return Fraction(value)


_TIMES: dict[tuple[int, int, int, int], BootTimes] = {}


def _boot_times(heartbeat_window: Fraction, slow_boot: Fraction, swap_pause: Fraction,
                max_attempts: object) -> BootTimes:
    """``BootTimes(...)``, made once per set of values (it is frozen). Found by
    the identity of the values (hashing a Fraction costs more than the
    BootTimes): the entry found holds the very objects, so they are alive and
    their ids are theirs."""
    key = (id(heartbeat_window), id(slow_boot), id(swap_pause), id(max_attempts))
    got = _TIMES.get(key)
    if got is not None and got.heartbeat_window is heartbeat_window and (
            got.slow_boot is slow_boot and got.swap_pause is swap_pause and (
            got.max_attempts is max_attempts)):
        return got
    times = BootTimes(heartbeat_window, slow_boot, swap_pause, max_attempts)  # type: ignore[arg-type]
    if len(_TIMES) >= 64:
        _TIMES.clear()
    _TIMES[key] = times
    return times


class VirtualMeter:
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
    BLOCK_SIZE = BLOCK_SIZE  # class 18 image_block_size
    BATTERY_DEBIT_FRAMES = 64  # the battery reserve is debited in NVM this many frames ahead
    EVENTS_KEPT = 4096  # undrained events kept; older ones are dropped (counted)

    def __init__(
        self,
        *,
        serial: str,
        vendor_id: int,
        hw_revision: int,
        trusted_keys: Iterable[bytes | str],
        factory_package: bytes,
        geometry: Geometry | None = None,
        state: str | os.PathLike[str] | Storage | None = None,
        clock_start: _dt.datetime = DEFAULT_EPOCH,
        heartbeat_window: float = 300,
        load: LoadSpec = 1000,
        battery: Battery | None = None,
        session_timeout: float = 24 * 3600,
    ) -> None:
        self.serial = serial
        self.vendor_id = vendor_id
        self.hw_revision = hw_revision
        points = [_point(k) for k in trusted_keys]
        self.geometry = geometry or Geometry()
        self.layout = _layout(self.geometry)
        self.power = Power(clock_start)
        self.metrology = Metrology(load)
        self.counters: Counter[str] = Counter()
        self._events: deque[Event] = deque(maxlen=self.EVENTS_KEPT)
        self.events_dropped = 0
        self.refusals = 0  # Refused events so far
        self.last_refusal: ErrorCode | None = None
        self._storage = state if isinstance(state, Storage) else Storage(self.layout, state)
        g = self.geometry
        self._flash = Flash(self.layout.size, g.sector_size, g.align,
                            buffer=self._storage.cells, wear=self._storage.wear)
        self._flash.set_endurance(g.endurance)
        L = self.layout
        self._metro_ring = RecordRing(self._flash, L["metrology"], MetrologyRecord, g.sector_size)
        self._audit_ring = RecordRing(self._flash, L["audit"], AuditRecord, g.sector_size)
        self.lifecycle = Lifecycle(self.emit, self._persist)
        self.budget = RadioBudget(battery, self.BATTERY_DEBIT_FRAMES, self._persist, self.emit)
        times = _boot_times(_fraction(heartbeat_window), self.SLOW_BOOT, self.SWAP_PAUSE,
                            self.MAX_BOOT_ATTEMPTS)
        self.boot = Boot(self._flash, L, vendor_id=vendor_id, hw_revision=hw_revision,
                         trusted_keys=points, times=times, power=self.power,
                         lifecycle=self.lifecycle, emit=self.emit)
        self.download = Download(self._flash, L, vendor_id=vendor_id, hw_revision=hw_revision,
                                 session_timeout=_fraction(session_timeout), boot=self.boot,
                                 lifecycle=self.lifecycle, power=self.power, budget=self.budget,
                                 emit=self.emit, counters=self.counters, persist=self._persist,
                                 restart=self._restart)
        self.cosem = CosemServer(self)
        self._next_persist = self.METROLOGY_INTERVAL
        if self._storage.fresh:
            self.boot.provision(bytes(factory_package), g.bank_size)
        elif self._storage.checked is not None:
            self.boot.adopt(self._storage.checked)
        self._power_up(resume_clock=True)

    @staticmethod
    def factory_state(*, vendor_id: int, hw_revision: int, trusted_keys: Iterable[bytes | str],
                      factory_package: bytes, geometry: Geometry | None = None) -> bytes:
        """The flash of a meter fresh from the factory -- provisioned, never powered
        up -- as a state file holds it (head, cells, wear). A meter made over
        these bytes (``state=``) powers up exactly as one made without a state:
        the same flash, events and audit log. Raises :class:`UsageError` when
        the factory package is refused."""
        g = geometry or Geometry()
        layout = _layout(g)
        storage = Storage(layout)
        flash = Flash(layout.size, g.sector_size, g.align, buffer=storage.cells,
                      wear=storage.wear)
        flash.set_endurance(g.endurance)
        power = Power(DEFAULT_EPOCH)

        def nothing(*args: object, **kwargs: object) -> None:
            return None

        times = BootTimes(Fraction(300), VirtualMeter.SLOW_BOOT, VirtualMeter.SWAP_PAUSE,
                          VirtualMeter.MAX_BOOT_ATTEMPTS)
        boot = Boot(flash, layout, vendor_id=vendor_id, hw_revision=hw_revision,
                    trusted_keys=[_point(k) for k in trusted_keys], times=times, power=power,
                    lifecycle=Lifecycle(nothing, nothing), emit=nothing)
        boot.provision(bytes(factory_package), g.bank_size)
        return storage.state_bytes()

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Save the registers as at a mains loss, flush and release the state file
        (the meter object is unusable afterwards)."""
        self._power_fail_save()
        self.power.on(AvailabilityEvent.POWER_DOWN)
        self.boot.running = None
        self.download.power_down()
        self._flash.close()  # the C model lets go of the cells first, then the file closes
        self._storage.close()

    def __enter__(self) -> VirtualMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- events
    def emit(self, cls: type[Event], **fields: Any) -> Event:
        """Make event ``cls`` now, keep it for :meth:`drain_events`, and write its
        audit record when it has one."""
        clock = self.power.clock
        event = cls(at=clock.stamp(), t=clock.now, **fields)
        events = self._events
        if len(events) == events.maxlen:
            self.events_dropped += 1
        events.append(event)
        if isinstance(event, Refused):
            self.counters[f"err {event.error.code}"] += 1
            self.refusals += 1
            self.last_refusal = event.error
        if cls.line is not _NO_LINE:  # (an event the log does not keep: no call)
            line = event.line()
            if line is not None:
                self._log(line)
        return event

    def checkpoint(self) -> None:
        """Persist the registers now (a metrology snapshot), as the meter does
        every 15 minutes: a server that may be killed calls it to bound what a
        kill loses. Nothing happens while the meter is off."""
        if self.power.running and self._flash.powered:
            self._guard(self._persist)

    def emit_refused(self, error: ErrorCode, **fields: object) -> ErrorCode:
        self.emit(Refused, error=error, fields=tuple(fields.items()))
        return error

    def drain_events(self) -> list[Event]:
        """The events since the last call, oldest first (at most :attr:`EVENTS_KEPT`;
        :attr:`events_dropped` counts the ones that did not fit)."""
        out = list(self._events)
        self._events.clear()
        return out

    def count(self, receipt: Receipt) -> None:
        self.counters[receipt._value_] += 1  # (the value without Enum's Python descriptor)

    # ---------------------------------------------------------------- properties
    @property
    def clock(self) -> VirtualClock:
        return self.power.clock

    @property
    def heartbeat_window(self) -> Fraction:
        """Seconds a trial image has for its heartbeat."""
        return self.boot.times.heartbeat_window

    @property
    def session_timeout(self) -> Fraction:
        """Seconds without a new fragment after which an open download yields."""
        return self.download.session_timeout

    @property
    def flash(self) -> Flash:
        """The C flash model with its fault hooks (cut_after, set_tear, flip_bits, ...)."""
        return self._flash

    @property
    def boot_state(self) -> BootState:
        return self.lifecycle.state

    @property
    def active_version(self) -> str | None:
        """Version of the image running now; None while off or without a bootable image."""
        h = self.boot.running
        return version_of(h) if h is not None and self.power.running else None

    @property
    def active_bank(self) -> str | None:
        """Bank of the image running now (``"A"``, ``"B"``, ``"golden"``) or None."""
        bank = self.boot.bank if self.power.running else None
        return None if bank is None else BANK_NAMES[bank]

    @property
    def running_region(self) -> Region | None:
        """Flash region of the image running now (for harnesses that check its bytes)."""
        bank = self.boot.bank if self.power.running else None
        return None if bank is None else self.boot.region(bank)

    @property
    def boot_record(self) -> BootRecord:
        """The current boot-control record, as the C bootloader read or wrote it."""
        return self.boot.record

    @property
    def anti_rollback_floor(self) -> int:
        """The lowest security counter the meter accepts for banks A and B: the
        higher of the boot-control record's and the floor region's."""
        return self.boot.floor

    @property
    def lcd(self) -> str:
        """Fault code on the display (``F.03``, ``F.04``) or empty."""
        return self.power.lcd

    @property
    def powered(self) -> bool:
        return self._flash.powered

    @property
    def available(self) -> bool:
        """True when the meter answers: on, booted, not inside a slow boot."""
        return self.power.answers

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
        return self.power.clock.now

    @property
    def datetime(self) -> _dt.datetime:
        return self.power.clock.datetime

    @property
    def battery(self) -> Battery | None:
        """The battery fitted (None: mains powered)."""
        return self.budget.fitted

    @property
    def battery_mj(self) -> float | None:
        """The reserve now, in mJ; None for a mains-powered meter (or one that is off)."""
        r = self.budget.reserve
        return None if r is None else float(r.mj)

    @property
    def battery_floor_mj(self) -> int | None:
        """The reserve held in NVM: what a power cut now would resume from (never more
        than :attr:`battery_mj`)."""
        r = self.budget.reserve
        return None if r is None else r.debited

    def set_load(self, load: LoadSpec) -> None:
        self.metrology.set_load(load)

    def replace_battery(self, battery: Battery | None = None) -> None:
        """A fresh (or recharged) battery: the reserve starts again from
        ``battery.reserve_mj`` (default: the battery the meter was made with).
        Written to NVM at once; downloads are accepted again."""
        if self.budget.fitted is not None and not self._flash.powered:
            raise MeterUsageError("the meter is off: power it on, then replace the battery")
        self._guard(self.budget.replace, battery)

    # ---------------------------------------------------------------- power
    def _die(self) -> None:
        """The power went: RAM is gone, nothing runs until power-up."""
        self._flash.power_cut()
        self.power.on(AvailabilityEvent.POWER_DOWN)
        self.boot.running = None
        self.boot.trial_deadline = None
        self.download.power_down()
        self.counters["power_lost"] += 1

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``; a power cut on the way (a flash write hit by it) and the
        meter dies on the spot (returns None then)."""
        try:
            return fn(*args)
        except PowerLost:
            self._die()
            return None

    def _power_fail_save(self) -> None:
        """Mains loss: the supply's hold-up time is enough for one metrology snapshot.
        A cut injected into it leaves the snapshot before it (<= one interval lost)."""
        if self.power.running and self._flash.powered:
            with contextlib.suppress(PowerLost):  # the power goes anyway
                self._persist()

    def power_off(self) -> None:
        """Mains loss: the power-fail save, then the power goes."""
        if self._flash.powered or self.power.running:
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
        power = self.power
        self._flash.power_up()
        power.lcd = ""
        power.pause_until = power.clock.now
        try:
            self._metro_ring.load()
            self._audit_ring.load()
            self.download.power_up()
            recs = self._metro_ring.records
            last = recs[-1] if recs else None
            self.metrology.energy_wh = Fraction(last.energy_uwh, 10**6) if last else _ZERO
            if resume_clock and last is not None:
                power.clock.resume_at_least(last.clock)
            self.lifecycle.state = BootState(last.boot_state) if last else BootState.IDLE
            self.lifecycle.transfer_step(ImageTransferEvent.POWER_UP)
            self._next_persist = plus(power.clock.now, self.METROLOGY_INTERVAL)
            self.budget.power_up(last.battery_mj if last is not None else NO_BATTERY)
            if not self.boot.start(cold=True):
                return
            self.download.attach()
            rec = self.boot.record
            self.lifecycle.restore(restored_state(rec.state, rec.outcome,
                                                  self.download.open() is not None,
                                                  self.lifecycle.state))
            self.download.restore()
        except PowerLost:
            self._die()

    def _restart(self) -> None:
        """A reset with the power on (a bank swap, a revert): the bootloader runs."""
        if self.boot.start(cold=False):
            self.download.attach()
        else:
            self.download.power_down()

    # ---------------------------------------------------------------- audit and NVM
    def _log(self, line: str) -> None:
        text = line.encode("ascii", "replace")[:116]
        try:
            # seal(AuditRecord, length=len(text), seq=seq, text=text.ljust(116, b"\xff"))
            self._audit_ring.append_fields(len(text), text.ljust(116, b"\xff"))
        except PowerLost:
            raise
        except (FlashError, NvmExhausted):
            self.counters["audit_write_failed"] += 1
        if self._audit_ring.has_news:
            self._nvm_faults(self._audit_ring, "audit")

    def _nvm_faults(self, ring: RecordRing, at: str) -> None:
        """Sectors of ``ring`` that went bad (skipped by the ring), and a ring with
        none left: counted, and one 0x9004 record each. A record still in the
        audit log is not repeated when a power-up finds the same sector bad again."""
        if not ring.has_news:
            return
        sectors, stopped = ring.take_news()
        for sector in sectors:
            self.counters[f"{at}_sector_failed"] += 1
            self._flash_fault(at=at, sector=sector)
        if stopped:
            self._flash_fault(at=at, sector="all", persistence="stopped")

    def _flash_fault(self, **fields: object) -> None:
        tail = Refused(at="", t=Fraction(0), error=FLASH_FAULT,
                       fields=tuple(fields.items())).line()
        if not any(line.endswith(tail) for line in self.audit_log):
            self.emit_refused(FLASH_FAULT, **fields)

    def _persist(self) -> None:
        """Snapshot energy, clock, boot state and battery debit into the metrology ring."""
        uwh = _micro(self.metrology.energy_wh)
        clock = self.power.clock.epoch_whole
        state = self.lifecycle.state.value
        battery = self.budget.debit
        try:
            # seal(MetrologyRecord, boot_state=state, seq=seq, energy_uwh=uwh, clock=clock,
            #      battery_mj=battery)
            self._metro_ring.append_fields(state, uwh, clock, battery)
        except PowerLost:
            raise
        except (FlashError, NvmExhausted):
            self.counters["metrology_write_failed"] += 1
        if self._metro_ring.has_news:
            self._nvm_faults(self._metro_ring, "metrology")
        sessions = self.download.closed.ring
        if sessions.has_news:
            self._nvm_faults(sessions, "sessions")

    # ---------------------------------------------------------------- time
    def advance(self, seconds: float | Fraction) -> None:
        """Let ``seconds`` of virtual time pass: metrology, NVM snapshots, trial window."""
        power = self.power
        clock = power.clock
        end = clock.now + clock.checked_step(seconds)
        while True:
            now = clock.now
            running = power.running
            marks = [end]
            if running:
                marks.append(self._next_persist)
                if self.boot.trial_deadline is not None:
                    marks.append(self.boot.trial_deadline)
            step = min(m for m in marks if m >= now)
            if running:
                start = max(now, power.pause_until)
                if start < step:
                    self.metrology.integrate(start, step)
            clock.advance_to(step)
            if running:
                try:
                    if step >= self._next_persist:
                        self._next_persist = step + self.METROLOGY_INTERVAL
                        self._persist()
                    deadline = self.boot.trial_deadline
                    if deadline is not None and step >= deadline:
                        self._trial_timeout()
                except PowerLost:
                    self._die()
            if step >= end:
                return

    def _trial_timeout(self) -> None:
        """No heartbeat in the window: back to the previous image."""
        self._persist()  # the energy floor before the swap
        if not self.boot.trial_timeout():
            return
        self._restart()
        if self.power.running and self.lifecycle.state is not BootState.REVERTED:
            self.lifecycle.apply(rules.Event.REVERTED)

    # ---------------------------------------------------------------- frames
    def receive(self, frame: bytes) -> Receipt:
        """A mesh fragment frame. Garbage is counted and dropped, never raised."""
        r = self._guard(self.download.receive, bytes(frame))
        if r is None:
            r = Receipt.DROPPED_UNAVAILABLE
        self.count(r)
        if r is Receipt.WRITTEN:
            dl = self.download.open()
            if dl is not None:
                self.emit(DownloadProgress, session=dl.session_id, received=dl.received,
                          count=dl.fragment_count)
        return r

    def receive_many(self, frames: Iterable[bytes]) -> list[Receipt]:
        """Mesh fragment frames as they arrive in a burst: exactly
        ``[self.receive(f) for f in frames]`` -- the same receipts, counters,
        audit log, flash and state -- for a fraction of the CPU (one
        :class:`~.events.DownloadProgress` event for the burst)."""
        return self.download.receive_many(frames, self.count, self._guarded)

    def adopt_download_check(self, cache: ImageCache) -> None:
        """The bank a download goes to now adopts a passed check of a package,
        keyed on every byte the check reads (see ``Boot.adopt_download``): if
        the package arrives intact its acceptance spares the image SHA-256 and
        ECDSA; any other bytes get the full check. Changes no result."""
        self.boot.adopt_download(cache)

    def batch_target(self) -> Reassembler | None:
        """The reassembler a round of mesh frames may go to over many meters in
        one C call (:mod:`meteremu.fleet`); None: this meter takes its round by
        :meth:`receive_many`. See ``Download.batch_target``."""
        return self.download.batch_target()

    def settle_counts(self, written: int, duplicates: int) -> None:
        """A run of a batched round wrote and duplicated so many frames
        (:mod:`meteremu.fleet`; see ``Download.settle_counts``)."""
        self.download.settle_counts(written, duplicates)

    def settle_stop(self, dl: Reassembler | None, frame: bytes, code: int) -> None:
        """The frame a batched round's run stopped at, taken the way
        ``receive_many`` takes it (see ``Download.settle_stop``)."""
        self.download.settle_stop(dl, frame, code, self.count, self._guarded)

    def settle_round(self, written: int, duplicates: int, heard: bool,
                     session: int) -> tuple[Reassembler | None, tuple[str, int]]:
        """A batched round is over for this meter: its last run's counts settled,
        the burst ended when it heard frames, and the next round's target and
        where ``session`` stands returned, in one call (see
        ``Download.settle_round``)."""
        return self.download.settle_round(written, duplicates, heard, session)

    def _guarded(self, fn: Callable[..., Receipt], *args: Any) -> Receipt:
        r = self._guard(fn, *args)
        return Receipt.DROPPED_UNAVAILABLE if r is None else r

    # ---------------------------------------------------------------- downloads
    def download_session(self) -> int | None:
        """The session ID of the open download (mesh or class 18); None without one."""
        dl = self.download.open() if self.power.running else None
        return None if dl is None else dl.session_id

    def session_outcome(self, session: int) -> str:
        """Where mesh session ``session`` stands here: ``complete`` (every fragment
        held, or the session closed as activated: the meter runs or ran its
        image and needs none of its frames), ``refused`` (closed any other way:
        refused, or replaced by a newer session; it takes none of its frames)
        or ``missing`` (fragments still to come, all of them when the meter
        never took the session or is off)."""
        return self.download.outcome(session)[0]

    def download_progress(self) -> tuple[int, int]:
        """(fragments received, fragments in the session); (0, 0) without a session."""
        dl = self.download.open() if self.power.running else None
        return (0, 0) if dl is None else (dl.received, dl.fragment_count)

    def missing_fragments(self) -> list[int]:
        """Indexes still missing in the open session, for the concentrator's next round."""
        return self.download.missing() if self.power.running else []

    def inactive_package_sha256(self) -> bytes:
        """SHA-256 of the complete package in the inactive bank; b"" when there is none."""
        return self.download.inactive_sha256() if self.power.running else b""

    def activate(self) -> ErrorCode | None:
        """Seed step 6 (0.0.96.10.2.255 method 1 runs this): swap to the verified
        bank. None on success, else the error (also in the audit log). A power cut
        on the way propagates as :class:`~meteremu.errors.MeterUnavailable`."""
        try:
            return self.download.activate()
        except PowerLost:
            self._die()
            raise MeterUnavailable("power lost during the activation") from None

    def heartbeat(self) -> bool:
        """The HES heartbeat (or first authenticated association). True if it confirmed."""
        self.power.require()
        try:
            if not self.boot.confirm():
                return False
        except PowerLost:
            # the confirm landed only if its record was written before the cut
            landed = self.boot.record.state is RecordState.CONFIRMED
            self._die()
            return landed
        try:
            self.download.attach()  # the previous image's bank is free now
        except PowerLost:
            self._die()
        return True

    # ---------------------------------------------------------------- COSEM
    def get(self, obis: str | bytes, attr: int, client: Client | int) -> Any:
        """Read attribute ``attr`` of object ``obis`` as ``client``."""
        return self.cosem.get(obis, attr, client)

    def set(self, obis: str | bytes, attr: int, value: Any, client: Client | int) -> None:
        """Write attribute ``attr`` of object ``obis`` as ``client``."""
        self.cosem.set(obis, attr, value, client)

    def action(self, obis: str | bytes, method: int, param: Any, client: Client | int) -> Any:
        """Invoke ``method``; returns its return parameters (None for all of ours).
        A power cut during the action: :class:`~meteremu.errors.MeterUnavailable`."""
        try:
            return self.cosem.action(obis, method, param, client)
        except PowerLost:
            self._die()
            raise MeterUnavailable("power lost during the action") from None

    def object_list(self, client: Client | int) -> list[Any]:
        """0.0.40.0.0.255 attribute 2 for ``client``: (class, version, OBIS, rights)."""
        return self.cosem.object_list(client_of(client))
