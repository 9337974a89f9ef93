"""The short paths a fleet's meters take, each against the ordinary path it stands
for (hypothesis): a read-back without a copy, the CRC of bytes, headers and
trusted keys made once, stamps and snapshot integers without Fraction work.
Any divergence -- an answer, or an exception where the ordinary path raises
one -- fails here."""

from __future__ import annotations

import datetime as dt
import functools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel import ffi
from meteremu._lowlevel.crypto import crc32
from meteremu._lowlevel.flash import Flash
from meteremu._lowlevel.image import _header_from_c, _header_of, _keys, _new_keys
from meteremu.device.clock import DEFAULT_EPOCH, VirtualClock, format_utc
from meteremu.device.events import EVENT_CLASSES
from meteremu.device.meter import _micro
from meteremu.device.nvm import RecordRing
from meteremu.errors import MeteremuError
from meteremu.testing import make_keys

SEC = 256
SIZE = 4 * SEC


def _outcome(fn, *args):  # -> ("ok", value) or ("raised", exception type)
    try:
        return "ok", fn(*args)
    except (MeteremuError, ValueError) as exc:
        return "raised", type(exc)


@settings(max_examples=300)
@given(writes=st.lists(st.tuples(st.integers(0, SIZE // 8 - 1), st.binary(min_size=8,
                                                                            max_size=8))),
       addr=st.integers(-2, SIZE + 8), data=st.binary(max_size=40), powered=st.booleans(),
       closed=st.booleans())
def test_holds_is_a_read_compared(writes, addr, data, powered, closed) -> None:
    f = Flash(SIZE, SEC, 8)
    for at, chunk in writes:
        f.program(at * 8, bytes(a & b for a, b in zip(f.read(at * 8, 8), chunk, strict=True)))
    if addr >= 0 and addr + len(data) <= SIZE and data:
        data = f.read(addr, len(data)) if addr % 2 else data  # equal half the time
    if not powered:
        f.power_cut()
    if closed:
        f.close()
    want = _outcome(lambda: f.read(addr, len(data)) == data)
    assert _outcome(f.holds, addr, data) == want


@settings(max_examples=300)
@given(addr=st.integers(-8, SIZE + 8), data=st.one_of(st.binary(max_size=40),
                                                       st.binary(max_size=40).map(bytearray)),
       stuck=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255), st.integers(0, 255)),
                      max_size=3),
       worn=st.booleans(), cut=st.sampled_from([None, 0, 1]), closed=st.booleans())
def test_program_holds_is_a_program_read_back(addr, data, stuck, worn, cut, closed) -> None:
    """Two flashes with the same faults: one programmed and read back the
    ordinary way, one through program_holds; the same answer or exception,
    and the same cells after."""
    flashes = [Flash(SIZE, SEC, 8), Flash(SIZE, SEC, 8)]
    for f in flashes:
        for off, zero, one in stuck:  # mostly under the bytes programmed
            f.stick_bits(min(max(addr, 0) + off, SIZE - 1), zero=zero, one=one & ~zero)
        if worn:
            f.set_sector_endurance(0, 0)
        if cut is not None:
            f.cut_after(cut)
        if closed:
            f.close()

    def ordinary(f: Flash) -> bool:
        f.program(addr, data)
        return f.holds(addr, bytes(data))

    a, b = flashes
    assert _outcome(ordinary, a) == _outcome(b.program_holds, addr, data)
    if not closed:
        assert a.dump() == b.dump()


def test_a_ring_over_a_flash_without_holds_reads_back() -> None:
    class Plain:  # read, program and erase only
        def __init__(self, flash: Flash) -> None:
            self.read, self.program, self.erase = flash.read, flash.program, flash.erase

    from meteremu.device.layout import Region
    from meteremu.device.nvm import MetrologyRecord, seal

    f = Flash(4 * 4096, 4096, 8)
    ring = RecordRing(Plain(f), Region("metrology", 0, 4 * 4096), MetrologyRecord, 4096)
    ring.load()
    seq = ring.append(lambda seq: seal(MetrologyRecord, boot_state=0, seq=seq, energy_uwh=5,
                                       clock=7, battery_mj=0))
    assert ring.records[-1].energy_uwh == 5 and ring.load()[-1].seq == seq == 1


@given(st.binary(max_size=300), st.integers(0, 2**32 - 1))
def test_crc32_of_bytes_is_the_crc32_of_any_buffer(data: bytes, value: int) -> None:
    assert crc32(data, value) == crc32(bytearray(data), value) == crc32(memoryview(data), value)


