"""Shared helpers for the mesh tests (a helper module, not a test module)."""

from __future__ import annotations


def busiest_window(intervals: list[tuple[int, int]], window: int) -> int:
    """Max airtime of ``intervals`` in any window [a, a + window], by brute force:
    the maximum sits where a window starts at an interval's start or ends at an
    interval's end, so only those windows are summed."""
    best = 0
    for a in {s for s, _ in intervals} | {e - window for _, e in intervals}:
        b = a + window
        busy = sum(max(0, min(e, b) - max(s, a)) for s, e in intervals)
        best = max(best, busy)
    return best
