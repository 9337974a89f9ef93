"""Download, acceptance and activation, mixed into VirtualMeter.

Everything that touches the firmware goes through the C core: fragments and
class 18 blocks through ``_lowlevel.reasm`` (payload straight into the
inactive bank, bitmap in flash), acceptance and activation through
``_lowlevel.boot`` (``mt_image_check`` on the bank's bytes, the boot-control
record). What this module adds is the meter's side: which refusal becomes
which audit record, receipt and boot-state event.

The download session's kind (mesh or DLMS) is the reassembler's tag, stored
in the progress record, so it survives a power cut with the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._lowlevel.boot import BootError
from .._lowlevel.flash import FlashError
from .._lowlevel.flash import FlashPowerError as PowerLost
from .._lowlevel.image import ImageError, parse_header
from .._lowlevel.reasm import (
    DUPLICATE,
    WRITTEN,
    FrameRun,
    Phase,
    Reassembler,
    ReassemblyError,
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
    ErrorCode,
    from_mt_err,
)
from ..wire.package import BEHAVIOURS
from .cosem import ImageTransferStatus
from .sessions import CloseReason
from .states import BootState, Event, Receipt

if TYPE_CHECKING:
    from .meter import VirtualMeter

__all__ = ["KIND_DLMS", "KIND_MESH", "DownloadServices"]

KIND_MESH, KIND_DLMS = 0, 1
HEADER_SIZE = 128
BEHAVIOUR_NAMES = {number: name for name, number in BEHAVIOURS.items()}
_TRIAL = BootState.TRIAL  # read per frame: a module name, not an enum class attribute
# Receipt of a frame a run took, by Reassembler.frames' outcome.
_RUN_RECEIPTS = {WRITTEN: Receipt.WRITTEN, DUPLICATE: Receipt.DUPLICATE}
_E = MT_ERR
# Refusals of the header check that runs as soon as the header is in (SPEC 6).
_HEADER_CODES = frozenset(
    _E[n] for n in ("MT_E_HDR_MAGIC", "MT_E_HDR_CRC", "MT_E_HDR_FIELD", "MT_E_VENDOR",
                    "MT_E_HW_REV", "MT_E_TOO_BIG"))


@dataclass
class _Candidate:
    """A new session's header fragments, held in RAM while the meter keeps a
    download: the session replaces it only once its whole header has arrived
    and passed the header check (SPEC section 6)."""

    key: tuple[int, int, int, int]  # session ID, package size, fragment size, count
    frames: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # index: frame, payload


def _version(h: object) -> str:
    major, minor, patch, build = h.version  # type: ignore[attr-defined]
    return f"{major}.{minor}.{patch}" + (f"+{build}" if build else "")


class DownloadServices:
    """Receive, accept, activate; ``self`` is a VirtualMeter."""

    # ---------------------------------------------------------------- session views
    def _open_download(self: VirtualMeter) -> Reassembler | None:
        """The download session in progress (begun, not closed), if any."""
        dl = self._dl
        return dl if dl is not None and dl.is_open else None

    def download_session(self: VirtualMeter) -> int | None:
        """The session ID of the open download (mesh or class 18); None without one."""
        dl = self._open_download() if self._on else None
        return None if dl is None else dl.session_id

    def download_progress(self: VirtualMeter) -> tuple[int, int]:
        """(fragments received, fragments in the session); (0, 0) without a session."""
        dl = self._open_download() if self._on else None
        return (0, 0) if dl is None else (dl.received, dl.fragment_count)

    def missing_fragments(self: VirtualMeter) -> list[int]:
        """Indexes still missing in the open session, for the concentrator's next round."""
        dl = self._open_download() if self._on else None
        return [] if dl is None else dl.missing_indices()

    def inactive_package_sha256(self: VirtualMeter) -> bytes:
        """SHA-256 of the complete package in the inactive bank; b"" when there is none."""
        dl = self._open_download() if self._on else None
        if dl is None or not dl.complete:
            return b""
        bank = self._bank_region(self._boot.inactive())
        return sha256(self._flash.read(bank.offset, dl.package_size))

    # ---------------------------------------------------------------- receive
    def receive(self: VirtualMeter, frame: bytes) -> Receipt:
        """A mesh fragment frame. Garbage is counted and dropped, never raised."""
        r = self._receive(bytes(frame))
        self.counters[r.value] += 1
        return r

    def receive_many(self: VirtualMeter, frames: Iterable[bytes]) -> list[Receipt]:
        """Mesh fragment frames as they arrive in a burst: exactly
        ``[self.receive(f) for f in frames]`` -- the same receipts, counters,
        audit log, flash and state -- for a fraction of the CPU.

        While a mesh download is under way (available, downloading, no battery
        to pay per frame), runs of its frames go to the C core in one call
        (``Reassembler.frames``), which takes each frame exactly as it would
        alone and stops at the first that needs more than a count: any frame
        it would refuse, a header fragment still to check, a failed write, the
        frame that completes the download. That frame goes the per-frame way
        (``receive``, or, when the C core took it, the same handlers
        ``receive`` ends in), and the runs go on where that leaves the meter.
        """
        run = FrameRun(list(frames))
        out: list[Receipt] = []
        n = len(run)
        counters = self.counters
        while run.pos < n:
            dl = self._run_target()
            if dl is None:
                out.append(self.receive(run.take()))
                continue
            outcomes, error = dl.frames(run)
            if not outcomes:  # the frame at the cursor needs the per-frame way
                out.append(self.receive(run.take()))
                continue
            # The last frame taken failed, or completed the download: it ends
            # in the handlers receive() would have reached for it.
            completed = error is None and outcomes[-1] == WRITTEN and dl.complete
            plain = outcomes[:-1] if error is not None or completed else outcomes
            written = plain.count(WRITTEN)
            if written:  # (no zero entries: the counters stay what receive() makes them)
                counters[Receipt.WRITTEN.value] += written
                self._progress_at = self.clock.now
            if len(plain) > written:
                counters[Receipt.DUPLICATE.value] += len(plain) - written
            out.extend(map(_RUN_RECEIPTS.__getitem__, plain))
            if error is not None:
                index = decode_frame(run.frames[run.pos - 1]).fragment_index
                r = self._guarded(self._fragment_failed, dl, error, index)
            elif completed:
                r = self._guarded(self._fragment_written, dl, KIND_MESH)
            else:
                continue
            counters[r.value] += 1
            out.append(r)
        return out

    def _run_target(self: VirtualMeter) -> Reassembler | None:
        """The download whose frames may go to the C core a run at a time: a mesh
        session in progress on an available meter that pays nothing per frame."""
        if self._battery is not None or self._state is not BootState.DOWNLOADING:
            return None
        dl = self._dl
        if dl is None or not dl.is_open or dl.tag != KIND_MESH or not self.available:
            return None
        return dl

    def _guarded(self: VirtualMeter, handle: Callable[..., Receipt], *args: object) -> Receipt:
        """``handle(*args)``; a power cut on the way (a write of the frame or of
        its audit record) and the meter dies on the spot."""
        try:
            return handle(*args)
        except PowerLost:
            self._die()
            return Receipt.DROPPED_UNAVAILABLE

    def _receive(self: VirtualMeter, data: bytes) -> Receipt:
        if not self.available:
            return Receipt.DROPPED_UNAVAILABLE
        return self._guarded(self._receive_frame, data)

    def _receive_frame(self: VirtualMeter, data: bytes) -> Receipt:
        try:
            sid, package_size, fsize, index, count, payload = frame_fields(data)
        except ReassemblyError:
            sid = None
        if self._battery is not None:  # the radio pays for every frame it hears
            dropped = self._radio_rx(sid)
            if dropped is not None:
                return dropped
        if sid is None:
            self._reject_once("frame")
            return Receipt.DROPPED_FRAME
        return self._fragment(KIND_MESH, sid, index, count, payload, fsize, package_size, data)

    def _reject_once(self: VirtualMeter, reason: str) -> None:
        """0x8009 goes to the audit log once per session and reason; every drop is counted."""
        if reason not in self._session_rejects:
            self._session_rejects.add(reason)
            self._err(FRAGMENT_REJECTED, reason=reason)

    def _begin(self: VirtualMeter, kind: int, sid: int, package_size: int, fsize: int,
               count: int) -> int:
        """Open a new session (flash is touched at its first fragment), replacing
        the open one: 0, or the C code that refused it. A package larger than the
        bank is logged (0x9002) and the session remembered as refused, so its
        further frames are dropped without records; bad geometry is the
        caller's to report. A refusal leaves the open download as it was."""
        dl = self._dl
        assert dl is not None
        old = self._open_download()
        replaced = None if old is None else (old.tag, old.session_id, old.header_ok)
        try:
            dl.begin(sid, package_size, fsize, count, tag=kind)
        except ReassemblyError as exc:
            if exc.err == _E["MT_E_TOO_BIG"]:
                self._err(INSUFFICIENT_MEMORY, package_size=package_size,
                          bank=self.geometry.bank_size, session=f"0x{sid:08x}")
                self._remember_closed(kind, sid, CloseReason.REFUSED)
                if old is None:
                    self._event(Event.REFUSED)
            return exc.err
        if replaced is not None and replaced[:2] != (kind, sid) and (
                replaced[2] or replaced[0] == KIND_DLMS):
            # a download that had passed its header is over for good; one
            # opened by a stray frame may be heard again
            self._remember_closed(replaced[0], replaced[1], CloseReason.REPLACED)
        self._session_rejects = set()
        self._candidate = None
        self._progress_at = self.clock.now
        self._it_status = (ImageTransferStatus.INITIATED if kind == KIND_DLMS
                           else ImageTransferStatus.NOT_INITIATED)
        self._evt("DOWNLOAD_START", session=f"0x{sid:08x}", fragments=count,
                  bank=self.active_bank_name(self._boot.inactive()))
        self._event(Event.DOWNLOAD_START)
        return 0

    def _remember_closed(self: VirtualMeter, kind: int, sid: int, reason: CloseReason) -> None:
        self._closed.add(kind, sid, reason, int(self.clock.epoch_seconds))
        self._nvm_faults(self._closed.ring, "sessions")

    def _keeps_download(self: VirtualMeter) -> bool:
        """The inactive bank holds what a stray frame must not erase: a verified
        package, a class 18 transfer, or a mesh download whose header passed and
        that took a fragment within ``session_timeout``."""
        if self._state is BootState.VERIFIED:
            return True
        dl = self._open_download()
        if dl is None or self.clock.now - self._progress_at >= self.session_timeout:
            return False
        return dl.header_ok or dl.tag == KIND_DLMS

    def _new_session(self: VirtualMeter, sid: int, index: int, count: int, payload: bytes,
                     fsize: int, package_size: int, frame: bytes) -> Receipt | None:
        """A mesh frame of a session other than the open one (SPEC section 6).
        None when that session is open now and the frame goes to it; else what
        became of the frame."""
        if (KIND_MESH, sid) in self._closed:
            if sid not in self._closed_heard:  # once per session and power-up
                self._closed_heard.add(sid)
                self._evt("FRAME_DROPPED", reason="closed-session", session=f"0x{sid:08x}")
            return Receipt.DROPPED_CLOSED
        # Peer-controlled fields, checked before a new session replaces anything.
        if not 0 <= index < count:
            self._reject_once("index")
            return Receipt.DROPPED_INDEX
        if count < 1 or package_size < 1 or fsize < 1 or len(payload) != (
                min(fsize, package_size - index * fsize)):
            self._reject_once("length")
            return Receipt.DROPPED_LENGTH
        if self._keeps_download():
            return self._challenge(sid, index, count, payload, fsize, package_size, frame)
        if self._battery is not None and not self._battery.affordable(count - 1):
            self._battery_refuse(sid, frames=count - 1)
            return Receipt.REFUSED
        rc = self._begin(KIND_MESH, sid, package_size, fsize, count)
        if rc == _E["MT_E_TOO_BIG"]:
            return Receipt.REFUSED
        if rc:
            self._reject_once("geometry")
            return Receipt.DROPPED_LENGTH
        return None

    def _challenge(self: VirtualMeter, sid: int, index: int, count: int, payload: bytes,
                   fsize: int, package_size: int, frame: bytes) -> Receipt | None:
        """A new session while the meter keeps a download: its header fragments
        wait in RAM (received, as the reassembler's own do), its other frames are
        dropped; once the whole header is in and passes, the session replaces
        the download. A header that fails is logged once and the session
        remembered as refused; the kept download is untouched either way."""
        dl = self._dl
        assert dl is not None
        span = min(count, -(-HEADER_SIZE // fsize))  # fragments the header spans
        if index >= span:
            self._reject_once("session")
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
            self._err(from_mt_err(rc), at="header", session=f"0x{sid:08x}")
            self._remember_closed(KIND_MESH, sid, CloseReason.REFUSED)
            return Receipt.REFUSED
        if self._begin(KIND_MESH, sid, package_size, fsize, count):
            return Receipt.REFUSED  # (the header check has passed: not expected)
        for i in range(span):  # the held ones first, then this frame as usual
            if i != index:
                r = self._store(dl, KIND_MESH, i, c.frames[i][1], c.frames[i][0])
                if r is Receipt.REFUSED:
                    return r
        return None

    def _fragment(self: VirtualMeter, kind: int, sid: int, index: int, count: int,
                  payload: bytes, fsize: int, package_size: int,
                  frame: bytes | None = None) -> Receipt:
        dl = self._dl
        if dl is None or self._state is _TRIAL:
            return Receipt.DROPPED_STATE  # the other bank is the trial's fallback
        if not (dl.is_open and dl.session_id == sid and dl.tag == kind):
            if frame is None:  # a class 18 block always names the open session
                return Receipt.DROPPED_SESSION
            dropped = self._new_session(sid, index, count, payload, fsize, package_size, frame)
            if dropped is not None:
                return dropped
        return self._store(dl, kind, index, payload, frame)

    def _store(self: VirtualMeter, dl: Reassembler, kind: int, index: int, payload: bytes,
               frame: bytes | None) -> Receipt:
        """A fragment of the open session to the reassembler: written, duplicate,
        held (a header fragment), or refused."""
        duplicates = dl.duplicates
        try:
            new = dl.frame(frame) if frame is not None else dl.block(index, payload)
        except (FlashError, ReassemblyError) as exc:
            return self._fragment_failed(dl, exc, index)
        if not new:  # a duplicate, or a header fragment held in RAM until the header is whole
            return Receipt.DUPLICATE if dl.duplicates > duplicates else Receipt.WRITTEN
        self._progress_at = self.clock.now
        return self._fragment_written(dl, kind)

    def _fragment_written(self: VirtualMeter, dl: Reassembler, kind: int) -> Receipt:
        """A new fragment is on flash; the last one runs acceptance (mesh)."""
        if dl.complete:
            self._evt("DOWNLOAD_COMPLETE", fragments=dl.fragment_count)
            if kind == KIND_MESH:
                self._accept()
        return Receipt.WRITTEN

    def _fragment_failed(self: VirtualMeter, dl: Reassembler,
                         exc: FlashError | ReassemblyError, index: int) -> Receipt:
        """The reassembler refused fragment ``index``, or a flash operation failed
        (a power cut is raised on: the meter dies)."""
        if isinstance(exc, PowerLost):
            raise exc
        if isinstance(exc, FlashError):
            self._err(FLASH_FAULT, at="download", rc=exc.err_name)
            self._stop_refused()
            return Receipt.REFUSED
        return self._refused_fragment(dl, exc, index)

    def _refused_fragment(self: VirtualMeter, dl: Reassembler, exc: ReassemblyError,
                          index: int) -> Receipt:
        err = exc.err
        if err in _HEADER_CODES and dl.phase is Phase.REFUSED:
            self._err(from_mt_err(err), at="header", rc=exc.err_name)
            self._stop_refused()
            return Receipt.REFUSED
        if err == _E["MT_E_CONFLICT"]:
            self._err(CONFLICTING_FRAGMENT, fragment=index)
            self._stop_refused()
            return Receipt.REFUSED
        if err == _E["MT_E_SESSION"]:
            self._reject_once("geometry")
            return Receipt.DROPPED_LENGTH
        if err == _E["MT_E_FRAME"]:
            stats = dl.stats
            if stats.bad_index and "index" not in self._session_rejects:
                self._reject_once("index")
                return Receipt.DROPPED_INDEX
            self._reject_once("length")
            return Receipt.DROPPED_LENGTH
        return Receipt.DROPPED_STATE

    def _stop_refused(self: VirtualMeter) -> None:
        """Stop the open download (refused header, conflict, flash fault, failed
        acceptance, battery): the session is remembered as refused, state failed."""
        dl = self._dl
        kind = dl.tag if dl is not None else KIND_MESH
        if dl is not None:
            if dl.is_open or dl.phase is Phase.REFUSED:
                self._remember_closed(kind, dl.session_id, CloseReason.REFUSED)
            try:
                dl.close()
            except PowerLost:
                raise
            except FlashError:
                self.counters["progress_write_failed"] += 1  # power-up closes it again
        if kind == KIND_DLMS:
            self._it_status = ImageTransferStatus.VERIFICATION_FAILED
        self._event(Event.REJECTED)

    # ---------------------------------------------------------------- acceptance
    def _header_fields(self: VirtualMeter, bank: int) -> object | None:
        region = self._bank_region(bank)
        try:
            return parse_header(self._flash.read(region.offset, HEADER_SIZE))
        except ImageError:
            return None

    def _accept(self: VirtualMeter, quiet: bool = False) -> ErrorCode | None:
        """Acceptance (C, on the inactive bank's bytes); VERIFIED or FAILED, one
        record. ``quiet``: no VERIFIED record (a power-up checking again what it
        had verified before the cut); a refusal is always logged."""
        dl = self._open_download()
        assert dl is not None
        try:
            h = self._boot.verify(complete=dl.complete)
        except ImageError as exc:
            e = exc.code
            if e is INCOMPLETE_IMAGE:  # not finished: keep downloading
                missing = self.missing_fragments()
                self._err(e, missing=len(missing), first=missing[0] if missing else None)
                return e
            hdr = self._header_fields(self._boot.inactive())
            fields: dict[str, object] = {"version": _version(hdr) if hdr else None}
            if e is SIGNATURE_MISMATCH and hdr is not None:
                fields["key_id"] = hdr.key_id.hex()  # type: ignore[attr-defined]
            if e is DOWNGRADE and hdr is not None:
                fields["counter"] = hdr.security_counter  # type: ignore[attr-defined]
                fields["installed"] = self._boot.floor
            self._err(e, **fields)
            self._stop_refused()
            return e
        if not quiet:
            self._ok("VERIFIED", version=_version(h),
                     bank=self.active_bank_name(self._boot.inactive()),
                     behaviour=BEHAVIOUR_NAMES.get(h.behaviour))
        if dl.tag == KIND_DLMS:
            self._it_status = ImageTransferStatus.VERIFICATION_SUCCESSFUL
        self._event(Event.ACCEPTED)
        return None

    # ---------------------------------------------------------------- activation
    def _activate(self: VirtualMeter) -> ErrorCode | None:
        """Seed step 6: swap to the verified bank. None on success, else the error."""
        dl = self._open_download()
        if self._state is BootState.DOWNLOADING and dl is not None:
            if not dl.complete:
                missing = self.missing_fragments()
                return self._err(INCOMPLETE_IMAGE, missing=len(missing), at="activate")
            refused = self._accept()
            if refused is not None:
                return refused
        if self._state is not BootState.VERIFIED or dl is None:
            return self._err(INVALID_REQUEST, request="activate",
                             state=self._state.name.lower())
        target = self._boot.inactive()
        self._persist()  # the energy floor before the swap
        try:
            # Re-checked in C right before the record is written: the bank may
            # have changed since verification.
            self._boot.activate(complete=dl.complete)
        except ImageError as exc:
            e = self._err(exc.code, at="activate")
            self._stop_refused()
            return e
        except BootError as exc:
            if not self._flash.powered:
                raise PowerLost(MT_ERR["MT_E_FLASH_POWER"], "activate") from None
            e = self._lcd_fault(SWAP_FAILURE, rc=exc.err_name)
            self._event(Event.SWAP_FAILED)
            return e
        self._remember_closed(dl.tag, dl.session_id, CloseReason.ACTIVATED)
        try:
            dl.close()  # the session's bank runs now
        except PowerLost:
            raise
        except FlashError:
            self.counters["progress_write_failed"] += 1  # power-up closes it again
        self._ok("ACTIVATED", bank=self.active_bank_name(target))
        self._event(Event.ACTIVATED)
        self._start(cold=False)
        if self._on and (self._boot.running is not target or self._state is not _TRIAL):
            # the new image did not come up (a boot loop): the meter went back
            return self._err(NEW_IMAGE_FAILED, bank=self.active_bank_name(target),
                             running=self.active_bank)
        return None