@settings(max_examples=50)
@given(st.binary(min_size=92, max_size=92))
def test_a_header_made_once_is_the_header_of_its_bytes(raw: bytes) -> None:
    assert ffi.sizeof("mt_pkg_header") == 92
    h = ffi.new("mt_pkg_header *")
    ffi.memmove(h, raw, 92)
    _header_of.cache_clear()
    fresh = _header_from_c(h)
    assert _header_from_c(h) is fresh  # made once
    c = h[0]
    assert (fresh.vendor_id, fresh.security_counter, fresh.image_sha256, fresh.key_id) == (
        int(c.vendor_id), int(c.security_counter), bytes(ffi.buffer(c.image_sha256)),
        bytes(ffi.buffer(c.key_id)))


def test_shared_keys_are_the_keys_parsed_alone() -> None:
    points = [make_keys(seed).point for seed in (1, 2)]
    shared, n = _keys(points)
    alone, m = _new_keys(points)
    assert n == m == 2
    assert bytes(ffi.buffer(shared)) == bytes(ffi.buffer(alone))
    assert _keys(list(points))[0] is shared  # one array for the same points
    with pytest.raises(ValueError):
        _keys([b"\x04" + b"\x00" * 64])  # refused every time, never cached
    with pytest.raises(ValueError):
        _keys([b"\x04" + b"\x00" * 64])


STEPS = st.one_of(st.integers(0, 10**6), st.fractions(0, 10**5, max_denominator=10**4))


@given(st.lists(STEPS, max_size=6), st.integers(-10**6, 10**6))
def test_whole_epoch_and_stamp_as_the_fraction_gives_them(steps, shift) -> None:
    clock = VirtualClock(DEFAULT_EPOCH)
    for s in steps:
        clock.advance(s)
    clock.set_datetime(DEFAULT_EPOCH + dt.timedelta(seconds=shift + float(clock.now)))
    for s in steps:
        clock.advance(s)
        assert clock.epoch_whole == int(clock.epoch_seconds)
        want = format_utc(dt.datetime.fromtimestamp(int(clock.epoch_seconds), dt.timezone.utc))
        assert clock.stamp() == want


@given(st.one_of(st.fractions(), st.floats(-1e12, 1e12), st.integers(-10**15, 10**15)))
def test_micro_is_int_of_a_million_times(wh) -> None:
    assert _micro(wh) == int(wh * 10**6)
    assert _micro(Fraction(wh)) == int(Fraction(wh) * 10**6)


VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans(),
                   st.fractions(), st.tuples(st.text(max_size=3), st.integers()))


@settings(max_examples=300)
@given(st.data())
def test_an_event_made_quickly_is_the_dataclass_made_one(data) -> None:
    import dataclasses

    cls = data.draw(st.sampled_from(EVENT_CLASSES))
    fields = dataclasses.fields(cls)
    given_ = {f.name: data.draw(VALUES) for f in fields
              if f.default is dataclasses.MISSING or data.draw(st.booleans())}
    positional = data.draw(st.integers(0, len(given_)))
    names = [f.name for f in fields if f.name in given_]
    args = [given_[n] for n in names[:positional]] if names == [
        f.name for f in fields[: len(names)]] else []
    kw = {n: given_[n] for n in names[len(args):]}
    quick = cls(*args, **kw)
    made = object.__new__(cls)
    cls.__init__.__wrapped__(made, *args, **kw)  # the dataclass's generated __init__
    assert list(vars(quick).items()) == list(vars(made).items())
    assert quick == made and repr(quick) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.at = "changed"  # type: ignore[misc]
    if fields:
        with pytest.raises(TypeError):
            cls(**{k: v for k, v in kw.items() if k != fields[0].name}, bogus=1)


