"""VirtualMeter: the meter as a sans-I/O object.

Bytes and calls in, results and state out, ``advance(seconds)`` for time. It
never opens a socket or reads the wall clock. Boot-state changes go through
``states.transition`` (the one table); flash goes through the flash model, so
every fault hook applies; acceptance, boot control and reassembly follow the
C core's contracts (see ``docs/METER.md``).
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction

from cryptography.hazmat.primitives import serialization

from .._lowlevel.flash import Flash, FlashError
from .._lowlevel.flash import FlashPowerError as PowerLost
from .._lowlevel.reasm import ReassemblyError, decode_frame
from ..errors import ErrorCode, MeteremuError, by_code, from_mt_err
from . import audit as _audit
from ._services import CosemServices
from .clock import DEFAULT_EPOCH, VirtualClock
from .layout import Geometry, Layout
from .metrology import LoadSpec, Metrology
from .nvm import AuditRecord, MetrologyRecord, RecordRing, seal
from .simboot import (
    BANK_A,
    BANK_B,
    GOLDEN,
    OUTCOME_CONFIRMED,
    OUTCOME_NONE,
    OUTCOME_REVERTED,
    BootControl,
    BootRecord,
)
from .simimage import HEADER_SIZE, Header, Policy, check_image, parse_header
from .simreasm import KIND_DLMS, KIND_MESH, Conflict, Progress, Session
from .states import BootState, Event, transition
from .storage import Storage

__all__ = ["MeterUnavailable", "Receipt", "VirtualMeter"]

BANK_NAMES = {BANK_A: "A", BANK_B: "B", GOLDEN: "golden"}
BEHAVIOURS = {0: "normal", 1: "no-heartbeat", 2: "crash-on-boot", 3: "slow-boot"}


class MeterUnavailable(MeteremuError):
    """The meter does not answer: powered off, booting (slow boot), or no bootable image."""


class Receipt(enum.Enum):
    """What ``receive()`` did with a frame (also counted in ``counters``)."""

    WRITTEN = "written"
    DUPLICATE = "duplicate"
    DROPPED_FRAME = "dropped-frame"  # not a fragment frame: type, length or FCS wrong
    DROPPED_LENGTH = "dropped-length"
    DROPPED_SESSION = "dropped-session"
    DROPPED_INDEX = "dropped-index"
    DROPPED_STATE = "dropped-state"  # no download possible now (image on trial)
    DROPPED_UNAVAILABLE = "dropped-unavailable"  # off or booting
    REFUSED = "refused"  # the download was stopped (header refused, conflict, flash fault)


def _point(key: bytes | str) -> bytes:
    """A trusted key as its 65-byte SEC1 point: PEM, DER or a bare point."""
    data = key.encode() if isinstance(key, str) else bytes(key)
    if len(data) == 65 and data[0] == 4:
        return data
    if data.lstrip().startswith(b"-----BEGIN"):
        pub = serialization.load_pem_public_key(data)
    else:
        pub = serialization.load_der_public_key(data)
    return pub.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _version(h: Header) -> str:
    major, minor, patch, build = h.version
    return f"{major}.{minor}.{patch}" + (f"+{build}" if build else "")


class VirtualMeter(CosemServices):
    """One virtual meter. See ``docs/METER.md`` for the behaviour in full.

    Keyword arguments: identity (``serial``, ``vendor_id``, ``hw_revision``),
    ``trusted_keys`` (public keys: PEM, DER or SEC1 points), ``factory_package``
    (the golden image, a signed .pkg), ``geometry``, ``state`` (path of a flash
    file: the meter resumes from it as after a power cut), ``clock_start``,
    ``heartbeat_window`` (seconds), ``load`` (watts, steps or a callable).
    """

    METROLOGY_INTERVAL = Fraction(900)  # persist energy every 15 virtual minutes
    SWAP_PAUSE = Fraction(5, 1000)  # metrology pause for the bank swap, seconds
    SLOW_BOOT = Fraction(30)  # how long a slow-boot image keeps the meter silent
    MAX_BOOT_ATTEMPTS = 3  # unconfirmed boots of a trial image before revert
    BLOCK_SIZE = 128  # class 18 image_block_size

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
    ) -> None:
        self.serial = serial
        self.vendor_id = vendor_id
        self.hw_revision = hw_revision
        points = [_point(k) for k in trusted_keys]
        self._keys = {hashlib.sha256(p).digest()[:8]: p for p in points}
        self.geometry = geometry or Geometry()
        self.layout = Layout(self.geometry)
        self.heartbeat_window = Fraction(heartbeat_window)
        self.clock = VirtualClock(clock_start)
        self.metrology = Metrology(load)
        self.counters: Counter[str] = Counter()
        self._storage = Storage(self.layout, state)
        g = self.geometry
        self._flash = Flash(self.layout.size, g.sector_size, g.align,
                            buffer=self._storage.cells, wear=self._storage.wear)
        self._flash.set_endurance(g.endurance)
        L = self.layout
        self._boot_ctl = BootControl(self._flash, L)
        self._progress = Progress(self._flash, L["progress"], (L["bank_a"], L["bank_b"]), g.align)
        self._metro_ring = RecordRing(self._flash, L["metrology"], MetrologyRecord, g.sector_size)
        self._audit_ring = RecordRing(self._flash, L["audit"], AuditRecord, g.sector_size)
        self._caches: dict[int, dict[str, bytes]] = {0: {}, 1: {}, 2: {}}
        # RAM state, rebuilt at every power-up
        self._state = BootState.IDLE
        self._on = False
        self._lcd = ""
        self._running: Header | None = None
        self._trial_deadline: Fraction | None = None
        self._busy_until = Fraction(0)
        self._pause_until = Fraction(0)
        self._next_persist = self.METROLOGY_INTERVAL
        self._it_status = 0
        self._it_enabled = True
        self._it_identifier = b""
        self._session_rejects: set[str] = set()
        if self._storage.fresh:
            self._provision(bytes(factory_package))
        self._power_up(resume_clock=True)

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Flush and release the state file (the meter object is unusable afterwards)."""
        self._on = False
        self._storage.close()

    def __enter__(self) -> VirtualMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _policy(self, counter: int) -> Policy:
        return Policy(self.vendor_id, self.hw_revision, self.geometry.bank_size, counter,
                      self._keys)

    def _provision(self, package: bytes) -> None:
        """Factory: the golden image into the golden region and bank A; A active."""
        rc, h = check_image(self._policy(0), package, True)
        if rc or h is None:
            raise ValueError(f"factory package refused: {from_mt_err(rc)}")
        pad = -len(package) % self.geometry.align
        for name in ("golden", "bank_a"):
            self._flash.program(self.layout[name].offset, package + b"\xff" * pad)
        self._boot_ctl.load()
        self._boot_ctl.write(BootRecord(active=BANK_A, previous=GOLDEN,
                                        counter=h.security_counter, seq=1))

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
        rec = self._boot_ctl.current
        return BANK_NAMES[rec.active] if rec is not None and self._on else None

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
        return self._on and self.clock.now >= self._busy_until

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

    def download_progress(self) -> tuple[int, int]:
        """(fragments received, fragments in the session); (0, 0) without a session."""
        p = self._progress
        if p.session is None or p.closed:
            return (0, 0)
        return (p.count_received, p.session.fragment_count)

    def missing_fragments(self) -> list[int]:
        """Indexes still missing in the open session, for the concentrator's next round."""
        p = self._progress
        return [] if p.session is None or p.closed else p.missing()

    # ---------------------------------------------------------------- power
    def _die(self) -> None:
        """The power went: RAM is gone, nothing runs until power-up."""
        self._flash.power_cut()
        self._on = False
        self._running = None
        self._trial_deadline = None
        self.counters["power_lost"] += 1

    def power_off(self) -> None:
        if self._flash.powered or self._on:
            self._die()

    def power_on(self) -> None:
        if not self._flash.powered:
            self._power_up(resume_clock=False)

    def power_cycle(self) -> None:
        """Cut the power (energy since the last NVM snapshot is lost) and boot again."""
        self.power_off()
        self.power_on()

    def _power_up(self, resume_clock: bool) -> None:
        self._flash.power_up()
        self._lcd = ""
        self._running = None
        self._trial_deadline = None
        self._busy_until = self.clock.now
        self._pause_until = self.clock.now
        try:
            self._metro_ring.load()
            self._audit_ring.load()
            self._boot_ctl.load()
            self._progress.load()
            recs = self._metro_ring.records
            last = recs[-1] if recs else None
            self.metrology.energy_wh = Fraction(last.energy_uwh, 10**6) if last else Fraction(0)
            if resume_clock and last is not None:
                self.clock.resume_at_least(last.clock)
            self._state = BootState(last.boot_state) if last else BootState.IDLE
            self._next_persist = self.clock.now + self.METROLOGY_INTERVAL
            self._on = True
            self._boot(cold=True)
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
        except FlashError:
            self.counters["audit_write_failed"] += 1

    def _err(self, error: ErrorCode | str, **fields: object) -> ErrorCode:
        e = error if isinstance(error, ErrorCode) else by_code(error)
        self.counters[f"err {e.code}"] += 1
        self._log(_audit.err_line(self.clock.stamp(), e, **fields))
        return e

    def _ok(self, what: str, **fields: object) -> None:
        self._log(_audit.ok_line(self.clock.stamp(), what, **fields))

    def _evt(self, what: str, **fields: object) -> None:
        self._log(_audit.evt_line(self.clock.stamp(), what, **fields))

    def _persist(self) -> None:
        """Snapshot energy, clock and boot state into the metrology ring."""
        uwh = int(self.metrology.energy_wh * 10**6)
        clock = int(self.clock.epoch_seconds)
        state = self._state.value
        try:
            self._metro_ring.append(lambda seq: seal(
                MetrologyRecord, boot_state=state, seq=seq, energy_uwh=uwh, clock=clock))
        except PowerLost:
            raise
        except FlashError:
            self.counters["metrology_write_failed"] += 1

    def _event(self, event: Event) -> None:
        new = transition(self._state, event)
        if new is not self._state:
            self._state = new
            self._persist()

    # ---------------------------------------------------------------- boot
    def _validate(self, bank: int) -> tuple[int, Header | None]:
        region = self.layout.bank(bank)
        pkg = self._flash.read(region.offset, region.size)
        return check_image(self._policy(0), pkg, True, self._caches[bank])

    def _write_boot(self, rec: BootRecord) -> None:
        self._boot_ctl.write(rec)

    def _boot(self, cold: bool) -> None:
        """The bootloader: pick the bank, re-validate it, run it (or fall back)."""
        reverted = False
        while True:
            rec = self._boot_ctl.current
            if rec is None:
                rec = BootRecord(active=BANK_A, previous=GOLDEN)
            if rec.trial:
                if rec.attempts >= self.MAX_BOOT_ATTEMPTS:
                    self._evt("ROLLBACK", reason="boot-loop", bank=BANK_NAMES[rec.previous])
                    self._write_boot(rec.next(active=rec.previous, previous=rec.active,
                                              trial=False, attempts=0, outcome=OUTCOME_REVERTED))
                    reverted = True
                    continue
                rec = rec.next(attempts=rec.attempts + 1)
                self._write_boot(rec)
            rc, h = self._validate(rec.active)
            if rc == 0 and h is not None and h.behaviour == 2 and not rec.trial:
                rc = -60  # a crash-on-boot image outside its trial can never run
            if rc or h is None:
                e = from_mt_err(rc)
                self._err(e, bank=BANK_NAMES[rec.active], at="boot")
                fallback = self._fallback(rec)
                if fallback is None:
                    self._lcd = "F.04"
                    self._err("F.04")
                    self._on = False
                    self._running = None
                    return
                self._evt("ROLLBACK", reason="invalid-bank", bank=BANK_NAMES[fallback])
                self._write_boot(rec.next(active=fallback, previous=rec.active, trial=False,
                                          attempts=0, outcome=OUTCOME_REVERTED))
                reverted = True
                continue
            if h.behaviour == 2:  # crash-on-boot: the watchdog resets, the bootloader counts
                self._evt("BOOT_FAIL", version=_version(h), attempt=rec.attempts)
                continue
            break
        self._running = h
        if not cold:  # the bank swap: metrology pauses while the kernel re-initialises
            self._pause_until = max(self._pause_until, self.clock.now + self.SWAP_PAUSE)
        if h.behaviour == 3:
            self._busy_until = self.clock.now + self.SLOW_BOOT
        if rec.trial:
            self._trial_deadline = self.clock.now + self.heartbeat_window
        self._evt("BOOT", version=_version(h), bank=BANK_NAMES[rec.active],
                  trial=1 if rec.trial else None, cold=1 if cold else None)
        if reverted:
            self._event(Event.REVERTED)

    def _fallback(self, rec: BootRecord) -> int | None:
        """The other bank, then the golden image: the first that validates."""
        order = [rec.previous, BANK_A, BANK_B, GOLDEN]
        for bank in dict.fromkeys(b for b in order if b != rec.active):
            rc, h = self._validate(bank)
            if rc == 0 and h is not None and h.behaviour != 2:
                return bank
        return None

    def _restore_state(self) -> None:
        """After power-up: the boot state from the facts in flash (record, session)."""
        rec = self._boot_ctl.current
        assert rec is not None
        p = self._progress
        if p.session is not None and not p.closed and p.session.target == rec.active:
            p.close()  # activated: the session's bank runs now
        if rec.trial:
            self._state = BootState.TRIAL
        elif p.session is not None and not p.closed:
            self._it_status = 1 if p.session.kind == KIND_DLMS else 0
            if self._state not in (BootState.DOWNLOADING, BootState.VERIFIED):
                self._event(Event.DOWNLOAD_RESUME)
            self._state = BootState.DOWNLOADING
            if p.complete:
                self._accept(quiet=True)
        elif self._state in (BootState.DOWNLOADING, BootState.VERIFIED, BootState.TRIAL):
            self._state = {OUTCOME_NONE: BootState.IDLE, OUTCOME_CONFIRMED: BootState.CONFIRMED,
                           OUTCOME_REVERTED: BootState.REVERTED}.get(rec.outcome, BootState.IDLE)
            self._persist()

    # ---------------------------------------------------------------- time
    def advance(self, seconds: float | Fraction) -> None:
        """Let ``seconds`` of virtual time pass: metrology, NVM snapshots, trial window."""
        end = self.clock.now + Fraction(seconds)
        if seconds < 0:
            raise ValueError("time only moves forward")
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

    def _trial_timeout(self) -> None:
        rec = self._boot_ctl.current
        assert rec is not None and self._running is not None
        self._trial_deadline = None
        self._evt("ROLLBACK", reason="no-heartbeat", version=_version(self._running),
                  bank=BANK_NAMES[rec.previous])
        self._persist()
        self._write_boot(rec.next(active=rec.previous, previous=rec.active, trial=False,
                                  attempts=0, outcome=OUTCOME_REVERTED))
        self._boot(cold=False)
        if self._on and self._state is not BootState.REVERTED:
            self._event(Event.REVERTED)

    # ---------------------------------------------------------------- heartbeat
    def _require_available(self) -> None:
        if not self._on:
            raise MeterUnavailable("the meter is off" + (f" ({self._lcd})" if self._lcd else ""))
        if self.clock.now < self._busy_until:
            raise MeterUnavailable(
                f"the meter is booting (slow boot) until +{float(self._busy_until):.0f} s")

    def heartbeat(self) -> bool:
        """The HES heartbeat (or first authenticated association). True if it confirmed."""
        self._require_available()
        if self._state is not BootState.TRIAL or self._running is None:
            return False
        if self._running.behaviour == 1:  # no-heartbeat: this image never confirms
            self.counters["heartbeat_ignored"] += 1
            return False
        rec = self._boot_ctl.current
        assert rec is not None
        counter = max(rec.counter, self._running.security_counter)
        try:
            self._write_boot(rec.next(trial=False, attempts=0, outcome=OUTCOME_CONFIRMED,
                                      counter=counter))
        except PowerLost:
            self._die()
            return False
        except FlashError as exc:
            self._err("0x9004", at="confirm", rc=exc.err_name)
            return False
        try:
            self._trial_deadline = None
            self._ok("CONFIRMED", version=_version(self._running),
                     bank=BANK_NAMES[rec.active], counter=counter)
            self._event(Event.CONFIRMED)
        except PowerLost:
            self._die()
        return True

    # ---------------------------------------------------------------- download
    def receive(self, frame: bytes) -> Receipt:
        """A mesh fragment frame. Garbage is counted and dropped, never raised."""
        r = self._receive(bytes(frame))
        self.counters[r.value] += 1
        return r

    def _receive(self, data: bytes) -> Receipt:
        if not self.available:
            return Receipt.DROPPED_UNAVAILABLE
        try:
            f = decode_frame(data)
        except ReassemblyError:
            self._reject_once("frame")
            return Receipt.DROPPED_FRAME
        try:
            return self._fragment(KIND_MESH, f.session_id, f.fragment_index, f.fragment_count,
                                  f.payload, f.fragment_size, f.package_size)
        except PowerLost:
            self._die()
            return Receipt.DROPPED_UNAVAILABLE

    def _reject_once(self, reason: str) -> None:
        """0x8009 goes to the audit log once per session and reason; every drop is counted."""
        if reason not in self._session_rejects:
            self._session_rejects.add(reason)
            self._err("0x8009", reason=reason)

    def _fragment(self, kind: int, sid: int, index: int, count: int, payload: bytes,
                  fsize: int, package_size: int) -> Receipt:
        p = self._progress
        s = p.session
        same = s is not None and s.kind == kind and s.session_id == sid and not p.closed
        if not same:
            if self._state is BootState.TRIAL:
                return Receipt.DROPPED_STATE
            if s is not None and not p.closed and self._state is BootState.DOWNLOADING:
                self._reject_once("session")
                return Receipt.DROPPED_SESSION
            if s is not None and p.closed and s.kind == kind and s.session_id == sid:
                return Receipt.DROPPED_SESSION  # late frames of a finished session
            # The session geometry comes with every frame; all of it is peer-controlled
            # (16/32-bit fields: no product below can overflow a Python int anyway).
            if not 16 <= fsize <= 1024 or package_size <= HEADER_SIZE or (
                    count != -(-package_size // fsize)):
                self._reject_once("geometry")
                return Receipt.DROPPED_LENGTH
            if index >= count:
                self._reject_once("index")
                return Receipt.DROPPED_INDEX
            # Refuse before writing a byte: the package must fit the bank.
            if package_size > self.geometry.bank_size or count > p.capacity:
                self._err("0x9002", package_size=package_size, bank=self.geometry.bank_size)
                self._stop_refused(start=True)
                return Receipt.REFUSED
            if fsize >= HEADER_SIZE and index == 0 and not self._header_ok(
                    payload, count, fsize, package_size):
                self._stop_refused(start=True)
                return Receipt.REFUSED
            if not self._start(Session(self._inactive(), kind, fsize, sid, count, package_size)):
                return Receipt.REFUSED
            s = p.session
            assert s is not None
        if (fsize, package_size) != (s.fragment_size, s.package_size):
            self._reject_once("geometry")
            return Receipt.DROPPED_LENGTH
        if index >= s.fragment_count or count != s.fragment_count:
            self._reject_once("index")
            return Receipt.DROPPED_INDEX
        last = index == s.fragment_count - 1
        expect = s.package_size - index * s.fragment_size if last else s.fragment_size
        if len(payload) != expect:
            self._reject_once("length")
            return Receipt.DROPPED_LENGTH
        if s.fragment_size >= HEADER_SIZE and index == 0 and kind == KIND_MESH and (
                not self._header_ok(payload, s.fragment_count, s.fragment_size, s.package_size)):
            self._stop_refused()
            return Receipt.REFUSED
        try:
            new = p.write(index, payload)
        except Conflict:
            self._err("0x800A", fragment=index)
            self._stop_refused()
            return Receipt.REFUSED
        except PowerLost:
            raise
        except FlashError as exc:
            self._err("0x9004", at="download", rc=exc.err_name)
            self._stop_refused()
            return Receipt.REFUSED
        if not new:
            return Receipt.DUPLICATE
        if s.fragment_size < HEADER_SIZE and index < HEADER_SIZE // s.fragment_size + 1:
            need = range(-(-HEADER_SIZE // s.fragment_size))
            if all(p.received[i] for i in need if i < s.fragment_count):
                bank = self.layout.bank(s.target)
                head = self._flash.read(bank.offset, HEADER_SIZE)
                if not self._header_ok(head, s.fragment_count, s.fragment_size, s.package_size,
                                       kind):
                    self._stop_refused()
                    return Receipt.REFUSED
        if p.complete:
            self._evt("DOWNLOAD_COMPLETE", fragments=s.fragment_count)
            if kind == KIND_MESH:
                self._accept()
        return Receipt.WRITTEN

    def _header_ok(self, head: bytes, count: int, fsize: int, package_size: int,
                   kind: int = KIND_MESH) -> bool:
        """The header checks that run as soon as the header is in (SPEC section 6)."""
        rc, h = parse_header(head)
        if h is None:
            self._err(from_mt_err(rc), at="header")
            return False
        if h.vendor_id != self.vendor_id:
            self._err(from_mt_err(-33), vendor=f"0x{h.vendor_id:08x}")
            return False
        if h.hw_revision != self.hw_revision:
            self._err(from_mt_err(-34), hw_revision=h.hw_revision)
            return False
        if h.package_size > self.geometry.bank_size:
            self._err("0x9002", package_size=h.package_size, bank=self.geometry.bank_size)
            return False
        if kind == KIND_MESH and (h.fragment_count != count or h.fragment_size != fsize
                                  or h.package_size != package_size):
            self._reject_once("geometry")
            return False
        return True

    def _inactive(self) -> int:
        rec = self._boot_ctl.current
        return BANK_B if rec is not None and rec.active == BANK_A else BANK_A

    def _start(self, session: Session) -> bool:
        """Open a download session (erases the progress region and the target bank)."""
        self._session_rejects = set()
        try:
            self._progress.start(session)
        except PowerLost:
            raise
        except FlashError as exc:
            self._err("0x9004", at="download-start", rc=exc.err_name)
            self._stop_refused(start=True)
            return False
        self._evt("DOWNLOAD_START", session=f"0x{session.session_id:08x}",
                  fragments=session.fragment_count, bank=BANK_NAMES[session.target])
        self._event(Event.DOWNLOAD_START)
        return True

    def _stop_refused(self, start: bool = False) -> None:
        """Stop the download (refused header, conflict, flash fault): state failed."""
        try:
            self._progress.close()
        except PowerLost:
            raise
        except FlashError:
            self._progress.closed = True  # RAM only; power-up re-checks the session
        if start and self._state not in (BootState.DOWNLOADING, BootState.VERIFIED):
            self._event(Event.DOWNLOAD_START)
        self._it_status = 4 if self._progress.session and (
            self._progress.session.kind == KIND_DLMS) else self._it_status
        self._event(Event.REJECTED)

    def _accept(self, quiet: bool = False) -> ErrorCode | None:
        """Acceptance on the inactive bank; VERIFIED or FAILED. One audit record."""
        p = self._progress
        s = p.session
        assert s is not None
        rec = self._boot_ctl.current
        assert rec is not None
        bank = self.layout.bank(s.target)
        pkg = self._flash.read(bank.offset, bank.size)
        rc, h = check_image(self._policy(rec.counter), pkg, p.complete, self._caches[s.target])
        if rc == 0 and h is not None:
            if not quiet:
                self._ok("VERIFIED", version=_version(h), bank=BANK_NAMES[s.target],
                         behaviour=BEHAVIOURS.get(h.behaviour))
            self._it_status = 3 if s.kind == KIND_DLMS else self._it_status
            self._event(Event.ACCEPTED)
            return None
        e = from_mt_err(rc)
        if e.code == "0x8001":  # not finished: keep downloading
            missing = p.missing()
            self._err(e, missing=len(missing), first=missing[0] if missing else None)
            return e
        if not quiet:
            fields: dict[str, object] = {"version": _version(h) if h else None}
            if e.code == "0x8005" and h is not None:
                fields["key_id"] = h.key_id.hex()
            if e.code == "0x8006" and h is not None:
                fields["counter"] = h.security_counter
                fields["installed"] = rec.counter
            self._err(e, **fields)
        p.close()
        self._it_status = 4 if s.kind == KIND_DLMS else self._it_status
        self._event(Event.REJECTED)
        return e

    def inactive_package_sha256(self) -> bytes:
        """SHA-256 of the complete package in the inactive bank; b"" when there is none."""
        p = self._progress
        s = p.session
        if s is None or p.closed or not p.complete:
            return b""
        bank = self.layout.bank(s.target)
        _rc, h = parse_header(self._flash.read(bank.offset, HEADER_SIZE))
        size = h.package_size if h is not None and h.package_size <= bank.size else (
            s.package_size or s.fragment_count * s.fragment_size)
        return hashlib.sha256(self._flash.read(bank.offset, min(size, bank.size))).digest()

    # ---------------------------------------------------------------- activation
    def _activate(self) -> ErrorCode | None:
        """Seed step 6: swap to the verified bank. None on success, else the error."""
        p = self._progress
        if self._state is BootState.DOWNLOADING and p.session is not None and not p.closed:
            if not p.complete:
                missing = p.missing()
                return self._err("0x8001", missing=len(missing), at="activate")
            refused = self._accept()
            if refused is not None:
                return refused
        if self._state is not BootState.VERIFIED or p.session is None:
            return self._err("0x8000", request="activate", state=self._state.name.lower())
        s = p.session
        # Re-check right before the swap: the bank may have changed since verification.
        refused = self._accept(quiet=True)
        if refused is not None:
            return self._err(refused, at="activate")
        rec = self._boot_ctl.current
        assert rec is not None
        self._persist()  # the energy floor before the swap
        try:
            self._write_boot(rec.next(active=s.target, previous=rec.active, trial=True,
                                      attempts=0, outcome=OUTCOME_NONE))
        except PowerLost:
            raise
        except FlashError as exc:
            self._lcd = "F.03"
            e = self._err("F.03", rc=exc.err_name)
            self._event(Event.SWAP_FAILED)
            return e
        p.close()
        self._ok("ACTIVATED", bank=BANK_NAMES[s.target])
        self._event(Event.ACTIVATED)
        self._boot(cold=False)
        return None
