"""Trial, rollback, emulation behaviours, class 18, metrology, clock, transition table."""

from __future__ import annotations

import datetime as dt
import hashlib
from fractions import Fraction

import pytest
from meterkit import MGMT, REFUSED, deliver, grep, meter, package

from meteremu.device import (
    BootState,
    ImageTransferStatus,
    MeterUnavailable,
    MeterUsageError,
)
from meteremu.device.events import ClockSet

NO_HEARTBEAT, CRASH_ON_BOOT, SLOW_BOOT = 1, 2, 3


def activated(behaviour: int = 0, **kw: object):
    m = meter(**kw)
    deliver(m, package(2, behaviour=behaviour))
    assert m.boot_state is BootState.VERIFIED
    if behaviour == CRASH_ON_BOOT:  # the image never comes up: activation says so
        with pytest.raises(REFUSED, match="0x800B"):
            m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    else:
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    return m


def test_no_heartbeat_in_the_window_rolls_back() -> None:
    m = activated()
    assert m.boot_state is BootState.TRIAL
    m.advance(299)
    assert m.active_version == "2.0.0"
    m.advance(2)
    assert m.boot_state is BootState.REVERTED and m.active_version == "1.0.0"
    assert grep(m, "FOTA_EVT ROLLBACK reason=no-heartbeat")
    assert not m.heartbeat()  # nothing on trial any more


def test_heartbeat_window_is_configurable() -> None:
    m = activated(heartbeat_window=30)
    m.advance(31)
    assert m.boot_state is BootState.REVERTED


def test_no_heartbeat_image_never_confirms() -> None:
    m = activated(NO_HEARTBEAT)
    m.advance(10)
    assert m.heartbeat() is False
    assert m.boot_state is BootState.TRIAL
    m.advance(300)
    assert m.boot_state is BootState.REVERTED and m.active_version == "1.0.0"


def test_crash_on_boot_loops_then_reverts() -> None:
    m = activated(CRASH_ON_BOOT)
    assert m.boot_state is BootState.REVERTED and m.active_version == "1.0.0"
    assert len(grep(m, "FOTA_EVT BOOT_FAIL version=2.0.0")) == 3
    assert grep(m, "ROLLBACK reason=boot-loop")


def test_crash_on_boot_with_a_damaged_previous_bank_ends_on_golden() -> None:
    m = meter()
    deliver(m, package(2, behaviour=CRASH_ON_BOOT))
    m.flash.flip_bits(m.layout["bank_a"].offset + 300, 0x10)  # the previous image rots
    with pytest.raises(REFUSED, match="0x800B"):
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.boot_state is BootState.REVERTED
    assert m.active_bank == "golden" and m.active_version == "1.0.0"


def test_slow_boot_keeps_the_meter_silent_for_a_while() -> None:
    m = activated(SLOW_BOOT)
    assert not m.available
    with pytest.raises(MeterUnavailable):
        m.get("0.0.96.1.0.255", 2, client=MGMT)
    with pytest.raises(MeterUnavailable):
        m.heartbeat()
    e0 = m.energy_wh
    m.advance(31)
    assert m.energy_wh > e0  # metrology did not wait for the slow boot
    assert m.available and m.heartbeat()
    assert m.boot_state is BootState.CONFIRMED


def test_power_cycles_in_trial_count_as_boot_attempts() -> None:
    m = activated()
    for _ in range(2):
        m.power_cycle()
        assert m.boot_state is BootState.TRIAL and m.active_version == "2.0.0"
    m.power_cycle()
    assert m.boot_state is BootState.REVERTED and m.active_version == "1.0.0"


def test_anti_rollback_counter_set_on_confirm_not_on_revert() -> None:
    m = activated()  # counter 2, on trial
    m.advance(400)  # reverted: the installed counter stays at the factory's 1
    deliver(m, package(3, counter=1), session=2)
    assert m.boot_state is BootState.VERIFIED
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.heartbeat()  # counter 1 confirmed
    deliver(m, package(4, counter=5), session=3)
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.heartbeat()
    deliver(m, package(5, counter=4), session=4)
    assert grep(m, "FOTA_ERR 0x8006 downgrade")
    assert m.boot_state is BootState.FAILED