def test_inactive_or_none_is_inactive_without_its_state_error() -> None:
    from meteremu.errors import StateError
    from meteremu.fleet import Fleet
    from meteremu.hes import fragment_package
    from meteremu.testing import HW_REVISION, VENDOR_ID, make_firmware, make_package

    keys = make_keys(0)
    factory = make_package(make_firmware(4096, seed=1), keys, version="1.0.0",
                           security_counter=1)
    update = make_package(make_firmware(8000, seed=2), keys, version="2.0.0",
                          security_counter=2, fragment_size=128)
    fleet = Fleet.build(1, trusted_keys=[keys.point], factory_package=factory,
                        vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    m = fleet[fleet.serials[0]]

    def same() -> object:
        try:
            want = m.boot.loader.inactive()
        except StateError:
            want = None
        assert m.boot.loader.inactive_or_none() is want
        return want

    seen = [same()]
    fleet.broadcast(fragment_package(update, session_id=3))
    m.activate()  # a trial: no inactive bank
    seen.append(same())
    m.heartbeat()
    seen.append(same())
    m.power_off()
    seen.append(same())
    assert None in seen and any(b is not None for b in seen)


@functools.cache
def _one_meter():  # built once for the examples below (kept alive by the cache)
    from meteremu.fleet import Fleet
    from meteremu.testing import HW_REVISION, VENDOR_ID, make_firmware, make_package

    keys = make_keys(0)
    pkg = make_package(make_firmware(4096, seed=1), keys, version="1.0.0", security_counter=1)
    fleet = Fleet.build(1, trusted_keys=[keys.point], factory_package=pkg,
                        vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    return fleet, fleet[fleet.serials[0]]


@given(st.one_of(st.integers(-3, 5), st.sampled_from(["A", None, 1.0, True, 2.5])))
def test_a_region_looked_up_is_the_region_the_layout_gives(bank) -> None:
    from meteremu._lowlevel.boot import Bank
    from meteremu.device.boot import _REGIONS

    boot = _one_meter()[1].boot
    try:
        want = ("ok", boot._layout[_REGIONS[Bank(bank)]])
    except Exception as exc:  # whatever the long way raises
        want = ("raised", type(exc))
    try:
        got = ("ok", boot.region(bank))
    except Exception as exc:
        got = ("raised", type(exc))
    assert got == want


@given(st.lists(st.tuples(st.integers(-1, 5 * SEC), st.integers(-1, 5 * SEC)), max_size=8))
def test_an_area_made_once_is_the_area_made_afresh(spans) -> None:
    f = Flash(SIZE, SEC, 8)
    for off, size in spans + spans:  # each span asked twice
        want = _outcome(Flash(SIZE, SEC, 8)._area, off, size)  # a flash that never made one
        got = _outcome(f._area, off, size)
        assert got[0] == want[0]
        if got[0] == "ok":
            assert (got[1].off, got[1].size) == (want[1].off, want[1].size)
            assert got[1].dev == f._f and got[1] is f._area(off, size)
        else:
            assert got[1] is want[1]


_U = st.integers(-1, 2**64)  # in range for every field, and just past it both ways


@settings(max_examples=300)
@given(fmt=st.sampled_from(["metrology", "audit", "session"]), seq=_U,
       values=st.lists(_U, min_size=5, max_size=5), text=st.binary(max_size=120))
def test_a_sealer_seals_as_seal_does(fmt, seq, values, text) -> None:
    """RecordStruct.sealer (positional, one pack) against seal(fmt, **fields)."""
    import struct

    from meteremu.device.nvm import seal
    from meteremu.wire.nvm import AuditRecord, MetrologyRecord, SessionRecord, record_struct

    if fmt == "metrology":
        definition, names, given = MetrologyRecord, ("boot_state", "energy_uwh", "clock",
                                                     "battery_mj"), values[:4]
    elif fmt == "audit":
        definition, names, given = AuditRecord, ("length", "text"), [values[0], text]
    else:
        definition, names, given = SessionRecord, ("kind", "session_id", "reason",
                                                   "clock"), values[:4]
    sealed = record_struct(definition).sealer(crc32)

    def outcome(fn):
        try:
            return "ok", fn()
        except struct.error:
            return "raised", struct.error

    want = outcome(lambda: seal(definition, seq=seq, **dict(zip(names, given, strict=True))))
    assert outcome(lambda: sealed(seq, *given)) == want


def test_a_sealer_takes_only_free_fields() -> None:
    from meteremu.wire.nvm import AuditRecord, record_struct

    with pytest.raises(TypeError):
        record_struct(AuditRecord).sealer(crc32, first="magic")


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(0, 2**40)),
    st.tuples(st.just("wear"), st.integers(0, 3), st.integers(0, 2)),
    st.tuples(st.just("stick"), st.integers(0, 4 * SEC - 1)),
    st.tuples(st.just("cut"), st.integers(0, 2)),
    st.tuples(st.just("load"),)), max_size=60))
