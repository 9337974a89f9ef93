"""meteremu.fleet and Python's cyclic collector: a fleet's build leaves its
meters out of the collector's sight, so no later collection walks them all;
a fleet closed or dropped hands them back, so its meters are freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from fleetkit import FACTORY, FRAMES, KEYS, fleet_of

from meteremu.errors import UsageError
from meteremu.fleet import Fleet
from meteremu.testing import HW_REVISION, VENDOR_ID


@pytest.fixture(autouse=True)
def _collector() -> Iterator[None]:
    """Each test starts with the collector on and nothing frozen, and leaves it so."""
    was = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if not was:
        gc.disable()


def _tracked(obj: object) -> bool:
    """Whether a collection of any generation would walk ``obj``."""
    return any(o is obj for o in gc.get_objects())


def test_a_built_fleet_is_out_of_the_collectors_sight() -> None:
    fleet = fleet_of(3)
    meters = [fleet[s] for s in fleet]
    assert gc.get_freeze_count() > 0
    assert not any(_tracked(m) for m in meters)
    assert not any(_tracked(m.download) for m in meters)
    fleet.close()


def test_driving_a_fleet_freezes_nothing_more() -> None:
    """Only the build freezes (its meters live as long as the fleet); what a
    broadcast, an activation or a heartbeat leaves behind is the collector's
    as usual, so a long campaign's own garbage is never held back."""
    fleet = fleet_of(2)
    frozen = gc.get_freeze_count()
    result = fleet.broadcast(FRAMES, seed=1)
    fleet.activate()
    fleet.heartbeat()
    fleet.advance(60)
    assert gc.get_freeze_count() <= frozen and gc.isenabled()  # (frozen ones may go)
    assert _tracked(result.outcomes)
    assert all(o.kind == "complete" for o in result.outcomes.values())
    fleet.close()


def test_a_closed_fleet_hands_its_meters_back_and_they_are_freed() -> None:
    fleet = fleet_of(2)
    fleet.broadcast(FRAMES, seed=1)
    gone = [weakref.ref(fleet[s]) for s in fleet]
    fleet.close()
    assert gc.get_freeze_count() == 0
    del fleet
    gc.collect()
    assert all(r() is None for r in gone)


def test_a_fleet_dropped_without_close_is_freed_all_the_same() -> None:
    fleet = fleet_of(2)
    gone = [weakref.ref(fleet[s]) for s in fleet]
    del fleet
    gc.collect()
    assert all(r() is None for r in gone)


def test_a_build_that_fails_freezes_nothing() -> None:
    """Bad input changes nothing: a refused build leaves no fleet to hand the
    frozen objects back, so it must not freeze any (the half-built meters
    would wait, uncollected, for some other fleet's close)."""
    with pytest.raises(UsageError):
        Fleet.build(["a", "a"], trusted_keys=[KEYS.point], factory_package=FACTORY,
                    vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    with pytest.raises(UsageError):
        fleet_of(2, serial_format="{:08d}{}")
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_caller_that_keeps_the_collector_off_is_left_alone() -> None:
    gc.disable()
    try:
        fleet = fleet_of(2)
        assert gc.get_freeze_count() == 0
        assert not gc.isenabled()
        fleet.close()
    finally:
        gc.enable()
