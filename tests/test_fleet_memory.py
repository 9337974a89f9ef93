"""meteremu.fleet: meters share their template's flash until they write it; the C
round draws each meter's link exactly as the Python reference does."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meteremu.fleet.broadcast as broadcast
from meteremu._lowlevel.fleet import LOSS_ONE, RoundRunner, loss_threshold
from meteremu.fleet import Fleet, Link, link_seed
from meteremu.fleet.memory import cells_address, populate
from meteremu.hes import fragment_package
from meteremu.testing import HW_REVISION, VENDOR_ID, make_firmware, make_keys, make_package

KEYS = make_keys(0)
FACTORY = make_package(make_firmware(4096, seed=1), KEYS, version="1.0.0", security_counter=1)
UPDATE = make_package(make_firmware(16000, seed=2), KEYS, version="2.0.0", security_counter=2,
                      fragment_size=128)
PAGE = 4096

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")


def _fleet(n: int, **kw: object) -> Fleet:
    return Fleet.build(n, trusted_keys=[KEYS.point], factory_package=FACTORY,
                       vendor_id=VENDOR_ID, hw_revision=HW_REVISION, **kw)


@linux
def test_meters_cost_the_sectors_they_write() -> None:
    n = 48
    fleet = _fleet(n, block=16)
    flash = fleet[fleet.serials[0]].layout.size
    built = fleet.private_bytes()
    assert built is not None
    # power-up wrote one audit record: one sector (page) each, of 113
    assert built <= n * 2 * PAGE < n * flash // 50
    fleet.broadcast(fragment_package(UPDATE, session_id=1), loss=0.1, seed=2)
    after = fleet.private_bytes()
    assert after is not None
    wrote = -(-len(UPDATE) // PAGE) + 4  # the bank's sectors, progress, audit, metrology, ...
    assert after <= n * wrote * PAGE < n * flash // 4
    for s in fleet:  # every meter still reads its own, whole flash
        m = fleet[s]
        assert m.inactive_package_sha256() != b""


@linux
def test_populating_copies_whole_pages_and_changes_no_byte() -> None:
    fleet = _fleet(4, block=4)
    a, b = (fleet[s] for s in fleet.serials[:2])
    bank = a.layout["bank_b"].offset
    at = cells_address(a._storage)
    dumps = [fleet[s].flash.dump() for s in fleet]
    before = fleet.private_bytes()
    assert before is not None
    assert populate(at + bank + 1, 3 * PAGE)  # whole pages inside: two
    assert fleet.private_bytes() == before + 2 * PAGE
    assert [fleet[s].flash.dump() for s in fleet] == dumps
    assert not populate(at + bank + 1, PAGE - 1)  # no whole page: nothing
    a.flash.program(bank + PAGE, b"\x00" * 8)  # a populated page is the meter's alone
    assert b.flash.read(bank + PAGE, 8) == b"\xff" * 8
    assert fleet.private_bytes() == before + 2 * PAGE


@linux
def test_a_broadcast_populates_only_meters_that_take_it() -> None:
    fleet = _fleet(4, block=4)
    first, off = fleet.serials[0], fleet.serials[3]
    fleet[off].power_off()
    frames = fragment_package(UPDATE, session_id=7)
    populated = []
    real = broadcast.populate

    def spy(addr: int, length: int) -> bool:
        populated.append((addr, length))
        return real(addr, length)

    broadcast.populate = spy  # type: ignore[assignment]
    try:
        before = fleet.private_bytes()
        fleet.broadcast(frames, loss=1.0, ids=[first], max_rounds=2)  # hears nothing
        fleet.broadcast(frames, loss=0.0, ids=[off])  # off: left alone
        assert populated == [] and fleet.private_bytes() == before
        fleet.broadcast(frames, loss=0.0, ids=[first])  # takes it: its bank, once
        bank = cells_address(fleet[first]._storage) + fleet[first].layout["bank_b"].offset
        assert populated == [(bank, len(UPDATE))]
        fleet.broadcast(frames, loss=0.0, ids=[first])  # complete there: not again
        assert populated == [(bank, len(UPDATE))]
    finally:
        broadcast.populate = real  # type: ignore[assignment]
    assert fleet[first].inactive_package_sha256() != b""


@linux
def test_a_written_sector_is_private_to_its_meter() -> None:
    fleet = _fleet(8, block=8)
    a, b = (fleet[s] for s in fleet.serials[:2])
    golden = a.layout["golden"].offset
    before = fleet.private_bytes()
    assert before is not None
    a.flash.flip_bits(golden + 10, 0xFF)  # one page of a's golden region
    assert fleet.private_bytes() == before + PAGE
    assert a.flash.read(golden + 10, 1) != b.flash.read(golden + 10, 1)
    assert b.flash.dump() == fleet[fleet.serials[2]].flash.dump()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), losses=st.lists(st.floats(0, 1), min_size=1, max_size=6),
       frames=st.integers(0, 40))
def test_the_c_round_draws_each_link_as_the_reference(seed: int, losses: list[float],
                                                      frames: int) -> None:
    serials = [f"M{i}" for i in range(len(losses))]
    runner = RoundRunner([link_seed(seed, s) for s in serials],
                         [loss_threshold(p) for p in losses])
    links = [Link(seed, s, p) for s, p in zip(serials, losses, strict=True)]
    sent = [bytes([k]) * 5 for k in range(frames)]
    for _ in range(2):  # the state carries over from round to round
        res = runner.run([None] * len(serials), sent)
        for i, link in enumerate(links):
            heard = res.heard_by(i)
            assert [sent[k] for k in heard] == link.heard(sent)
            assert res.first_heard(i) == (heard[0] if heard else None)
            assert runner.state(i) == link.state


def test_loss_one_loses_everything_and_zero_nothing() -> None:
    runner = RoundRunner([link_seed(0, "a"), link_seed(0, "b")], [0, LOSS_ONE])
    res = runner.run([None, None], [b"x"] * 100)
    assert res.heard_by(0) == list(range(100)) and res.heard_by(1) == []


def test_bad_links_are_refused() -> None:
    with pytest.raises(ValueError):
        RoundRunner([0], [0])  # a zero xorshift state
    with pytest.raises(ValueError):
        RoundRunner([1], [LOSS_ONE + 1])
    with pytest.raises(ValueError):
        loss_threshold(-0.1)
    runner = RoundRunner([1], [0])
    with pytest.raises(ValueError):
        runner.run([None, None], [b"x"])
    assert runner.state(0) == 1  # nothing drawn
