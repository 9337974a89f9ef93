"""Package header parsing and the acceptance check, in pure Python.

A stand-in with the contract of ``csrc/mt_image.h`` (``mt_pkg_header_parse``,
``mt_image_check``) for as long as the C acceptance check has no binding: same
order of checks, same return codes. It reads the package in place, from the
bank's bytes.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..errors import MT_ERR

__all__ = ["Header", "Policy", "check_image", "parse_header"]

HEADER_SIZE = 128
_HEADER = struct.Struct("<4sHHIHHBBHIIIHHII32s8s40sI")
_E = MT_ERR


@dataclass(frozen=True)
class Header:
    vendor_id: int
    hw_revision: int
    flags: int
    behaviour: int
    version: tuple[int, int, int, int]
    security_counter: int
    image_size: int
    fragment_size: int
    trailer_size: int
    fragment_count: int
    image_crc32: int
    image_sha256: bytes
    key_id: bytes

    @property
    def package_size(self) -> int:
        return HEADER_SIZE + self.image_size + self.trailer_size


@dataclass(frozen=True)
class Policy:
    vendor_id: int
    hw_revision: int
    bank_size: int
    installed_counter: int
    keys: dict[bytes, bytes]  # key ID -> 65-byte SEC1 point


def parse_header(buf: bytes) -> tuple[int, Header | None]:
    """(0, header) or (negative mt_err code, None), checks in mt_pkg_header_parse's order."""
    if len(buf) < HEADER_SIZE:
        return _E["MT_E_LENGTH"], None
    (magic, fmt, hsize, vendor, hw, flags, major, minor, patch, build, counter, isize,
     fsize, tsize, fcount, icrc, isha, kid, reserved, hcrc) = _HEADER.unpack_from(buf)
    if magic != b"MTRP" or fmt != 1 or hsize != HEADER_SIZE:
        return _E["MT_E_HDR_MAGIC"], None
    if zlib.crc32(bytes(buf[:124])) != hcrc:
        return _E["MT_E_HDR_CRC"], None
    package = HEADER_SIZE + isize + tsize
    if (flags & 0xFFF0 or flags & 0xF > 3 or not 16 <= fsize <= 1024 or tsize > 1024
            or isize < 1 or package > 0xFFFFFFFF or fcount != -(-package // fsize)
            or any(reserved)):
        return _E["MT_E_HDR_FIELD"], None
    return 0, Header(vendor, hw, flags, flags & 0xF, (major, minor, patch, build), counter,
                     isize, fsize, tsize, fcount, icrc, bytes(isha), bytes(kid))


def parse_trailer(trailer: bytes) -> tuple[int, tuple[int, bytes] | None]:
    """(0, (type, signature)) or an error code; the lengths are attacker-controlled."""
    off, n, sig = 0, len(trailer), None
    while off < n:
        t = trailer[off]
        if t == 0xFF:
            if any(b != 0xFF for b in trailer[off:]):
                return _E["MT_E_TRAILER"], None
            break
        if n - off < 3:
            return _E["MT_E_TRAILER"], None
        length = trailer[off + 1] | trailer[off + 2] << 8
        if length > n - off - 3:
            return _E["MT_E_TRAILER"], None
        value = bytes(trailer[off + 3 : off + 3 + length])
        if (t == 0x01 and 8 <= length <= 72) or (t == 0x02 and length == 64):
            if sig is not None:
                return _E["MT_E_TRAILER"], None
            sig = (t, value)
        else:
            return _E["MT_E_TRAILER"], None
        off += 3 + length
    if sig is None:
        return _E["MT_E_NO_SIGNATURE"], None
    return 0, sig


def _verify(point: bytes, signed: bytes, sig: tuple[int, bytes]) -> bool:
    kind, value = sig
    if kind == 0x02:
        value = encode_dss_signature(int.from_bytes(value[:32], "big"),
                                     int.from_bytes(value[32:], "big"))
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        key.verify(value, signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def check_image(policy: Policy, pkg: bytes, complete: bool,
                cache: dict[str, bytes] | None = None) -> tuple[int, Header | None]:
    """The acceptance check in SPEC section 4 order; (0, header) or (first failing code, header)."""
    rc, h = parse_header(pkg)
    if h is None:
        return rc, None
    if h.vendor_id != policy.vendor_id:
        return _E["MT_E_VENDOR"], h
    if h.hw_revision != policy.hw_revision:
        return _E["MT_E_HW_REV"], h
    if h.package_size > policy.bank_size:
        return _E["MT_E_TOO_BIG"], h
    if not complete or h.package_size > len(pkg):
        return _E["MT_E_INCOMPLETE"], h
    image = bytes(pkg[HEADER_SIZE : HEADER_SIZE + h.image_size])
    if zlib.crc32(image) != h.image_crc32:
        return _E["MT_E_IMAGE_CRC"], h
    signed_digest = hashlib.sha256(bytes(pkg[:HEADER_SIZE]) + image).digest()
    cached = cache is not None and cache.get("digest") == signed_digest
    if not cached and hashlib.sha256(image).digest() != h.image_sha256:
        return _E["MT_E_IMAGE_SHA"], h
    point = policy.keys.get(h.key_id)
    if point is None:
        return _E["MT_E_UNKNOWN_KEY"], h
    if not cached:
        rc, sig = parse_trailer(bytes(pkg[HEADER_SIZE + h.image_size : h.package_size]))
        if sig is None:
            return rc, h
        if not _verify(point, bytes(pkg[:HEADER_SIZE]) + image, sig):
            return _E["MT_E_SIGNATURE"], h
        if cache is not None:
            cache["digest"] = signed_digest
    if h.security_counter < policy.installed_counter:
        return _E["MT_E_DOWNGRADE"], h
    return 0, h
