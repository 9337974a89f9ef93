"""Keys, firmware images, signed packages and meters for tests, in one call each.

Packages are built by the packager itself (:mod:`meteremu.package`, the code
path of ``meteremu package --key``: ``build_unsigned`` then
``attach_signature``, which checks the signature against the key), so what a
test sends is what an operator would. Everything is deterministic from its
arguments -- the same seed gives the same key, the same image and the same
package bytes -- because signatures use RFC 6979 deterministic ECDSA: a
hypothesis strategy must draw the same way each time it replays a case, and
a randomised signature's DER length varies.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "HW_REVISION",
    "VENDOR_ID",
    "KeyPair",
    "make_firmware",
    "make_keys",
    "make_meter",
    "make_package",
    "sign_deterministic",
]

VENDOR_ID = 0x4D455445  # "METE"
HW_REVISION = 3
#: P-256 group order: private scalars are taken below it.
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class KeyPair:
    """A P-256 signing key and its public forms."""

    private: ec.EllipticCurvePrivateKey = field(repr=False)
    point: bytes  # 65-byte uncompressed SEC1 point: what a meter trusts
    key_id: bytes  # the 8 bytes a package header names its signer by

    @property
    def public_pem(self) -> bytes:
        from ..keys import public_key_pem

        return public_key_pem(self.private)

    @property
    def private_pem(self) -> bytes:
        from ..keys import private_key_pem

        return private_key_pem(self.private, None, pkcs8=True)


@functools.lru_cache(maxsize=64)
def make_keys(seed: int = 0) -> KeyPair:
    """A signing key pair derived from ``seed`` (the same seed, the same key)."""
    from ..crypto import key_id
    from ..keys import public_point

    scalar = random.Random(f"meteremu-key-{seed}").randrange(1, _P256_N)
    private = ec.derive_private_key(scalar, ec.SECP256R1())
    point = public_point(private)
    return KeyPair(private, point, key_id(point))


def make_firmware(size: int = 4096, seed: int = 0) -> bytes:
    """A firmware image of ``size`` pseudo-random bytes."""
    if size < 1:
        raise ValueError("a firmware image has at least one byte")
    return random.Random(f"meteremu-image-{seed}").randbytes(size)


def make_package(
    image: bytes,
    keys: KeyPair,
    config: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> bytes:
    """A package of ``image`` signed by ``keys``.

    The metadata is ``config.json``'s (``vendor_id``, ``hw_revision``,
    ``version``, ``security_counter``, ``fragment_size``, ``behaviour``,
    ``trailer_size``, ``packet_count``), defaulting to a package the meters of
    :func:`make_meter` accept: vendor :data:`VENDOR_ID`, hardware revision
    :data:`HW_REVISION`, version 2.0.0, security counter 2, 128-byte fragments.
    ``config`` and keyword overrides are merged over those defaults.
    """
    from ..package import PackageConfig, attach_signature, build_unsigned

    data: dict[str, Any] = {
        "vendor_id": VENDOR_ID,
        "hw_revision": HW_REVISION,
        "version": "2.0.0",
        "security_counter": 2,
        "fragment_size": 128,
    }
    data.update(config or {})
    data.update(overrides)
    cfg = PackageConfig.from_dict(data)
    unsigned = build_unsigned(image, cfg, keys.key_id)
    return attach_signature(unsigned, sign_deterministic(keys, unsigned), [keys.point])


def sign_deterministic(keys: KeyPair, data: bytes) -> bytes:
    """DER ECDSA P-256 / SHA-256 signature of ``data`` with an RFC 6979 nonce."""
    try:
        return keys.private.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    except (TypeError, UnsupportedAlgorithm):  # cryptography < 43, or an OpenSSL without it
        # python-ecdsa is a test-extra dependency, imported only on this path.
        try:
            import ecdsa  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ImportError(
                "deterministic ECDSA signing needs cryptography >= 43 (with an OpenSSL "
                "that supports it) or the python-ecdsa package: "
                "pip install 'meteremu[test]' (or pip install ecdsa)"
            ) from exc

        scalar = keys.private.private_numbers().private_value
        sk = ecdsa.SigningKey.from_secret_exponent(scalar, curve=ecdsa.NIST256p,
                                                   hashfunc=hashlib.sha256)
        return bytes(sk.sign_deterministic(data, hashfunc=hashlib.sha256,
                                           sigencode=ecdsa.util.sigencode_der))


def make_meter(keys: KeyPair, factory_package: bytes | None = None, **kwargs: Any) -> Any:
    """A :class:`~meteremu.device.VirtualMeter` that trusts ``keys`` and runs a
    signed factory image (version 1.0.0, security counter 1, unless given).

    Other keyword arguments go to ``VirtualMeter`` (``serial``, ``geometry``,
    ``heartbeat_window``, ``load``, ``state``, ...).
    """
    from ..device import VirtualMeter

    if factory_package is None:
        factory_package = make_package(make_firmware(2048, seed=1), keys,
                                       version="1.0.0", security_counter=1)
    args: dict[str, Any] = {
        "serial": "MTR00000001",
        "vendor_id": VENDOR_ID,
        "hw_revision": HW_REVISION,
        "trusted_keys": [keys.point],
    }
    args.update(kwargs)
    return VirtualMeter(factory_package=factory_package, **args)
