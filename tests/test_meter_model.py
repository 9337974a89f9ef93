"""Random fragments, power cuts, torn writes, clock advances, activations and heartbeats.

A hypothesis state machine drives one meter against a very small model and
checks, after every step:

* the meter never runs an image that is not byte for byte one of the packages
  signed with the trusted key (so nothing unverified, nothing half-written);
* confirmed energy is never lost: after any power-up the register is at least
  the last value persisted before the cut; while the meter stays on, with no
  cut in between, it never goes down; across a cut it loses at most one
  15-minute persist interval of the load;
* a power cycle of a running meter takes a power-fail save first: the energy
  is the same after it, or, when an armed cut hits that save, at most one
  15-minute interval of the load lower.
"""

from __future__ import annotations

import contextlib
import random
from fractions import Fraction

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from meterkit import MGMT, REFUSED, frames, meter, package

from meteremu._lowlevel.flash import Tear
from meteremu.device import MeterUnavailable

GOOD = {
    "v2": package(2),
    "v3-no-heartbeat": package(3, behaviour=1),
    "v4-crash": package(4, behaviour=2),
    "v5-slow": package(5, behaviour=3),
}
BAD = {"v9-untrusted": package(9, signer=1)}
SIGNED = [package(1), *GOOD.values()]
SESSIONS = {name: 100 + i for i, name in enumerate([*GOOD, *BAD])}
LOAD_W = 1000  # the meter's load (VirtualMeter's default)
#: Energy of one persist interval (15 minutes) of the load: the most a cut loses.
INTERVAL_WH = Fraction(LOAD_W * 900, 3600)
STREAMS = {name: frames(pkg, SESSIONS[name]) for name, pkg in {**GOOD, **BAD}.items()}


class MeterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = meter()
        assert self.m.METROLOGY_INTERVAL == 900
        self.floor = Fraction(0)  # energy persisted before the last cut
        self.last_energy: Fraction | None = None  # at the last step the meter was on
        self.uninterrupted = True  # on at the last step, and no power-up since
        self.armed = False  # a cut armed since the last power-up

    # -- rules ---------------------------------------------------------------------
    @rule(name=st.sampled_from(sorted(STREAMS)), seed=st.integers(0, 2**16),
          loss=st.sampled_from([0.0, 0.2, 0.6]))
    def send(self, name: str, seed: int, loss: float) -> None:
        rnd = random.Random(seed)
        stream = STREAMS[name]
        for i in range(len(stream)):
            if rnd.random() >= loss:
                self.m.receive(stream[i])

    @rule(name=st.sampled_from(sorted(STREAMS)), index=st.integers(0, 40),
          bit=st.integers(0, 7))
    def send_corrupted(self, name: str, index: int, bit: int) -> None:
        stream = STREAMS[name]
        frame = bytearray(stream[index % len(stream)])
        frame[(index * 13) % len(frame)] ^= 1 << bit
        self.m.receive(bytes(frame))

    @rule(seconds=st.sampled_from([0.5, 5, 60, 299, 301, 1000]))
    def advance(self, seconds: float) -> None:
        self.m.advance(seconds)

    @rule()
    def activate(self) -> None:
        with contextlib.suppress(REFUSED, MeterUnavailable):
            self.m.action("0.0.96.10.2.255", 1, True, client=MGMT)

    @rule()
    def heartbeat(self) -> None:
        with contextlib.suppress(MeterUnavailable):
            self.m.heartbeat()

    @rule(n=st.integers(0, 60), mode=st.sampled_from(["none", "prefix", "bits"]),
          seed=st.integers(0, 2**16))
    def arm_power_cut(self, n: int, mode: str, seed: int) -> None:
        self.m.flash.seed(seed)
        self.m.flash.set_tear(Tear[mode.upper()])
        self.m.flash.cut_after(n)
        self.armed = True

    @rule()
    def power_cycle(self) -> None:
        m = self.m
        running = m.powered and m.active_version is not None
        before = m.metrology.energy_wh
        m.power_cycle()
        if running:
            lost = before - m.metrology.energy_wh
            if self.armed:  # the cut may hit the power-fail save
                assert 0 <= lost <= INTERVAL_WH
            else:
                assert 0 <= lost < Fraction(1, 10**6)  # NVM keeps whole µWh
        self.armed = False
        self.uninterrupted = False

    @precondition(lambda self: not self.m.powered)
    @rule()
    def power_on(self) -> None:
        self.m.power_on()
        self.armed = False
        self.uninterrupted = False

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def runs_only_signed_images(self) -> None:
        m = self.m
        if not m.available and m.active_version is None:
            return
        bank = m.running_region
        assert bank is not None
        assert m.active_bank in ("A", "B", "golden")
        cells = m.flash.dump()[bank.offset : bank.end]
        assert any(cells.startswith(pkg) for pkg in SIGNED), "runs an unsigned image"
        assert m.active_version != "9.0.0"

    @invariant()
    def never_loses_confirmed_energy(self) -> None:
        m = self.m
        on = m.powered and m.active_version is not None
        energy = m.metrology.energy_wh  # exact (a Fraction)
        if on:
            assert energy >= self.floor - Fraction(1, 10**6)  # NVM keeps whole µWh
            if self.last_energy is not None:
                if self.uninterrupted:  # on since the last step: it only counts up
                    assert energy >= self.last_energy
                else:  # a cut since: at most one persist interval of the load lost
                    assert energy >= self.last_energy - INTERVAL_WH
            self.last_energy = energy
        self.floor = max(self.floor, Fraction(m.energy_floor_wh))
        self.uninterrupted = on


MeterMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_meter_state_machine = MeterMachine.TestCase
