"""The C bootloader through its binding: update, confirm, revert, boot loop,
golden recovery, anti-rollback, F.03 — with packages signed here."""

from __future__ import annotations

import pytest
from _pkg_build import make_package, sec1
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.boot import (
    FLOOR_SLOT_SIZE,
    Bank,
    BootError,
    Bootloader,
    BootState,
    decode_floor_slot,
    decode_record,
    encode_floor_slot,
)
from meteremu._lowlevel.flash import Flash
from meteremu._lowlevel.image import PackageRefused
from meteremu.errors import StateError

KEY = ec.derive_private_key(0xB007 * 0x1000193, ec.SECP256R1())
SEC = 4096
BANK = 8 * SEC
AREAS = {
    "bank_a": (0, BANK),
    "bank_b": (BANK, BANK),
    "golden": (2 * BANK, BANK),
    "boot0": (3 * BANK, SEC),
    "boot1": (3 * BANK + SEC, SEC),
    "floor": (3 * BANK + 2 * SEC, SEC),
}
SIZE = 3 * BANK + 3 * SEC


def pkg(counter: int, behaviour: int = 0, salt: int = 0) -> bytes:
    image = bytes((i * 7 + salt) & 0xFF for i in range(3000 + salt))
    return make_package(KEY, image, security_counter=counter, flags=behaviour)


class Rig:
    """A flash device with a bootloader over it."""

    def __init__(self) -> None:
        self.flash = Flash(SIZE, SEC, 8)
        self.put(Bank.GOLDEN, pkg(0, salt=1))
        self.put(Bank.A, pkg(1, salt=2))
        self.boot = self.new_boot()

    def new_boot(self, **kw: int) -> Bootloader:
        return Bootloader(
            self.flash, AREAS, vendor_id=0x4D455445, hw_revision=3,
            trusted_keys=[sec1(KEY.public_key())], **kw,
        )  # fmt: skip

    def put(self, bank: Bank, data: bytes) -> None:
        off = AREAS[("bank_a", "bank_b", "golden")[bank]][0]
        data += b"\xff" * (-len(data) % 8)
        self.flash.erase(off, BANK)
        self.flash.program(off, data)

    def power_cycle(self) -> Bank:
        self.flash.power_up()
        self.boot = self.new_boot()
        return self.boot.start()


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    assert r.boot.start() == Bank.A
    return r


def update(rig: Rig, data: bytes) -> Bank:
    bank = rig.boot.inactive()
    rig.put(bank, data)
    rig.boot.activate()
    assert rig.boot.start() == bank
    return bank


def test_update_confirm_and_downgrade(rig: Rig) -> None:
    assert update(rig, pkg(2, salt=3)) == Bank.B
    rec = rig.boot.record
    assert rec.state == BootState.TRIAL and rec.attempts == 1 and rec.previous == Bank.A
    with pytest.raises(StateError) as info:
        rig.boot.confirm()  # not booted yet
    assert info.value.err_name == "MT_E_STATE"
    rig.boot.boot_ok()
    rig.boot.confirm()
    assert rig.boot.record.state == BootState.CONFIRMED and rig.boot.record.counter == 2
    assert rig.power_cycle() == Bank.B
    rig.put(Bank.A, pkg(1, salt=4))
    with pytest.raises(PackageRefused) as err:
        rig.boot.activate()
    assert err.value.err_name == "MT_E_DOWNGRADE" and err.value.error.code == "0x8006"


def test_bad_signature_never_boots(rig: Rig) -> None:
    bad = bytearray(pkg(2, salt=5))
    bad[-128 + 10] ^= 1
    rig.put(Bank.B, bytes(bad))
    with pytest.raises(PackageRefused) as err:
        rig.boot.activate()
    assert err.value.err_name == "MT_E_SIGNATURE"
    assert rig.boot.records_written == 0


def test_crash_loop_reverts_then_golden(rig: Rig) -> None:
    update(rig, pkg(3, behaviour=2, salt=6))
    header = rig.boot.running_header
    assert header is not None and header.behaviour == 2
    assert [rig.boot.boot_failed() for _ in range(3)] == [Bank.B, Bank.B, Bank.A]
    assert rig.boot.record.state == BootState.REVERTED
    assert rig.boot.record.counter == 0  # a revert never raises the counter
    # the previous image crashes as well: golden
    assert [rig.boot.boot_failed() for _ in range(3)] == [Bank.A, Bank.A, Bank.GOLDEN]
    assert rig.boot.record.state == BootState.CONFIRMED


def test_missed_heartbeat_revert_keeps_counter(rig: Rig) -> None:
    update(rig, pkg(2, salt=7))
    rig.boot.boot_ok()
    rig.boot.confirm()
    update(rig, pkg(4, behaviour=1, salt=8))
    rig.boot.boot_ok()
    rig.boot.revert()
    assert rig.boot.start() == Bank.B
    rig.boot.boot_ok()
    assert rig.boot.record.counter == 2 and rig.boot.record.state == BootState.CONFIRMED


def test_power_cut_is_f03_and_power_cycle_resolves(rig: Rig) -> None:
    rig.put(Bank.B, pkg(2, salt=9))
    rig.flash.cut_after(0)
    with pytest.raises(BootError) as info:
        rig.boot.activate()
    assert info.value.error.code == "F.03" and rig.boot.fault
    assert rig.boot.running == Bank.A
    assert rig.power_cycle() == Bank.A
    rig.boot.activate()
    assert rig.boot.start() == Bank.B


