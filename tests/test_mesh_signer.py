"""The signer's public key is recovered from a package's signature, and only when
the signature verifies under a key with the header's key ID."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from meteremu.mesh.signer import recover_signer
from meteremu.package import attach_signature, build_unsigned
from meteremu.package.builtin import factory_package
from meteremu.package.config import PackageConfig
from meteremu.testing import make_firmware, make_keys, make_package, sign_deterministic

CONFIG = {"vendor_id": 1, "hw_revision": 3, "version": "2.0.0", "security_counter": 2,
          "fragment_size": 128}


@pytest.mark.parametrize("seed", range(8))
def test_recovers_the_signer_of_der_signed_packages(seed: int) -> None:
    keys = make_keys(seed)
    assert recover_signer(make_package(make_firmware(700, seed), keys)) == keys.point


def test_recovers_from_a_raw_signature() -> None:
    keys = make_keys(3)
    unsigned = build_unsigned(make_firmware(500), PackageConfig.from_dict(CONFIG), keys.key_id)
    r, s = decode_dss_signature(sign_deterministic(keys, unsigned))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert recover_signer(attach_signature(unsigned, raw, [keys.point])) == keys.point


def test_the_demo_factory_image() -> None:
    golden, demo = factory_package(0x4D455445, 3)
    assert recover_signer(golden) == demo


def test_unsigned_or_lying_packages_give_nothing() -> None:
    a, b = make_keys(1), make_keys(2)
    unsigned = build_unsigned(make_firmware(500), PackageConfig.from_dict(CONFIG), a.key_id)
    assert recover_signer(unsigned) is None
    # Signed by b, but the header names a: no candidate has a's key ID.
    forged = attach_signature(unsigned, sign_deterministic(b, unsigned))
    assert recover_signer(forged) is None
    # Signed by a, image changed after signing: the signature no longer fits.
    good = bytearray(attach_signature(unsigned, sign_deterministic(a, unsigned)))
    good[200] ^= 0x01
    assert recover_signer(bytes(good)) is None
