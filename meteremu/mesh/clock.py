"""One event queue that owns virtual time (SimPy's environment, cut to the bone).

Time is an integer count of nanoseconds, so airtime sums, the 30 % cap and
every comparison are exact: no float drift decides whether a window is over
its budget. An event is ``(time, seq, callback, args)`` on a ``heapq``; ``seq``
breaks ties in scheduling order, so the same inputs always run in the same
order. Nothing here reads the wall clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

__all__ = ["NS", "EventQueue", "ns", "seconds"]

NS = 1_000_000_000  # nanoseconds in a second


def ns(seconds_: float | Fraction | int) -> int:
    """Seconds as whole nanoseconds (rounded to nearest)."""
    return round(Fraction(seconds_) * NS)


def seconds(t_ns: int) -> float:
    """Nanoseconds as float seconds (for reports)."""
    return t_ns / NS


class EventQueue:
    """A heap of ``(time_ns, seq, callback, args)``; :attr:`now` moves only in :meth:`run`."""

    def __init__(self) -> None:
        self.now = 0
        self._heap: list[tuple[int, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self.processed = 0

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, time_ns: int, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` at ``time_ns`` (never in the past)."""
        if time_ns < self.now:
            raise ValueError(f"cannot schedule at {time_ns} ns, before now ({self.now} ns)")
        heapq.heappush(self._heap, (time_ns, next(self._seq), callback, args))

    def after(self, delay_ns: int, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` ``delay_ns`` from now."""
        self.at(self.now + delay_ns, callback, *args)

    def run(self, until: int | None = None) -> None:
        """Process events in time order until none is left (or the next is after ``until``)."""
        heap = self._heap
        pop = heapq.heappop
        while heap:
            if until is not None and heap[0][0] > until:
                self.now = until
                return
            t, _, callback, args = pop(heap)
            self.now = t
            self.processed += 1
            callback(*args)
