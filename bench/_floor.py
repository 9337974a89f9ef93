"""The physical floor of one meter's update (issue 11): one ``hashlib``
SHA-256 of the package, one OpenSSL P-256 verify (through ``cryptography``,
of the digest the signature signs) and one copy of the package into memory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from meteremu.package import parse_package


def floor_step(pkg: bytes, point: bytes) -> Callable[[], None]:
    """One meter's floor work on ``pkg`` signed by the key at ``point``, as a
    call (everything that is not per meter is done here, once)."""
    p = parse_package(pkg)
    assert p.signature is not None
    sig = p.signature
    if p.signature_encoding == "raw":
        sig = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                         int.from_bytes(sig[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    digest = hashlib.sha256(p.unsigned).digest()  # what the signature signs
    algo = ec.ECDSA(utils.Prehashed(hashes.SHA256()))

    def step() -> None:
        hashlib.sha256(pkg).digest()
        key.verify(sig, digest, algo)
        bytearray(pkg)

    return step