def test_nothing_bootable_and_golden(rig: Rig) -> None:
    rig.boot.golden()
    assert rig.boot.start() == Bank.GOLDEN
    assert rig.boot.inactive() == Bank.A
    rig.put(Bank.GOLDEN, b"\x00" * 64)
    with pytest.raises(BootError) as info:
        rig.boot.start()
    assert info.value.err_name == "MT_E_NO_BOOTABLE" and info.value.error.code == "F.04"


def test_record_decode() -> None:
    assert decode_record(b"\xff" * 32) is None
    with pytest.raises(ValueError, match=r"a boot-control record is 32 bytes, got 0"):
        decode_record(b"")


def test_floor_slot_codec() -> None:
    slot = encode_floor_slot(0x01020304)
    assert len(slot) == FLOOR_SLOT_SIZE
    assert slot[:4] == b"MTFL" and slot[4:8] == bytes([4, 3, 2, 1])
    assert slot[8:12] == bytes([0xFB, 0xFC, 0xFD, 0xFE])
    assert decode_floor_slot(slot) == 0x01020304
    assert decode_floor_slot(b"\xff" * FLOOR_SLOT_SIZE) is None
    for i in range(FLOOR_SLOT_SIZE * 8):
        flipped = bytearray(slot)
        flipped[i // 8] ^= 1 << (i % 8)
        assert decode_floor_slot(bytes(flipped)) is None
    with pytest.raises(ValueError):
        decode_floor_slot(b"")
    with pytest.raises(ValueError):
        encode_floor_slot(-1)


def _floor_cells(rig: Rig) -> bytes:
    off, size = AREAS["floor"]
    return rig.flash.read(off, size)


def test_floor_area_keeps_the_floor_when_the_records_are_erased(rig: Rig) -> None:
    update(rig, pkg(2, salt=3))
    rig.boot.boot_ok()
    rig.boot.confirm()
    assert rig.boot.floor == 2 and rig.boot.floor_fault is None
    assert decode_floor_slot(_floor_cells(rig)[:FLOOR_SLOT_SIZE]) == 2
    for name in ("boot0", "boot1"):
        off, size = AREAS[name]
        rig.flash.erase(off, size)
    assert rig.power_cycle() == Bank.B  # A holds counter 1, below the floor
    assert (rig.boot.floor_record, rig.boot.floor_otp, rig.boot.floor) == (0, 2, 2)
    assert rig.boot.record.counter == 2  # the fallback record carries the floor
    rig.boot.boot_ok()
    with pytest.raises(PackageRefused) as err:
        rig.boot.activate()
    assert err.value.err_name == "MT_E_DOWNGRADE"


def test_floor_fault_is_reported_not_raised(rig: Rig) -> None:
    update(rig, pkg(2, salt=3))
    rig.boot.boot_ok()
    off, _ = AREAS["floor"]
    rig.flash.set_sector_endurance(off, 0)
    rig.boot.confirm()  # the record is the commit: no exception
    fault = rig.boot.floor_fault
    assert fault is not None and fault.err_name == "MT_E_FLASH_WORN"
    assert fault.error is not None and fault.error.code == "0x9004"
    assert rig.boot.floor == 2
    assert rig.power_cycle() == Bank.B
    assert (rig.boot.floor_record, rig.boot.floor_otp) == (2, 0)
    assert rig.boot.floor_fault is not None  # the repair failed too
    rig.flash.clear_faults()
    assert rig.power_cycle() == Bank.B
    assert rig.boot.floor_fault is None
    assert rig.power_cycle() == Bank.B
    assert (rig.boot.floor_record, rig.boot.floor_otp) == (2, 2)


def test_floor_area_is_required() -> None:
    r = Rig()
    areas = {k: v for k, v in AREAS.items() if k != "floor"}
    with pytest.raises(KeyError):
        Bootloader(r.flash, areas, vendor_id=0x4D455445, hw_revision=3,
                   trusted_keys=[sec1(KEY.public_key())])


# -- the verification cache keys on the bytes: a flip after validation is caught


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_bit_flipped_between_validation_and_boot_is_caught(data: st.DataObject) -> None:
    """Validation, then any one bit of the package flipped (header, image, or the
    trailer with its signature, which neither CRC nor SHA-256 covers): activation,
    or the boot after it, reads the bank again and refuses it. The write
    generation the cache keys on moved, so nothing is taken on the cache's word."""
    r = Rig()
    assert r.boot.start() == Bank.A
    r.boot.boot_ok()
    new = pkg(2, salt=5)
    bank = r.boot.inactive()
    r.put(bank, new)
    r.boot.verify()
    passes = r.boot.checks(bank)
    bit = data.draw(st.integers(0, 8 * len(new) - 1), label="bit")
    before_activation = data.draw(st.booleans(), label="before activation")
    off = AREAS[("bank_a", "bank_b", "golden")[bank]][0] + bit // 8
    if before_activation:
        r.flash.flip_bits(off, 1 << bit % 8)
        with pytest.raises(PackageRefused):
            r.boot.activate()
        assert r.boot.start() == Bank.A  # the record was never written
    else:
        r.boot.activate()
        assert r.boot.checks(bank) == passes  # unchanged bank: the cache answered
        r.flash.flip_bits(off, 1 << bit % 8)
        assert r.boot.start() == Bank.A  # read again, refused, fallen back
    if bit >= 8 * 128:  # past the header (its own CRC refuses a flip there first)
        assert r.boot.checks(bank)[0] == passes[0] + 1  # the image was read again
