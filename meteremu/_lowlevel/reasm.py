"""Thin typed wrapper over the C reassembler and the mesh fragment frame
(csrc/mt_reasm.h, csrc/mt_frame.h).

The reassembler writes each fragment straight into the inactive bank of a
:class:`~meteremu._lowlevel.flash.Flash` and keeps its received bitmap in the
progress partition, so after a power cut :meth:`Reassembler.resume` picks the
download up from flash. Refusals raise :class:`~meteremu.errors.PackageRefused` (a
:class:`~meteremu.errors.PackageError`: ``code`` is the operator record, e.g.
0x9002 for a package larger than the bank); flash failures, power cuts
included, raise :class:`~meteremu._lowlevel.flash.FlashError`.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import MT_ERR, FlashError, PackageRefused, c_error
from ..wire.frames import FRAME_OVERHEAD, FRAME_TYPE
from ..wire.frames import FrameRecord as Frame  # the C codec's record, named as its callers know it
from . import ffi, lib, nbytes
from .crypto import CRC_IMPL
from .flash import Flash, Partition

__all__ = [
    "DUPLICATE",
    "FRAME_OVERHEAD",
    "FRAME_TYPE",
    "WRITTEN",
    "Frame",
    "FrameRun",
    "Phase",
    "Reassembler",
    "ReassemblyStats",
    "decode_frame",
    "encode_frame",
    "frame_fields",
    "progress_bytes",
]

_U32 = 0xFFFFFFFF
_U16 = 0xFFFF
#: What Reassembler.frames did with a frame it took (csrc/mt_reasm.h).
WRITTEN = int(lib.MT_REASM_WRITTEN)
DUPLICATE = int(lib.MT_REASM_DUPLICATE)
_U32_ARRAY = next(code for code in "IL" if array(code).itemsize == 4)
_frame_new = lib.mt_reasm_frame_new  # looked up once: called per frame
_BYTE_BITS = tuple(tuple(k for k in range(8) if b >> k & 1) for b in range(256))


_BYTES = ffi.typeof("uint8_t[]")
# the calls of every class 18 block, looked up once (``lib.name`` is an attribute lookup)
_block, _received, _complete = lib.mt_reasm_block, lib.mt_reasm_received, lib.mt_reasm_complete


def _check(rc: int, detail: str) -> None:
    if rc != 0:
        raise c_error(rc, detail)


class Phase(enum.IntEnum):
    IDLE = 0     #: no session
    ARMED = 1    #: begun, nothing on flash yet
    ACTIVE = 2   #: progress record on flash, fragments arriving
    REFUSED = 3  #: the header check failed (see Reassembler.error)
    FAULT = 4    #: a flash error: power up, make a new Reassembler, resume
    CLOSED = 5   #: the session is over (close); its fields still say which it was


_PHASES = tuple(Phase)  # by value: a lookup, not an enum call, per frame
assert all(p.value == i for i, p in enumerate(_PHASES))
_OPEN = (int(Phase.ARMED), int(Phase.ACTIVE))


@dataclass(frozen=True)
class ReassemblyStats:
    accepted: int
    duplicates: int
    conflicts: int
    bad_frame: int
    bad_crc: int
    bad_session: int
    bad_index: int
    bad_length: int
    refused: int
    flash_errors: int


def encode_frame(frame: Frame) -> bytes:
    """The frame's bytes, FCS included (the C encoder)."""
    for name in ("session_id", "package_size"):
        if not 0 <= getattr(frame, name) <= _U32:
            raise ValueError(f"{name} must fit 32 bits")
    for name in ("fragment_size", "fragment_index", "fragment_count"):
        if not 0 <= getattr(frame, name) <= _U16:
            raise ValueError(f"{name} must fit 16 bits")
    n = nbytes(frame.payload)
    if n > _U16:
        raise ValueError(f"payload of {n} bytes does not fit the 16-bit length field")
    payload = ffi.from_buffer("uint8_t[]", frame.payload) if n else ffi.NULL
    f = ffi.new(
        "mt_frame *",
        {
            "session_id": frame.session_id,
            "package_size": frame.package_size,
            "fragment_size": frame.fragment_size,
            "fragment_index": frame.fragment_index,
            "fragment_count": frame.fragment_count,
            "payload_len": n,
            "payload": payload,
        },
    )
    cap = FRAME_OVERHEAD + n
    out = ffi.new("uint8_t[]", cap)
    written = ffi.new("size_t *")
    _check(lib.mt_frame_encode(out, cap, f, written), "frame encode")
    return bytes(ffi.buffer(out, written[0]))


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Parse one frame; ``PackageRefused`` (MT_E_FRAME) when malformed or its FCS
    is wrong."""
    n = nbytes(data)
    if n < FRAME_OVERHEAD:
        raise PackageRefused(MT_ERR["MT_E_FRAME"], f"{n} bytes is shorter than a frame")
    buf = data if type(data) is bytes else ffi.from_buffer("uint8_t[]", data)
    f = ffi.new("mt_frame *")
    _check(lib.mt_frame_parse_impl(f, buf, n, CRC_IMPL), "frame")
    return Frame(
        int(f.session_id),
        int(f.package_size),
        int(f.fragment_size),
        int(f.fragment_index),
        int(f.fragment_count),
        bytes(ffi.buffer(f.payload, f.payload_len)),
    )


def frame_fields(data: bytes) -> tuple[int, int, int, int, int, bytes]:
    """:func:`decode_frame` for a hot path, as a plain tuple: (session_id,
    package_size, fragment_size, fragment_index, fragment_count, payload).
    Same checks, same ``PackageRefused``; ``data`` must be ``bytes``."""
    n = len(data)
    if n < FRAME_OVERHEAD:
        raise PackageRefused(MT_ERR["MT_E_FRAME"], f"{n} bytes is shorter than a frame")
    f = ffi.new("mt_frame *")
    rc = lib.mt_frame_parse_impl(f, data, n, CRC_IMPL)
    if rc:
        raise c_error(rc, "frame")
    return (f.session_id, f.package_size, f.fragment_size, f.fragment_index, f.fragment_count,
            bytes(ffi.buffer(f.payload, f.payload_len)))


def progress_bytes(fragment_count: int) -> int:
    """Bytes of progress partition a session of ``fragment_count`` fragments needs."""
    if not 0 <= fragment_count <= _U32:
        raise ValueError("fragment_count must fit 32 bits")
    return int(lib.mt_reasm_progress_bytes(fragment_count))


class FrameRun:
    """Mesh frames laid end to end for :meth:`Reassembler.frames`, with a cursor.

    ``pos`` is the first frame nobody has taken yet: :meth:`Reassembler.frames`
    moves it past the frames the C core took, :meth:`take` past one frame the
    caller handles itself.
    """

    __slots__ = ("_buf", "_data", "_done", "_lens", "_lens_c", "_off", "_out", "frames", "pos")

    def __init__(self, frames: Sequence[bytes | bytearray | memoryview]) -> None:
        data = b"".join(frames)
        lens = array(_U32_ARRAY, map(len, frames))  # OverflowError past 32 bits
        if sum(lens) != len(data):  # a view of items wider than a byte
            frames = [bytes(f) for f in frames]
            lens = array(_U32_ARRAY, map(len, frames))
        self.frames = frames
        self.pos = 0
        self._data = data
        self._lens = lens
        self._off = 0  # byte offset of frame pos
        # from_buffer keeps data and lens alive as long as the cdata
        self._buf = ffi.from_buffer("uint8_t[]", data) if data else ffi.new("uint8_t[1]")
        self._lens_c = ffi.from_buffer("uint32_t[]", lens) if lens else ffi.new("uint32_t[1]")
        self._out = ffi.new("int8_t[]", max(len(lens), 1))
        self._done = ffi.new("uint32_t *")

    def __len__(self) -> int:
        return len(self._lens)

    def take(self) -> bytes | bytearray | memoryview:
        """The frame at the cursor, which the caller handles itself; the cursor moves on."""
        frame = self.frames[self.pos]
        self._off += self._lens[self.pos]
        self.pos += 1
        return frame


class Reassembler:
    """Fragment reassembly into ``bank`` with the received bitmap in ``progress``
    (both partitions of ``flash``). ``vendor_id`` and ``hw_revision`` are the
    meter's: the package header must match them."""

    def __init__(
        self,
        flash: Flash,
        bank: Partition,
        progress: Partition,
        vendor_id: int,
        hw_revision: int,
    ) -> None:
        if not isinstance(flash, Flash):
            raise TypeError(f"flash must be a meteremu._lowlevel.flash.Flash, not {flash!r:.60}")
        if not 0 <= vendor_id <= _U32 or not 0 <= hw_revision <= _U16:
            raise ValueError("vendor_id must fit 32 bits and hw_revision 16 bits")
        self._flash = flash  # keeps the cells alive as long as the reassembler
        self._bank = flash._area(bank.off, bank.size)
        self._progress = flash._area(progress.off, progress.size)
        self._st = ffi.new("mt_reasm *")
        self._ids = (vendor_id, hw_revision)
        self.reset()

    def reset(self) -> None:
        """Back to exactly what a new reassembler over the same partitions is (the C
        init clears the whole state): nothing begun or resumed. A meter's download
        reuses one per bank at every power-up instead of making it again."""
        vendor_id, hw_revision = self._ids
        # the frame FCS code chosen once per process (no CPUID per frame)
        _check(
            lib.mt_reasm_init_impl(self._st, self._bank, self._progress, vendor_id,
                                   hw_revision, CRC_IMPL),
            "init",
        )

    def resume(self) -> bool:
        """Rebuild the state from flash; ``False`` when no download was in progress
        (then ``phase`` is CLOSED for a session that was closed, else IDLE)."""
        rc = lib.mt_reasm_resume(self._st)
        if rc == MT_ERR["MT_E_STATE"]:
            return False
        _check(rc, "resume")
        return True

    def begin(
        self,
        session_id: int,
        package_size: int,
        fragment_size: int,
        fragment_count: int,
        tag: int = 0,
    ) -> None:
        """Arm a session (flash is touched at its first accepted fragment). The same
        session again keeps its progress (and its tag). ``tag`` is the caller's
        32-bit label, stored in the progress record and given back by resume."""
        for name, v in (
            ("session_id", session_id),
            ("package_size", package_size),
            ("fragment_size", fragment_size),
            ("fragment_count", fragment_count),
            ("tag", tag),
        ):
            if not 0 <= v <= _U32:
                raise ValueError(f"{name} must fit 32 bits")
        _check(
            lib.mt_reasm_begin(self._st, session_id, package_size, fragment_size, fragment_count),
            "begin",
        )
        if self._st.phase == Phase.ARMED:
            self._st.tag = tag

    def header_check(self, header: bytes, package_size: int, fragment_size: int = 0,
                     fragment_count: int = 0) -> int:
        """The header check a session runs on ``header`` (its first 128 bytes), with
        no side effect: 0, or the C code of the first failing check. The geometry
        is the one the session announces (``fragment_size`` 0: the package size
        only, as for DLMS blocks)."""
        for name, v in (("package_size", package_size), ("fragment_size", fragment_size),
                        ("fragment_count", fragment_count)):
            if not 0 <= v <= _U32:
                raise ValueError(f"{name} must fit 32 bits")
        header = bytes(header)
        return int(lib.mt_reasm_header_check(self._st, header, len(header), package_size,
                                             fragment_size, fragment_count))

    def close(self) -> None:
        """End the session (activated, or given up): one program on flash if it
        was open there; phase CLOSED. Flash failures raise FlashError."""
        _check(lib.mt_reasm_close(self._st), "close")

    def frame(self, data: bytes | bytearray | memoryview) -> bool:
        """Feed one mesh frame. ``True`` when it brought a new fragment onto flash,
        ``False`` for a duplicate or a header fragment held until the header is whole."""
        # one C call per frame: mt_reasm_frame_new says whether received grew;
        # bytes go to C as they are, other buffers through from_buffer
        if type(data) is bytes and data:
            rc = _frame_new(self._st, data, len(data))
        else:
            n = nbytes(data)
            buf = ffi.from_buffer("uint8_t[]", data) if n else ffi.new("uint8_t[1]")
            rc = _frame_new(self._st, buf, n)
        if rc < 0:
            raise c_error(rc, "frame")
        return rc == 1

    def frames(self, run: FrameRun) -> tuple[bytes, FlashError | PackageRefused | None]:
        """Feed the frames of ``run`` from its cursor on in one call, as long as each
        is plainly written or a duplicate (``mt_reasm_frames``); the cursor moves
        past the frames taken.

        Returns what each frame taken did (:data:`WRITTEN` or :data:`DUPLICATE`)
        and ``None``; or, when the last frame taken failed while being stored
        (a conflict, a flash error), its exception, which :meth:`frame` would
        have raised, in place of raising it. The run stops before a frame that
        :meth:`frame` would refuse or that is a header fragment still to be
        checked (nothing taken: the caller feeds it to :meth:`frame`), and
        after the frame that completes the download.
        """
        if not isinstance(run, FrameRun):
            raise TypeError(f"run must be a FrameRun, not {run!r:.60}")
        pos = run.pos
        n = len(run._lens) - pos
        if n <= 0:
            return b"", None
        off = run._off
        rc = lib.mt_reasm_frames(self._st, run._buf + off, len(run._data) - off,
                                 run._lens_c + pos, n, run._out, run._done)
        done = int(run._done[0])
        if done == 0:
            _check(rc, "frames")  # misuse (lengths past the buffer); else nothing taken
            return b"", None
        run.pos = pos + done
        run._off = off + sum(run._lens[pos:pos + done])
        outcomes = bytes(ffi.buffer(run._out, done))
        return outcomes, c_error(rc, f"frame {pos + done - 1} of the run") if rc else None

    def block(self, index: int, payload: bytes | bytearray | memoryview) -> bool:
        """Feed one DLMS image block (fragment ``index`` without a frame wrapper)."""
        if not 0 <= index <= _U32:
            raise ValueError("index must fit 32 bits")
        st = self._st
        before = _received(st)
        n = nbytes(payload)
        rc = _block(st, index, ffi.from_buffer(_BYTES, payload) if n else ffi.NULL, n)
        if rc:  # (the message only for an error: this runs once per class 18 block)
            raise c_error(rc, f"block {index}")
        return _received(st) > before

    @property
    def received(self) -> int:
        return _received(self._st)  # cffi gives integer fields and results as int

    @property
    def complete(self) -> bool:
        return bool(_complete(self._st))

    @property
    def phase(self) -> Phase:
        return _PHASES[self._st.phase]

    def session(self) -> tuple[int, int, int, int]:
        """``(session_id, package_size, fragment_size, fragment_count)`` in one call
        (a class 18 block checks its number and length against them)."""
        st = self._st
        return st.session_id, st.package_size, st.fragment_size, st.fragment_count

    def is_open_as(self, tag: int) -> bool:
        """A session labelled ``tag`` is begun and not over (``is_open`` and ``tag``
        in one call)."""
        st = self._st
        return st.phase in _OPEN and st.tag == tag

    def holds(self, session_id: int, tag: int) -> bool:
        """The session ``session_id`` labelled ``tag`` is begun and not over: what
        every fragment of it asks first (one call for ``is_open``, ``session_id``
        and ``tag``)."""
        st = self._st
        return st.phase in _OPEN and st.session_id == session_id and st.tag == tag

    @property
    def is_open(self) -> bool:
        """A session is begun and not over (phase ARMED or ACTIVE)."""
        return self._st.phase in _OPEN

    @property
    def header_ok(self) -> bool:
        """The session's header has arrived and passed the header check."""
        return bool(self._st.hdr_ok)

    @property
    def header_fragments(self) -> int:
        """How many fragments the session's 128-byte header spans."""
        return int(self._st.hdr_frags)

    @property
    def error(self) -> int:
        """The C code that refused the session, 0 otherwise."""
        return self._st.error

    @property
    def tag(self) -> int:
        """The session's label (begin's ``tag``, or what resume read back)."""
        return self._st.tag

    @property
    def session_id(self) -> int:
        return self._st.session_id

    @property
    def package_size(self) -> int:
        return self._st.package_size

    @property
    def fragment_size(self) -> int:
        return self._st.fragment_size

    @property
    def fragment_count(self) -> int:
        return self._st.fragment_count

    @property
    def duplicates(self) -> int:
        """Same-content duplicates so far (one field of ``stats``, read per frame)."""
        return self._st.stats.duplicates

    @property
    def stats(self) -> ReassemblyStats:
        s = self._st.stats
        return ReassemblyStats(
            *(int(getattr(s, f)) for f in ReassemblyStats.__dataclass_fields__)
        )

    def next_missing(self, start: int = 0) -> int:
        """Lowest missing index from ``start`` on; ``fragment_count`` when none."""
        if not 0 <= start <= _U32:
            raise ValueError("start must fit 32 bits")
        return int(lib.mt_reasm_next_missing(self._st, start))

    def missing(self) -> bytes:
        """Missing bitmap (bit i, LSB first, = 1 when fragment i is missing)."""
        cap = max((self.fragment_count + 7) // 8, 1)
        out = ffi.new("uint8_t[]", cap)
        written = ffi.new("size_t *")
        _check(lib.mt_reasm_missing(self._st, out, cap, written), "missing")
        return bytes(ffi.buffer(out, written[0]))

    def missing_indices(self) -> list[int]:
        """The missing fragments' indexes, ascending (a head-end round's to-do list)."""
        out: list[int] = []
        bits = _BYTE_BITS
        for at, byte in enumerate(self.missing()):  # bits past fragment_count are 0
            if byte:
                base = at * 8
                out += [base + k for k in bits[byte]]
        return out
