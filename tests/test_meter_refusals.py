"""Refusals that must leave the meter usable and say why: clock writes out of
the real-time clock's range, and an acceptance that fails across a power cut."""

from __future__ import annotations

import datetime as dt

import pytest
from _pkg_build import key_id, make_package
from meterkit import MGMT, REFUSED, frames, grep, image, key, meter, package

from meteremu.device import BootState, VirtualMeter
from meteremu.device.clock import RTC_MAX, RTC_MIN

CLOCK = "0.0.1.0.0.255"
UTC = dt.timezone.utc


@pytest.mark.parametrize("when", [
    dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
    dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    dt.datetime(2100, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
])
def test_clock_writes_outside_the_rtc_range_are_refused(when: dt.datetime, tmp_path) -> None:
    m = meter(state=tmp_path / "flash")
    before = m.get(CLOCK, 2, client=MGMT)
    with pytest.raises(REFUSED, match="other-reason"):
        m.set(CLOCK, 2, when, client=MGMT)
    assert m.get(CLOCK, 2, client=MGMT) == before
    # everything that used to trip over such a date still works
    m.advance(3600)
    m.receive_many(frames(package(2))[:3])
    m.power_cycle()
    assert m.get("1.0.1.8.0.255", 2, client=MGMT) >= 0
    m.close()
    again = meter(state=tmp_path / "flash")
    assert again.get(CLOCK, 2, client=MGMT) >= before


@pytest.mark.parametrize("when", [RTC_MIN, RTC_MAX - dt.timedelta(hours=1)])
def test_clock_writes_at_the_ends_of_the_range_are_taken(when: dt.datetime, tmp_path) -> None:
    m = meter(state=tmp_path / "flash")
    m.set(CLOCK, 2, when, client=MGMT)
    m.advance(1800)  # a metrology snapshot with that date
    m.close()
    again = meter(state=tmp_path / "flash")
    assert again.get(CLOCK, 2, client=MGMT) >= when


def test_advancing_past_the_end_of_the_clock_is_refused() -> None:
    m = meter()
    m.set(CLOCK, 2, RTC_MAX - dt.timedelta(seconds=10), client=MGMT)
    now = m.now
    with pytest.raises(ValueError, match="past"):
        m.advance(11)
    assert m.now == now
    m.advance(10)


def test_a_meter_cannot_start_its_clock_outside_the_range() -> None:
    with pytest.raises(ValueError, match="meter clock runs from"):
        meter(clock_start=dt.datetime(1970, 1, 1, tzinfo=UTC))
    assert isinstance(meter(clock_start=RTC_MIN), VirtualMeter)


def test_a_bad_signature_cut_after_its_last_fragment_is_logged_at_power_up() -> None:
    # signed by another key than the one its header names: 0xE04 at acceptance
    pkg = make_package(key(1), image(2), version=(2, 0, 0, 0), security_counter=2,
                       key=key_id(key(0).public_key()))
    m = meter()
    stream = frames(pkg)
    for f in stream[:-1]:
        m.receive(f)
    m.flash.cut_after(2)  # the last payload and its mark land; the power goes after
    m.receive(stream[-1])
    assert not m.powered
    m.power_on()
    assert m.boot_state is BootState.FAILED
    assert len(grep(m, "FOTA_ERR 0xE0")) == 1, m.audit_log
