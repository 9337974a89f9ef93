"""meteremu.fleet: a fleet equals the same meters driven one by one.

The twin test builds a small fleet and, beside it, the same meters made the
ordinary way (each ``VirtualMeter`` provisioned on its own), checks they
start equal, then drives both through lossy broadcast rounds with faults injected
into some meters: the fleet with ``Fleet.broadcast`` (one C call per round),
the twins with ``receive_many`` of the frames each one's :class:`Link`
hears. Every meter must end byte for byte the same: flash, wear, receipts
and counters, boot state and record, version, audit log, events.
"""

from __future__ import annotations

import pytest
from fleetkit import FACTORY, FRAMES, KEYS, N, faults, fleet_of, one_by_one, picture, twins_of
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.image import ImageCache, check_package
from meteremu.device import Battery, VirtualMeter
from meteremu.errors import SIGNATURE_MISMATCH, UsageError
from meteremu.fleet import Fleet, MeterSpec
from meteremu.fleet.memory import SlotPool
from meteremu.hes import fragment_package
from meteremu.testing import HW_REVISION, VENDOR_ID, make_firmware, make_keys, make_package


def test_a_fleet_equals_the_same_meters_driven_one_by_one() -> None:
    fleet = fleet_of()
    twins = twins_of(fleet)
    serials = fleet.serials
    for s in serials:  # built: the same meter, events and all
        assert picture(fleet[s]) == picture(twins[s]), s
    loss = {s: (0.05 * i) % 0.4 for i, s in enumerate(serials)}
    faults({s: fleet[s] for s in serials}, serials)
    faults(twins, serials)
    result = fleet.broadcast(FRAMES, loss=loss, seed=7, max_rounds=12)
    sent = one_by_one(twins, loss, 7, 12)
    assert result.sent == sent
    for s in serials:
        assert picture(fleet[s]) == picture(twins[s]), s
    # then power back, a second broadcast, activation, heartbeat, time
    for meters in ({s: fleet[s] for s in serials}, twins):
        for m in meters.values():
            m.power_on()
    result = fleet.broadcast(FRAMES, loss=loss, seed=8, max_rounds=12)
    sent = one_by_one(twins, loss, 8, 12)
    assert result.sent == sent
    got = fleet.activate()
    want = {s: twins[s].activate() for s in serials}
    assert got == want
    assert fleet.heartbeat(serials[::2]) == {s: twins[s].heartbeat() for s in serials[::2]}
    fleet.advance(1000)
    for m in twins.values():
        m.advance(1000)
    for s in serials:
        assert picture(fleet[s]) == picture(twins[s]), s
    versions = [fleet[s].active_version for s in serials]
    assert versions[::2].count("2.0.0") >= N // 2 - 2  # confirmed by the heartbeat
    assert versions[1::2].count("1.0.0") >= N // 2 - 2  # no heartbeat: reverted


def test_outcomes_say_complete_missing_and_refused() -> None:
    fleet = fleet_of(4)
    s = fleet.serials
    bad = make_package(make_firmware(6000, seed=2), make_keys(1), version="2.0.0",
                       security_counter=2, fragment_size=128)  # signed by a stranger
    fleet[s[3]].power_off()
    result = fleet.broadcast(FRAMES, loss={s[1]: 0.2}, seed=1, ids=s[:2] + s[3:])
    assert result.outcomes[s[0]].kind == "complete"
    assert result.outcomes[s[1]].kind == "complete" and result.rounds >= 2
    assert result.outcomes[s[3]].kind == "missing"
    assert result.outcomes[s[3]].missing == len(FRAMES)
    assert s[2] not in result.outcomes
    other = fleet.broadcast(fragment_package(bad, session_id=0xBAD), ids=[s[2]])
    assert other.outcomes[s[2]].kind == "refused"
    assert other.outcomes[s[2]].code == SIGNATURE_MISMATCH.code  # a key it does not trust


def test_the_same_seed_gives_the_samefleet_of() -> None:
    pictures = []
    for seed in (3, 3, 4):
        fleet = fleet_of(6)
        result = fleet.broadcast(FRAMES, loss=0.3, seed=seed)
        pictures.append((result.sent, result.outcomes,
                         [picture(fleet[s]) for s in fleet]))
    assert pictures[0] == pictures[1]
    assert pictures[0][2] != pictures[2][2]  # another seed, other losses


def test_faults_stay_in_their_meter() -> None:
    fleet = fleet_of(4)
    a, b, c, d = (fleet[s] for s in fleet.serials)
    image = a.layout["bank_a"].offset + 300
    b.flash.flip_bits(image, 0x01)  # one bit of b's running image
    c.flash.cut_after(0)
    c.checkpoint()  # a torn write: the cut hits it
    assert not c.powered
    assert a.flash.dump() == d.flash.dump()  # a and d saw none of it
    assert a.flash.read(image, 1) != b.flash.read(image, 1)
    for m in (a, b, c, d):
        m.power_cycle()
    # b's image fails verification at boot, the copied check notwithstanding:
    # the bootloader falls back to the golden image; a and d boot bank A
    assert b.active_bank == "golden"
    assert any("ROLLBACK" in line or "0x8004" in line or "0x8005" in line
               for line in b.audit_log), b.audit_log
    assert a.active_bank == d.active_bank == "A"
    assert a.flash.dump() == d.flash.dump()


