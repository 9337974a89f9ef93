"""The bootloader's per-bank verification cache, through the meter (SPEC section 5:
a result may be cached only keyed on every byte the check read, and a cache never
skips a check whose input changed).

The meter's bootloader keeps, per bank, the key of the last package whose
signature verified. A second download into the same bank with the same header and
image but another trailer must run ECDSA again.
"""

from __future__ import annotations

import pytest
from _pkg_build import make_package
from meterkit import MGMT, REFUSED, deliver, grep, image, key, meter, package

from meteremu.device import BootState

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
