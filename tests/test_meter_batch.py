"""VirtualMeter.receive_many: a burst of frames, exactly as receive() frame by frame.

Twin meters, built alike, get the same frames: one through ``receive_many``,
the other through ``receive`` one at a time. Whatever the stream holds --
loss, reordering, duplicates, damaged frames, another session, a package for
another vendor, a conflicting duplicate, a power cut at any flash operation --
both must end with the same receipts, counters, audit log, boot state and
flash cells.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meterkit import frames, grep, meter, package

from meteremu._lowlevel.flash import Tear
from meteremu._lowlevel.reasm import (
    Frame,
    PackageRefused,
    Reassembler,
    decode_frame,
    encode_frame,
    frame_fields,
)
from meteremu.device import Battery, BootState, Receipt
from meteremu.hes import LossyLink, deliver

SESSION, OTHER, FOREIGN = 0x5EED, 0x0B5E, 0xFAB0
FOREIGN_VENDOR = 0x12345678


def _state(m) -> dict[str, object]:
    return {
        "counters": dict(m.counters),
        "audit": m.audit_log,
        "boot": m.boot_state,
        "flash": m.flash.dump(),
        "wear": m.flash.wear_counters(),
        "ops": m.flash.ops_total,
        "powered": m.powered,
        "progress": m.download_progress(),
        "missing": m.missing_fragments(),
        "version": m.active_version,
        "lcd": m.lcd,
        "energy": m.energy_wh,
    }


def _twins(**kw: object):
    return meter(**kw), meter(**kw)


def _feed(one, many, burst: list[bytes]) -> list[Receipt]:
    """The burst to both twins; their receipts and states must agree."""
    expected = [one.receive(f) for f in burst]
    got = many.receive_many(burst)
    assert got == expected
    assert _state(many) == _state(one)
    return got


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Frames the C core took per ``Reassembler.frames`` call (so a test can
    see the runs did the work, not the per-frame way)."""
    taken: list[int] = []
    real = Reassembler.frames

    def spy(self: Reassembler, run):  # type: ignore[no-untyped-def]
        outcomes, error = real(self, run)
        taken.append(len(outcomes))
        return outcomes, error

    monkeypatch.setattr(Reassembler, "frames", spy)
    return taken


# --------------------------------------------------------------------------- examples

def test_a_clean_burst_goes_to_the_c_core_in_runs(runs: list[int]) -> None:
    stream = frames(package(2))
    one, many = _twins()
    got = _feed(one, many, stream)
    assert got == [Receipt.WRITTEN] * len(stream)
    assert many.boot_state is BootState.VERIFIED
    # the first frame opens the session the per-frame way, the rest is one run
    assert runs == [len(stream) - 1]
    assert grep(many, "FOTA_OK VERIFIED")


def test_completion_mid_burst_runs_acceptance_at_that_frame(runs: list[int]) -> None:
    stream = frames(package(2))
    one, many = _twins()
    burst = stream + stream[:3]  # three late duplicates after the last fragment
    got = _feed(one, many, burst)
    assert got == [Receipt.WRITTEN] * len(stream) + [Receipt.DUPLICATE] * 3
    assert many.boot_state is BootState.VERIFIED
    log = many.audit_log
    complete = next(i for i, line in enumerate(log) if "DOWNLOAD_COMPLETE" in line)
    assert "FOTA_OK VERIFIED" in log[complete + 1]
    # the header fragment went the per-frame way; the duplicates after the
    # completion went to the C core too (a verified download stores its own
    # frames as duplicates, as the per-frame way does)
    assert sum(runs) == len(stream) - 1 + 3


def test_a_power_cut_mid_burst_drops_the_rest(runs: list[int]) -> None:
    stream = frames(package(2))
    one, many = _twins()
    _feed(one, many, stream[:4])
    for m in (one, many):
        m.flash.set_tear(Tear.PREFIX, 5)
        m.flash.cut_after(7)  # a few fragments on, inside a payload or a mark
    got = _feed(one, many, stream[4:])
    cut = got.index(Receipt.DROPPED_UNAVAILABLE)
    assert 0 < cut < 8
    assert got[cut:] == [Receipt.DROPPED_UNAVAILABLE] * (len(got) - cut)
    assert not many.powered and many.counters["power_lost"] == 1
    for m in (one, many):
        m.power_on()
    _feed(one, many, stream)  # the download resumes from flash and completes
    assert many.boot_state is BootState.VERIFIED


