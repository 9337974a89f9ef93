"""Battery-powered meters: radio time spends the reserve, 0x9003 stops the download."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meterkit import MGMT, REFUSED, deliver, frames, grep, meter, package

from meteremu.device import Battery, BootState, MeterUsageError, Receipt
from meteremu.device.battery import NO_BATTERY
from meteremu.hes import LossyLink
from meteremu.hes import deliver as hes_deliver

PKG = package(2)
STREAM = frames(PKG)
N = len(STREAM)
RX = 10  # mJ per frame in these tests
IT = "0.0.44.0.0.255"


def battery_meter(reserve: int, minimum: int = 100, rx: Fraction | int = RX, **kw: object):
    return meter(battery=Battery(reserve_mj=reserve, minimum_mj=minimum, rx_frame_mj=rx), **kw)


def _nvm_battery(m) -> int:
    return m._metro_ring.records[-1].battery_mj


def test_mains_powered_by_default() -> None:
    m = meter()
    assert m.battery is None and m.battery_mj is None and m.battery_floor_mj is None
    deliver(m, PKG)
    assert m.boot_state is BootState.VERIFIED
    assert _nvm_battery(m) == NO_BATTERY
    with pytest.raises(MeterUsageError):
        m.replace_battery()


def test_every_frame_costs_its_receive_energy() -> None:
    m = battery_meter(5000)
    assert m.battery_mj == 5000 and _nvm_battery(m) == 5000  # fitted: written at once
    deliver(m, PKG)
    assert m.boot_state is BootState.VERIFIED
    assert m.battery_mj == 5000 - N * RX
    # garbage and duplicates are radio time too
    m.receive(b"\x00" * 40)
    m.receive(STREAM[3])
    assert m.battery_mj == 5000 - (N + 2) * RX
    assert not grep(m, "0x9003")


def test_the_nvm_debit_is_never_above_the_reserve() -> None:
    m = battery_meter(5000, rx=Fraction(7, 3))
    for f in STREAM:
        m.receive(f)
        assert m.battery_floor_mj == _nvm_battery(m) <= m.battery_mj
        assert m.battery_mj - m.battery_floor_mj <= m.BATTERY_DEBIT_FRAMES * Fraction(7, 3) + 1


def test_a_download_the_reserve_cannot_pay_for_is_refused_at_its_first_frame() -> None:
    # enough for a few frames, not for the session: refused before a byte is written
    m = battery_meter(100 + (N - 2) * RX)
    bank_b = m.layout["bank_b"]
    before = m.flash.dump()[bank_b.offset : bank_b.end]
    assert m.receive(STREAM[0]) is Receipt.REFUSED
    (line,) = grep(m, "FOTA_ERR 0x9003 battery reserve")
    assert f"session=0x00005eed spare={(N - 3) * RX}mJ need={(N - 1) * RX}mJ" in line
    assert m.boot_state is BootState.FAILED
    assert m.download_progress() == (0, 0)
    # the meter has left the session: its frames are dropped without cost or record
    spent = m.battery_mj
    for f in STREAM[1:]:
        assert m.receive(f) is Receipt.DROPPED_BATTERY
    assert m.battery_mj == spent
    assert len(grep(m, "0x9003")) == 1
    assert m.counters["dropped-battery"] == N - 1
    assert m.flash.dump()[bank_b.offset : bank_b.end] == before
    assert m.active_version == "1.0.0"


def test_a_poor_link_runs_the_reserve_down_to_the_minimum() -> None:
    """Seed section B: attenuation stretches a download past the battery reserve.
    Frames that arrive damaged or twice cost the radio as much as good ones."""
    reserve = 100 + (N + 3) * RX  # a clean link needs N frames: enough
    clean = battery_meter(reserve)
    assert hes_deliver(clean, STREAM).complete
    assert clean.boot_state is BootState.VERIFIED

    m = battery_meter(reserve)
    poor = LossyLink(5, loss=0.1, corrupt=0.3, duplicate=0.1)
    d = hes_deliver(m, STREAM, poor, max_rounds=20)
    assert not d.complete and d.rounds < 20  # the delivery sees the session end
    assert m.battery_mj >= 100  # never below the minimum
    assert m.battery_mj < 100 + RX  # ... and it stopped only there
    assert len(grep(m, "FOTA_ERR 0x9003")) == 1
    assert m.boot_state is BootState.FAILED
    assert m.download_progress() == (0, 0)
    assert m.active_version == "1.0.0"
    # more frames of that session: dropped, nothing logged, nothing spent
    left = m.battery_mj
    assert m.receive(STREAM[0]) is Receipt.DROPPED_BATTERY
    assert m.battery_mj == left and len(grep(m, "0x9003")) == 1


def test_below_the_minimum_other_sessions_are_refused_once_each() -> None:
    m = battery_meter(100 + 2 * RX)
    m.receive(STREAM[0])  # refused: the session needs more
    m.receive(STREAM[1])
    for sid in (0x1111, 0x1111, 0x2222):
        m.receive(frames(PKG, session=sid)[0])
    assert [line.split("session=")[1][:10] for line in grep(m, "0x9003")] == [
        "0x00005eed", "0x00001111", "0x00002222"]


def test_a_power_cut_does_not_refill_the_battery(tmp_path) -> None:
    path = tmp_path / "meter.flash"
    m = battery_meter(100_000, state=path)
    for f in STREAM[:20]:
        m.receive(f)
    spent_down_to = m.battery_mj
    m.power_cycle()
    assert m.battery_mj <= spent_down_to
    assert spent_down_to - m.battery_mj <= m.BATTERY_DEBIT_FRAMES * RX
    cut_at = m.battery_mj
    m.close()
    again = battery_meter(100_000, state=path)  # the battery argument does not refill it
    assert again.battery_mj == cut_at
    for f in STREAM[20:]:
        again.receive(f)
    assert again.boot_state is BootState.VERIFIED
    again.close()


def test_a_cut_at_any_flash_operation_never_refills() -> None:
    clean = battery_meter(100 + 4 * N * RX, rx=RX)
    base = clean.flash.ops_total
    deliver(clean, PKG)
    ops = clean.flash.ops_total - base
    assert ops > N
    for k in range(ops):
        m = battery_meter(100 + 4 * N * RX, rx=RX)
        m.flash.cut_after(k)
        lowest = m.battery_mj
        for f in STREAM:
            m.receive(f)
            if m.battery_mj is not None and m.powered:
                lowest = min(lowest, m.battery_mj)
        m.power_on()
        assert m.battery_mj <= lowest, k


def test_replacing_the_battery_allows_downloads_again() -> None:
    m = battery_meter(100 + 5 * RX)
    deliver(m, PKG)
    assert grep(m, "0x9003") and m.boot_state is BootState.FAILED
    m.replace_battery(Battery(reserve_mj=50_000, minimum_mj=100, rx_frame_mj=RX))
    assert m.battery_mj == 50_000 == _nvm_battery(m)
    assert grep(m, "FOTA_EVT BATTERY_REPLACED reserve=50000mJ")
    deliver(m, PKG, session=0x7777)
    assert m.boot_state is BootState.VERIFIED
    m.power_off()
    with pytest.raises(MeterUsageError):
        m.replace_battery()


def test_class_18_transfer_pays_per_block_and_is_refused_up_front() -> None:
    block = 128
    blocks = -(-len(PKG) // block)
    m = battery_meter(100 + (blocks - 1) * RX)
    with pytest.raises(REFUSED) as exc:
        m.action(IT, 1, (b"fw-2.0.0", len(PKG)), client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "0x9003"
    assert grep(m, "FOTA_ERR 0x9003")

    m = battery_meter(100 + blocks * RX)
    m.action(IT, 1, (b"fw-2.0.0", len(PKG)), client=MGMT)
    for i in range(blocks):
        m.action(IT, 2, (i, PKG[i * block : (i + 1) * block]), client=MGMT)
    assert m.battery_mj == 100
    # one block more than the reserve pays for: the image is complete, so it is
    # kept (the block is not taken), and it verifies and activates
    with pytest.raises(REFUSED, match="complete and kept"):
        m.action(IT, 2, (0, PKG[:block]), client=MGMT)
    assert m.boot_state is BootState.DOWNLOADING and not grep(m, "0x9003")
    m.action(IT, 3, None, client=MGMT)
    m.action(IT, 4, None, client=MGMT)
    assert m.active_version == "2.0.0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reserve_mj": -1}, r"reserve_mj must be 0\.\.4294967294, not -1"),
        ({"reserve_mj": NO_BATTERY}, r"reserve_mj must be 0\.\.4294967294, not 4294967295"),
        ({"reserve_mj": 10, "minimum_mj": -5}, r"minimum_mj must be 0\.\.4294967294, not -5"),
        ({"reserve_mj": 10, "rx_frame_mj": 0}, r"rx_frame_mj must be > 0, not 0"),
    ],
)
def test_battery_values_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Battery(**kwargs)


@settings(deadline=None, max_examples=40)
@given(reserve=st.integers(0, 2000), minimum=st.integers(0, 600),
       rx=st.fractions(min_value=Fraction(1, 4), max_value=50, max_denominator=8),
       loss=st.sampled_from([0.0, 0.2, 0.5]), seed=st.integers(0, 3))
def test_the_reserve_never_crosses_the_minimum_through_the_radio(
        reserve, minimum, rx, loss, seed) -> None:
    m = battery_meter(reserve, minimum, rx)
    link = LossyLink(seed, loss=loss, corrupt=loss, duplicate=0.1)
    hes_deliver(m, STREAM, link, max_rounds=5)
    assert m.battery_floor_mj <= m.battery_mj
    if reserve >= minimum:
        assert m.battery_mj >= minimum
    else:  # a battery below its minimum from the start pays for nothing
        assert m.battery_mj == reserve
    refused = grep(m, "FOTA_ERR 0x9003")
    assert len(refused) <= 1
    if refused:
        assert m.boot_state is BootState.FAILED
    else:  # complete, or still going when the rounds ran out
        assert m.boot_state in (BootState.VERIFIED, BootState.DOWNLOADING)


def test_a_verified_package_survives_frames_the_reserve_cannot_pay_for() -> None:
    stream = frames(package(2))
    m = battery_meter(reserve=100 + RX * (len(stream) + 3))  # the package and three more
    assert set(m.receive_many(stream)) == {Receipt.WRITTEN}
    assert m.boot_state is BootState.VERIFIED
    # siblings' retransmissions of the same session: heard, paid, then dropped at
    # the minimum -- the package the meter holds stays verified
    got = m.receive_many(stream[:10])
    assert got[:3] == [Receipt.DUPLICATE] * 3
    assert set(got[3:]) == {Receipt.DROPPED_BATTERY}
    assert m.boot_state is BootState.VERIFIED and not grep(m, "0x9003")
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.active_version == "2.0.0"
