"""Integrity primitives over the C core: CRC-32, CRC-16/X-25, SHA-256, ECDSA P-256.

Every function here runs the same C code the virtual meter runs, so a package
that passes ``verify_p256`` on the head-end passes on the meter, and vice versa.

Error policy (the meter's, too): a *malformed public key* or a digest of the
wrong length is a caller error and raises ``ValueError``; a *bad signature* —
wrong value, malformed DER, wrong length — is an expected outcome and returns
``False``, never raises.

:func:`load_public_key` is :func:`meteremu.keys.load_public_key` (one loader
of key files and points), offered here too beside :func:`key_id`.
"""

from __future__ import annotations

from typing import Literal

from ._lowlevel import crypto as _ll
from ._lowlevel import image as _image
from .keys import load_public_key
from .wire.package import KEY_ID_LEN

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
    use :func:`load_public_key` (:func:`meteremu.keys.load_public_key`) for
    PEM/DER files. ``encoding="der"`` takes the
    strict DER that ``openssl dgst -sha256 -sign`` writes; ``"raw"`` takes r‖s.
    """
    if encoding not in ("der", "raw"):
        raise ValueError(f"encoding must be 'der' or 'raw', not {encoding!r}")
    # the binding checks the digest (32 bytes) and the key before C sees them
    return _ll.p256_verify(public_key, digest, signature, encoding == "der")


def key_id(public_key: bytes) -> bytes:
    """The package header's key ID: the first 8 bytes of SHA-256 of the uncompressed point.

    ``public_key`` is anything :func:`load_public_key` reads. The ID is the one
    the C core computes when it matches a header against its trusted keys.
    """
    return _image.key_id(load_public_key(public_key))
