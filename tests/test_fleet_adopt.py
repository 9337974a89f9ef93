"""A broadcast checks its package once and the meters' download banks adopt the
check (``VirtualMeter.adopt_download_check``): keyed on every byte the check
reads, so it only ever spares work on the very bytes that passed.

The fleet side must end exactly as meters driven one by one (which adopt
nothing): an intact meter accepts without ECDSA, a meter whose bank holds
one bit else (a stuck cell) or a package changed in one byte (image or
signature) gets the full check and the same refusal as its twin.
"""

from __future__ import annotations

from typing import Any

import pytest
from fleetkit import FACTORY, KEYS, UPDATE

from meteremu._lowlevel.boot import Bank
from meteremu._lowlevel.image import ImageCache, check_package
from meteremu.device import VirtualMeter
from meteremu.errors import PackageRefused
from meteremu.fleet import Fleet
from meteremu.hes import fragment_package
from meteremu.testing import HW_REVISION, VENDOR_ID

SESSION = 0xAD07
FRAMES = fragment_package(UPDATE, session_id=SESSION)


def _meter(serial: str) -> VirtualMeter:
    return VirtualMeter(serial=serial, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                        trusted_keys=[KEYS.point], factory_package=FACTORY)


def _picture(m: VirtualMeter) -> dict[str, Any]:
    return {"flash": m.flash.dump(), "state": m.boot_state, "version": m.active_version,
            "record": m.boot_record, "audit": m.audit_log, "events": m.drain_events(),
            "refusals": m.refusals, "last": m.last_refusal, "counters": dict(m.counters)}


def _cache(pkg: bytes) -> ImageCache:
    cache = ImageCache()
    check_package(pkg, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                  bank_size=_meter("probe").layout.geometry.bank_size,
                  trusted_keys=[KEYS.point], cache=cache)
    return cache


def _ecdsa(m: VirtualMeter) -> int:
    return m.boot.loader.checks(Bank.B)[1]


def test_a_fleet_adopts_the_broadcast_check_and_a_stuck_bit_is_caught() -> None:
    fleet = Fleet.build(4, trusted_keys=[KEYS.point], factory_package=FACTORY,
                        vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    twins = {s: _meter(s) for s in fleet}
    stuck = fleet.serials[2]
    for m in (fleet[stuck], twins[stuck]):  # one cell of its download bank reads 0
        m.flash.stick_bits(m.layout["bank_b"].offset + 3000, zero=0x01)
    result = fleet.broadcast(FRAMES, seed=3)
    for s, t in twins.items():
        t.receive_many(FRAMES)
        assert _picture(fleet[s]) == _picture(t), s
    for s in fleet:
        if s == stuck:
            assert result.outcomes[s].kind == "refused"
            assert _ecdsa(fleet[s]) == _ecdsa(twins[s])  # the full check, as on its own
        else:
            assert _ecdsa(fleet[s]) == 0  # accepted: the adopted check answered
            assert fleet[s].boot.loader.matched(Bank.B) == 1  # by one compare, no SHA-256
            assert _ecdsa(twins[s]) == 1  # its twin ran ECDSA itself
            assert twins[s].boot.loader.matched(Bank.B) == 0
    assert fleet.activate()[fleet.serials[0]] is None
    fleet.close()


@pytest.mark.parametrize("where", ["image", "signature"])
def test_an_adopted_check_never_passes_a_changed_byte(where: str) -> None:
    """The check of UPDATE adopted, then a package differing from it in one byte
    (frames re-made, so every frame is well formed): refused exactly as by a
    meter that adopted nothing."""
    changed = bytearray(UPDATE)
    at = 128 + 1000 if where == "image" else len(UPDATE) - 20
    changed[at] ^= 0x04
    with pytest.raises(PackageRefused):
        _cache(bytes(changed))
    frames = fragment_package(bytes(changed), session_id=SESSION)
    adopted, plain = _meter("A"), _meter("P")
    adopted.adopt_download_check(_cache(UPDATE))
    adopted.receive_many(frames)
    plain.receive_many(frames)
    assert adopted.refusals == plain.refusals >= 1
    assert _picture(adopted) == _picture(plain)
    assert _ecdsa(adopted) == _ecdsa(plain)
    assert adopted.boot.loader.matched(Bank.B) == 0


def test_an_adopted_check_spares_ecdsa_on_the_same_bytes_only() -> None:
    adopted, plain = _meter("A"), _meter("P")
    adopted.adopt_download_check(_cache(UPDATE))
    for m in (adopted, plain):
        m.receive_many(FRAMES)
    assert _picture(adopted) == _picture(plain)
    assert (_ecdsa(adopted), _ecdsa(plain)) == (0, 1)
    assert adopted.activate() is None and plain.activate() is None
    assert adopted.heartbeat() and plain.heartbeat()
    assert _picture(adopted) == _picture(plain)
