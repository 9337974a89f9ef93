"""Seed step 3: push a package to concentrators, at most ``limit`` at once.

Each concentrator runs its own broadcast (:meth:`Field.broadcast
<meteremu.campaign.field.Field.broadcast>`) to the meters of the wave under
it. The distributor hands out ``limit`` slots on the virtual clock: a
concentrator starts when a slot frees (the earliest first), so at no moment
do more than ``limit`` meshes carry FOTA traffic and the rest keep their
airtime for billing reads. The jobs run one after another in this process;
their virtual times overlap as the slots say.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence

__all__ = ["Distributor"]

#: ``job(concentrator, meters, start) -> end``: one concentrator's work, on the
#: virtual clock.
Job = Callable[[str, Sequence[str], float], float]


class Distributor:
    """At most ``limit`` concentrators broadcasting at once."""

    def __init__(self, limit: int = 4) -> None:
        if limit < 1:
            raise ValueError("the distributor needs at least one slot")
        self.limit = limit
        self.spans: list[tuple[str, float, float]] = []  # (concentrator, start, end)

    def run(self, work: Mapping[str, Sequence[str]], start: float, job: Job) -> float:
        """Run ``job`` for every concentrator of ``work`` (in name order); the
        virtual time the last one ends."""
        slots = [start] * self.limit
        heapq.heapify(slots)
        end = start
        for dc in sorted(work):
            if not work[dc]:
                continue
            at = heapq.heappop(slots)
            done = max(at, job(dc, work[dc], at))
            self.spans.append((dc, at, done))
            heapq.heappush(slots, done)
            end = max(end, done)
        return end

    @staticmethod
    def most_at_once(spans: Sequence[tuple[str, float, float]]) -> int:
        """The most spans that overlap at any moment (a span ends before one
        starting at the same instant)."""
        marks = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans],
                       key=lambda x: (x[0], x[1]))
        now = best = 0
        for _, d in marks:
            now += d
            best = max(best, now)
        return best
