"""The public key that signed a package, recovered from its signature.

A rehearsal of a broadcast needs meters that trust the package's signer. A
package names its signer only by key ID (the first 8 bytes of SHA-256 of
the public point), but an ECDSA signature and the signed message determine
the public key up to a few candidates (SEC 1 v2, section 4.1.6): for the
point R whose x-coordinate is r, ``Q = r^-1 (s R - e G)``. The candidate
whose key ID is the header's, and under which the signature verifies, is the
signer's key. So ``meteremu mesh broadcast`` needs nothing but the package.

This is a test-bench convenience: meters built this way trust whoever signed
the package. Real meters trust keys provisioned at the factory; give
``--trusted-key`` to rehearse exactly that (and the 0x8005 of a wrong key).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ..crypto import key_id, sha256

__all__ = ["recover_signer"]

# P-256 (SEC 2 secp256r1): y^2 = x^3 - 3x + b over F_p, base point G of order n.
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
      0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

_Point = tuple[int, int] | None  # None: the point at infinity


def _add(a: _Point, b: _Point) -> _Point:
    if a is None:
        return b
    if b is None:
        return a
    (x1, y1), (x2, y2) = a, b
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return None
        lam = (3 * x1 * x1 - 3) * pow(2 * y1, -1, _P) % _P  # tangent (a = -3)
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (lam * lam - x1 - x2) % _P
    return x3, (lam * (x1 - x3) - y1) % _P


def _mul(k: int, pt: _Point) -> _Point:
    out: _Point = None
    while k:
        if k & 1:
            out = _add(out, pt)
        pt = _add(pt, pt)
        k >>= 1
    return out


def _candidates(r: int, s: int, e: int) -> list[bytes]:
    """Uncompressed points Q with a valid (r, s) over digest value ``e``."""
    out = []
    r_inv = pow(r, -1, _N)
    for x in (r, r + _N):
        if x >= _P:
            continue
        alpha = (pow(x, 3, _P) - 3 * x + _B) % _P
        y = pow(alpha, (_P + 1) // 4, _P)  # p = 3 mod 4: a square root, when one exists
        if y * y % _P != alpha:
            continue
        for yy in (y, _P - y):
            sr = _mul(s, (x, yy))
            eg = _mul((-e) % _N, _G)
            q = _mul(r_inv, _add(sr, eg))
            if q is not None:
                out.append(b"\x04" + q[0].to_bytes(32, "big") + q[1].to_bytes(32, "big"))
    return out


def recover_signer(package: bytes) -> bytes | None:
    """The signer's 65-byte public point, or None (unsigned, or no candidate has the
    header's key ID and verifies: the signature is broken or the header lies)."""
    from ..package import parse_package

    p = parse_package(package)
    if p.signature is None:
        return None
    try:
        if p.signature_encoding == "der":
            r, s = decode_dss_signature(p.signature)
        else:
            r = int.from_bytes(p.signature[:32], "big")
            s = int.from_bytes(p.signature[32:], "big")
    except ValueError:
        return None
    if not (0 < r < _N and 0 < s < _N):
        return None
    want = bytes(p.header["key_id"])
    e = int.from_bytes(sha256(p.unsigned), "big")  # 256-bit digest: no truncation for P-256
    der = encode_dss_signature(r, s)
    for point in _candidates(r, s, e):
        if key_id(point) != want:
            continue
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        try:
            key.verify(der, p.unsigned, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return point
    return None