def test_class_18_transfer_verify_activate() -> None:
    m = meter()
    pkg = package(2)
    it = "0.0.44.0.0.255"
    assert m.get(it, 6, client=MGMT) == ImageTransferStatus.NOT_INITIATED
    m.action(it, 1, (b"fw-2.0.0", len(pkg)), client=MGMT)
    block = m.get(it, 2, client=MGMT)
    n = -(-len(pkg) // block)
    for i in range(n - 1):
        m.action(it, 2, (i, pkg[i * block : (i + 1) * block]), client=MGMT)
    assert m.get(it, 4, client=MGMT) == n - 1
    with pytest.raises(REFUSED):
        m.action(it, 3, 0, client=MGMT)
    assert m.get(it, 6, client=MGMT) == ImageTransferStatus.VERIFICATION_FAILED
    m.action(it, 2, (n - 1, pkg[(n - 1) * block :]), client=MGMT)
    assert m.get(it, 3, client=MGMT) == "1" * n
    m.action(it, 3, 0, client=MGMT)
    assert m.get(it, 6, client=MGMT) == ImageTransferStatus.VERIFICATION_SUCCESSFUL
    size, ident, digest = m.get(it, 7, client=MGMT)[0]
    assert (size, ident, digest) == (len(pkg), b"fw-2.0.0", hashlib.sha256(pkg).digest())
    m.action(it, 4, 0, client=MGMT)
    assert m.get(it, 6, client=MGMT) == ImageTransferStatus.ACTIVATION_SUCCESSFUL
    assert m.boot_state is BootState.TRIAL and m.active_version == "2.0.0"


def test_metrology_integrates_exactly_and_counts_through_an_update() -> None:
    m = meter(load=[(0, 1200), (1800, 600)])
    m.advance(3600)
    assert m.metrology.energy_wh == Fraction(1200 * 1800 + 600 * 1800, 3600)
    m.set_load(3600)
    deliver(m, package(2))
    m.advance(10)
    e = m.metrology.energy_wh
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    m.advance(10)
    # 10 s at 3600 W minus the 5 ms swap pause
    assert m.metrology.energy_wh - e == Fraction(3600) * (10 - Fraction(5, 1000)) / 3600
    assert m.get("1.0.1.8.0.255", 3, client=MGMT) == (0, 30)
    assert m.get("1.0.1.8.0.255", 2, client=MGMT) == int(m.metrology.energy_wh)


def test_power_cut_loses_at_most_one_interval() -> None:
    m = meter(load=3600)  # 1 Wh per second
    m.advance(1000)
    m.flash.cut_after(0)  # the cut hits the power-fail save: the snapshot at 900 s stands
    m.power_cycle()
    assert 1000 - 900 <= 1000 - m.energy_wh <= 900
    assert m.energy_wh == 900


def test_clock_is_virtual_and_settable() -> None:
    start = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.timezone.utc)
    m = meter(clock_start=start)
    m.advance(5)
    assert m.get("0.0.1.0.0.255", 2, client=MGMT) == start + dt.timedelta(seconds=5)
    new = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    m.set("0.0.1.0.0.255", 2, new, client=MGMT)
    assert m.datetime == new
    m.advance(1)
    assert m.audit_log[-1].startswith("2027-01-01T00:00:00Z FOTA_EVT CLOCK_SET")


def test_audit_log_survives_power_cycles_and_wraps() -> None:
    m = meter()
    for i in range(200):
        m.emit(ClockSet, was=f"TEST n={i}")
    m.power_cycle()
    log = m.audit_log
    assert log[-1].endswith("FOTA_EVT BOOT version=1.0.0 bank=A cold=1")
    ring = m.layout["audit"].size // 128
    assert ring - 1024 // 128 <= len(log) <= ring
    numbers = [int(line.split("n=")[1]) for line in log if "TEST" in line]
    assert numbers == list(range(numbers[0], 200))


def test_object_list_shows_the_rights_of_the_asking_client() -> None:
    m = meter()
    public = {bytes(o[2]): o for o in m.get("0.0.40.0.0.255", 2, client=16)}
    mgmt = {bytes(o[2]): o for o in m.get("0.0.40.0.0.255", 2, client=1)}
    key_ = bytes([0, 0, 96, 10, 2, 255])
    assert public[key_][3][1] == ((1, False),)
    assert mgmt[key_][3][1] == ((1, True),)
    with pytest.raises(MeterUsageError):
        m.get("0.0.96.1.0.255", 2, client=99)
