"""The short paths of building a meter (and a fleet of them), each against the
ordinary path it stands for (hypothesis): values made once per value, the
layout's parts once per layout, the bootloader's areas bound in one loop, a
blank ring told by one compare, a pool's slots past the first without the
checks, serials without a spec each. The same answers, or the same
exception where the ordinary path raises one."""

from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo
from fractions import Fraction

import pytest
from fleetkit import FACTORY, FRAMES, KEYS, fleet_of, picture
from hypothesis import example, given, settings
from hypothesis import strategies as st

from meteremu._lowlevel import ffi, lib
from meteremu._lowlevel.boot import Bootloader
from meteremu._lowlevel.crypto import CRC_IMPL, SHA256_IMPL
from meteremu._lowlevel.flash import Flash, Partition
from meteremu._lowlevel.image import ImageCache, _keys
from meteremu.device import Geometry, VirtualMeter
from meteremu.device.boot import _REGIONS, _parts
from meteremu.device.clock import _in_range, _start_of
from meteremu.device.download import _partition
from meteremu.device.layout import Layout
from meteremu.device.meter import _boot_times, _fraction, _layout
from meteremu.device.metrology import _constant, _watts
from meteremu.device.nvm import AuditRecord, RecordRing, seal
from meteremu.device.storage import Storage
from meteremu.errors import MT_NAMES, MeteremuError, UsageError
from meteremu.fleet import Fleet, MeterSpec
from meteremu.fleet.memory import SlotPool, cells_address
from meteremu.testing import HW_REVISION, VENDOR_ID


def _outcome(fn, *args):  # -> ("ok", value) or ("raised", exception type, message)
    try:
        return "ok", fn(*args)
    except (MeteremuError, ValueError, TypeError, ZeroDivisionError, OverflowError,
            AttributeError) as exc:
        return "raised", type(exc), str(exc)


# ---------------------------------------------------------------- values made once
_ZONES = st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5)),
                          zoneinfo.ZoneInfo("Europe/Berlin"),
                          zoneinfo.ZoneInfo("America/New_York")])


@settings(max_examples=300)
@example(when=dt.datetime(2030, 10, 27, 2, 30), zone=zoneinfo.ZoneInfo("Europe/Berlin"), fold=1,
         again=True)
@example(when=dt.datetime(2030, 10, 27, 2, 30), zone=zoneinfo.ZoneInfo("Europe/Berlin"), fold=0,
         again=True)
@given(when=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2110, 1, 1)),
       zone=_ZONES, fold=st.sampled_from([0, 1]), again=st.booleans())
def test_a_clock_start_is_what_in_range_and_timestamp_make(when, zone, fold, again) -> None:
    """Folds too: 02:30 on the night clocks go back, fold 0 and 1, compare and
    hash equal yet are an hour apart; the cache must not mix them."""
    start = when.replace(tzinfo=zone, fold=fold)

    def ordinary(s):
        utc = _in_range(s)
        return utc, Fraction(int(utc.timestamp()))

    if again:  # the other fold first, so a cache keyed wrongly would hit it
        _outcome(_start_of, start.replace(fold=1 - fold))
    want = _outcome(ordinary, start)
    got = _outcome(_start_of, start)
    assert got == want
    if got[0] == "ok":
        assert got[1][0].tzinfo is want[1][0].tzinfo


_NUMBERS = st.one_of(st.integers(-10**6, 10**9), st.booleans(),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.fractions(max_denominator=10**6),
                     st.decimals(allow_nan=False, places=3, max_value=10**6, min_value=-10**6),
                     st.sampled_from(["300", "1/3", "x", ""]))


@settings(max_examples=400)
@given(value=_NUMBERS)
def test_a_constant_load_is_its_watts(value) -> None:
    if not isinstance(value, int | float | Fraction):
        return  # (Load takes these alone as constants)
    assert _outcome(_constant, value) == _outcome(_watts, value)
    assert _outcome(_constant, value) == _outcome(_watts, value)  # (cached now)


@settings(max_examples=400)
@given(value=_NUMBERS)
def test_a_window_is_its_fraction(value) -> None:
    for _ in range(2):
        got, want = _outcome(_fraction, value), _outcome(Fraction, value)
        assert got == want
        if got[0] == "ok":
            assert type(got[1]) is Fraction


@settings(max_examples=200)
@given(window=st.fractions(min_value=0, max_denominator=100), slow=st.fractions(max_denominator=9),
       pause=st.fractions(max_denominator=9), attempts=st.integers(1, 255))
def test_boot_times_are_the_values_given(window, slow, pause, attempts) -> None:
    from meteremu.device.boot import BootTimes

    for _ in range(2):
        got = _boot_times(window, slow, pause, attempts)
        assert got == BootTimes(window, slow, pause, attempts)
        assert got.heartbeat_window is window and got.slow_boot is slow


