"""Download, acceptance and activation: the meter's side of the reassembler.

Everything that touches the firmware goes through the C core: fragments and
class 18 blocks through ``_lowlevel.reasm`` (payload straight into the
inactive bank, bitmap in flash), acceptance and activation through
``_lowlevel.boot`` (``mt_image_check`` on the bank's bytes, the boot-control
record). This part decides which session a frame belongs to (SPEC section 6:
closed sessions, a kept download, a replacing header, the timeout) and what
each refusal becomes: an event, a receipt, a step of the life cycle.

The session's kind (mesh or DLMS) is the reassembler's tag, stored in the
progress record, so it survives a power cut with the session.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from .._lowlevel.boot import Bank
from .._lowlevel.flash import Flash, Partition
from .._lowlevel.fleet import BEFORE as FLEET_BEFORE
from .._lowlevel.fleet import COMPLETED as FLEET_COMPLETED
from .._lowlevel.image import parse_header
from .._lowlevel.reasm import (
    DUPLICATE,
    WRITTEN,
    FrameRun,
    Phase,
    Reassembler,
    decode_frame,
    frame_fields,
)
from ..crypto import sha256
from ..errors import (
    CONFLICTING_FRAGMENT,
    DOWNGRADE,
    FLASH_FAULT,
    FRAGMENT_REJECTED,
    INCOMPLETE_IMAGE,
    INSUFFICIENT_MEMORY,
    INVALID_REQUEST,
    MT_ERR,
    NEW_IMAGE_FAILED,
    SIGNATURE_MISMATCH,
    SWAP_FAILURE,
    BootError,
    ErrorCode,
    FlashError,
    FlashPowerError,
    PackageError,
    PackageRefused,
    StateError,
    c_error,
    from_mt_err,
)
from ..wire.package import BEHAVIOURS, HEADER_SIZE
from .battery import RadioBudget
from .boot import BANK_NAMES, Boot, version_of
from .clock import _ZERO
from .events import (
    Activated,
    DownloadComplete,
    DownloadProgress,
    DownloadStarted,
    FrameDropped,
    Refused,
    Verified,
)
from .layout import Layout
from .lifecycle import Lifecycle
from .power import Power
from .receipts import Receipt
from .rules import BootState, Event, ImageTransferEvent
from .sessions import ClosedSessions, CloseReason

__all__ = ["KIND_DLMS", "KIND_MESH", "Download"]

KIND_MESH, KIND_DLMS = 0, 1
KIND_NAMES = {KIND_MESH: "mesh", KIND_DLMS: "dlms"}
BEHAVIOUR_NAMES = {number: name for name, number in BEHAVIOURS.items()}
_TRIAL = BootState.TRIAL  # read per frame: a module name, not an enum class attribute
_DOWNLOADING, _VERIFIED = BootState.DOWNLOADING, BootState.VERIFIED  # (and per activation)
_ACTIVATE, _ACTIVATED = Event.ACTIVATE, Event.ACTIVATED
_FRAME = Event.FRAME  # (and these)
_WRITTEN, _DUPLICATE, _DROPPED_STATE = Receipt.WRITTEN, Receipt.DUPLICATE, Receipt.DROPPED_STATE
# Download.outcome's answers that carry no bitmask
_COMPLETE, _REFUSED, _NEVER = ("complete", 0), ("refused", 0), ("missing", -1)
_WRITTEN_KEY, _DUPLICATE_KEY = _WRITTEN.value, _DUPLICATE.value  # their counters
# Receipt of a frame a run took, by Reassembler.frames' outcome.
_RUN_RECEIPTS = {WRITTEN: Receipt.WRITTEN, DUPLICATE: Receipt.DUPLICATE}
_E = MT_ERR
# Refusals of the header check that runs as soon as the header is in (SPEC 6).
_HEADER_CODES = frozenset(
    _E[n] for n in ("MT_E_HDR_MAGIC", "MT_E_HDR_CRC", "MT_E_HDR_FIELD", "MT_E_VENDOR",
                    "MT_E_HW_REV", "MT_E_TOO_BIG"))


_ERASED_MAGIC = b"\xff" * 4  # where a session record starts with its magic (csrc/mt_reasm.h)


@functools.lru_cache(maxsize=64)
def _partition(off: int, size: int) -> Partition:
    """``Partition(off, size)``, made once per span (it is frozen)."""
    return Partition(off, size)


@dataclass
class _Candidate:
    """A new session's header fragments, held in RAM while the meter keeps a
    download: the session replaces it only once its whole header has arrived
    and passed the header check (SPEC section 6)."""

    key: tuple[int, int, int, int]  # session ID, package size, fragment size, count
    frames: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # index: frame, payload


class Download:
    """The download path of one meter."""

    def __init__(self, flash: Flash, layout: Layout, *, vendor_id: int, hw_revision: int,
                 session_timeout: Fraction, boot: Boot, lifecycle: Lifecycle, power: Power,
                 budget: RadioBudget, emit: Callable[..., object], counters: Counter[str],
                 persist: Callable[[], None], restart: Callable[[], None]) -> None:
        self._flash = flash
        self._layout = layout
        self._identity = (vendor_id, hw_revision)
        self.session_timeout = session_timeout
        self._boot = boot
        self._lifecycle = lifecycle
        self._power = power
        self._budget = budget
        self._emit = emit
        self.counters = counters
        self._persist = persist
        self._restart = restart
        self.closed = ClosedSessions(flash, layout["sessions"], layout.geometry.sector_size)
        # RAM, rebuilt at every power-up
        self.dl: Reassembler | None = None
        self._reassemblers: dict[int, Reassembler] = {}  # per bank, see _reassembler
        self._rejects: set[str] = set()  # 0x8009 reasons logged for this session
        self._progress_at = _ZERO  # when the open download last took a fragment
        self._candidate: _Candidate | None = None
        self._closed_heard: set[int] = set()  # closed sessions already reported as heard

    # ---------------------------------------------------------------- power-up
    def _reassembler(self, bank: int) -> Reassembler:
        """A reassembler for ``bank``, fresh: nothing begun or resumed (one per bank,
        reset each time; nothing keeps one across a power-up but :attr:`dl`)."""
        r = self._reassemblers.get(bank)
        if r is not None:
            r.reset()
            return r
        region, progress = self._boot.region(bank), self._layout["progress"]
        vendor_id, hw_revision = self._identity
        r = self._reassemblers[bank] = Reassembler(
            self._flash, _partition(region.offset, region.size),
            _partition(progress.offset, progress.size), vendor_id, hw_revision)
        return r

    def power_up(self) -> None:
        self.dl = None
        self.closed.load()
        self._progress_at = self._power.clock.now
        self._candidate = None
        self._closed_heard = set()

    def power_down(self) -> None:
        self.dl = None

    def attach(self) -> None:
        """The reassembler for the bank a download may go to now (none during a
        trial), rebuilt from the progress partition. A session open on flash is
        over, and closed here, when the boot-control record named its bank (it
        runs now, or the boot just fell back from it: the cut fell between the
        activation's record and the session's close) -- activated; or when its
        bank is not where downloads go now (the meter fell back to the golden
        image) -- abandoned."""
        self.dl = None
        target = self._boot.inactive()
        named = {self._boot.bank, self._boot.named}
        none_open = self._no_session_record()
        for bank in (Bank.A, Bank.B):
            if none_open or (bank is target and bank not in named):
                continue
            r = self._reassembler(bank)
            if r.resume():
                why = CloseReason.ACTIVATED if bank in named else CloseReason.REPLACED
                self._remember(r.tag, r.session_id, why)
                r.close()
        if target is None:
            return
        self.dl = self._reassembler(target)
        self.dl.resume()

    def _no_session_record(self) -> bool:
        """True when the progress partition holds no session record (its magic
        erased, as on a new meter): a resume then finds nothing for either bank
        -- False, its reassembler left as a new one is -- so :meth:`attach`
        makes no reassembler just to ask (one is made when needed). False
        where it cannot tell without the resume (the power is off)."""
        flash = self._flash
        return flash.powered and flash.holds(self._layout["progress"].offset, _ERASED_MAGIC)

    def restore(self) -> bool:
        """After power-up, with the boot state restored: a complete download found
        open is checked again. True when a download is open."""
        dl = self.open()
        if dl is None:
            return False
        if dl.tag == KIND_DLMS:
            self._lifecycle.transfer_step(ImageTransferEvent.INITIATED)
        if dl.complete:
            self.accept(quiet=True)
        return True

    # ---------------------------------------------------------------- views
    def open(self) -> Reassembler | None:
        """The download session in progress (begun, not closed), if any."""
        dl = self.dl
        return dl if dl is not None and dl.is_open else None

    def dlms_session(self) -> Reassembler | None:
        dl = self.dl
        return dl if dl is not None and dl.is_open_as(KIND_DLMS) else None

    def missing(self) -> list[int]:
        dl = self.open()
        return [] if dl is None else dl.missing_indices()

    def inactive_sha256(self) -> bytes:
        dl = self.open()
        bank = self._boot.inactive()
        if dl is None or not dl.complete or bank is None:
            return b""
        region = self._boot.region(bank)
        return sha256(self._flash.read(region.offset, dl.package_size))

    # ---------------------------------------------------------------- events
    def _refused(self, error: ErrorCode, **fields: object) -> ErrorCode:
        self._emit(Refused, error=error, fields=tuple(fields.items()))
        return error

    def reject_once(self, reason: str) -> None:
        """0x8009 goes to the audit log once per session and reason; every drop is counted."""
        if reason not in self._rejects:
            self._rejects.add(reason)
            self._refused(FRAGMENT_REJECTED, reason=reason)

    def _remember(self, kind: int, sid: int, reason: CloseReason) -> None:
        self.closed.add(kind, sid, reason, self._power.clock.epoch_whole)

    def _progress(self, dl: Reassembler) -> None:
        self._emit(DownloadProgress, session=dl.session_id, received=dl.received,
                   count=dl.fragment_count)

    # ---------------------------------------------------------------- receive
    def receive(self, data: bytes) -> Receipt:
        """One mesh frame; the caller counts the receipt. A power cut propagates."""
        if not self._power.answers:
            return Receipt.DROPPED_UNAVAILABLE
        try:
            sid, package_size, fsize, index, count, payload = frame_fields(data)
        except PackageRefused:
            sid = None
        if self._budget.reserve is not None:  # the radio pays for every frame it hears
            dl = self.open()
            dropped = self._budget.pay(sid, dl.session_id if dl is not None and dl.complete
                                        else None)
            if self._budget.just_refused is not None:
                self.battery_refused(self._budget.just_refused)
            if dropped is not None:
                return dropped
        if sid is None:
            self.reject_once("frame")
            return Receipt.DROPPED_FRAME
        return self.fragment(KIND_MESH, sid, index, count, payload, fsize, package_size, data)

    def receive_many(self, frames: Iterable[bytes], count: Callable[[Receipt], None],
                     guard: Callable[..., Receipt]) -> list[Receipt]:
        """Mesh frames as they arrive in a burst: exactly ``[receive(f) ...]`` --
        the same receipts, counters, events, flash and state -- for a fraction of
        the CPU. While a mesh download is under way (answering, downloading, no
        battery to pay per frame), runs of its frames go to the C core in one
        call (``Reassembler.frames``), which takes each frame exactly as it
        would alone and stops at the first that needs more than a count: any
        frame it would refuse, a header fragment still to check, a failed
        write, the frame that completes the download. That frame goes the
        per-frame way, and the runs go on where it leaves the meter.
        ``count`` counts a receipt; ``guard(fn, *args)`` runs a step the way
        the meter runs one frame (a power cut on the way: the meter dies, and
        the receipt says unavailable).
        """
        run = FrameRun(list(frames))
        out: list[Receipt] = []
        n = len(run)
        counters = self.counters
        while run.pos < n:
            dl = self._run_target()
            outcomes, error = dl.frames(run) if dl is not None else (b"", None)
            if not outcomes:  # the frame at the cursor needs the per-frame way
                r = guard(self.receive, bytes(run.take()))
                count(r)
                out.append(r)
                continue
            assert dl is not None
            # The last frame taken failed, or completed the download: it ends
            # in the handlers receive() would have reached for it.
            completed = error is None and outcomes[-1] == WRITTEN and dl.complete
            plain = outcomes[:-1] if error is not None or completed else outcomes
            written = plain.count(WRITTEN)
            if written:  # (no zero entries: the counters stay what receive() makes them)
                counters[_WRITTEN_KEY] += written
                self._progress_at = self._power.clock.now
            if len(plain) > written:
                counters[_DUPLICATE_KEY] += len(plain) - written
            out.extend(map(_RUN_RECEIPTS.__getitem__, plain))
            if error is not None:
                index = decode_frame(run.frames[run.pos - 1]).fragment_index
                r = guard(self._failed, dl, error, index)
            elif completed:
                r = guard(self._written, dl, KIND_MESH)
            else:
                continue
            count(r)
            out.append(r)
        dl = self.open()
        if dl is not None and out:
            self._progress(dl)
        return out

    def batch_target(self) -> Reassembler | None:
        """The download a round of mesh frames may go to the C core for, this meter
        among many in one call (:mod:`meteremu.fleet`, ``mt_fleet_round``): the
        one :meth:`receive_many` runs frames into."""
        return self._run_target()

    # A round the C core ran for this meter among many (``mt_fleet_round``, with
    # the download from batch_target): the meter ends as receive_many of the
    # frames it heard would leave it when the caller, for each run of it,
    # settles the run's counts, then the frame the run stopped at (if it
    # stopped), and once the round is over, ends the burst; the frames after
    # a stop go on in a replay of the round while batch_target allows, else
    # through receive_many (which ends the burst itself).
    def settle_counts(self, written: int, duplicates: int) -> None:
        """A run wrote ``written`` new fragments and took ``duplicates``."""
        counters = self.counters
        if written:
            counters[_WRITTEN_KEY] += written
            self._progress_at = self._power.clock.now
        if duplicates:
            counters[_DUPLICATE_KEY] += duplicates

    def settle_stop(self, dl: Reassembler | None, frame: bytes, code: int,
                    count: Callable[[Receipt], None], guard: Callable[..., Receipt]) -> None:
        """The frame a run stopped at, the way receive_many takes it: ``code``
        (``meteremu._lowlevel.fleet``) BEFORE (not taken: the per-frame way),
        COMPLETED (taken, completed the download) or the error of a failed store
        (``dl`` None: a meter the C core did not feed, whose frame is BEFORE)."""
        if code == FLEET_BEFORE:
            r = guard(self.receive, bytes(frame))
        elif dl is None:
            raise ValueError(f"a run that took its frame (code {code}) names its download")
        elif code == FLEET_COMPLETED:
            r = guard(self._written, dl, KIND_MESH)
        else:
            r = guard(self._failed, dl, c_error(code, "frame of the round"),
                      decode_frame(frame).fragment_index)
        count(r)

    def settle_end(self) -> None:
        """The round's burst is over (the meter heard at least one frame)."""
        dl = self.open()
        if dl is not None:
            self._progress(dl)

    def outcome(self, session: int) -> tuple[str, int]:
        """Where mesh session ``session`` stands on this meter: ``("complete",
        0)``: it holds every fragment, or closed the session as activated;
        ``("missing", bitmask)`` of the fragments still missing (bit i:
        fragment i; -1: all of them, the meter never took the session or is
        off); ``("refused", 0)``: it closed the session otherwise (refused, or
        replaced by a newer one: it takes no frame of it)."""
        dl = self.dl
        if dl is not None and self._power.running and dl.is_open_as(KIND_MESH) and (
                dl.session_id == session):
            if dl.complete:
                return _COMPLETE
            return "missing", int.from_bytes(dl.missing(), "little")
        return self._unheld(session)

    def settle_round(self, written: int, duplicates: int, heard: bool,
                     session: int) -> tuple[Reassembler | None, tuple[str, int]]:
        """A round is over for this meter: ``settle_counts(written, duplicates)``,
        then ``settle_end()`` when it heard a frame, then ``(batch_target(),
        outcome(session))`` -- what a fleet asks of every meter after every
        round, in one call, each field of the download read once
        (``tests/test_short_paths.py`` holds it to those four calls)."""
        if written or duplicates:
            self.settle_counts(written, duplicates)
        dl = self.dl
        if dl is None or not dl.is_open:
            return None, self._unheld(session)
        sid, complete = dl.session_id, dl.complete
        if heard:  # settle_end: the burst's progress
            self._emit(DownloadProgress, session=sid, received=dl.received,
                       count=dl.fragment_count)
        if dl.tag != KIND_MESH:
            return None, self._unheld(session)
        power = self._power
        target = None
        if self._budget.reserve is None and power.answers:  # as _run_target
            state = self._lifecycle.state
            if state is _DOWNLOADING or (state is _VERIFIED and complete):
                target = dl
        if sid != session or not power.running:
            return target, self._unheld(session)
        if complete:
            return target, _COMPLETE
        return target, ("missing", int.from_bytes(dl.missing(), "little"))

    def _unheld(self, session: int) -> tuple[str, int]:
        """:meth:`outcome` of a session the open download is not: complete when the
        meter closed it as activated (it needs none of its frames), refused when
        it closed it otherwise, else missing all."""
        key = (KIND_MESH, session)
        if key not in self.closed:
            return _NEVER
        return _COMPLETE if self.closed.reason(key) is CloseReason.ACTIVATED else _REFUSED

    def _run_target(self) -> Reassembler | None:
        """The download whose frames may go to the C core a run at a time: a mesh
        session in progress on a meter that answers and pays nothing per frame;
        or such a session complete and verified, not yet activated, whose every
        frame of its own the per-frame way stores as a duplicate, as the C core
        does (any other frame stops the run: it goes the per-frame way)."""
        if self._budget.reserve is not None:
            return None
        state = self._lifecycle.state
        if state is not BootState.DOWNLOADING and state is not BootState.VERIFIED:
            return None
        dl = self.dl
        if dl is None or not dl.is_open or dl.tag != KIND_MESH or not self._power.answers:
            return None
        if state is BootState.VERIFIED and not dl.complete:
            return None
        return dl

    def battery_refused(self, sid: int) -> None:
        """The battery refused session ``sid``: an open download of it stops; a new
        one refused before it began fails the update."""
        dl = self.open()
        if dl is not None:
            if dl.session_id == sid:
                self._stop()
        elif self.dl is not None and self._lifecycle.state is not _TRIAL:
            self._lifecycle.apply(Event.REFUSED)

    # ---------------------------------------------------------------- sessions
    def begin(self, kind: int, sid: int, package_size: int, fsize: int, count: int) -> int:
        """Open a new session (flash is touched at its first fragment), replacing
        the open one: 0, or the C code that refused it. A package larger than the
        bank is logged (0x9002) and the session remembered as refused, so its
        further frames are dropped without records; bad geometry is the
        caller's to report. A refusal leaves the open download as it was."""
        dl = self.dl
        assert dl is not None
        old = self.open()
        replaced = None if old is None else (old.tag, old.session_id, old.header_ok)
        try:
            # The bank is about to be taken: the record stops naming the image
            # there as the confirmed one's fallback (a fallback must never boot
            # a download nobody activated).
            self._boot.loader.forget_fallback()
        except BootError as exc:
            if not self._flash.powered:
                raise FlashPowerError(_E["MT_E_FLASH_POWER"], "download start") from None
            self._power.lcd = SWAP_FAILURE.code
            self._refused(SWAP_FAILURE, at="download-start", rc=exc.err_name)
            return exc.err
        try:
            dl.begin(sid, package_size, fsize, count, tag=kind)
        except PackageRefused as exc:
            if exc.err == _E["MT_E_TOO_BIG"]:
                self._refused(INSUFFICIENT_MEMORY, package_size=package_size,
                              bank=self._layout.geometry.bank_size, session=f"0x{sid:08x}")
                self._remember(kind, sid, CloseReason.REFUSED)
                self._lifecycle.apply(Event.REFUSED)
            return exc.err
        if replaced is not None and replaced[:2] != (kind, sid) and (
                replaced[2] or replaced[0] == KIND_DLMS):
            # a download that had passed its header is over for good; one
            # opened by a stray frame may be heard again
            self._remember(replaced[0], replaced[1], CloseReason.REPLACED)
        self._rejects = set()
        self._candidate = None
        self._progress_at = self._power.clock.now
        self._lifecycle.transfer_step(ImageTransferEvent.INITIATED if kind == KIND_DLMS
                                      else ImageTransferEvent.MESH_SESSION)
        bank = self._boot.inactive()
        self._emit(DownloadStarted, session=sid, kind=KIND_NAMES[kind], fragments=count,
                   bank=BANK_NAMES[bank] if bank is not None else "-")
        self._lifecycle.apply(Event.DOWNLOAD_START)
        return 0

    def _keeps(self) -> bool:
        """The inactive bank holds what a stray frame must not erase: a verified
        package, a class 18 transfer, or a mesh download whose header passed and
        that took a fragment within ``session_timeout``."""
        if self._lifecycle.state is BootState.VERIFIED:
            return True
        dl = self.open()
        if dl is None or self._power.clock.now - self._progress_at >= self.session_timeout:
            return False
        return dl.header_ok or dl.tag == KIND_DLMS

    def _new_session(self, sid: int, index: int, count: int, payload: bytes, fsize: int,
                     package_size: int, frame: bytes) -> Receipt | None:
        """A mesh frame of a session other than the open one (SPEC section 6).
        None when that session is open now and the frame goes to it; else what
        became of the frame."""
        if (KIND_MESH, sid) in self.closed:
            if sid not in self._closed_heard:  # once per session and power-up
                self._closed_heard.add(sid)
                self._emit(FrameDropped, session=sid, reason="closed-session")
            return Receipt.DROPPED_CLOSED
        # Peer-controlled fields, checked before a new session replaces anything.
        if not 0 <= index < count:
            self.reject_once("index")
            return Receipt.DROPPED_INDEX
        if count < 1 or package_size < 1 or fsize < 1 or len(payload) != (
                min(fsize, package_size - index * fsize)):
            self.reject_once("length")
            return Receipt.DROPPED_LENGTH
        if self._keeps():
            return self._challenge(sid, index, count, payload, fsize, package_size, frame)
        if not self._budget.affordable(count - 1):
            self._budget.refuse(sid, frames=count - 1)
            self.battery_refused(sid)
            return Receipt.REFUSED
        rc = self.begin(KIND_MESH, sid, package_size, fsize, count)
        if rc in (_E["MT_E_TOO_BIG"], _E["MT_E_SWAP"]):
            return Receipt.REFUSED
        if rc:
            self.reject_once("geometry")
            return Receipt.DROPPED_LENGTH
        return None

    def _challenge(self, sid: int, index: int, count: int, payload: bytes, fsize: int,
                   package_size: int, frame: bytes) -> Receipt | None:
        """A new session while the meter keeps a download: its header fragments
        wait in RAM (received, as the reassembler's own do), its other frames are
        dropped; once the whole header is in and passes, the session replaces
        the download. A header that fails is logged once and the session
        remembered as refused; the kept download is untouched either way."""
        dl = self.dl
        assert dl is not None
        span = min(count, -(-HEADER_SIZE // fsize))  # fragments the header spans
        if index >= span:
            self.reject_once("session")
            return Receipt.DROPPED_SESSION
        key = (sid, package_size, fsize, count)
        c = self._candidate
        if c is None or c.key != key:
            c = self._candidate = _Candidate(key)
        c.frames[index] = (frame, payload)
        if len(c.frames) < span:
            return Receipt.WRITTEN
        self._candidate = None
        header = b"".join(c.frames[i][1] for i in range(span))
        rc = dl.header_check(header, package_size, fsize, count)
        if rc:
            self._refused(from_mt_err(rc), at="header", session=f"0x{sid:08x}")
            self._remember(KIND_MESH, sid, CloseReason.REFUSED)
            return Receipt.REFUSED
        if self.begin(KIND_MESH, sid, package_size, fsize, count):
            return Receipt.REFUSED  # (the header check has passed: not expected)
        for i in range(span):  # the held ones first, then this frame as usual
            if i != index:
                r = self.store(dl, KIND_MESH, i, c.frames[i][1], c.frames[i][0])
                if r is Receipt.REFUSED:
                    return r
        return None

    def fragment(self, kind: int, sid: int, index: int, count: int, payload: bytes,
                 fsize: int, package_size: int, frame: bytes) -> Receipt:
        """A mesh frame's fragment: to its session, which it may start."""
        dl = self.dl
        if dl is None or self._lifecycle.refusal(_FRAME) is not None:
            return _DROPPED_STATE  # the other bank is the trial's fallback
        if not dl.holds(sid, kind):
            dropped = self._new_session(sid, index, count, payload, fsize, package_size, frame)
            if dropped is not None:
                return dropped
        return self.store(dl, kind, index, payload, frame)

    def block(self, dl: Reassembler, index: int, payload: bytes) -> Receipt:
        """Class 18 block ``index`` of ``dl``, the open DLMS session (the caller
        found it with :meth:`dlms_session`: a block always names it)."""
        if self._lifecycle.refusal(_FRAME) is not None:
            return _DROPPED_STATE  # the other bank is the trial's fallback
        return self.store(dl, KIND_DLMS, index, payload, None)

    def store(self, dl: Reassembler, kind: int, index: int, payload: bytes,
              frame: bytes | None) -> Receipt:
        """A fragment of the open session to the reassembler: written, duplicate,
        held (a header fragment), or refused."""
        duplicates = dl.duplicates
        try:
            new = dl.frame(frame) if frame is not None else dl.block(index, payload)
        except (FlashError, PackageRefused, StateError) as exc:
            return self._failed(dl, exc, index)
        if not new:  # a duplicate, or a header fragment held in RAM until the header is whole
            return _DUPLICATE if dl.duplicates > duplicates else _WRITTEN
        self._progress_at = self._power.clock.now
        return self._written(dl, kind)

    def _written(self, dl: Reassembler, kind: int) -> Receipt:
        """A new fragment is on flash; the last one runs acceptance (mesh)."""
        if dl.complete:
            self._emit(DownloadComplete, session=dl.session_id, fragments=dl.fragment_count)
            if kind == KIND_MESH:
                self.accept()
        return _WRITTEN

    def _failed(self, dl: Reassembler, exc: FlashError | PackageRefused | StateError,
                index: int) -> Receipt:
        """The reassembler refused fragment ``index``, or a flash operation failed
        (a power cut is raised on: the meter dies)."""
        if isinstance(exc, FlashPowerError):
            raise exc
        if isinstance(exc, FlashError):
            self._refused(FLASH_FAULT, at="download", rc=exc.err_name)
            self._stop()
            return Receipt.REFUSED
        err = exc.err
        if err in _HEADER_CODES and dl.phase is Phase.REFUSED:
            self._refused(from_mt_err(err), at="header", rc=exc.err_name)
            self._stop()
            return Receipt.REFUSED
        if err == _E["MT_E_CONFLICT"]:
            self._refused(CONFLICTING_FRAGMENT, fragment=index)
            self._stop()
            return Receipt.REFUSED
        if err == _E["MT_E_SESSION"]:
            self.reject_once("geometry")
            return Receipt.DROPPED_LENGTH
        if err == _E["MT_E_FRAME"]:
            if dl.stats.bad_index and "index" not in self._rejects:
                self.reject_once("index")
                return Receipt.DROPPED_INDEX
            self.reject_once("length")
            return Receipt.DROPPED_LENGTH
        return Receipt.DROPPED_STATE

    def _stop(self) -> None:
        """Stop the open download (refused header, conflict, flash fault, failed
        acceptance, battery): the session is remembered as refused, state failed."""
        dl = self.dl
        kind = dl.tag if dl is not None else KIND_MESH
        if dl is not None:
            if dl.is_open or dl.phase is Phase.REFUSED:
                self._remember(kind, dl.session_id, CloseReason.REFUSED)
            try:
                dl.close()
            except FlashPowerError:
                raise
            except FlashError:
                self.counters["progress_write_failed"] += 1  # power-up closes it again
        if kind == KIND_DLMS:
            self._lifecycle.transfer_step(ImageTransferEvent.VERIFY_FAILED)
        self._lifecycle.apply(Event.REJECTED)

    # ---------------------------------------------------------------- acceptance
    def _header(self, bank: int | None) -> object | None:
        if bank is None:
            return None
        region = self._boot.region(bank)
        try:
            return parse_header(self._flash.read(region.offset, HEADER_SIZE))
        except PackageError:
            return None

    def accept(self, quiet: bool = False) -> ErrorCode | None:
        """Acceptance (C, on the inactive bank's bytes); verified or failed, one
        event. ``quiet``: no VERIFIED event (a power-up checking again what it
        had verified before the cut); a refusal is always reported."""
        dl = self.open()
        assert dl is not None
        try:
            h = self._boot.loader.verify(complete=dl.complete)
        except PackageError as exc:
            e = exc.error
            if e is INCOMPLETE_IMAGE:  # not finished: keep downloading
                missing = self.missing()
                return self._refused(e, missing=len(missing),
                                     first=missing[0] if missing else None)
            hdr = self._header(self._boot.inactive())
            fields: dict[str, object] = {"version": version_of(hdr) if hdr else None}  # type: ignore[arg-type]
            if e is SIGNATURE_MISMATCH and hdr is not None:
                fields["key_id"] = hdr.key_id.hex()  # type: ignore[attr-defined]
            if e is DOWNGRADE and hdr is not None:
                fields["counter"] = hdr.security_counter  # type: ignore[attr-defined]
                fields["installed"] = self._boot.floor
            self._refused(e, **fields)
            self._stop()
            return e
        if not quiet:
            bank = self._boot.inactive()
            self._emit(Verified, version=version_of(h),
                       bank=BANK_NAMES[bank] if bank is not None else "-",
                       behaviour=BEHAVIOUR_NAMES.get(h.behaviour))
        if dl.tag == KIND_DLMS:
            self._lifecycle.transfer_step(ImageTransferEvent.VERIFY_OK)
        self._lifecycle.apply(Event.ACCEPTED)
        return None

    # ---------------------------------------------------------------- activation
    def activate(self) -> ErrorCode | None:
        """Seed step 6: swap to the verified bank. None on success, else the error
        (it is in the audit log too)."""
        lifecycle = self._lifecycle
        refusal = lifecycle.refusal(_ACTIVATE)
        dl = self.open()
        if refusal is None and lifecycle.state is _DOWNLOADING and dl is not None:
            if not dl.complete:
                missing = self.missing()
                return self._refused(INCOMPLETE_IMAGE, missing=len(missing), at="activate")
            refused = self.accept()
            if refused is not None:
                return refused
        if refusal is not None or lifecycle.state is not _VERIFIED or dl is None:
            return self._refused(INVALID_REQUEST, request="activate",
                                 state=lifecycle.state.name.lower())
        target = self._boot.inactive()
        assert target is not None
        self._persist()  # the energy floor before the swap
        try:
            # Re-checked in C right before the record is written: the bank may
            # have changed since verification.
            self._boot.loader.activate(complete=dl.complete)
        except PackageError as exc:
            e = self._refused(exc.error, at="activate")
            self._stop()
            return e
        except BootError as exc:
            if not self._flash.powered:
                raise FlashPowerError(_E["MT_E_FLASH_POWER"], "activate") from None
            self._power.lcd = SWAP_FAILURE.code
            e = self._refused(SWAP_FAILURE, rc=exc.err_name)
            self._lifecycle.apply(Event.SWAP_FAILED)
            return e
        self._remember(dl.tag, dl.session_id, CloseReason.ACTIVATED)
        try:
            dl.close()  # the session's bank runs now
        except FlashPowerError:
            raise
        except FlashError:
            self.counters["progress_write_failed"] += 1  # power-up closes it again
        self._emit(Activated, bank=BANK_NAMES[target])
        lifecycle.apply(_ACTIVATED)
        self._restart()
        if self._power.running and (self._boot.bank is not target
                                    or self._lifecycle.state is not _TRIAL):
            # the new image did not come up (a boot loop): the meter went back
            bank = self._boot.bank
            return self._refused(NEW_IMAGE_FAILED, bank=BANK_NAMES[target],
                                 running=BANK_NAMES[bank] if bank is not None else None)
        return None