def test_a_conflicting_duplicate_mid_burst_stops_the_download() -> None:
    pkg = package(2)
    stream = frames(pkg)
    bad = bytearray(pkg[5 * 128 : 6 * 128])
    bad[17] ^= 0x20
    liar = encode_frame(Frame(SESSION, len(pkg), 128, 5, len(stream), bytes(bad)))
    one, many = _twins()
    got = _feed(one, many, [*stream[:8], liar, *stream[8:]])
    assert got[8] is Receipt.REFUSED
    assert set(got[9:]) == {Receipt.DROPPED_CLOSED}  # late frames of a stopped session
    assert many.boot_state is BootState.FAILED
    assert grep(many, "fragment=5")


def test_hostile_frames_between_good_ones() -> None:
    pkg = package(2)
    stream = frames(pkg)
    damaged = bytearray(stream[3])
    damaged[40] ^= 1
    # another session's non-header frames: they may not disturb a download under way
    burst = [*stream[:3], bytes(damaged), b"", b"\xf1" * 30, *frames(pkg, OTHER)[1:3]]
    burst += stream[3:6] + frames(package(2, vendor_id=FOREIGN_VENDOR), FOREIGN)[:1]
    one, many = _twins()
    got = _feed(one, many, burst + stream[6:])
    assert got[3:6] == [Receipt.DROPPED_FRAME] * 3
    assert got[6:8] == [Receipt.DROPPED_SESSION] * 2
    assert many.boot_state is BootState.VERIFIED


def test_a_battery_meter_takes_every_frame_the_per_frame_way(runs: list[int]) -> None:
    stream = frames(package(2))
    battery = Battery(reserve_mj=10_000, minimum_mj=100, rx_frame_mj=10)
    one, many = _twins(battery=battery)
    _feed(one, many, stream + stream[:2])
    assert runs == []
    assert many.battery_mj == one.battery_mj < 10_000


def test_a_closed_meter_drops_every_frame_of_a_burst(runs: list[int]) -> None:
    stream = frames(package(2))
    one, many = _twins()
    _feed(one, many, stream[:5])  # a download under way
    one.close()
    many.close()
    expected = [one.receive(f) for f in stream[5:]]
    assert many.receive_many(stream[5:]) == expected
    assert set(expected) == {Receipt.DROPPED_UNAVAILABLE}
    assert runs == [4]


def test_any_iterable_of_bytes_like_frames() -> None:
    stream = frames(package(2))
    one, many = _twins()
    expected = [one.receive(f) for f in stream]
    views = (memoryview(f) if i % 2 else bytearray(f) for i, f in enumerate(stream))
    assert many.receive_many(views) == expected
    assert _state(many) == _state(one)
    assert many.receive_many([]) == []


# --------------------------------------------------------------------------- property

@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[list[bytes]], int | None, Tear, list[int]]:
    """Bursts of frames from a lossy, reordering, duplicating radio with
    hostile frames mixed in (damaged, another session, a package for another
    vendor, garbage, perhaps one conflicting duplicate); an optional power
    cut after k flash operations; the virtual seconds after each burst."""
    fs = draw(st.sampled_from([16, 64, 128]))
    pkg = package(2, fragment_size=fs)
    good = frames(pkg, SESSION, fs)
    other = frames(pkg, OTHER, fs)
    foreign = frames(package(2, fragment_size=fs, vendor_id=FOREIGN_VENDOR), FOREIGN, fs)
    rnd = random.Random(draw(st.integers(0, 2**32)))  # the bulk of the choices
    loss = draw(st.sampled_from([0.0, 0.1, 0.4]))
    hostile = draw(st.sampled_from([0.0, 0.05, 0.3]))

    def garble(frame: bytes) -> bytes:
        kind = rnd.randrange(4)
        if kind == 0:  # bits flipped on the air
            b = bytearray(frame)
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
            return bytes(b)
        if kind == 1:
            return rnd.choice(other)
        if kind == 2:
            return rnd.choice(foreign)
        return rnd.randbytes(rnd.randrange(40))

    stream: list[bytes] = []
    if draw(st.booleans()):  # the foreign package first: refused at its header
        stream += foreign[: 128 // fs + 1]
    for _ in range(draw(st.integers(1, 3))):  # a broadcast, then whole re-broadcasts
        burst: list[bytes] = []
        for frame in good:
            if rnd.random() < loss:
                continue
            burst.append(frame)
            if rnd.random() < 0.1:
                burst.append(frame)
            if rnd.random() < hostile:
                burst.append(garble(frame))
        if draw(st.booleans()):
            rnd.shuffle(burst)
        stream += burst
    if draw(st.booleans()):  # one duplicate with other content
        i = rnd.randrange(len(good))
        payload = bytearray(pkg[i * fs : (i + 1) * fs])
        payload[rnd.randrange(len(payload))] ^= 0x01
        liar = encode_frame(Frame(SESSION, len(pkg), fs, i, len(good), bytes(payload)))
        stream.insert(rnd.randrange(len(stream) + 1), liar)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=3)))
    bursts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    cut = draw(st.one_of(st.none(), st.integers(0, 2 * len(good) + 20)))
    tear = draw(st.sampled_from(list(Tear)))
    waits = draw(st.lists(st.integers(0, 1200), min_size=len(bursts), max_size=len(bursts)))
    return bursts, cut, tear, waits


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_receive_many_equals_receive_frame_by_frame(case) -> None:
    bursts, cut, tear, waits = case
    one, many = _twins()
    if cut is not None:
        for m in (one, many):
            m.flash.seed(cut + 1)
            m.flash.set_tear(tear)
            m.flash.cut_after(cut)
    for burst, wait in zip(bursts, waits, strict=True):
        _feed(one, many, burst)
        for m in (one, many):
            m.advance(wait)
            if not m.powered:
                m.power_on()
        assert _state(many) == _state(one)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_receive_many_equals_receive_frame_by_frame_long(case) -> None:
    test_receive_many_equals_receive_frame_by_frame.hypothesis.inner_test(case)


