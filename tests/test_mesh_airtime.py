"""The event queue and the shared channel: FOTA never exceeds its cap in any
window (checked by brute force over every window that could be the worst),
other traffic goes while FOTA waits, nothing overlaps."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meshkit import busiest_window

from meteremu.mesh import NS, EventQueue, Medium, WindowPeak, airtime_ns


def test_queue_runs_in_time_then_scheduling_order() -> None:
    q = EventQueue()
    seen: list[tuple[int, str]] = []
    q.at(5, lambda: seen.append((q.now, "b")))
    q.at(1, lambda: seen.append((q.now, "a")))
    q.at(5, lambda: seen.append((q.now, "c")))
    q.at(3, lambda: q.after(2, lambda: seen.append((q.now, "d"))))
    q.run()
    assert seen == [(1, "a"), (5, "b"), (5, "c"), (5, "d")]
    with pytest.raises(ValueError):
        q.at(4, print)


def test_queue_stops_at_until() -> None:
    q = EventQueue()
    seen: list[int] = []
    for t in (1, 2, 3):
        q.at(t, seen.append, t)
    q.run(until=2)
    assert seen == [1, 2] and q.now == 2 and len(q) == 1


def test_airtime() -> None:
    assert airtime_ns(125, 100) == 10_000_000  # 1000 bits at 100 kbps: 10 ms
    assert airtime_ns(1, 150) == 53_334  # 8 bits / 150 kbps, rounded up


def _drive(cap: float, window: int, requests: list[tuple[int, int, bool]]):
    """Feed (arrival, duration, fota) requests to a Medium; every transmission."""
    q = EventQueue()
    m = Medium(q, cap=cap, window_ns=window)
    done: list[tuple[int, int, bool, int]] = []
    for k, (at, d, fota) in enumerate(requests):
        q.at(at, m.send, d, fota, lambda s, e, f=fota, k=k: done.append((s, e, f, k)))
    q.run()
    return m, done


requests = st.lists(
    st.tuples(st.integers(0, 5 * NS // 10), st.integers(1, 30_000_000), st.booleans()),
    min_size=1, max_size=120)


@given(requests, st.sampled_from([0.1, 0.3, 0.5, 1.0]),
       st.sampled_from([NS // 10, NS // 4, NS]))
@settings(max_examples=150)
def test_fota_never_exceeds_its_cap_in_any_window(reqs, cap: float, window: int) -> None:
    budget = int(cap * 1000) * window // 1000
    reqs = [(a, min(d, budget), f) for a, d, f in reqs]
    m, done = _drive(cap, window, reqs)
    assert len(done) == len(reqs)  # everything went out
    fota = sorted((s, e) for s, e, f, _ in done if f)
    assert busiest_window(fota, window) <= m.budget
    everything = sorted((s, e) for s, e, _, _ in done)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(everything))  # no overlap
    peak = WindowPeak(window)
    for s, e in fota:
        peak.add(s, e)
    assert peak.peak == busiest_window(fota, window)
    # Each request starts no earlier than it came, FOTA requests in their order.
    arrival = {k: reqs[k][0] for k in range(len(reqs))}
    assert all(s >= arrival[k] for s, _, _, k in done)
    order = [k for _, _, f, k in sorted(done) if f]
    assert order == sorted(order, key=lambda k: (reqs[k][0], k))


def test_a_long_fota_backlog_runs_at_the_cap() -> None:
    d = 10_000_000  # 10 ms frames
    m, done = _drive(0.3, NS, [(0, d, True)] * 400)
    end = max(e for _, e, _, _ in done)
    assert 400 * d / end == pytest.approx(0.3, rel=0.01)
    assert busiest_window([(s, e) for s, e, _, _ in done], NS) <= m.budget


def test_billing_goes_while_fota_waits_for_its_window() -> None:
    d = 10_000_000
    reqs = [(0, d, True)] * 200 + [(t * 37_000_000, 5_000_000, False) for t in range(50)]
    _, done = _drive(0.3, NS, reqs)
    waits = [s - reqs[k][0] for s, _, f, k in done if not f]
    assert max(waits) <= d  # at most one FOTA frame on the air in front of it


def test_uncapped_fota_backlog_keeps_billing_waiting() -> None:
    """With the cap at 100 % (no pacing), a billing read waits behind the backlog."""
    d = 10_000_000
    reqs = [(0, d, True)] * 200 + [(5 * d, 5_000_000, False)]
    _, done = _drive(1.0, NS, reqs)
    (s,) = [s for s, _, f, _ in done if not f]
    assert s - 5 * d > 100 * d


def test_a_frame_longer_than_the_budget_is_refused() -> None:
    q = EventQueue()
    m = Medium(q, cap=0.3, window_ns=NS // 100)
    with pytest.raises(ValueError, match="widen the window"):
        m.send(NS, True, print)
    with pytest.raises(ValueError):
        Medium(q, cap=0.0, window_ns=NS)


def test_history_is_forgotten_without_changing_the_answer() -> None:
    """Thousands of frames: the history is trimmed, the cap still holds exactly."""
    rnd = random.Random(4)
    reqs = [(rnd.randrange(60 * NS), rnd.randrange(1_000_000, 20_000_000), True)
            for _ in range(6000)]
    m, done = _drive(0.3, NS, sorted(reqs))
    fota = sorted((s, e) for s, e, _, _ in done)
    peak = WindowPeak(NS)
    for s, e in fota:
        peak.add(s, e)
    assert peak.peak <= m.budget
    assert len(m._ends) < 6000  # trimmed
