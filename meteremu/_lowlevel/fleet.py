"""Thin typed wrapper over one broadcast round to many meters (csrc/sim/mt_fleet.h).

Simulation only: the C entry point is built into the Python core, never into
firmware. Each meter has its own link (a xorshift64* generator and a Bernoulli
loss threshold) held in C-owned state across rounds; :meth:`RoundRunner.run`
draws every meter's fate for every frame of a round, feeds each heard frame to
the meter's reassembler while the meter's run lasts, and reports, per meter,
where and why the run stopped and what it heard.
"""

from __future__ import annotations

import numbers
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import PackageRefused, c_error
from . import ffi, lib
from .reasm import Reassembler, frame_fields

__all__ = [
    "BEFORE",
    "COMPLETED",
    "LOSS_ONE",
    "RAN",
    "RoundResult",
    "RoundRunner",
    "draw",
    "loss_threshold",
]

RAN = int(lib.MT_FLEET_RAN)  #: the run took every frame the meter heard
BEFORE = int(lib.MT_FLEET_BEFORE)  #: stopped before frame ``stop``: not taken
COMPLETED = int(lib.MT_FLEET_COMPLETED)  #: frame ``stop`` was written and completed it
LOSS_ONE = 1 << 32  #: the loss threshold that loses every frame
_M64 = (1 << 64) - 1
_BYTE_BITS = tuple(tuple(k for k in range(8) if b >> k & 1) for b in range(256))
_U32_ARRAY = next(code for code in "IL" if array(code).itemsize == 4)
_METER_SIZE = ffi.sizeof("mt_fleet_meter")


def _outputs() -> struct.Struct:
    """A meter's outputs (stop, code, written, duplicates: consecutive 32-bit
    fields, checked here) as one struct over its bytes, native order."""
    at = [ffi.offsetof("mt_fleet_meter", f) for f in ("stop", "code", "written", "duplicates")]
    if at != list(range(at[0], at[0] + 16, 4)):
        raise ImportError("mt_fleet_meter's outputs are not four consecutive 32-bit fields")
    return struct.Struct(f"={at[0]}xIiII{_METER_SIZE - at[0] - 16}x")


_OUTPUTS = _outputs()