def test_append_fields_is_append_of_a_sealed_record(ops) -> None:
    """Two rings over two flashes with the same faults: one appended the ordinary
    way (a build sealing the record), one by append_fields; the same sequence
    numbers or exceptions, records, news and flash after every step."""
    from meteremu.device.layout import Region
    from meteremu.device.nvm import MetrologyRecord, seal

    rings = []
    for _ in range(2):
        f = Flash(4 * SEC, SEC, 8)
        ring = RecordRing(f, Region("metrology", 0, 4 * SEC), MetrologyRecord, SEC)
        ring.load()
        rings.append((f, ring))
    (fa, a), (fb, b) = rings

    def step(ring, op, ordinary):
        if op[0] == "append":
            v = op[1]
            if ordinary:
                return ring.append(lambda seq: seal(MetrologyRecord, boot_state=v % 7, seq=seq,
                                                    energy_uwh=v, clock=v // 3,
                                                    battery_mj=v % 2**32))
            return ring.append_fields(v % 7, v, v // 3, v % 2**32)
        return ring.load()

    stuck = 0
    for op in ops:
        if op[0] == "stick":
            stuck += 1
            if stuck > 4:  # (the flash model's fault table holds 8)
                continue
        for f, _ in rings:
            if not f.powered:
                f.power_up()
            if op[0] == "wear":
                f.set_sector_endurance(op[1] * SEC, f.wear(op[1] * SEC) + op[2])
            elif op[0] == "stick":
                f.stick_bits(op[1], zero=0xFF)
            elif op[0] == "cut":
                f.cut_after(op[1])
        if op[0] in ("wear", "stick", "cut"):
            continue
        got = [_outcome(step, ring, op, ordinary) for ordinary, ring in ((True, a), (False, b))]
        assert got[0] == got[1]
        assert fa.dump() == fb.dump()
        assert a.has_news == b.has_news == (bool(b._news) or b._exhausted_news)
        assert a.take_news() == b.take_news()
        assert a.records == b.records and a.bad == b.bad


def _status_ordinary(m, session: int) -> tuple[str, int]:
    """A meter's status after a round, as the broadcast first read it."""
    from meteremu.device.download import KIND_MESH
    from meteremu.device.sessions import CloseReason

    dl = m.download.open() if m.power.running else None
    if dl is not None and dl.tag == KIND_MESH and dl.session_id == session:
        if dl.complete:
            return "complete", 0
        return "missing", int.from_bytes(dl.missing(), "little")
    if (KIND_MESH, session) in m.download.closed:  # activated: it needs nothing more
        activated = m.download.closed.reason((KIND_MESH, session)) is CloseReason.ACTIVATED
        return ("complete", 0) if activated else ("refused", 0)
    return "missing", -1


@functools.lru_cache(maxsize=1)
def _forged_frames() -> list[bytes]:
    """The update's firmware signed by a key the meters do not trust, as the
    same session: it completes, then acceptance refuses it."""
    from fleetkit import SESSION, UPDATE  # noqa: F401  (the geometry to match)

    from meteremu.hes import fragment_package
    from meteremu.testing import make_firmware, make_package

    forged = make_package(make_firmware(6000, seed=2), make_keys(9), version="2.0.0",
                          security_counter=2, fragment_size=128)
    return fragment_package(forged, session_id=SESSION)


@settings(max_examples=40, deadline=None)
@given(setup=st.sampled_from(["fresh", "partial", "complete", "activated", "off", "battery",
                              "refused", "dlms"]),
       heard=st.sets(st.integers(0, 48)), written=st.integers(0, 3),
       duplicates=st.integers(0, 3), burst=st.booleans(), other=st.booleans())
def test_settle_round_is_the_four_calls_it_stands_for(setup, heard, written, duplicates, burst,
                                                      other) -> None:
    """Download.settle_round against settle_counts, settle_end, batch_target and
    the status, called one by one on a twin meter: the same target (none or
    the open download), status, counters, events and flash."""
    from fleetkit import FACTORY, FRAMES, KEYS, SESSION, picture

    from meteremu.device import Battery, VirtualMeter
    from meteremu.testing import HW_REVISION, VENDOR_ID

    session = SESSION + 1 if other else SESSION
    meters = []
    for _ in range(2):
        m = VirtualMeter(serial="s", vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                         trusted_keys=[KEYS.point], factory_package=FACTORY,
                         battery=Battery(10**6) if setup == "battery" else None)
        frames = _forged_frames() if setup == "refused" else FRAMES
        if setup in ("partial", "off", "battery"):
            m.receive_many([frames[k] for k in sorted(heard) if k < len(frames)])
        elif setup != "fresh":
            m.receive_many(frames)
        if setup == "activated":
            m.activate()
        if setup == "dlms":  # a class 18 transfer open (the same session ID, another kind)
            from meteremu.device.download import KIND_DLMS
            from meteremu.device.services import BLOCK_SIZE

            size = 200 * BLOCK_SIZE
            assert m.download.begin(KIND_DLMS, session, size, BLOCK_SIZE, 200) == 0
        if setup == "off":
            m.power_off()
        m.drain_events()
        meters.append(m)
    a, b = meters
    a.settle_counts(written, duplicates)
    if burst:
        a.download.settle_end()
    want = (a.batch_target(), _status_ordinary(a, session))
    got = b.settle_round(written, duplicates, burst, session)
    assert (got[0] is None, got[1]) == (want[0] is None, want[1])
    assert got[0] is None or got[0] is b.download.open()
    assert b.download.outcome(session) == got[1]
    assert picture(a) == picture(b)
