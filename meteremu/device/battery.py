"""The energy reserve of a battery-powered (water or gas) meter.

Seed section B: packet loss stretches a download "beyond the battery-reserve
limits of water or gas meters". A meter made with a :class:`Battery` pays the
radio's receive energy for every download frame (mesh fragment or class 18
block) that reaches it. It keeps ``minimum_mj`` for metrology until the
battery is replaced: a download that would need more stops with
``FOTA_ERR 0x9003`` (see ``docs/METER.md``, "Battery").

The reserve is physical, so a power cut must never give back energy already
spent. The meter therefore *debits NVM ahead of spending*: the metrology
record carries a reserve that is never above the real one, written before the
radio spends below it, a few dozen frames' worth ahead (:class:`Reserve`). A
power cut costs at most that margin, never the other way round -- the same
trick as the received bitmap, which marks a fragment only once it is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from ..errors import BATTERY_RESERVE, MeterUsageError
from .events import BatteryReplaced, Refused
from .receipts import Receipt

__all__ = ["NO_BATTERY", "Battery", "RadioBudget", "Reserve"]

#: The metrology record's battery field when the meter has no battery (erased flash).
NO_BATTERY = 0xFFFFFFFF
#: The largest reserve the record's 32-bit millijoule field can hold (about 4.3 MJ,
#: some 1,200 Wh: more than the D-cell packs water and gas meters carry).
RESERVE_MAX_MJ = NO_BATTERY - 1


@dataclass(frozen=True)
class Battery:
    """A battery as fitted: energy in millijoules (1 J = 1,000 mJ).

    ``reserve_mj``: the energy a new battery brings. ``minimum_mj``: the floor
    kept for metrology; the meter accepts no download frame that would take the
    reserve below it. ``rx_frame_mj``: what receiving one download frame costs
    (radio wake-up, reception, the flash write of its payload); the default,
    3 mJ, is an 802.15.4g radio at about 50 mW over some 60 ms per frame.
    """

    reserve_mj: int
    minimum_mj: int = 0
    rx_frame_mj: Fraction | float | int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.reserve_mj <= RESERVE_MAX_MJ:
            raise ValueError(f"reserve_mj must be 0..{RESERVE_MAX_MJ}, not {self.reserve_mj}")
        if not 0 <= self.minimum_mj <= RESERVE_MAX_MJ:
            raise ValueError(f"minimum_mj must be 0..{RESERVE_MAX_MJ}, not {self.minimum_mj}")
        if not Fraction(self.rx_frame_mj) > 0:
            raise ValueError(f"rx_frame_mj must be > 0, not {self.rx_frame_mj!r}")

    @property
    def rx(self) -> Fraction:
        """``rx_frame_mj`` as an exact fraction."""
        return Fraction(self.rx_frame_mj)


class Reserve:
    """The reserve in RAM (exact) and the debit held in NVM (whole mJ, never above it).

    ``persisted`` is the battery field of the newest metrology record, None when
    no record carries one (a battery just fitted: the meter writes it at once).
    """

    def __init__(self, battery: Battery, persisted: int | None, debit_frames: int) -> None:
        self.battery = battery
        self.debit_frames = debit_frames
        start = battery.reserve_mj if persisted is None else persisted
        self.mj = Fraction(start)
        self.debited = start  # what the NVM says; a power-up resumes from it

    def affordable(self, frames: int = 1) -> bool:
        """True when ``frames`` more frames leave at least the minimum."""
        return self.mj - frames * self.battery.rx >= self.battery.minimum_mj

    def debit_needed(self) -> int | None:
        """The NVM value to write before the next frame is paid, or None when the
        debit already covers it. The new debit runs ``debit_frames`` frames ahead
        but never below the minimum (the last frames above it are covered then)."""
        after = self.mj - self.battery.rx
        if after >= self.debited:
            return None
        ahead = math.floor(self.mj - self.debit_frames * self.battery.rx)
        return max(ahead, self.battery.minimum_mj, 0)

    def spend(self) -> None:
        """Pay one frame (the caller checked ``affordable`` and wrote the debit)."""
        self.mj -= self.battery.rx


def _mj(value: Fraction | int) -> str:
    return f"{float(value):.10g}mJ"


class RadioBudget:
    """What the radio may spend: the reserve of the battery fitted (None: mains
    powered, nothing to pay), and the sessions refused for it.

    ``persist`` writes a metrology snapshot (the reserve's debit is in it);
    ``emit`` reports (0x9003, a battery replaced).
    """

    def __init__(self, fitted: Battery | None, debit_frames: int,
                 persist: Callable[[], None], emit: Callable[..., object]) -> None:
        self.fitted = fitted
        self.debit_frames = debit_frames
        self._persist = persist
        self._emit = emit
        self.reserve: Reserve | None = None
        self.refused: set[int] = set()  # sessions the meter stopped listening to
        self.just_refused: int | None = None  # the session the last pay() refused

    def power_up(self, stored: int) -> None:
        """RAM rebuilt from the snapshot's battery field (:data:`NO_BATTERY`: none
        recorded yet). A battery just fitted is written at once: from now on a
        cut cannot refill it."""
        self.refused = set()
        self.reserve = None
        if self.fitted is None:
            return
        self.reserve = Reserve(self.fitted, None if stored == NO_BATTERY else stored,
                               self.debit_frames)
        if stored == NO_BATTERY:
            self._persist()

    @property
    def debit(self) -> int:
        """The battery field of the next snapshot."""
        return NO_BATTERY if self.reserve is None else self.reserve.debited

    def affordable(self, frames: int) -> bool:
        return self.reserve is None or self.reserve.affordable(frames)

    def pay(self, sid: int | None, complete: int | None = None) -> Receipt | None:
        """Pay for one received download frame of session ``sid`` (None: a frame too
        damaged to name one). None when paid (or mains powered); else the frame
        is dropped: the meter left a session it refused, or the reserve is at
        its minimum (then the session is refused: :meth:`refuse`, and
        :attr:`just_refused` names it for the caller to stop) -- unless it is
        ``complete``, the session whose every fragment the meter already holds:
        its frame is dropped, and the package it holds is kept."""
        self.just_refused = None
        reserve = self.reserve
        if reserve is None:
            return None
        if sid in self.refused:
            return Receipt.DROPPED_BATTERY  # no longer listening to that session
        if not reserve.affordable():
            if sid is not None and sid != complete:
                self.refuse(sid)
                self.just_refused = sid
            return Receipt.DROPPED_BATTERY
        debit = reserve.debit_needed()
        if debit is not None:  # NVM first: a cut after spending cannot give it back
            reserve.debited = debit
            self._persist()
        reserve.spend()
        return None

    def refuse(self, sid: int, frames: int = 1) -> None:
        """Refuse session ``sid`` for the battery: one 0x9003 record (``spare``, the
        reserve above the minimum; ``need``, what ``frames`` more frames cost);
        its frames are dropped from now on."""
        reserve = self.reserve
        assert reserve is not None
        self.refused.add(sid)
        self._emit(Refused, error=BATTERY_RESERVE, fields=(
            ("session", f"0x{sid:08x}"), ("spare", _mj(reserve.mj - reserve.battery.minimum_mj)),
            ("need", _mj(frames * reserve.battery.rx))))

    def replace(self, battery: Battery | None) -> None:
        """A fresh (or recharged) battery: the reserve starts again from
        ``battery.reserve_mj`` (default: the one fitted). Written to NVM at once."""
        if self.fitted is None:
            raise MeterUsageError("a mains-powered meter has no battery to replace")
        self.fitted = battery or self.fitted
        self.reserve = Reserve(self.fitted, None, self.debit_frames)
        self.refused = set()
        self._emit(BatteryReplaced, reserve=_mj(self.reserve.mj))
        self._persist()
