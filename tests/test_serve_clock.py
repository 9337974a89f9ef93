"""The server's meters keep the server's time (``ClockedMeter``): a request
brings its meter up to date once the meter is more than ``GRAIN_US`` of
virtual time behind, an association, heartbeat or tick brings it fully up to
date, and no microsecond of the server's clock is lost or given twice.

The reference is the rule written plainly: at every request, the server's
virtual microseconds now, and an advance of the difference when it exceeds the
grain (every time, for the calls that sync fully). Hypothesis drives both with
a fake clock through random steps and time scales; the advances the meter gets
must be the same, in the same order."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.transports.tcp import GRAIN_US, ClockedMeter, MeterClock


class Recorder:
    """A meter that records its advances (in microseconds) and the calls."""

    available = True

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []

    def advance(self, seconds: Fraction) -> None:
        assert seconds > 0
        self.log.append(("advance", int(seconds * 1_000_000)))

    def get(self, *a):
        self.log.append(("get", 0))

    def set(self, *a):
        self.log.append(("set", 0))

    def action(self, *a):
        self.log.append(("action", 0))

    def heartbeat(self) -> bool:
        self.log.append(("heartbeat", 0))
        return True


class Reference:
    def __init__(self, scale: float, start: float) -> None:
        self.scale, self.start, self.done, self.log = scale, start, 0, []

    def step(self, kind: str, now: float) -> None:
        target = int((now - self.start) * self.scale * 1_000_000)
        grain = GRAIN_US if kind in ("get", "set", "action") else 0
        if target - self.done > grain:
            self.log.append(("advance", target - self.done))
            self.done = target
        if kind != "sync":
            self.log.append((kind, 0))


@settings(max_examples=300, deadline=None)
@given(scale=st.sampled_from([0.0, 0.5, 1.0, 60.0, 3600.0, 1e6]),
       steps=st.lists(st.tuples(
           st.sampled_from(["get", "set", "action", "heartbeat", "sync", "available"]),
           st.one_of(st.just(0.0), st.floats(0, 0.02), st.floats(0, 5))), max_size=60))
def test_requests_keep_the_servers_time_as_the_plain_rule_does(scale, steps):
    now = [1000.0]
    clock = MeterClock(scale, clock=lambda: now[0])
    meter = Recorder()
    clocked = ClockedMeter(meter, clock)
    ref = Reference(scale, 1000.0)
    for kind, dt in steps:
        now[0] += dt
        if kind == "get":
            clocked.get(b"\0" * 6, 2, None)
        elif kind == "set":
            clocked.set(b"\0" * 6, 2, 0, None)
        elif kind == "action":
            clocked.action(b"\0" * 6, 1, 0, None)
        elif kind == "heartbeat":
            clocked.heartbeat()
        elif kind == "sync":
            clocked.sync()
        else:
            assert clocked.available
        ref.step("available" if kind == "available" else kind, now[0])
    ref.log = [e for e in ref.log if e[0] != "available"]
    assert meter.log == ref.log
