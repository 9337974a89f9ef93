"""The radio medium: one channel that one transmission holds at a time, FOTA
traffic kept to its share of it in every window.

The model (docs/MESH.md, "Airtime"): a concentrator's cell is one collision
domain -- no spatial reuse, so the mesh's capacity is 100 % of one
channel's time, and a transmission anywhere in the cell keeps every other
one waiting. A transmission lasts ``(bytes + PHY/MAC overhead) * 8 / rate``.

Requests are served first come, first served, by the time they were made,
with two rules on top for FOTA (seed section B: "the bandwidth allocated for
FOTA does not exceed 30 % of the total available mesh capacity"):

* **pacing** -- a FOTA transmission of ``d`` holds ``d / cap`` of the
  channel's time: the next one starts no earlier than that after it, so
  FOTA comes as a steady trickle at ``cap`` of the channel, never in bursts
  that would keep billing reads waiting for seconds;
* **the window** -- a FOTA transmission starts only where, in the window of
  length ``window`` ending with it, FOTA airtime stays at or under
  ``cap * window``. Pacing alone could overshoot a window by a frame or two;
  this rule is the guarantee.

Until both allow it the head of the FOTA queue waits and other traffic
(billing reads) goes first; nothing preempts a transmission on the air.

Why checking the window that *ends* with each new transmission is enough for
every window: FOTA transmissions are placed in time order; for any window
over the cap, slide it right while its right edge cuts a transmission (it
gains at the right at least what it loses at the left) or left while its
right edge sits in idle time (it loses nothing at the right): it ends at the
end of some transmission and is still over the cap. So if no window ending
at a transmission's end is over, none is. :class:`WindowPeak` measures the
same quantity independently from the transmissions as they happen.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .clock import NS, EventQueue

__all__ = ["Medium", "WindowPeak", "airtime_ns"]


def airtime_ns(nbytes: int, rate_kbps: int) -> int:
    """Whole nanoseconds (rounded up) to send ``nbytes`` at ``rate_kbps``."""
    bits = nbytes * 8
    return -(-bits * 1_000_000 // rate_kbps)


class WindowPeak:
    """The largest airtime in any window of ``window_ns``, from intervals given in
    time order (each starting at or after the previous one's end)."""

    def __init__(self, window_ns: int) -> None:
        self.window = window_ns
        self._open: deque[tuple[int, int]] = deque()
        self._sum = 0
        self.peak = 0

    def add(self, start: int, end: int) -> int:
        """Add a transmission; the airtime in the window that ends with it."""
        w = self.window
        self._open.append((start, end))
        self._sum += end - start
        edge = end - w
        q = self._open
        while q[0][1] <= edge:
            s, e = q.popleft()
            self._sum -= e - s
        busy = self._sum - max(0, edge - q[0][0])
        if busy > self.peak:
            self.peak = busy
        return busy


class Medium:
    """One shared channel, first come first served, FOTA capped per window.

    ``send(duration_ns, fota, callback, *args)`` queues a transmission; when it
    has been on the air, ``callback(start_ns, end_ns, *args)`` runs (at its
    end). ``on_air(start, end, fota)`` sees every transmission as it ends.
    """

    def __init__(self, queue: EventQueue, *, cap: float | Fraction, window_ns: int,
                 on_air: Callable[[int, int, bool], Any] | None = None) -> None:
        cap = Fraction(str(cap)) if isinstance(cap, float) else Fraction(cap)
        if not 0 < cap <= 1:
            raise ValueError(f"the FOTA cap must be a share in (0, 1], not {float(cap)}")
        if window_ns <= 0:
            raise ValueError("the window must be positive")
        self.q = queue
        self.cap = cap
        self.window = window_ns
        self.budget = int(cap * window_ns)  # FOTA ns allowed in any window (floor)
        self.on_air = on_air
        self.busy = False
        self._finishing = False  # inside a callback: dispatch once it returns
        self._fota: deque[tuple[int, int, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._other: deque[tuple[int, int, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._seq = 0
        self._wake = 0  # the generation of the pending wake-up event
        # FOTA history: ends and cumulative airtime, kept for one window back.
        self._ends: list[int] = []
        self._cum: list[int] = []
        self._lo = 0
        self._base = 0  # cumulative FOTA airtime up to the history dropped
        self._total = 0
        self._paced = 0  # the earliest start pacing allows the next FOTA transmission
        self.fota_ns = 0
        self.other_ns = 0

    def send(self, duration_ns: int, fota: bool, callback: Callable[..., Any],
             *args: Any) -> None:
        if fota and duration_ns > self.budget:
            raise ValueError(f"a {duration_ns} ns FOTA transmission can never fit the "
                             f"{self.budget} ns the cap allows per window: widen the window")
        self._seq += 1
        (self._fota if fota else self._other).append((self._seq, duration_ns, callback, args))
        if not self.busy and not self._finishing:
            self._dispatch()

    def earliest_fota(self, t: int, d: int) -> int:
        """The earliest start at or after ``t`` for a FOTA transmission of ``d`` ns
        that pacing allows and such that the window ending with it holds at most
        the budget."""
        t = max(t, self._paced)
        target = self._total - (self.budget - d)  # FOTA airtime that must be out of the window
        if target <= self._base:  # that much lies more than a window back
            return t
        cum = self._cum
        k = bisect.bisect_left(cum, target, self._lo)
        s = self._ends[k] - (cum[k] - target)  # the point with `target` airtime before it
        return max(t, s + self.window - d)

    def _dispatch(self) -> None:
        now = self.q.now
        fota, other = self._fota, self._other
        if fota:
            f_seq, f_d = fota[0][0], fota[0][1]
            f_start = self.earliest_fota(now, f_d)
            if other and (f_start > now or other[0][0] < f_seq):
                self._start(other.popleft(), now, False)
            elif f_start == now:
                self._start(fota.popleft(), now, True)
            else:  # only FOTA waits, for the window to make room
                self._wake += 1
                self.q.at(f_start, self._wake_up, self._wake)
        elif other:
            self._start(other.popleft(), now, False)

    def _wake_up(self, generation: int) -> None:
        if generation == self._wake and not self.busy:
            self._dispatch()

    def _start(self, req: tuple[int, int, Callable[..., Any], tuple[Any, ...]], now: int,
               fota: bool) -> None:
        _, d, callback, args = req
        self.busy = True
        self._wake += 1  # any pending wake-up is stale now
        end = now + d
        if fota:
            cap = self.cap
            self._paced = now - (-d * cap.denominator // cap.numerator)  # now + ceil(d / cap)
            self._total += d
            self._ends.append(end)
            self._cum.append(self._total)
            self.fota_ns += d
            self._forget(now)
        else:
            self.other_ns += d
        self.q.at(end, self._done, now, end, fota, callback, args)

    def _forget(self, now: int) -> None:
        """Drop history entirely more than a window old (it can no longer matter)."""
        edge = now - self.window
        ends = self._ends
        lo = self._lo
        while lo < len(ends) - 1 and ends[lo] <= edge:
            self._base = self._cum[lo]
            lo += 1
        self._lo = lo
        if lo > 4096 and lo * 2 > len(ends):
            del ends[:lo]
            del self._cum[:lo]
            self._lo = 0

    def _done(self, start: int, end: int, fota: bool, callback: Callable[..., Any],
              args: tuple[Any, ...]) -> None:
        self.busy = False
        self._finishing = True
        try:
            if self.on_air is not None:
                self.on_air(start, end, fota)
            callback(start, end, *args)
        finally:
            self._finishing = False
        self._dispatch()

    @property
    def idle(self) -> bool:
        return not (self.busy or self._fota or self._other)

    def describe(self) -> dict[str, object]:
        return {"cap": float(self.cap), "window_s": self.window / NS}