def test_the_property_sees_runs_and_their_stops(runs: list[int]) -> None:
    """The scenarios exercise what the property is about: long runs in C, and
    runs that end at every kind of frame that needs the per-frame way."""
    rnd = random.Random(7)
    pkg = package(2)
    stream = frames(pkg)
    one, many = _twins()
    burst = list(stream)
    rnd.shuffle(burst)
    burst.insert(10, b"garbage")
    burst.insert(20, frames(pkg, OTHER)[3])
    _feed(one, many, burst)
    assert max(runs) > 5 and len([r for r in runs if r]) >= 3


# --------------------------------------------------------------------------- around it

class _OneByOne:
    """A meter seen without its receive_many: deliver falls back to receive."""

    def __init__(self, m) -> None:  # type: ignore[no-untyped-def]
        self.m = m

    def receive(self, frame: bytes) -> object:
        return self.m.receive(frame)

    def missing_fragments(self) -> list[int]:
        return self.m.missing_fragments()

    def download_progress(self) -> tuple[int, int]:
        return self.m.download_progress()


@pytest.mark.parametrize("seed", [1, 2])
def test_deliver_hands_each_round_over_at_once_with_the_same_result(
        seed: int, runs: list[int]) -> None:
    stream = frames(package(2))
    one, many = _twins()
    lossy = {"loss": 0.2, "duplicate": 0.1, "corrupt": 0.05, "reorder": 0.2}
    d_one = deliver(_OneByOne(one), stream, LossyLink(seed, **lossy))
    assert runs == []
    d_many = deliver(many, stream, LossyLink(seed, **lossy))
    assert d_many == d_one and d_many.complete
    assert runs  # the rounds went to the C core in runs
    assert _state(many) == _state(one)


def test_deliver_with_airtime_still_moves_the_clock_frame_by_frame(runs: list[int]) -> None:
    stream = frames(package(2))
    one, many = _twins()
    for f in stream:
        one.receive(f)
        one.advance(0.5)
    deliver(many, stream, airtime=0.5)
    assert runs == []
    assert _state(many) == _state(one) and many.now == one.now


@settings(max_examples=200)
@given(st.binary(max_size=60) | st.builds(
    lambda sid, i, p: encode_frame(Frame(sid, 4096, 128, i % 32, 32, p)),
    st.integers(0, 2**32 - 1), st.integers(0, 31), st.binary(max_size=40)))
def test_frame_fields_is_decode_frame_as_a_tuple(data: bytes) -> None:
    try:
        f = decode_frame(data)
    except PackageRefused as exc:
        with pytest.raises(PackageRefused) as got:
            frame_fields(data)
        assert got.value.err == exc.err
        return
    assert frame_fields(data) == (f.session_id, f.package_size, f.fragment_size,
                                  f.fragment_index, f.fragment_count, f.payload)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([16, 64, 128]), st.data())
def test_missing_fragments_read_the_bitmap(fs: int, data: st.DataObject) -> None:
    stream = frames(package(2, fragment_size=fs), SESSION, fs)
    got = data.draw(st.lists(st.sampled_from(range(len(stream))), max_size=len(stream)))
    m = meter()
    m.receive_many([stream[i] for i in got])
    dl = m.download.dl
    assert dl is not None
    if not dl.is_open:  # nothing arrived, or the download completed
        return
    bitmap = dl.missing()
    assert m.missing_fragments() == [
        i for i in range(len(stream)) if bitmap[i // 8] >> (i % 8) & 1]
    assert set(m.missing_fragments()) <= set(range(len(stream))) - set(got) | set(range(8))