def test_a_cloned_meter_never_skips_its_image_check() -> None:
    """The template's check is adopted by content: the first boot of an intact
    meter spares ECDSA; a meter whose image differs in one bit -- flipped in
    its slot before the meter was made, so no write generation saw it -- runs
    the whole check, fails it and boots the golden image."""
    layout = fleet_of(1)["MTR00000000"].layout
    cache = ImageCache()
    check_package(FACTORY, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                  bank_size=layout.geometry.bank_size, trusted_keys=[KEYS.point], cache=cache)
    state = VirtualMeter.factory_state(vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                                       trusted_keys=[KEYS.point], factory_package=FACTORY)
    pool = SlotPool(layout, state, 2, cache)
    meters = []
    for flip in (False, True):
        storage = pool.take()
        if flip:
            cells = memoryview(storage.cells)
            at = layout["bank_a"].offset + 4000
            cells[at] ^= 0x80
            cells.release()
        meters.append(VirtualMeter(serial=f"X{flip}", vendor_id=VENDOR_ID,
                                   hw_revision=HW_REVISION, trusted_keys=[KEYS.point],
                                   factory_package=FACTORY, state=storage))
    intact, flipped = meters
    assert intact.active_bank == "A"
    assert intact.boot.loader.checks(0)[1] == 0  # no ECDSA: the template's check
    assert flipped.active_bank == "golden"
    assert flipped.boot.loader.checks(0)[0] >= 1  # it read the image, and failed
    assert any("ROLLBACK" in line for line in flipped.audit_log), flipped.audit_log


def test_bad_input_is_refused_and_changes_nothing() -> None:
    with pytest.raises(UsageError):
        Fleet.build([MeterSpec("a")], trusted_keys=[KEYS.point])  # no identity
    with pytest.raises(UsageError):
        fleet_of(-1)
    with pytest.raises(UsageError):
        fleet_of(2, state="somewhere")
    with pytest.raises(UsageError):
        Fleet.build(["a", "a"], trusted_keys=[KEYS.point], factory_package=FACTORY,
                    vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    fleet = fleet_of(2)
    for s in fleet:
        fleet[s].drain_events()
    before = [picture(fleet[s]) for s in fleet]
    with pytest.raises(UsageError):
        fleet.broadcast(FRAMES, loss=1.5)
    with pytest.raises(UsageError):
        fleet.broadcast(FRAMES[:-1])
    with pytest.raises(UsageError):
        fleet.broadcast([])
    with pytest.raises(UsageError):
        fleet.broadcast(FRAMES, max_rounds=0)
    # not numbers, or not whole ones: each a UsageError naming the argument
    for kw in ({"loss": "0.1"}, {"loss": None}, {"loss": True}, {"seed": 1.5},
               {"seed": "7"}, {"seed": None}, {"max_rounds": 2.5}, {"max_rounds": True},
               {"max_rounds": "3"}):
        with pytest.raises(UsageError, match=next(iter(kw))):
            fleet.broadcast(FRAMES, **kw)  # type: ignore[arg-type]
    for seconds in (float("nan"), float("inf"), "5", None):
        with pytest.raises(ValueError, match="finite number"):
            fleet.advance(seconds)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        fleet["nope"]
    assert [picture(fleet[s]) for s in fleet] == before


def test_a_serial_named_twice_or_unknown_is_refused_and_changes_nothing() -> None:
    """A head-end that names a meter twice would feed it every frame twice in
    one round, or activate it twice and be told it failed (the second call's
    0x8000 over the first one's success); a loss for a serial the fleet does
    not hold would be dropped silently (that meter hears everything)."""
    fleet = fleet_of(3)
    s = fleet.serials
    for m in fleet:
        fleet[m].drain_events()
    before = [picture(fleet[m]) for m in fleet]
    for call in (lambda: fleet.broadcast(FRAMES, ids=[s[0], s[1], s[0]]),
                 lambda: fleet.activate(ids=[s[2], s[2]]),
                 lambda: fleet.heartbeat(ids=[s[1], s[1]]),
                 lambda: fleet.advance(10, ids=[s[0], s[0]]),
                 lambda: fleet.activate(ids=s[0]),  # a serial, not a list of them
                 lambda: fleet.broadcast(FRAMES, loss={s[0]: 0.2, "MTR99999999": 0.5})):
        with pytest.raises(UsageError, match=r"twice|not in the fleet|not one serial"):
            call()
    assert [picture(fleet[m]) for m in fleet] == before
    with pytest.raises(UsageError, match="serial_format"):
        fleet_of(2, serial_format="{:d}{}")


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32),
       losses=st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), min_size=5, max_size=5),
       cuts=st.lists(st.one_of(st.none(), st.integers(0, 120)), min_size=5, max_size=5),
       rounds=st.integers(1, 6))