@given(off=st.integers(0, 2**32), size=st.integers(0, 2**32))
def test_a_partition_once_is_a_partition(off, size) -> None:
    assert _partition(off, size) == Partition(off, size)


# ---------------------------------------------------------------- the layout's parts
@pytest.mark.parametrize("geometry", [Geometry(), Geometry(bank_size=64 * 1024, sector_size=1024,
                                                           audit_sectors=3)])
def test_the_parts_of_a_layout_are_its_regions(geometry) -> None:
    for layout in (_layout(geometry), Layout(geometry), _layout(geometry)):
        regions, areas = _parts(layout)
        assert regions == {b: layout[name] for b, name in _REGIONS.items()}
        assert areas == {name: (layout[name].offset, layout[name].size)
                         for name in ("bank_a", "bank_b", "golden", "boot0", "boot1", "floor")}


def _bootloader_the_long_way(flash, areas, vendor_id, hw_revision, keys, max_attempts):
    """Bootloader.__init__ as it bound its areas before: one _area call each."""
    b = Bootloader.__new__(Bootloader)
    b._flash, b._dev = flash, flash._f
    b._keys, count = _keys(keys)
    cfg = ffi.new("mt_boot_config *")
    for i, name in enumerate(("bank_a", "bank_b", "golden")):
        b._area(cfg.bank + i, areas[name])
    for i, name in enumerate(("boot0", "boot1")):
        b._area(cfg.control + i, areas[name])
    b._area(ffi.addressof(cfg, "floor"), areas["floor"])
    cfg.vendor_id, cfg.hw_revision, cfg.max_attempts = vendor_id, hw_revision, max_attempts
    cfg.keys, cfg.key_count = b._keys, count
    boot = ffi.new("mt_boot *")
    rc = lib.mt_boot_init_impl(boot, cfg, SHA256_IMPL, CRC_IMPL)
    if rc != 0:
        raise ValueError(f"bad boot configuration ({MT_NAMES.get(rc, rc)})")
    return bytes(ffi.buffer(boot))


@settings(max_examples=200, deadline=None)
@given(moves=st.lists(st.tuples(st.sampled_from(["bank_a", "bank_b", "golden", "boot0", "boot1",
                                                 "floor"]),
                                st.sampled_from(["off", "size"]),
                                st.sampled_from([-1, 1, 4096, -4096, 2**32, 10**7])),
                      max_size=2))
def test_the_bootloaders_areas_bound_in_one_loop(moves) -> None:
    """The same configuration handed to C (captured), or the same error, for
    good and bad areas."""
    layout = _layout(Geometry())
    flash = Flash(layout.size, 4096, 8)
    areas = dict(_parts(layout)[1])
    for name, which, delta in moves:
        off, size = areas[name]
        areas[name] = (off + delta, size) if which == "off" else (off, size + delta)
    want = _outcome(_bootloader_the_long_way, flash, areas, VENDOR_ID, HW_REVISION,
                    [KEYS.point], 3)
    got = _outcome(lambda: Bootloader(flash, areas, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                                      trusted_keys=[KEYS.point], max_attempts=3))
    if got[0] == "ok":
        got = ("ok", bytes(ffi.buffer(got[1]._b)))
    assert got == want


# ---------------------------------------------------------------- a blank ring
SEC = 512


