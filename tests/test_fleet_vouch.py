"""The rounds' vouching (csrc/sim/mt_fleet.h, "Vouching"): a duplicate of a
fragment the runner itself wrote is counted without reading the bank back.
That is only the same outcome while those cells hold exactly what was
written, so the meters that break it -- a bit stuck in the bank (the cells
never took the payload), a bit flipped between two broadcasts (the bytes
changed since) -- must still come out exactly as when driven one by one."""

from __future__ import annotations

import pytest
from fleetkit import FRAMES, UPDATE, fleet_of, one_by_one, picture, twins_of

from meteremu._lowlevel.fleet import RoundRunner, loss_threshold
from meteremu.device import VirtualMeter
from meteremu.hes import fragment_package

FRAGMENT = 128


def _stuck_one(m: VirtualMeter, fragment: int) -> None:
    """A bit stuck at 1 in the download bank, under a bit the payload has at 0:
    the write "succeeds" (a program never reports a stuck bit) but the cells
    differ, which the next duplicate finds."""
    body = UPDATE[fragment * FRAGMENT:(fragment + 1) * FRAGMENT]
    k = next(k for k, b in enumerate(body) if b != 0xFF)
    bit = next(1 << j for j in range(8) if not body[k] >> j & 1)
    m.flash.stick_bits(m.layout["bank_b"].offset + fragment * FRAGMENT + k, one=bit)


def _same(fleet: object, twins: dict[str, VirtualMeter], serials: list[str]) -> None:
    for s in serials:
        assert picture(fleet[s]) == picture(twins[s]), s  # type: ignore[index]


def test_meters_whose_bank_does_not_hold_what_was_written_still_equal_their_twins() -> None:
    fleet = fleet_of(8)
    twins = twins_of(fleet)
    serials = fleet.serials
    stuck, flipped = serials[1], serials[2]
    for meters in ({s: fleet[s] for s in serials}, twins):
        _stuck_one(meters[stuck], 3)
    loss = {s: 0.3 for s in serials}
    result = fleet.broadcast(FRAMES, loss=loss, seed=5, max_rounds=1)
    assert one_by_one(twins, loss, 5, 1) == result.sent
    _same(fleet, twins, serials)
    # between two broadcasts: a bit of a fragment it already holds flips
    held = next(i for i in range(len(FRAMES)) if i not in fleet[flipped].missing_fragments())
    at = fleet[flipped].layout["bank_b"].offset + held * FRAGMENT + 7
    for meters in ({s: fleet[s] for s in serials}, twins):
        meters[flipped].flash.flip_bits(at, 0x04)
    result = fleet.broadcast(FRAMES, loss=loss, seed=6, max_rounds=6)
    assert one_by_one(twins, loss, 6, 6) == result.sent
    _same(fleet, twins, serials)
    # both found their bank at odds with a duplicate: the test walked the path
    for s in (stuck, flipped):
        assert result.outcomes[s].kind != "complete", s
        assert any("CONFLICT" in k or "0x800" in k for k in fleet[s].counters), s
    assert result.outcomes[serials[0]].kind == "complete"


def test_a_vouching_runner_refuses_another_frame_for_a_fragment() -> None:
    runner = RoundRunner([1, 2], [loss_threshold(0.0)] * 2, vouch=len(FRAMES), bank_sectors=32)
    runner.run([None, None], FRAMES[:4] + FRAMES[-1:])
    runner.run([None, None], FRAMES[:4] + FRAMES[-1:])  # the same frames again: fine
    other = bytearray(FRAMES[2])
    other[-3] ^= 1  # (its FCS no longer holds: no fragment's, so not checked)
    runner.run([None, None], [FRAMES[0], bytes(other)])
    again = fragment_package(UPDATE[:-1] + bytes([UPDATE[-1] ^ 1]), session_id=0x5EED)
    with pytest.raises(ValueError, match=f"fragment {len(FRAMES) - 1}"):
        runner.run([None, None], [again[-1]])
    plain = RoundRunner([1, 2], [loss_threshold(0.0)] * 2)
    plain.run([None, None], FRAMES[:4])
    plain.run([None, None], [again[-1]])  # without vouching nothing is remembered
    with pytest.raises(ValueError, match="fragment count"):
        RoundRunner([1], [0], vouch=-1)
    with pytest.raises(ValueError, match="bank_sectors"):
        RoundRunner([1], [0], vouch=4, bank_sectors=-1)
