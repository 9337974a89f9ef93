"""The meter's virtual clock: nothing in meteremu.device reads the wall clock.

Two notions of time:

* ``now`` -- emulation seconds since the meter object was made (a
  :class:`fractions.Fraction`, so sums of advances stay exact). Only
  :meth:`VirtualClock.advance` moves it. Load profiles and deadlines use it.
* ``datetime`` -- the meter's real-time clock (COSEM 0.0.1.0.0.255): a start
  date-time plus ``now`` plus whatever offset a client set. It keeps running
  while the meter is powered off, as a battery-backed RTC does.

The real-time clock covers :data:`RTC_MIN` to :data:`RTC_MAX` (years 2000 to
2099, as a meter's RTC chip does): a start or a setting outside is refused
(``ValueError``; a DLMS client gets a refusal), and time cannot be advanced
past the end (``ValueError``, nothing changes), so every date-time the meter
persists or shows is one it can read back.
"""

from __future__ import annotations

import datetime as _dt
import functools
from fractions import Fraction

__all__ = ["DEFAULT_EPOCH", "RTC_MAX", "RTC_MIN", "VirtualClock", "format_utc"]

#: Where a meter's clock starts unless told otherwise.
DEFAULT_EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
#: The range of the meter's real-time clock.
RTC_MIN = _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
RTC_MAX = _dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc)
_RTC_MIN_S = int(RTC_MIN.timestamp())
_RTC_MAX_S = int(RTC_MAX.timestamp())

Seconds = int | float | Fraction


def _utc(when: _dt.datetime) -> _dt.datetime:
    if when.tzinfo is None:
        raise ValueError("the meter clock needs a timezone-aware datetime (use UTC)")
    return when.astimezone(_dt.timezone.utc)


def _in_range(when: _dt.datetime) -> _dt.datetime:
    utc = _utc(when)
    if not RTC_MIN <= utc <= RTC_MAX:
        raise ValueError(f"the meter clock runs from {format_utc(RTC_MIN)} to "
                         f"{format_utc(RTC_MAX)}, not {utc.isoformat()}")
    return utc


def format_utc(when: _dt.datetime) -> str:
    """ISO 8601 with a Z, whole seconds: ``2026-11-27T10:00:05Z``."""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


_ZERO = Fraction(0)  # (a Fraction is immutable: one zero serves every clock)


def _start_of(start: _dt.datetime) -> tuple[_dt.datetime, Fraction]:
    """A clock's start in UTC and its epoch seconds, made once per start (a
    fleet's meters share theirs); as ``_in_range`` and ``timestamp`` give them."""
    return _start_cached(start, start.fold)


@functools.lru_cache(maxsize=64, typed=True)
def _start_cached(start: _dt.datetime, fold: int) -> tuple[_dt.datetime, Fraction]:
    # Keyed on the type and ``fold`` too: two date-times of one zone that differ
    # only in fold compare (and hash) equal but are an hour apart. Otherwise
    # equal aware date-times are the same instant. One out of range, or naive,
    # raises every time (exceptions are not cached).
    utc = _in_range(start)
    return utc, Fraction(int(utc.timestamp()))


# Sums and maxima of Fractions by the identity of their operands: a fleet's
# meters add the same step to the same instant (a Fraction is immutable, so
# the same objects mean the same values). Each entry holds its operands, so
# their ids cannot be other objects' meanwhile.
_SUMS: dict[tuple[int, int], tuple[Fraction, Fraction, Fraction]] = {}
_MAXIMA: dict[tuple[int, int], tuple[Fraction, Fraction, Fraction]] = {}


def plus(a: Fraction, b: Fraction) -> Fraction:
    """``a + b``: the very object made for these very operands last time."""
    if type(a) is not Fraction or type(b) is not Fraction:
        return a + b
    key = (id(a), id(b))
    got = _SUMS.get(key)
    if got is not None and got[0] is a and got[1] is b:
        return got[2]
    total = a + b
    if len(_SUMS) >= 256:
        _SUMS.clear()
    _SUMS[key] = (a, b, total)
    return total


