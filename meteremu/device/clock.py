"""The meter's virtual clock: nothing in meteremu.device reads the wall clock.

Two notions of time:

* ``now`` -- emulation seconds since the meter object was made (a
  :class:`fractions.Fraction`, so sums of advances stay exact). Only
  :meth:`VirtualClock.advance` moves it. Load profiles and deadlines use it.
* ``datetime`` -- the meter's real-time clock (COSEM 0.0.1.0.0.255): a start
  date-time plus ``now`` plus whatever offset a client set. It keeps running
  while the meter is powered off, as a battery-backed RTC does.
"""

from __future__ import annotations

import datetime as _dt
from fractions import Fraction

__all__ = ["DEFAULT_EPOCH", "VirtualClock", "format_utc"]

#: Where a meter's clock starts unless told otherwise.
DEFAULT_EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)

Seconds = int | float | Fraction


def _utc(when: _dt.datetime) -> _dt.datetime:
    if when.tzinfo is None:
        raise ValueError("the meter clock needs a timezone-aware datetime (use UTC)")
    return when.astimezone(_dt.timezone.utc)


def format_utc(when: _dt.datetime) -> str:
    """ISO 8601 with a Z, whole seconds: ``2026-11-27T10:00:05Z``."""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


class VirtualClock:
    """Monotonic emulation time plus a settable date-time."""

    __slots__ = ("_now", "_offset", "_start")

    def __init__(self, start: _dt.datetime = DEFAULT_EPOCH) -> None:
        self._start = _utc(start)
        self._now = Fraction(0)
        self._offset = Fraction(0)  # seconds added by set_datetime

    @property
    def now(self) -> Fraction:
        return self._now

    def advance(self, seconds: Seconds) -> None:
        step = Fraction(seconds)
        if step < 0:
            raise ValueError(f"time only moves forward (advance({seconds!r}))")
        self._now += step

    def advance_to(self, when: Fraction) -> None:
        if when > self._now:
            self._now = when

    @property
    def epoch_seconds(self) -> Fraction:
        """The date-time as seconds since 1970-01-01T00:00:00Z."""
        return Fraction(int(self._start.timestamp())) + self._now + self._offset

    @property
    def datetime(self) -> _dt.datetime:
        whole = int(self.epoch_seconds)  # floor: the clock shows whole seconds passed
        return _dt.datetime.fromtimestamp(whole, _dt.timezone.utc)

    def set_datetime(self, when: _dt.datetime) -> None:
        target = Fraction(int(_utc(when).timestamp()))
        self._offset += target - self.epoch_seconds

    def resume_at_least(self, epoch_seconds: int) -> None:
        """After a restart from persisted state: never show a time before one already logged."""
        if epoch_seconds > self.epoch_seconds:
            self._offset += epoch_seconds - self.epoch_seconds

    def stamp(self) -> str:
        return format_utc(self.datetime)
