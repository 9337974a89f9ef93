"""Test-only package builder, written from the layout in csrc/mt_pkg.h with
``struct``, ``zlib`` and ``hashlib`` so that it is independent of the C core
and of the project's own packager.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HEADER_SIZE = 128
# magic, version, header size, vendor, hw rev, flags, major, minor, patch, build,
# counter, image size, fragment size, trailer size, fragment count, crc32, sha256,
# key id, reserved
_HEADER = struct.Struct("<4sHHIHHBBHIIIHHII32s8s40s")
assert _HEADER.size == 124


def sec1(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    return hashlib.sha256(sec1(key)).digest()[:8]


def build_header(
    image: bytes,
    *,
    key: bytes,
    vendor_id: int = 0x4D455445,
    hw_revision: int = 3,
    flags: int = 0,
    version: tuple[int, int, int, int] = (1, 0, 0, 0),
    security_counter: int = 1,
    fragment_size: int = 128,
    trailer_size: int = 128,
    fragment_count: int | None = None,
    image_size: int | None = None,
    image_crc32: int | None = None,
    image_sha256: bytes | None = None,
    reserved: bytes = bytes(40),
    magic: bytes = b"MTRP",
    format_version: int = 1,
    header_size: int = HEADER_SIZE,
    header_crc32: int | None = None,
) -> bytes:
    """The 128-byte header; every field can be overridden to build bad ones."""
    size = len(image) if image_size is None else image_size
    if fragment_count is None:
        fragment_count = -(-(HEADER_SIZE + size + trailer_size) // fragment_size)
    body = _HEADER.pack(
        magic,
        format_version,
        header_size,
        vendor_id,
        hw_revision,
        flags,
        *version,
        security_counter,
        size,
        fragment_size,
        trailer_size,
        fragment_count,
        zlib.crc32(image) if image_crc32 is None else image_crc32,
        hashlib.sha256(image).digest() if image_sha256 is None else image_sha256,
        key,
        reserved,
    )
    crc = zlib.crc32(body) if header_crc32 is None else header_crc32
    return body + struct.pack("<I", crc)


def sign(unsigned: bytes, priv: ec.EllipticCurvePrivateKey, *, raw: bool = False) -> bytes:
    """The trailer's signature record (TLV) over the unsigned package."""
    der = priv.sign(unsigned, ec.ECDSA(hashes.SHA256()))
    if raw:
        r, s = decode_dss_signature(der)
        value = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return struct.pack("<BH", 2, 64) + value
    return struct.pack("<BH", 1, len(der)) + der


def trailer(records: bytes, trailer_size: int = 128) -> bytes:
    assert len(records) <= trailer_size
    return records + b"\xff" * (trailer_size - len(records))


def make_package(
    priv: ec.EllipticCurvePrivateKey,
    image: bytes,
    *,
    raw: bool = False,
    trailer_size: int = 128,
    **fields: object,
) -> bytes:
    """A valid signed package: header || image || trailer."""
    kid = fields.pop("key", None) or key_id(priv.public_key())
    header = build_header(image, key=kid, trailer_size=trailer_size, **fields)  # type: ignore[arg-type]
    unsigned = header + image
    return unsigned + trailer(sign(unsigned, priv, raw=raw), trailer_size)