def later(a: Fraction, b: Fraction) -> Fraction:
    """``max(a, b)`` (``a`` when they are equal): as :func:`plus`, remembered."""
    if type(a) is not Fraction or type(b) is not Fraction:
        return max(a, b)
    if a is b:
        return a
    key = (id(a), id(b))
    got = _MAXIMA.get(key)
    if got is not None and got[0] is a and got[1] is b:
        return got[2]
    top = max(a, b)
    if len(_MAXIMA) >= 256:
        _MAXIMA.clear()
    _MAXIMA[key] = (a, b, top)
    return top


class VirtualClock:
    """Monotonic emulation time plus a settable date-time."""

    __slots__ = ("_base", "_now", "_offset", "_stamped", "_start")

    def __init__(self, start: _dt.datetime = DEFAULT_EPOCH) -> None:
        self._start, self._base = _start_of(start)
        self._now = _ZERO
        self._offset = _ZERO  # seconds added by set_datetime
        # the last stamp made: (now, offset) it was made at (Fractions are immutable,
        # so the same objects mean the same time), its whole second, its text
        self._stamped: tuple[Fraction | None, Fraction | None, int, str] = (None, None, -1, "")

    @property
    def now(self) -> Fraction:
        return self._now

    def advance(self, seconds: Seconds) -> None:
        self.advance_to(self._now + self.checked_step(seconds))

    def checked_step(self, seconds: Seconds) -> Fraction:
        """``seconds`` as a step this clock can take: ``ValueError`` for a negative
        one, one that is not a finite number (NaN, infinity, a string), or one
        that would run the date-time past :data:`RTC_MAX`."""
        try:
            if isinstance(seconds, (str, bool)):
                raise TypeError
            step = Fraction(seconds)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"seconds must be a finite number, not {seconds!r}") from None
        if step < 0:
            raise ValueError(f"time only moves forward (advance({seconds!r}))")
        if self.epoch_seconds + step > _RTC_MAX_S:
            raise ValueError(f"advancing {float(step):.0f} s would run the meter clock past "
                             f"{format_utc(RTC_MAX)}")
        return step

    def advance_to(self, when: Fraction) -> None:
        if when > self._now:
            self._now = when

    @property
    def epoch_seconds(self) -> Fraction:
        """The date-time as seconds since 1970-01-01T00:00:00Z."""
        now, off = self._now, self._offset
        if now.denominator == 1 and off.denominator == 1:  # whole seconds: no gcd work
            return Fraction(self._base.numerator + now.numerator + off.numerator)
        return self._base + now + off

    @property
    def datetime(self) -> _dt.datetime:
        whole = int(self.epoch_seconds)  # floor: the clock shows whole seconds passed
        return _dt.datetime.fromtimestamp(whole, _dt.timezone.utc)

    def set_datetime(self, when: _dt.datetime) -> None:
        target = Fraction(int(_in_range(when).timestamp()))
        self._offset += target - self.epoch_seconds

    def resume_at_least(self, epoch_seconds: int) -> None:
        """After a restart from persisted state: never show a time before one already
        logged. A stored time outside the clock's range is not a time it kept: ignored."""
        if epoch_seconds > self.epoch_seconds and epoch_seconds <= _RTC_MAX_S:
            self._offset += epoch_seconds - self.epoch_seconds

    @property
    def epoch_whole(self) -> int:
        """``int(epoch_seconds)``, without making the Fraction on whole seconds."""
        now, off = self._now, self._offset
        if now.denominator == 1 and off.denominator == 1:
            return self._base.numerator + now.numerator + off.numerator
        return int(self.epoch_seconds)

    def stamp(self) -> str:
        now, off = self._now, self._offset
        last = self._stamped
        if last[0] is now and last[1] is off:  # (events come in bursts at one time)
            return last[3]
        whole = self.epoch_whole
        text = last[3] if whole == last[2] else _stamp_of(whole)
        self._stamped = (now, off, whole, text)
        return text


@functools.lru_cache(maxsize=1024)
def _stamp_of(whole: int) -> str:
    """The stamp of ``whole`` epoch seconds, made once for every clock that
    shows that second (a fleet's meters stamp the same few seconds)."""
    return format_utc(_dt.datetime.fromtimestamp(whole, _dt.timezone.utc))
