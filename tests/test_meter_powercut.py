"""Power-cut sweep in the MCUboot simulator's manner.

Count the flash operations of a clean update (download, verification,
activation, trial, confirm), then for every k cut the power at operation k
(with a torn write), power up, redo whatever the head-end would redo, and
check: the meter always runs a signed image, ends on the new one confirmed,
and never goes below the energy it had persisted before the cut.
"""

from __future__ import annotations

import contextlib

import pytest
from meterkit import MGMT, REFUSED, frames, meter, package

from meteremu._lowlevel.flash import Tear
from meteremu.device import BootState, MeterUnavailable

NEW = package(2)
STREAM = frames(NEW)
SIGNED = (package(1), NEW)


def _update(m) -> None:
    """What the head-end does, tolerant of a meter that dies under it."""
    for f in STREAM:
        m.receive(f)
        m.advance(1)
    with contextlib.suppress(REFUSED, MeterUnavailable):
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    m.advance(30)
    with contextlib.suppress(MeterUnavailable):
        m.heartbeat()
    m.advance(30)


def _runs_signed(m) -> None:
    bank = m.running_region
    assert bank is not None
    cells = m.flash.dump()[bank.offset : bank.end]
    assert any(cells.startswith(p) for p in SIGNED)


def _clean_ops() -> int:
    m = meter(load=3600)
    base = m.flash.ops_total
    _update(m)
    assert m.boot_state is BootState.CONFIRMED
    return m.flash.ops_total - base


OPS = _clean_ops()


@pytest.mark.parametrize("tear", ["prefix", "bits"])
def test_cut_at_every_flash_operation_of_an_update(tear: str) -> None:
    assert OPS > 50
    for k in range(OPS):
        m = meter(load=3600)
        m.flash.seed(k + 1)
        m.flash.set_tear(Tear[tear.upper()])
        m.flash.cut_after(k)
        _update(m)
        assert not m.powered, f"cut {k} never happened"
        floor = m.energy_floor_wh
        m.power_on()
        _runs_signed(m)
        assert m.energy_wh >= floor
        # The head-end retries; the update completes from where it was.
        for _ in range(2):
            if m.boot_state is not BootState.CONFIRMED:
                _update(m)
        _runs_signed(m)
        assert (m.boot_state, m.active_version) == (BootState.CONFIRMED, "2.0.0"), (
            k, m.audit_log[-5:])
        assert m.energy_wh >= floor


def test_a_heartbeat_cut_before_its_record_lands_does_not_report_a_confirm() -> None:
    m = meter()
    for f in frames(package(2)):
        m.receive(f)
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    m.flash.cut_after(0)  # the confirm's boot-control record is hit
    assert m.heartbeat() is False
    m.power_on()
    assert m.boot_state is BootState.TRIAL and m.anti_rollback_floor == 1


def test_a_heartbeat_cut_after_its_record_lands_reports_the_confirm() -> None:
    m = meter()
    for f in frames(package(2)):
        m.receive(f)
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    m.flash.cut_after(1)  # the record lands, the floor region's slot is hit
    assert m.heartbeat() is True
    m.power_on()
    assert m.boot_state is BootState.CONFIRMED and m.anti_rollback_floor == 2
