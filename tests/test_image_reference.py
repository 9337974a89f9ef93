"""A pinned verification cache (``ImageCache``) keeps the package that passed
and answers a later check of byte-for-byte equal bytes by one compare
(csrc/mt_image.h, "By reference"). It must answer exactly as a check with
no cache at all, on any bytes and any trusted keys, and be used only when
the bytes are the reference's and its signer is still trusted.

The model beside the real cache: the reference is the package part of the
last bytes whose steps 6 to 9 passed (their check with no anti-rollback
floor passes), with the key they passed with.
"""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.boot import Bank
from meteremu._lowlevel.image import ImageCache, check_package
from meteremu.device import VirtualMeter
from meteremu.errors import PackageRefused
from meteremu.hes import fragment_package
from meteremu.testing import HW_REVISION, VENDOR_ID, make_firmware, make_keys, make_package

A, B = make_keys(0), make_keys(1)
PKG_A = make_package(make_firmware(700, seed=3), A, version="2.0.0", security_counter=5)
PKG_A2 = make_package(make_firmware(700, seed=4), A, version="2.0.1", security_counter=5)
PKG_B = make_package(make_firmware(700, seed=3), B, version="2.0.0", security_counter=5)
SIGNER = {PKG_A: A, PKG_A2: A, PKG_B: B}
BANK = 4096
KEY_SETS = ([A], [B], [A, B], [B, A])


def _verdict(data: bytes | bytearray, keys: list, counter: int,
             cache: ImageCache | None) -> str | int:
    try:
        h = check_package(data, vendor_id=VENDOR_ID, hw_revision=HW_REVISION, bank_size=BANK,
                          trusted_keys=[k.point for k in keys], installed_counter=counter,
                          cache=cache)
    except PackageRefused as exc:
        return exc.error.code
    return h.package_size


@st.composite
def _checks(draw: st.DrawFn) -> tuple[bytes, bytes | bytearray, list, int]:
    """(the package it came from, the bytes checked, trusted keys, floor)."""
    base = draw(st.sampled_from(list(SIGNER)))
    data = bytearray(base)
    how = draw(st.sampled_from(["same", "flip", "tail", "cut"]))
    if how == "flip":  # one bit anywhere in the package
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= 1 << draw(st.integers(0, 7))
    elif how == "tail":  # bytes after the package: a bank's erased rest, or junk
        data += draw(st.binary(min_size=1, max_size=64))
    elif how == "cut":
        del data[draw(st.integers(0, len(data) - 1)):]
    keys = draw(st.sampled_from(KEY_SETS))
    counter = draw(st.sampled_from([0, 5, 6]))  # 6: refused at step 10 only
    as_type = draw(st.sampled_from([bytes, bytearray]))
    return base, as_type(data), keys, counter


@settings(max_examples=300, deadline=None)
@given(st.lists(_checks(), min_size=1, max_size=10))
def test_a_pinned_cache_answers_as_no_cache_and_matches_only_equal_bytes(checks) -> None:
    cache = ImageCache()
    ref: tuple[bytes, object] | None = None  # the model: (package bytes, signer)
    for base, data, keys, counter in checks:
        plain = _verdict(data, keys, counter, None)
        before = (cache.matched, int(cache._c.hashed))
        assert _verdict(data, keys, counter, cache) == plain
        hit = (ref is not None and bytes(data[:len(ref[0])]) == ref[0]
               and ref[1] in keys)
        assert cache.matched == before[0] + hit
        if hit:
            assert int(cache._c.hashed) == before[1] + 1  # the compare reads the image
        passed = _verdict(data, keys, 0, None)  # steps 6 to 9 passed (step 10 aside)
        if isinstance(passed, int):
            ref = (bytes(data[:passed]), SIGNER[base])
            assert cache._ref is not None and cache._ref[:passed] == ref[0]


def test_the_reference_is_a_copy_the_caller_cannot_change() -> None:
    """A bytearray checked with the cache, then changed in place: the cache
    holds the bytes that passed, so the changed buffer gets the full check."""
    buf = bytearray(PKG_A)
    cache = ImageCache()
    assert _verdict(buf, [A], 0, cache) == len(PKG_A)
    buf[200] ^= 0x10  # in the image: its CRC and SHA-256 no longer hold
    assert _verdict(buf, [A], 0, cache) == _verdict(bytes(buf), [A], 0, None) != len(PKG_A)
    assert cache.matched == 0
    assert _verdict(PKG_A, [A], 0, cache) == len(PKG_A) and cache.matched == 1


def test_a_bank_keeps_the_adopted_reference_alive() -> None:
    """A meter's bootloader adopts a check; the cache object is dropped and its
    memory reused. The bank's later validation still compares with the very
    bytes that passed (matched) and accepts them."""
    pkg = make_package(make_firmware(3000, seed=9), A, version="3.0.0", security_counter=5,
                       fragment_size=128)
    m = VirtualMeter(serial="REF", vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                     trusted_keys=[A.point],
                     factory_package=make_package(make_firmware(900, seed=1), A,
                                                  version="1.0.0", security_counter=1))
    cache = ImageCache()
    check_package(bytearray(pkg), vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                  bank_size=m.layout.geometry.bank_size, trusted_keys=[A.point], cache=cache)
    m.adopt_download_check(cache)
    del cache
    gc.collect()
    junk = [bytes([i]) * len(pkg) for i in range(64)]  # reuse what was freed
    m.receive_many(fragment_package(pkg, session_id=0x4EF))
    del junk
    hashed, verified = m.boot.loader.checks(Bank.B)
    assert (hashed, verified) == (1, 0)
    assert m.boot.loader.matched(Bank.B) == 1
    assert m.activate() is None and m.heartbeat()
    assert m.active_version == "3.0.0"
