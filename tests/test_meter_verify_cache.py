"""The bootloader's per-bank verification cache, through the meter (SPEC section 5:
a result may be cached only keyed on every byte the check read, and a cache never
skips a check whose input changed).

The meter's bootloader keeps, per bank, the key of the last package whose
signature verified. A second download into the same bank with the same header and
image but another trailer must run ECDSA again. It also keeps the bank's write
generation at its last full check: while nothing has written the bank since, a
check reads no image byte; a flipped bit or a torn write makes it read everything.
"""

from __future__ import annotations

import pytest
from _pkg_build import make_package
from meterkit import MGMT, REFUSED, deliver, grep, image, key, meter, package

from meteremu._lowlevel.boot import Bank
from meteremu._lowlevel.flash import Tear
from meteremu.device import BootState
from meteremu.errors import FlashPowerError

TRAILER = 128  # _pkg_build's default trailer size


def _with_trailer_of(pkg: bytes, donor: bytes) -> bytes:
    """pkg's header and image with donor's trailer (both TRAILER bytes)."""
    assert int.from_bytes(pkg[34:36], "little") == TRAILER
    assert int.from_bytes(donor[34:36], "little") == TRAILER
    return pkg[:-TRAILER] + donor[-TRAILER:]


def test_cached_verification_does_not_accept_a_changed_signature() -> None:
    m = meter()
    good = package(2)
    deliver(m, good)
    assert m.boot_state is BootState.VERIFIED
    assert grep(m, "FOTA_OK VERIFIED version=2.0.0")
    # The same header and image; the trailer carries a well-formed DER signature by
    # the trusted key, made over another package: it does not verify over this one.
    bad = _with_trailer_of(good, package(3))
    assert bad[:-TRAILER] == good[:-TRAILER] and bad != good
    deliver(m, bad, session=0x5EEF)
    errors = grep(m, "FOTA_ERR 0xE04")
    assert errors, "\n".join(m.audit_log)
    assert m.boot_state is BootState.FAILED
    assert len(grep(m, "FOTA_OK VERIFIED")) == 1
    with pytest.raises(REFUSED):
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert not grep(m, "FOTA_OK ACTIVATED")
    m.power_cycle()
    assert m.active_version == "1.0.0"


def test_cached_verification_accepts_a_new_valid_signature() -> None:
    """A miss is not a refusal: the same package signed again (ECDSA signatures
    differ each time) verifies by running every step."""
    m = meter()
    good = package(2)
    deliver(m, good)
    resigned = make_package(key(0), image(2), version=(2, 0, 0, 0), security_counter=2)
    assert resigned[:-TRAILER] == good[:-TRAILER] and resigned != good
    deliver(m, resigned, session=0x5EEF)
    assert len(grep(m, "FOTA_OK VERIFIED version=2.0.0")) == 2
    assert not grep(m, "FOTA_ERR")
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.active_version == "2.0.0"


# ---- the cache by write generation (csrc/mt_boot.h, "Verification cache") ----


def _checks(m, bank: Bank) -> tuple[int, int]:  # (validations that read the image, ECDSA runs)
    return m.boot.loader.checks(bank)


def test_construction_checks_the_factory_package_once() -> None:
    """The package file is checked in full before anything is written; the
    bootloader's check of bank A adopts that content key (one pass, no ECDSA) and
    the first boot reads no image at all."""
    m = meter()
    assert m.active_version == "1.0.0"
    assert _checks(m, Bank.A) == (1, 0)
    assert _checks(m, Bank.B) == _checks(m, Bank.GOLDEN) == (0, 0)
    m.power_cycle()
    assert _checks(m, Bank.A) == (1, 0)


def test_an_update_reads_the_new_bank_once() -> None:
    m = meter()
    deliver(m, package(2))
    assert _checks(m, Bank.B) == (1, 1)  # acceptance when the last fragment arrived
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.active_version == "2.0.0"
    assert m.heartbeat()
    m.power_cycle()
    assert m.active_version == "2.0.0"
    assert _checks(m, Bank.B) == (1, 1)  # activation, trial boot, power-up: no pass


def test_a_flipped_bit_in_the_running_bank_is_found_at_the_next_boot() -> None:
    m = meter()
    deliver(m, package(2))
    m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert m.heartbeat() and m.active_version == "2.0.0"
    m.flash.flip_bits(m.layout["bank_b"].offset + 128 + 999, 0x20)
    m.power_cycle()
    assert _checks(m, Bank.B) == (2, 1)  # read again: the CRC refuses it
    assert m.active_version != "2.0.0"
    assert grep(m, "FOTA_ERR")


def test_a_torn_write_into_a_verified_bank_is_found_at_activation() -> None:
    m = meter()
    deliver(m, package(2))
    assert m.boot_state is BootState.VERIFIED
    bank = m.layout["bank_b"].offset
    m.flash.set_tear(Tear.PREFIX, 8)
    m.flash.cut_after(0)
    with pytest.raises(FlashPowerError):
        m.flash.program(bank + 1024, b"\x00" * 16)
    m.flash.power_up()
    m.flash.set_tear(Tear.NONE)
    with pytest.raises(REFUSED):
        m.action("0.0.96.10.2.255", 1, True, client=MGMT)
    assert _checks(m, Bank.B)[0] == 2
    assert m.active_version == "1.0.0"
