"""Integrity primitives over the C core: CRC-32, CRC-16/X-25, SHA-256, ECDSA P-256.

Every function here runs the same C code the virtual meter runs, so a package
that passes ``verify_p256`` on the head-end passes on the meter, and vice versa.

Error policy (the meter's, too): a *malformed public key* or a digest of the
wrong length is a caller error and raises ``ValueError``; a *bad signature* —
wrong value, malformed DER, wrong length — is an expected outcome and returns
``False``, never raises.
"""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ._lowlevel import crypto as _ll

__all__ = [
    "KEY_ID_LEN",
    "Sha256",
    "crc16_x25",
    "crc32",
    "crc_accelerated",
    "key_id",
    "load_public_key",
    "sha256",
    "sha256_accelerated",
    "verify_p256",
]

Buffer = bytes | bytearray | memoryview
KEY_ID_LEN = 8


def crc32(data: Buffer, value: int = 0) -> int:
    """CRC-32/ISO-HDLC, the zlib CRC: ``crc32(b, crc32(a)) == crc32(a + b)``."""
    return _ll.crc32(data, value)


def crc16_x25(data: Buffer) -> int:
    """CRC-16/X-25, the HDLC frame check sequence (check value 0x906E)."""
    return _ll.crc16_x25(data)


#: One-shot SHA-256 (``sha256(data) -> bytes``): the binding's function itself,
#: without a wrapper around it, since a call costs a visible share at 4 KiB.
sha256 = _ll.sha256


class Sha256:
    """Incremental SHA-256 with the hashlib shape: ``update``, ``digest``, ``hexdigest``, ``copy``.

    ``portable=True`` forces the portable C compression function even where the
    CPU offers SHA extensions (the tests compare both paths).
    """

    digest_size = 32
    block_size = 64
    name = "sha256"

    def __init__(self, data: Buffer = b"", *, portable: bool = False) -> None:
        self._state = _ll.Sha256State(portable)
        if data:
            self._state.update(data)

    def update(self, data: Buffer) -> None:
        self._state.update(data)

    def digest(self) -> bytes:
        return self._state.digest()

    def hexdigest(self) -> str:
        return self._state.digest().hex()

    def copy(self) -> Sha256:
        other = Sha256.__new__(Sha256)
        other._state = self._state.copy()
        return other


def crc_accelerated() -> bool:
    """True when large CRC inputs run on carry-less multiplication (PCLMULQDQ)."""
    return _ll.crc_accelerated()


def sha256_accelerated() -> bool:
    """True when SHA-256 runs on the CPU's SHA extensions."""
    return _ll.sha256_accelerated()


def verify_p256(
    public_key: bytes,
    digest: bytes,
    signature: bytes,
    *,
    encoding: Literal["der", "raw"] = "der",
) -> bool:
    """Verify an ECDSA P-256 signature over a 32-byte digest.

    ``public_key`` is a SEC1 point (65-byte uncompressed or 33-byte compressed);
    use :func:`load_public_key` for PEM/DER files. ``encoding="der"`` takes the
    strict DER that ``openssl dgst -sha256 -sign`` writes; ``"raw"`` takes r‖s.
    """
    if encoding not in ("der", "raw"):
        raise ValueError(f"encoding must be 'der' or 'raw', not {encoding!r}")
    # the binding checks the digest (32 bytes) and the key before C sees them
    return _ll.p256_verify(public_key, digest, signature, encoding == "der")


def load_public_key(data: bytes) -> bytes:
    """Return the 65-byte SEC1 point of a P-256 public key.

    Accepts what ``openssl ec -pubout`` writes (PEM), its DER form
    (SubjectPublicKeyInfo), or a bare SEC1 point (33 or 65 bytes). Raises
    ``ValueError`` for anything else, naming the curve when it is not P-256.
    """
    data = bytes(data)
    if len(data) in (33, 65) and data[0] in (2, 3, 4):
        return _ll.p256_parse_point(data)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as exc:
        raise ValueError(f"not a PEM or DER public key: {exc}") from None
    except Exception as exc:  # unsupported algorithm, bad structure
        raise ValueError(f"not a usable public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"not an EC public key ({type(key).__name__}); P-256 is required")
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"public key is on curve {key.curve.name}; P-256 (prime256v1) is required")
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _ll.p256_parse_point(point)


def key_id(public_key: bytes) -> bytes:
    """The package header's key ID: the first 8 bytes of SHA-256 of the uncompressed point."""
    point = load_public_key(public_key)
    return sha256(point)[:KEY_ID_LEN]