def test_any_fleet_equals_its_metersone_by_one(n: int, seed: int, losses: list[float],
                                                 cuts: list[int | None], rounds: int) -> None:
    """The twin test as a property: any size, losses, power cuts and round limit."""
    fleet = fleet_of(n)
    twins = twins_of(fleet)
    serials = fleet.serials
    loss = dict(zip(serials, losses, strict=False))
    for i, s in enumerate(serials):
        for m in (fleet[s], twins[s]):
            m.drain_events()
            if cuts[i] is not None:
                m.flash.cut_after(cuts[i])
    result = fleet.broadcast(FRAMES, loss=loss, seed=seed, max_rounds=rounds)
    assert result.sent == one_by_one(twins, loss, seed, rounds)
    for s in serials:
        assert picture(fleet[s]) == picture(twins[s]), s


def test_battery_meters_take_the_per_frame_way_and_still_equal() -> None:
    """Battery meters pay for every frame, so the C core never feeds them: the
    fleet hands their frames to receive_many; some run out mid-download."""
    battery = Battery(reserve_mj=1_000_000 + 150, minimum_mj=1_000_000, rx_frame_mj=3)
    fleet = fleet_of(6, battery=battery)
    twins = {s: VirtualMeter(serial=s, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                             trusted_keys=[KEYS.point], factory_package=FACTORY,
                             battery=battery) for s in fleet}
    for s in fleet:
        assert picture(fleet[s]) == picture(twins[s])
    loss = {s: 0.1 * i for i, s in enumerate(fleet)}
    result = fleet.broadcast(FRAMES, loss=loss, seed=5, max_rounds=4)
    assert result.sent == one_by_one(twins, loss, 5, 4)
    for s in fleet:
        assert picture(fleet[s]) == picture(twins[s]), s
    assert result.count("complete") < len(fleet)  # 150 mJ is 50 frames: too few


def test_a_fleet_of_two_kinds_shares_within_each_kind() -> None:
    other = make_package(make_firmware(3000, seed=5), KEYS, version="1.0.1",
                         security_counter=1, hw_revision=HW_REVISION + 1)
    specs = [MeterSpec("a1"), MeterSpec("b1", hw_revision=HW_REVISION + 1, factory_package=other),
             MeterSpec("a2"), MeterSpec("b2", hw_revision=HW_REVISION + 1, factory_package=other)]
    fleet = Fleet.build(specs, trusted_keys=[KEYS.point], factory_package=FACTORY,
                        vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    assert fleet.serials == ["a1", "b1", "a2", "b2"]
    assert len(fleet._pools) == 2
    assert fleet["a2"].active_version == "1.0.0" and fleet["b2"].active_version == "1.0.1"
    alone = VirtualMeter(serial="b2", vendor_id=VENDOR_ID, hw_revision=HW_REVISION + 1,
                         trusted_keys=[KEYS.point], factory_package=other)
    assert picture(fleet["b2"]) == picture(alone)
    # the update is for revision HW_REVISION: the others refuse it
    result = fleet.broadcast(FRAMES, seed=1)
    assert {s: o.kind for s, o in result.outcomes.items()} == {
        "a1": "complete", "b1": "refused", "a2": "complete", "b2": "refused"}


def test_a_session_the_meter_activated_is_complete_there_and_a_refusal_names_its_own_code(
        ) -> None:
    """Broadcast again what the meters already activated: the session is closed
    on them as activated, so they take no frame of it and need none -- complete,
    not refused. A meter that refused an earlier package and then activated
    this one is complete too, without the old refusal's code; a session the
    meter closed as refused keeps the code of that refusal."""
    fleet = fleet_of(3)
    s = fleet.serials
    forged = make_package(make_firmware(6000, seed=2), make_keys(9), version="2.0.0",
                          security_counter=2, fragment_size=128)
    first = fleet.broadcast(fragment_package(forged, session_id=0xBAD), ids=[s[0]])
    assert first.outcomes[s[0]].kind == "refused"
    assert first.outcomes[s[0]].code == SIGNATURE_MISMATCH.code
    assert fleet.broadcast(FRAMES, seed=1).count("complete") == 3
    assert all(v is None for v in fleet.activate(ids=s[:2]).values())
    assert all(fleet.heartbeat(ids=s[:1]).values())
    again = fleet.broadcast(FRAMES, seed=2, max_rounds=3)
    assert {m: (o.kind, o.code) for m, o in again.outcomes.items()} == {
        s[0]: ("complete", None), s[1]: ("complete", None), s[2]: ("complete", None)}
    assert again.rounds == 1  # nobody waits for anything
    refused = fleet.broadcast(fragment_package(forged, session_id=0xBAD), ids=[s[0]])
    assert refused.outcomes[s[0]].kind == "refused"
    assert refused.outcomes[s[0]].code == SIGNATURE_MISMATCH.code


def test_an_empty_fleet() -> None:
    fleet = fleet_of(0)
    assert len(fleet) == 0
    result = fleet.broadcast(FRAMES)
    assert result.outcomes == {} and result.rounds == 1
    assert fleet.activate() == {} and fleet.heartbeat() == {}
