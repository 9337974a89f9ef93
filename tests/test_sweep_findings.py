"""Defects the extended power-cut sweep (tests/test_sweep.py) found, one
minimal regression test each.

Activation writes the boot-control record (new bank, trial) and only then
closes the download session (the closed-session ring, then the progress
record). A cut between the two leaves the activated session open on flash.
At the next power-up the meter closes a session still open for the bank that
runs now -- but an image that never comes up (crash-on-boot) does not run:
the bootloader's boot loop reverts, and the session is not closed:

* back to the previous bank: the session resumes for the other bank, is
  complete, and the meter reports it VERIFIED again -- it offers the head-end
  the package whose activation has just failed (0x800B), and its late frames
  are taken as duplicates instead of being dropped as closed;
* down to the golden image (the previous bank invalid too): the progress
  record names bank B while downloads now go to bank A, so the session is
  neither open nor remembered as closed, and a late frame of it opens a new
  download of the failed package.

The sweep reports these as "session ..., activated (record a -> b), is open
again (VERIFIED)" (scenarios crash, campaign) and "a late frame of a closed
session: written" (crash-golden).
"""

from __future__ import annotations

import contextlib

import pytest
from test_meter_helpers import frames, meter, package

from meteremu._lowlevel.boot import RECORD_SIZE, Bank, decode_record
from meteremu._lowlevel.boot import BootState as CoreState
from meteremu.device import BootState, CosemError, MeterUnavailable, Receipt, VirtualMeter

UPDATE = "0.0.96.10.2.255"
S = 0x5E55_0001
CRASH = package(4, behaviour=2)  # crash-on-boot: every boot of it fails


def _verified_crash_image(rot: bool) -> VirtualMeter:
    m = meter()
    for f in frames(CRASH, S):
        m.receive(f)
    assert m.boot_state is BootState.VERIFIED
    if rot:  # the bank the meter would go back to is invalid too: golden
        m.flash.flip_bits(m.layout["bank_a"].offset + 300, 0x10)
    return m


def _activation_on_flash(m: VirtualMeter) -> bool:
    """A boot-control record naming bank B on trial is on flash: the
    activation's record write landed before the cut."""
    cells = m.flash.dump()
    for name in ("boot0", "boot1"):
        r = m.layout[name]
        for off in range(r.offset, r.end, RECORD_SIZE):
            rec = decode_record(cells[off : off + RECORD_SIZE])
            if rec is not None and rec.active is Bank.B and rec.state is CoreState.TRIAL:
                return True
    return False


@pytest.mark.parametrize("rot", [False, True], ids=["back-to-A", "back-to-golden"])
def test_a_cut_in_the_activation_of_an_image_that_never_comes_up_closes_its_session(
        rot: bool) -> None:
    m = _verified_crash_image(rot)
    ops = m.flash.ops_total
    with pytest.raises(CosemError):  # 0x800B: the new image never came up
        m.action(UPDATE, 1, True)
    ops = m.flash.ops_total - ops
    late = frames(CRASH, S)[3]  # a late frame of the activated session
    checked = 0
    for n in range(ops):
        m = _verified_crash_image(rot)
        m.flash.cut_after(n)
        with contextlib.suppress(CosemError, MeterUnavailable):
            m.action(UPDATE, 1, True)
        m.power_on()
        if not _activation_on_flash(m):
            continue  # the cut came before the activation: nothing to close yet
        checked += 1
        assert (m.boot_state, m.active_bank) == (
            BootState.REVERTED, "golden" if rot else "A"), f"cut after {n} ops"
        assert m.download_session() is None, (
            f"cut after {n} ops: the activated session {S:#x} is open again, "
            f"{m.boot_state.name}")
        assert m.receive(late) is Receipt.DROPPED_CLOSED, f"cut after {n} ops"
    assert checked
