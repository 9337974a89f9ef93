"""The built-in factory image: what ``meteremu serve`` installs without ``--golden``.

A virtual meter needs a golden image signed by a key it trusts before it can
boot. So that ``meteremu serve`` runs with no files prepared, this module
makes one: a 2 KiB image (version 1.0.0, security counter 1) signed by the
**demo key**, a P-256 key derived from a fixed, published seed. Anyone can
derive the demo key, so a meter that trusts it accepts firmware anyone can
sign: it is a test-bench convenience, never a production setting. Give
``--golden`` (a package signed by your own key) for meters that trust only
your keys.

Everything is deterministic: the same arguments give the same key and image
(and, with a ``cryptography`` that signs deterministically, RFC 6979, the
same package bytes).
"""

from __future__ import annotations

import random

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..crypto import key_id
from ..keys import PrivateKey, public_point
from .build import attach_signature, build_unsigned
from .config import PackageConfig

__all__ = ["DEMO_SEED", "demo_key", "factory_package"]

DEMO_SEED = "meteremu-demo-key-v1"  # published: the demo key is not a secret
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
FACTORY_IMAGE_SIZE = 2048


def demo_key() -> PrivateKey:
    """The demo signing key (the same on every machine)."""
    scalar = random.Random(DEMO_SEED).randrange(1, _P256_N)
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _sign(key: PrivateKey, data: bytes) -> bytes:
    try:  # RFC 6979 where cryptography offers it, so the package is reproducible
        return key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    except (TypeError, UnsupportedAlgorithm):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))


def factory_package(vendor_id: int, hw_revision: int) -> tuple[bytes, bytes]:
    """(the signed factory package, the demo key's public point) for meters of
    ``vendor_id`` and ``hw_revision``."""
    key = demo_key()
    point = public_point(key)
    image = random.Random(f"meteremu-factory-image-{vendor_id}-{hw_revision}").randbytes(
        FACTORY_IMAGE_SIZE)
    config = PackageConfig.from_dict({
        "vendor_id": vendor_id, "hw_revision": hw_revision, "version": "1.0.0",
        "security_counter": 1, "fragment_size": 128,
    })
    unsigned = build_unsigned(image, config, key_id(point))
    return attach_signature(unsigned, _sign(key, unsigned), [point]), point
