"""The C bootloader through its binding: update, confirm, revert, boot loop,
golden recovery, anti-rollback, F.03 — with packages signed here."""

from __future__ import annotations

import pytest
from _pkg_build import make_package, sec1
from cryptography.hazmat.primitives.asymmetric import ec

from meteremu._lowlevel.boot import Bank, BootError, Bootloader, BootState, decode_record
from meteremu._lowlevel.flash import Flash
from meteremu._lowlevel.image import ImageError

KEY = ec.derive_private_key(0xB007 * 0x1000193, ec.SECP256R1())
SEC = 4096
BANK = 8 * SEC
AREAS = {
    "bank_a": (0, BANK),
    "bank_b": (BANK, BANK),
    "golden": (2 * BANK, BANK),
    "boot0": (3 * BANK, SEC),
    "boot1": (3 * BANK + SEC, SEC),
}
SIZE = 3 * BANK + 2 * SEC


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
    with pytest.raises(BootError) as info:
        rig.boot.confirm()  # not booted yet
    assert info.value.err_name == "MT_E_STATE"
    rig.boot.boot_ok()
    rig.boot.confirm()
    assert rig.boot.record.state == BootState.CONFIRMED and rig.boot.record.counter == 2
    assert rig.power_cycle() == Bank.B
    rig.put(Bank.A, pkg(1, salt=4))
    with pytest.raises(ImageError) as err:
        rig.boot.activate()
    assert err.value.err_name == "MT_E_DOWNGRADE" and err.value.code.code == "0x8006"


def test_bad_signature_never_boots(rig: Rig) -> None:
    bad = bytearray(pkg(2, salt=5))
    bad[-128 + 10] ^= 1
    rig.put(Bank.B, bytes(bad))
    with pytest.raises(ImageError) as err:
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
    assert info.value.code.code == "F.03" and rig.boot.fault
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
    assert info.value.err_name == "MT_E_NO_BOOTABLE" and info.value.code.code == "F.04"


def test_record_decode() -> None:
    assert decode_record(b"\xff" * 32) is None
    with pytest.raises(ValueError, match=r"a boot-control record is 32 bytes, got 0"):
        decode_record(b"")
