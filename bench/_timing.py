"""Best-of-N timing with time.perf_counter, the candidates interleaved.

Each candidate is calibrated to a batch that takes at least ``min_time``
seconds, then the batches run in turns (ours, peer, ours, peer, ...) so that
a slow moment of the machine hits every candidate alike; the best batch of
each counts, as the least disturbed measurement of the code itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    min_time: float  # seconds per timed batch
    repeats: int  # batches per candidate; the best one counts


FULL = Budget(min_time=0.2, repeats=7)
QUICK = Budget(min_time=0.03, repeats=3)


def _batch(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def _calibrate(fn: Callable[[], object], min_time: float) -> int:
    n = 1
    while True:
        elapsed = _batch(fn, n)
        if elapsed >= min_time:
            return n
        # aim a little past min_time; grow at least twofold, at most a hundredfold
        guess = int(n * 1.2 * min_time / elapsed) if elapsed > 0 else n * 100
        n = max(2 * n, min(guess, 100 * n))


def calls_per_second(fns: list[Callable[[], object]], budget: Budget) -> list[float]:
    """Best calls per second of each function, measured in alternation."""
    sizes = [_calibrate(fn, budget.min_time) for fn in fns]
    best = [float("inf")] * len(fns)
    for _ in range(budget.repeats):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], _batch(fn, sizes[i]) / sizes[i])
    return [1.0 / t for t in best]
