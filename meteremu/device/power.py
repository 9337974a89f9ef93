"""Power and time: the virtual clock, whether the meter answers, the display.

The meter answers only when its availability (:data:`.rules.AVAILABILITY`) is
``on``: not while off, not while a slow-boot image is still starting, not with
a fault on the display and nothing running (F.03 at boot, F.04). The display
also shows F.03 when a swap failed but the old image kept running.
"""

from __future__ import annotations

import datetime as _dt
from fractions import Fraction

from ..errors import MeterUnavailable
from .clock import _ZERO, VirtualClock, later, plus
from .rules import AVAILABILITY, Availability, AvailabilityEvent, step

__all__ = ["Power"]

_ON = Availability.ON
_RUNNING = (Availability.ON, Availability.BOOTING)  # (an Enum's attribute costs a lookup)
_BUSY_OVER = (AvailabilityEvent.POWER_DOWN, AvailabilityEvent.BOOTED)


class Power:
    """Availability, the display and the clock of one meter."""

    def __init__(self, clock_start: _dt.datetime) -> None:
        self.clock = VirtualClock(clock_start)
        self.availability = Availability.OFF
        self.lcd = ""  # fault code on the display (F.03, F.04) or empty
        self.busy_until: Fraction | None = None  # end of a slow boot
        self.pause_until = _ZERO  # metrology pauses for a bank swap until then

    def on(self, event: AvailabilityEvent) -> None:
        new = AVAILABILITY.get((self.availability, event))  # (at every boot: no call for it)
        if new is None:
            new = step(AVAILABILITY, self.availability, event)  # a pair the table lacks: its error
        assert isinstance(new, Availability)
        self.availability = new
        if event in _BUSY_OVER:
            self.busy_until = None

    @property
    def running(self) -> bool:
        """An image runs (the meter may still be inside a slow boot)."""
        return self.availability in _RUNNING

    @property
    def answers(self) -> bool:
        """The meter answers now: on, and any slow boot over."""
        a = self.availability
        if a is _ON:
            return True
        if a is Availability.BOOTING and self.busy_until is not None and (
                self.clock.now >= self.busy_until):
            self.on(AvailabilityEvent.SLOW_BOOT_OVER)
            return True
        return False

    def require(self) -> None:
        """:class:`MeterUnavailable` unless the meter answers."""
        if self.availability is _ON or self.answers:  # (on: the usual case, asked per request)
            return
        if self.availability is Availability.BOOTING:
            raise MeterUnavailable(f"the meter is booting (slow boot) until "
                                   f"+{float(self.busy_until or 0):.0f} s")
        raise MeterUnavailable("the meter is off" + (f" ({self.lcd})" if self.lcd else ""))

    def slow_boot(self, seconds: Fraction) -> None:
        self.busy_until = self.clock.now + seconds
        self.on(AvailabilityEvent.SLOW_BOOT)

    def swap_pause(self, seconds: Fraction) -> None:
        """The bank swap: metrology pauses while the kernel re-initialises."""
        self.pause_until = later(self.pause_until, plus(self.clock.now, seconds))
