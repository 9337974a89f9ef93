"""The short paths of activation and the heartbeat, each against the ordinary path
it stands for (hypothesis): the boot record and the running header read from
the bootloader's RAM in place, sums and maxima of Fractions remembered, the
life cycle's and the availability's tables looked up inline. Any divergence
-- an answer, or an exception where the ordinary path raises one -- fails
here."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meterkit import meter

from meteremu._lowlevel import ffi
from meteremu._lowlevel.boot import _RECORDS, _record_from_c
from meteremu._lowlevel.image import _header_from_c
from meteremu.device import clock as clock_mod
from meteremu.device.clock import later, plus
from meteremu.device.events import StateChanged
from meteremu.device.lifecycle import Lifecycle
from meteremu.device.power import Power
from meteremu.device.rules import (
    AVAILABILITY,
    BOOT,
    Availability,
    AvailabilityEvent,
    BootState,
    Event,
    Refusal,
    step,
)
from meteremu.errors import MeteremuError


def _outcome(fn, *args):  # -> ("ok", value) or ("raised", exception type, text)
    try:
        return "ok", fn(*args)
    except (MeteremuError, ValueError, AssertionError) as exc:
        return "raised", type(exc), str(exc)


@pytest.fixture(scope="module")
def loader():
    m = meter()
    yield m.boot.loader
    m.close()


# mostly values a record or a running bank may hold, so records repeat and get cached
BYTE = st.one_of(st.integers(0, 3), st.just(255), st.integers(0, 255))
WORD = st.one_of(st.integers(0, 3), st.integers(0, 2**32 - 1))


@settings(max_examples=400)
@given(fields=st.tuples(WORD, WORD, BYTE, BYTE, BYTE, BYTE, BYTE),
       pad=st.binary(min_size=3, max_size=3), again=st.booleans())
def test_a_record_read_in_place_is_the_record_of_its_fields(loader, fields, pad,
                                                             again) -> None:
    b = loader._b
    saved = bytes(ffi.buffer(ffi.addressof(b, "rec")))
    try:
        rec = b.rec
        (rec.sequence, rec.counter, rec.active, rec.state, rec.attempts, rec.previous,
         rec.outcome) = fields
        ffi.buffer(ffi.addressof(b, "rec"))[13:16] = pad  # padding: any bytes
        if again:
            _RECORDS.clear()
        want = _outcome(_record_from_c, b.rec)
        assert _outcome(lambda: loader.record) == want
        assert _outcome(lambda: loader.record) == want  # the second read, from the cache
    finally:
        ffi.buffer(ffi.addressof(b, "rec"))[:] = saved


@settings(max_examples=300)
@given(raw=st.binary(min_size=92, max_size=92), running=BYTE)
def test_a_running_header_read_in_place_is_the_header_of_its_bytes(loader, raw,
                                                                    running) -> None:
    b = loader._b
    saved_h = bytes(ffi.buffer(ffi.addressof(b, "running_header")))
    saved_r = b.running
    try:
        ffi.memmove(ffi.addressof(b, "running_header"), raw, 92)
        b.running = running

        def ordinary():  # the path before: running, then the header's cdata
            return None if loader.running is None else _header_from_c(
                ffi.addressof(b, "running_header"))

        assert _outcome(lambda: loader.running_header) == _outcome(ordinary)
    finally:
        ffi.memmove(ffi.addressof(b, "running_header"), saved_h, 92)
        b.running = saved_r


FRACS = st.one_of(st.fractions(max_denominator=1000), st.integers(0, 10**6).map(Fraction))
NUMBERS = st.one_of(FRACS, st.integers(-10**6, 10**6), st.floats(-1e6, 1e6))


@settings(max_examples=400)
@given(values=st.lists(NUMBERS, max_size=5), reuse=st.booleans(), clear=st.booleans())
def test_plus_and_later_are_addition_and_max(values, reuse, clear) -> None:
    if clear:
        clock_mod._SUMS.clear()
        clock_mod._MAXIMA.clear()
    pairs = [(a, b) for a in values for b in values]  # each operand with every other
    for a, b in pairs + (pairs if reuse else []):
        got, want = plus(a, b), a + b
        assert got == want and type(got) is type(want)
        got, want = later(a, b), max(a, b)
        assert got is want or (got == want and type(got) is type(want)
                               and not isinstance(want, Fraction))
        assert later(a, a) is a


def test_plus_remembers_only_the_very_operands() -> None:
    a, b = Fraction(1, 3), Fraction(1, 200)
    first = plus(a, b)
    assert plus(a, b) is first  # the same objects: the same sum
    assert plus(a, Fraction(1, 7)) == Fraction(10, 21)  # one operand the same: added
    assert plus(Fraction(1, 7), b) == Fraction(207, 1400)
    c = Fraction(2, 3)  # another value (and maybe a reused id): never the old sum
    assert plus(c, b) == Fraction(2, 3) + b
    big = later(c, a)
    assert big is c and later(a, c) is c
    equal = Fraction(1, 3)
    assert later(a, equal) is a and later(equal, a) is equal  # max keeps the first


def _apply_ordinary(state: BootState, event: Event):  # Lifecycle.apply as before
    new = step(BOOT, state, event)
    if isinstance(new, Refusal):
        raise AssertionError("refused")
    return new


@pytest.mark.parametrize("state", list(BootState))
@pytest.mark.parametrize("event", list(Event))
def test_apply_looked_up_inline_is_apply_by_step(state, event) -> None:
    seen: list[object] = []
    persisted: list[int] = []
    life = Lifecycle(lambda cls, **kw: seen.append((cls, kw)),
                     lambda: persisted.append(1))
    life.state = state
    want = _outcome(_apply_ordinary, state, event)
    got = _outcome(life.apply, event)
    if want[0] == "ok":
        assert got == ("ok", None) and life.state is want[1]
        moved = want[1] is not state
        assert seen == ([(StateChanged, {"old": state, "new": want[1]})] if moved else [])
        assert persisted == ([1] if moved else [])
    else:
        assert got[0] == "raised" and life.state is state and not seen and not persisted
        if want[1] is not AssertionError:  # a pair the table lacks: the same error
            assert got[1:] == want[1:]


@pytest.mark.parametrize("now", list(Availability))
@pytest.mark.parametrize("event", list(AvailabilityEvent))
def test_power_on_looked_up_inline_is_the_step(now, event) -> None:
    import datetime as dt

    p = Power(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    p.availability = now
    p.busy_until = Fraction(7)
    want = _outcome(step, AVAILABILITY, now, event)
    got = _outcome(p.on, event)
    if want[0] == "ok":
        assert got == ("ok", None) and p.availability is want[1]
        cleared = event in (AvailabilityEvent.POWER_DOWN, AvailabilityEvent.BOOTED)
        assert p.busy_until == (None if cleared else Fraction(7))
    else:
        assert got[:2] == want[:2] and got[2] == want[2] and p.availability is now


@settings(max_examples=200)
@given(pause=FRACS, now=FRACS, seconds=FRACS)
def test_swap_pause_is_the_later_of_the_two(pause, now, seconds) -> None:
    import datetime as dt

    p = Power(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    p.pause_until = pause
    p.clock.advance_to(now)
    p.swap_pause(seconds)
    assert p.pause_until == max(pause, p.clock.now + seconds)
    p.swap_pause(seconds)  # the same operands again
    assert p.pause_until == max(pause, p.clock.now + seconds)