def loss_threshold(p: float) -> int:
    """The C threshold of a loss probability ``p`` in [0, 1]: ``round(p * 2**32)``."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"loss must be a number in [0, 1], not {p!r}")
    return round(p * LOSS_ONE)


def draw(state: int) -> tuple[int, int]:
    """One xorshift64* step, as the C link takes it: (new state, 32-bit draw).
    A frame is heard when the draw is >= the loss threshold."""
    x = state
    x ^= x >> 12
    x ^= (x << 25) & _M64
    x ^= x >> 27
    return x, ((x * 0x2545F4914F6CDD1D) & _M64) >> 32


@dataclass(frozen=True)
class RoundResult:
    """Per meter (in the runner's order): ``stop`` (the frame its run stopped at,
    the round's frame count when it did not), ``code`` (:data:`RAN`,
    :data:`BEFORE`, :data:`COMPLETED` or the C error of a failed store),
    ``written`` and ``duplicates`` (frames of the run before the stop), and
    ``heard``: row ``i`` (``row`` bytes from ``i * row``) has bit ``k`` (LSB
    first) set when meter ``i`` heard frame ``k``."""

    frames: int
    stop: list[int]
    code: list[int]
    written: list[int]
    duplicates: list[int]
    heard: bytes
    row: int

    def first_heard(self, i: int) -> int | None:
        """The first frame meter ``i`` heard, None when it heard none."""
        base = i * self.row
        row = self.heard[base : base + self.row]
        at = len(row) - len(row.lstrip(b"\0"))
        if at == len(row):
            return None
        byte = row[at]
        return at * 8 + (byte & -byte).bit_length() - 1

    def heard_by(self, i: int) -> list[int]:
        """The frames (round indexes, ascending) meter ``i`` heard."""
        out: list[int] = []
        bits = _BYTE_BITS
        base = i * self.row
        for at, byte in enumerate(self.heard[base : base + self.row]):
            if byte:
                out += [at * 8 + k for k in bits[byte]]
        return out


class RoundRunner:
    """The links of ``n`` meters: ``seeds`` (nonzero xorshift64* states) and
    ``losses`` (thresholds from :func:`loss_threshold`).

    ``vouch``: the fragment count of the one session whose frames every round
    sends, the frame for fragment ``i`` the same bytes in every round (a
    broadcast re-sending one package), else 0. The runner then remembers,
    per meter, the fragments its runs wrote while the meter's flash had no
    stuck bit, and a later duplicate of one of them is counted without
    reading the bank back (``mt_fleet.h``, "Vouching"): the same outcome,
    since those cells hold exactly that frame's payload. ``bank_sectors``:
    the sectors of the meters' banks, whose write generations tell the
    runner that nothing else touched the bank since its own writes (a meter
    whose bank has more is not vouched for). :meth:`run` refuses a frame
    that differs from the one it was given before for the same fragment."""

    def __init__(self, seeds: Sequence[int], losses: Sequence[int], vouch: int = 0,
                 bank_sectors: int = 0) -> None:
        n = len(seeds)
        if len(losses) != n:
            raise ValueError(f"{n} seeds but {len(losses)} losses")
        if n > 0xFFFFFFFF:
            raise ValueError("too many meters for one round")
        for s in seeds:
            if not 0 < s <= _M64:
                raise ValueError(f"a link seed must be a nonzero 64-bit value, not {s!r}")
        for p in losses:
            if not 0 <= p <= LOSS_ONE:
                raise ValueError(f"a loss threshold must be in 0..2**32, not {p!r}")
        self.n = n
        self._round: tuple[Any, Any, int, Any, int] | None = None
        self._keep: tuple[bytes, array[int]] = (b"", array(_U32_ARRAY))
        self._heard = b""
        if not 0 <= vouch <= 0xFFFF:
            raise ValueError(f"vouch must be a fragment count, 0..65535, not {vouch!r}")
        if not 0 <= bank_sectors <= 0xFFFF:
            raise ValueError(f"bank_sectors must be 0..65535, not {bank_sectors!r}")
        self._m = ffi.new("mt_fleet_meter[]", max(n, 1))
        for i in range(n):
            self._m[i].rng = seeds[i]
            self._m[i].loss = losses[i]
        self._sent: dict[int, bytes] | None = None  # vouching: the frame of each fragment
        if vouch and bank_sectors:
            row = (vouch + 7) // 8
            self._vouched = ffi.new("uint8_t[]", max(n * row, 1))  # zeroed
            self._marks = ffi.new("uint32_t[]", max(n * bank_sectors, 1))
            self._sent = {}
            for i in range(n):
                self._m[i].vouched = self._vouched + i * row
                self._m[i].vouched_len = row
                self._m[i].marks = self._marks + i * bank_sectors
                self._m[i].marks_len = bank_sectors

    def state(self, i: int) -> int:
        """Meter ``i``'s link state now."""
        return int(self._m[i].rng)

    def _bind(self, reassemblers: Sequence[Reassembler | None]) -> None:
        if len(reassemblers) != self.n:
            raise ValueError(f"{len(reassemblers)} reassemblers for {self.n} meters")
        for r in reassemblers:  # all checked before any is bound
            if r is not None and not isinstance(r, Reassembler):
                raise TypeError(f"not a Reassembler: {r!r:.60}")
        m = self._m
        null = ffi.NULL
        for i, r in enumerate(reassemblers):
            m[i].reasm = null if r is None else r._st

    def _result(self, rc: int, what: str) -> RoundResult:
        m, n = self._m, self.n
        for i in range(n):  # the runner never keeps a pointer past the call
            m[i].reasm = ffi.NULL
        if rc:
            raise c_error(rc, what)
        assert self._round is not None
        count = self._round[2]
        # every meter's four outputs in one pass over the array's bytes
        cols: list[list[int]] = [[], [], [], []]
        if n:
            outs = _OUTPUTS.iter_unpack(ffi.buffer(m, n * _METER_SIZE))
            cols = [list(col) for col in zip(*outs, strict=True)]
        stop, code, written, duplicates = cols
        return RoundResult(
            frames=count,
            stop=stop,
            code=code,
            written=written,
            duplicates=duplicates,
            heard=self._heard,
            row=(count + 7) // 8,
        )

    def run(self, reassemblers: Sequence[Reassembler | None],
            frames: Sequence[bytes]) -> RoundResult:
        """One round of ``frames``; ``reassemblers[i]`` None: meter ``i`` is only
        drawn for (the caller feeds its round itself)."""
        data = b"".join(frames)
        lens = array(_U32_ARRAY, map(len, frames))
        if sum(lens) != len(data):
            raise TypeError("frames must be bytes")
        if self._sent is not None:
            self._same_frames(frames)
        self._bind(reassemblers)
        n, count = self.n, len(lens)
        size = int(lib.mt_fleet_heard_bytes(n, count))
        heard = ffi.new("uint8_t[]", max(size, 1))
        buf = ffi.from_buffer("uint8_t[]", data) if data else ffi.new("uint8_t[1]")
        lens_c = ffi.from_buffer("uint32_t[]", lens) if count else ffi.new("uint32_t[1]")
        self._round = (buf, lens_c, count, heard, size)
        self._keep = (data, lens)
        rc = lib.mt_fleet_round(self._m, n, buf, len(data), lens_c, count, heard, size)
        self._heard = bytes(ffi.buffer(heard, size))
        return self._result(rc, "fleet round")

    def _same_frames(self, frames: Sequence[bytes]) -> None:
        """A vouching runner's rule: each fragment's frame the same bytes in
        every round (a frame that does not parse is no fragment's)."""
        sent = self._sent
        assert sent is not None
        for f in frames:
            try:
                index = frame_fields(f)[3]
            except PackageRefused:
                continue
            first = sent.setdefault(index, f)
            if first is not f and first != f:
                raise ValueError(f"fragment {index}: another frame than in an earlier round "
                                 "(a vouching runner sends one package's frames)")

    def replay(self, reassemblers: Sequence[Reassembler | None],
               starts: Sequence[int]) -> RoundResult:
        """The last round again, without drawing: meter ``i`` is fed the frames it
        heard from ``starts[i]`` on (``reassemblers[i]`` None: not fed)."""
        if self._round is None:
            raise ValueError("no round to replay")
        if len(starts) != self.n:
            raise ValueError(f"{len(starts)} starts for {self.n} meters")
        buf, lens_c, count, heard, size = self._round
        for s in starts:
            if not 0 <= s <= count:
                raise ValueError(f"a start must be in 0..{count}, not {s}")
        self._bind(reassemblers)
        m = self._m
        for i, s in enumerate(starts):
            m[i].start = s
        rc = lib.mt_fleet_replay(m, self.n, buf, len(self._keep[0]), lens_c, count, heard, size)
        return self._result(rc, "fleet replay")
