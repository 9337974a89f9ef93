"""Every code of the error table, provoked through the meter, with its audit record."""

from __future__ import annotations

import pytest
from _pkg_build import make_package
from meterkit import (
    HW_REV,
    MGMT,
    REFUSED,
    SMALL,
    VENDOR,
    deliver,
    frames,
    grep,
    image,
    key,
    meter,
    package,
)

from meteremu._lowlevel.reasm import Frame, encode_frame
from meteremu.device import Battery, BootState, MeterUnavailable
from meteremu.device.cosem import Client
from meteremu.errors import ERRORS, DataAccessResult

# Which test provokes each code (each asserts its FOTA_ERR record).
COVERED = {
    "0x8000": "test_activate_with_nothing_verified_is_0x8000",
    "0x8001": "test_incomplete_image_on_activation_is_0x8001",
    "0x8002": "test_acceptance_failures_after_download",
    "0x8003": "test_acceptance_failures_after_download",
    "0x8004": "test_header_refused_as_soon_as_it_arrives",
    "0x8005": "test_acceptance_failures_after_download",
    "0x8006": "test_acceptance_failures_after_download",
    "0x8007": "test_header_refused_as_soon_as_it_arrives",
    "0x8008": "test_header_refused_as_soon_as_it_arrives",
    "0x8009": "test_bad_frames_are_counted_and_logged_once_as_0x8009",
    "0x800A": "test_conflicting_duplicate_stops_the_download_0x800A",
    "0x800B": "test_activated_image_that_never_comes_up_is_0x800B",
    "0x9002": "test_too_big_is_refused_before_a_byte_is_written",
    "0x9003": "test_battery_reserve_at_its_minimum_stops_the_download_0x9003",
    "0x9004": "test_worn_bank_sector_is_a_flash_fault_0x9004",
    "0xE04": "test_acceptance_failures_after_download",
    "0xE05": "test_missing_signature_is_0xE05",
    "0xE06": "test_malformed_trailer_is_0xE06",
    "F.03": "test_boot_control_write_failure_is_F03_and_a_power_cycle_rolls_back",
    "F.04": "test_nothing_bootable_is_F04",
}


def _expect(m, code: str, state: BootState | None = BootState.FAILED) -> None:
    lines = grep(m, f"FOTA_ERR {code} ")
    assert lines, f"no {code} record in:\n" + "\n".join(m.audit_log)
    assert m.active_version in (None, "1.0.0")  # the active image was never replaced
    if state is not None:
        assert m.boot_state is state


def _signed_with_fields(**fields: object) -> bytes:
    return make_package(key(0), image(2), version=(2, 0, 0, 0), security_counter=2, **fields)


@pytest.mark.parametrize(
    ("code", "pkg"),
    [
        ("0x8002", lambda: _signed_with_fields(image_crc32=1)),
        ("0x8003", lambda: _signed_with_fields(image_sha256=bytes(32))),
        ("0x8005", lambda: package(2, signer=1)),
        ("0x8006", lambda: package(2, counter=0)),
        # known key ID, signature by another key: the signature does not verify
        ("0xE04", lambda: make_package(key(1), image(2), version=(2, 0, 0, 0),
                                       security_counter=2, key=package(2)[76:84])),
    ],
)
def test_acceptance_failures_after_download(code, pkg) -> None:
    m = meter()
    deliver(m, pkg())
    _expect(m, code)
    with pytest.raises(REFUSED) as exc:
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "0x8000"
    m.power_cycle()
    assert m.active_version == "1.0.0"


def _trailer_variant(records: bytes) -> bytes:
    pkg = package(2)
    trailer_size = int.from_bytes(pkg[34:36], "little")
    body = pkg[: len(pkg) - trailer_size]
    return body + records + b"\xff" * (trailer_size - len(records))


def test_missing_signature_is_0xE05() -> None:
    m = meter()
    deliver(m, _trailer_variant(b""))
    _expect(m, "0xE05")


def test_malformed_trailer_is_0xE06() -> None:
    m = meter()
    deliver(m, _trailer_variant(b"\x07\x02\x00ab"))
    _expect(m, "0xE06")


@pytest.mark.parametrize(
    ("code", "fields"),
    [
        ("0x8004", {"hw_revision": HW_REV + 1}),
        ("0x8007", {"vendor_id": VENDOR + 1}),
        ("0x8008", {"header_crc32": 1}),
    ],
)
def test_header_refused_as_soon_as_it_arrives(code, fields) -> None:
    m = meter()
    stream = frames(_signed_with_fields(**fields))
    assert m.receive(stream[0]).value == "refused"
    _expect(m, code)
    assert m.download_progress() == (0, 0)


def test_too_big_is_refused_before_a_byte_is_written() -> None:
    m = meter()
    big = package(2, size=SMALL.bank_size)  # with header and trailer: larger than the bank
    bank_b = m.layout["bank_b"]
    before = m.flash.dump()[bank_b.offset : bank_b.end]
    assert m.receive(frames(big)[1]).value == "refused"
    _expect(m, "0x9002")
    assert m.flash.dump()[bank_b.offset : bank_b.end] == before
    with pytest.raises(REFUSED):  # the DLMS path refuses it at initiate
        m.action("0.0.44.0.0.255", 1, (b"big", len(big)), client=MGMT)
    assert len(grep(m, "0x9002")) == 2


