"""Active energy import (1.0.1.8.0.255): a load integrated over virtual time.

A load is one of

* a number -- constant watts;
* a sequence of ``(t, watts)`` steps -- piecewise constant, ``watts`` from
  emulation second ``t`` on (before the first step: 0 W);
* a callable ``f(t) -> watts`` -- sampled at the start of every step of at
  most :data:`PROFILE_STEP` seconds and held for that step.

Constant loads and step profiles are integrated exactly (rational arithmetic):
``energy = sum(watts * seconds) / 3600``. The register only counts while the
meter is metering; the meter pauses it for the bank swap and while it is
powered off.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Sequence
from fractions import Fraction

__all__ = ["PROFILE_STEP", "Load", "Metrology"]

Watts = int | float | Fraction
LoadSpec = Watts | Sequence[tuple[float, Watts]] | Callable[[float], Watts]

#: Sampling step (seconds) for a load given as a callable.
PROFILE_STEP = Fraction(1)


class Load:
    """Watts as a function of emulation time, with the next point where it may change."""

    def __init__(self, spec: LoadSpec) -> None:
        self._const: Fraction | None = None
        self._times: list[Fraction] = []
        self._watts: list[Fraction] = []
        self._func: Callable[[float], Watts] | None = None
        if isinstance(spec, int | float | Fraction):
            self._const = _constant(spec)
        elif callable(spec):
            self._func = spec
        else:
            steps = sorted((Fraction(t), _watts(w)) for t, w in spec)
            self._times = [t for t, _ in steps]
            self._watts = [w for _, w in steps]

    def segment(self, t: Fraction, end: Fraction) -> tuple[Fraction, Fraction]:
        """(watts, segment end): the load is constant on [t, segment end)."""
        if self._const is not None:
            return self._const, end
        if self._func is not None:
            return _watts(self._func(float(t))), min(end, t + PROFILE_STEP)
        i = bisect.bisect_right(self._times, t)
        watts = self._watts[i - 1] if i else Fraction(0)
        nxt = self._times[i] if i < len(self._times) else end
        return watts, min(end, nxt)


def _watts(value: Watts) -> Fraction:
    w = Fraction(value)
    if w < 0:
        raise ValueError(f"a load draws power: watts must be >= 0, not {value!r}")
    return w


@functools.lru_cache(maxsize=64, typed=True)
def _constant(value: Watts) -> Fraction:
    """``_watts(value)``, made once per value and type (a fleet's meters draw
    the same constant load); a refused value raises every time."""
    return _watts(value)


_ZERO = Fraction(0)


class Metrology:
    """The energy register in RAM; the meter persists it (see ``nvm``)."""

    def __init__(self, load: LoadSpec = 1000) -> None:
        self.load = Load(load)
        self.energy_wh = _ZERO

    def set_load(self, spec: LoadSpec) -> None:
        self.load = Load(spec)

    def integrate(self, start: Fraction, end: Fraction) -> None:
        """Add the energy drawn over emulation seconds [start, end)."""
        t = start
        while t < end:
            watts, seg_end = self.load.segment(t, end)
            self.energy_wh += watts * (seg_end - t) / 3600
            t = seg_end
