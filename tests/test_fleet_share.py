"""Fleet.share_identical: pages the meters hold alike are held once again, and
no meter can tell.

The reference is the twin of tests/test_fleet.py: the same meters built the
ordinary way and driven one by one, never shared. Whatever a fleet goes
through -- lossy broadcasts, power cuts, flipped bits, activation, heartbeats,
time, and sharing at any point between them -- each fleet meter must end
byte for byte as its twin.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fleetkit import FRAMES, faults, fleet_of, one_by_one, picture, twins_of
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.errors import MeterUnavailable
from meteremu.fleet import Fleet

PAGE = 4096

linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="moves mappings with mremap, reads /proc/self/smaps")


def _plain(out: Any) -> Any:
    return "unavailable" if isinstance(out, MeterUnavailable) else out


def _each(twins: dict[str, Any], op: str) -> dict[str, Any]:
    """``op`` on every twin, as the fleet reports it (a meter that lost power
    on the way: unavailable, or not confirmed)."""
    out: dict[str, Any] = {}
    for s, m in twins.items():
        try:
            out[s] = getattr(m, op)()
        except MeterUnavailable as exc:
            out[s] = _plain(exc) if op == "activate" else False
    return out


def _same(fleet: Fleet, twins: dict[str, Any]) -> None:
    for s in fleet:
        assert picture(fleet[s]) == picture(twins[s]), s


@linux
def test_sharing_changes_no_meter() -> None:
    fleet = fleet_of(20, block=8)  # three mappings, the last one partly used
    twins = twins_of(fleet)
    serials = fleet.serials
    loss = {s: (0.05 * i) % 0.4 for i, s in enumerate(serials)}
    faults({s: fleet[s] for s in serials}, serials)
    faults(twins, serials)
    assert fleet.broadcast(FRAMES, loss=loss, seed=7, max_rounds=12).sent == \
        one_by_one(twins, loss, 7, 12)
    assert fleet.share_identical() is not None
    _same(fleet, twins)
    for m in (*[fleet[s] for s in serials], *twins.values()):
        m.power_on()
    assert fleet.broadcast(FRAMES, loss=loss, seed=8, max_rounds=12).sent == \
        one_by_one(twins, loss, 8, 12)
    fleet.share_identical()
    assert fleet.activate() == {s: twins[s].activate() for s in serials}
    fleet.share_identical()
    assert fleet.heartbeat(serials[::2]) == {s: twins[s].heartbeat() for s in serials[::2]}
    fleet.advance(1000)
    for m in twins.values():
        m.advance(1000)
    _same(fleet, twins)


@linux
def test_meters_that_took_the_same_wave_hold_it_once() -> None:
    n = 48
    fleet = fleet_of(n, block=16)
    off = fleet.serials[5]
    fleet[off].power_off()  # hears nothing: its flash stays the old one
    fleet.broadcast(FRAMES, loss=0.2, seed=3)
    fleet.activate()
    fleet.heartbeat()
    before = fleet.private_bytes()
    assert before is not None and before >= (n - 1) * 3 * PAGE
    left = fleet.share_identical()
    after = fleet.private_bytes()
    assert left == after  # what it says is what the kernel holds
    odd, usual = fleet[off].flash.dump(), fleet[fleet.serials[0]].flash.dump()
    differ = sum(odd[k : k + PAGE] != usual[k : k + PAGE] for k in range(0, len(odd), PAGE))
    # the odd meter's own pages (its cells, and its wear counters beside them), no more
    assert after is not None and differ * PAGE <= after <= (differ + 2) * PAGE
    assert all(fleet[s].active_version == "2.0.0" for s in fleet if s != off)
    # a page written after sharing is copied for its meter alone
    a, b = (fleet[s] for s in fleet.serials[:2])
    bank = a.layout["bank_b"].offset + 100
    assert a.flash.read(bank, 16) == b.flash.read(bank, 16)
    a.flash.flip_bits(bank, 0x01)
    assert fleet.private_bytes() == after + PAGE
    assert a.flash.read(bank, 1) != b.flash.read(bank, 1)
    b.power_cycle()
    assert b.active_version == "2.0.0"


@linux
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), block=st.integers(1, 4), seed=st.integers(0, 2**32),
       ops=st.lists(st.sampled_from(["broadcast", "share", "activate", "heartbeat",
                                     "advance", "flip", "cut", "power"]),
                    min_size=1, max_size=8))
def test_any_sharing_leaves_every_meter_as_its_twin(n: int, block: int, seed: int,
                                                    ops: list[str]) -> None:
    fleet = fleet_of(n, block=block)
    twins = twins_of(fleet)
    serials = fleet.serials
    loss = {s: (0.1 * (i + seed)) % 0.5 for i, s in enumerate(serials)}
    for k, op in enumerate(ops):
        victim = serials[(seed + k) % n]
        sides = ({s: fleet[s] for s in serials}, twins)
        if op == "share":
            fleet.share_identical()
        elif op == "broadcast":
            assert fleet.broadcast(FRAMES, loss=loss, seed=seed + k, max_rounds=4).sent == \
                one_by_one(twins, loss, seed + k, 4)
        elif op == "activate":
            got = {s: _plain(v) for s, v in fleet.activate().items()}
            assert got == _each(twins, "activate")
        elif op == "heartbeat":
            assert fleet.heartbeat() == _each(twins, "heartbeat")
        elif op == "advance":
            fleet.advance(700)
            for m in twins.values():
                m.advance(700)
        else:
            for meters in sides:
                m = meters[victim]
                if op == "flip":
                    m.flash.flip_bits(m.layout["bank_b"].offset + 64 * k, 0x04)
                elif op == "cut":
                    m.flash.cut_after(k * 7)
                elif not m.powered:
                    m.power_on()
                else:
                    m.power_off()
    fleet.share_identical()
    _same(fleet, twins)