def test_incomplete_image_on_activation_is_0x8001() -> None:
    m = meter()
    stream = frames(package(2))
    for f in stream[:-3]:
        m.receive(f)
    with pytest.raises(REFUSED) as exc:
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "0x8001"
    _expect(m, "0x8001", BootState.DOWNLOADING)
    for f in stream[-3:]:  # the download goes on from where it stopped
        m.receive(f)
    assert m.boot_state is BootState.VERIFIED


def test_activate_with_nothing_verified_is_0x8000() -> None:
    m = meter()
    with pytest.raises(REFUSED) as exc:
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert exc.value.result is DataAccessResult.OTHER_REASON
    _expect(m, "0x8000", BootState.IDLE)


def test_bad_frames_are_counted_and_logged_once_as_0x8009() -> None:
    m = meter()
    good = frames(package(2))
    bad = bytearray(good[0])
    bad[-1] ^= 0xFF
    for _ in range(5):
        assert m.receive(bytes(bad)).value == "dropped-frame"
    assert m.receive(b"\x00" * 5).value == "dropped-frame"
    assert m.counters["dropped-frame"] == 6
    assert len(grep(m, "0x8009 fragment rejected reason=frame")) == 1
    _expect(m, "0x8009", BootState.IDLE)


def test_conflicting_duplicate_stops_the_download_0x800A() -> None:
    m = meter()
    stream = frames(package(2))
    m.receive(stream[0])
    m.receive(stream[1])
    other = encode_frame(Frame(0x5EED, len(package(2)), 128, 1, len(stream), bytes(128)))
    assert m.receive(other).value == "refused"
    _expect(m, "0x800A")


def test_activated_image_that_never_comes_up_is_0x800B() -> None:
    m = meter()
    deliver(m, package(2, behaviour=2))  # crash-on-boot
    with pytest.raises(REFUSED) as exc:
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "0x800B"
    _expect(m, "0x800B", BootState.REVERTED)


def test_worn_bank_sector_is_a_flash_fault_0x9004() -> None:
    m = meter()
    m.flash.set_sector_endurance(m.layout["bank_b"].offset, 0)
    assert m.receive(frames(package(2))[0]).value == "refused"
    _expect(m, "0x9004")


def test_boot_control_write_failure_is_F03_and_a_power_cycle_rolls_back() -> None:
    m = meter()
    deliver(m, package(2))
    assert m.boot_state is BootState.VERIFIED
    for name in ("boot0", "boot1"):
        region = m.layout[name]
        m.flash.set_sector_endurance(region.offset, m.flash.wear(region.offset))
    with pytest.raises(REFUSED) as exc:
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert exc.value.error is not None and exc.value.error.code == "F.03"
    assert m.lcd == "F.03"
    _expect(m, "F.03")
    m.flash.clear_faults()
    m.power_cycle()
    assert m.lcd == "" and m.active_version == "1.0.0"


def test_nothing_bootable_is_F04() -> None:
    m = meter()
    for name in ("bank_a", "bank_b", "golden"):
        m.flash.flip_bits(m.layout[name].offset + 200, 0x01)
    m.power_cycle()
    assert m.lcd == "F.04"
    assert not m.available
    with pytest.raises(MeterUnavailable):
        m.get("0.0.96.1.0.255", 2, client=MGMT)
    assert m.receive(frames(package(2))[0]).value == "dropped-unavailable"
    assert grep(m, "FOTA_ERR F.04 no bootable image")


def test_public_client_is_read_only() -> None:
    m = meter()
    assert m.get("0.0.96.1.0.255", 2, client=Client.PUBLIC) == b"SN0001"
    with pytest.raises(REFUSED) as exc:
        m.action("0.0.96.10.2.255", 1, True, client=Client.PUBLIC)
    assert exc.value.result is DataAccessResult.READ_WRITE_DENIED
    with pytest.raises(REFUSED) as exc:
        m.get("0.0.44.0.0.255", 6, client=Client.PUBLIC)
    assert exc.value.result is DataAccessResult.READ_WRITE_DENIED
    with pytest.raises(REFUSED) as exc:
        m.get("0.0.99.99.0.255", 2, client=MGMT)
    assert exc.value.result is DataAccessResult.OBJECT_UNDEFINED


def test_battery_reserve_at_its_minimum_stops_the_download_0x9003() -> None:
    # enough for the first 10 frames above the minimum, not for the 26 of the session;
    # more in test_meter_battery.py
    stream = frames(package(2))
    m = meter(battery=Battery(reserve_mj=1100, minimum_mj=1000, rx_frame_mj=10))
    assert m.receive(stream[0]).value == "refused"
    for f in stream[1:]:
        assert m.receive(f).value == "dropped-battery"
    assert len(grep(m, "0x9003")) == 1
    _expect(m, "0x9003")


def test_every_table_code_has_a_test_here() -> None:
    # A code added to the table needs a test in this module.
    assert {e.code for e in ERRORS} == set(COVERED)
    assert all(name in globals() for name in COVERED.values())