@settings(max_examples=300, deadline=None)
@given(records=st.lists(st.tuples(st.integers(0, 3 * SEC // 128 - 1),
                                  st.booleans()), max_size=4),
       stray=st.one_of(st.none(), st.integers(0, 3 * SEC - 1)),
       powered=st.booleans())
def test_a_blank_ring_is_what_the_scan_makes_of_it(records, stray, powered) -> None:
    """Blank rings (most examples without records) and others: load and the
    scan leave the ring in the same state, or raise the same."""
    from meteremu.device.layout import Region

    region = Region("audit", SEC, 3 * SEC)
    flashes = [Flash(5 * SEC, SEC, 8), Flash(5 * SEC, SEC, 8)]
    for f in flashes:
        for seq, (slot, torn) in enumerate(records, 1):
            raw = seal(AuditRecord, length=1, seq=seq, text=b"x".ljust(116, b"\xff"))
            if torn:
                raw = raw[:-1] + bytes([raw[-1] ^ 1])
            at = SEC + slot * len(raw)
            if f.read(at, len(raw)) == b"\xff" * len(raw):
                f.program(at, raw)
        if stray is not None:
            f.program(SEC + stray - stray % 8, b"\x00" * 8)
        if not powered:
            f.power_cut()
    short, long = (RecordRing(f, region, AuditRecord, SEC) for f in flashes)
    got, want = _outcome(short.load), _outcome(long._scan)
    assert got == want
    assert vars(short) | {"flash": None, "_holds": None, "_program_holds": None} == (
        vars(long) | {"flash": None, "_holds": None, "_program_holds": None})


# ---------------------------------------------------------------- a pool's slots
def test_a_pools_slots_are_storages_over_their_bytes() -> None:
    layout = _layout(Geometry())
    state = VirtualMeter.factory_state(vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                                       trusted_keys=[KEYS.point], factory_package=FACTORY)
    cache = ImageCache()
    pool = SlotPool(layout, state, 3, cache)
    slots = [pool.take_slot() for _ in range(5)] + [(pool.take(), None)]
    for storage, address in slots:
        ordinary = Storage.over(layout, state[:64], storage.cells, storage.wear,
                                checked=cache, keep=storage._keep)
        assert vars(storage) == vars(ordinary)
        assert address in (None, cells_address(storage))
        assert storage.state_bytes() == state
    pool.close()


# ---------------------------------------------------------------- a fleet of serials
def test_serials_alone_build_what_their_specs_build() -> None:
    a = fleet_of(3)
    b = Fleet.build([MeterSpec(s) for s in a.serials], trusted_keys=[KEYS.point],
                    factory_package=FACTORY, vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    c = Fleet.build(list(a.serials), trusted_keys=[KEYS.point], factory_package=bytearray(FACTORY),
                    vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    assert a.serials == b.serials == c.serials
    for s in a:
        alone = VirtualMeter(serial=s, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                             trusted_keys=[KEYS.point], factory_package=FACTORY)
        assert picture(a[s]) == picture(b[s]) == picture(c[s]) == picture(alone)


@pytest.mark.parametrize("kw", [
    {"vendor_id": None}, {"hw_revision": None}, {"factory_package": None},
    {"serial_format": "X"},
])
def test_serials_alone_are_refused_as_their_specs_are(kw) -> None:
    args = {"trusted_keys": [KEYS.point], "factory_package": FACTORY, "vendor_id": VENDOR_ID,
            "hw_revision": HW_REVISION}
    fmt = kw.pop("serial_format", "MTR{:08d}")
    args.update(kw)
    serials = [fmt.format(i) for i in range(2)]
    with pytest.raises(UsageError) as by_count:
        Fleet.build(2, serial_format=fmt, **args)
    with pytest.raises(UsageError) as by_spec:
        Fleet.build([MeterSpec(s) for s in serials], **args)
    assert str(by_count.value) == str(by_spec.value)


def test_a_meter_of_another_clock_start_and_load_is_built_as_alone() -> None:
    start = dt.datetime(2030, 3, 31, 1, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    kw = {"clock_start": start, "load": Fraction(1, 3), "heartbeat_window": 90.5,
          "session_timeout": decimal.Decimal("600")}
    fleet = fleet_of(2, **kw)
    for s in fleet:
        alone = VirtualMeter(serial=s, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                             trusted_keys=[KEYS.point], factory_package=FACTORY, **kw)
        assert picture(fleet[s]) == picture(alone)
        assert fleet[s].heartbeat_window == alone.heartbeat_window == Fraction(90.5)


# ---------------------------------------------------------------- attach, no session record
@settings(max_examples=40, deadline=None)
@example(cut=len(FRAMES), steps=["cut0", "activate", "on"])
@example(cut=len(FRAMES), steps=["cut1", "activate", "on"])
@example(cut=len(FRAMES), steps=["cut2", "activate", "on", "cycle"])
@example(cut=len(FRAMES), steps=["activate", "cycle", "heartbeat", "cycle"])
@given(cut=st.integers(0, len(FRAMES)), steps=st.lists(
    st.sampled_from(["cycle", "rest", "activate", "heartbeat", "off", "on", "cut0", "cut1",
                     "cut2"]), max_size=6))
def test_attach_without_a_session_record_is_attach_with_every_resume(cut, steps) -> None:
    """Two meters driven alike, one attaching the ordinary way (a reassembler
    made and resumed for each bank it looks at), one skipping that where the
    progress partition holds no session record: alike at every step."""
    meters = []
    for short in (True, False):
        m = VirtualMeter(serial="T", vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                         trusted_keys=[KEYS.point], factory_package=FACTORY)
        if not short:
            m.download._no_session_record = lambda: False  # type: ignore[method-assign]
        meters.append(m)

    def step(m: VirtualMeter, what: str) -> object:
        try:
            if what == "cycle":
                m.power_cycle()
            elif what == "rest":
                return [m.receive(f) for f in FRAMES[cut:]]
            elif what == "activate":
                return m.activate()
            elif what == "heartbeat":
                return m.heartbeat()
            elif what == "off":
                m.power_off()
            elif what == "on":
                m.power_on()
            elif what.startswith("cut"):
                m.flash.cut_after(int(what[3:]))
        except MeteremuError as exc:
            return type(exc), str(exc)
        return None

    for m in meters:
        for f in FRAMES[:cut]:
            m.receive(f)
    assert picture(meters[0]) == picture(meters[1])
    for what in steps:
        assert step(meters[0], what) == step(meters[1], what)
        assert picture(meters[0]) == picture(meters[1])
