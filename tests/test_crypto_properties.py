"""Differential properties: the C core against zlib, crcmod, hashlib, python-ecdsa, OpenSSL."""

from __future__ import annotations

import hashlib
import itertools
import random
import zlib

import crcmod.predefined
import ecdsa
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu import crypto

X25 = crcmod.predefined.mkCrcFun("x-25")
N = ecdsa.NIST256p.order


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(st.binary(max_size=3000), st.integers(0, 0xFFFFFFFF))
def test_crc32_matches_zlib(data, start):
    assert crypto.crc32(data, start) == zlib.crc32(data, start)


@given(st.integers(0, 70000), st.integers(0, 2**32), st.integers(0, 0xFFFFFFFF))
@settings(max_examples=40)
def test_crc32_accelerated_and_portable_paths_agree(size, seed, start):
    """Buffers of 64 bytes and more take the PCLMULQDQ path where the CPU has it
    (the binding asks the CPU once, at import)."""
    from meteremu._lowlevel.crypto import crc32_portable

    data = random.Random(seed).randbytes(size)
    assert crypto.crc32(data, start) == crc32_portable(data, start) == zlib.crc32(data, start)


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=6))
def test_crc32_chunked_equals_oneshot(data, cuts):
    value = 0
    for part in _chunks(data, cuts):
        value = crypto.crc32(part, value)
    assert value == zlib.crc32(data)


@given(st.binary(max_size=3000))
def test_crc16_x25_matches_crcmod(data):
    assert crypto.crc16_x25(data) == X25(data)


@given(st.binary(max_size=5000), st.lists(st.integers(0, 5000), max_size=8), st.booleans())
def test_sha256_chunked_matches_hashlib(data, cuts, portable):
    h = crypto.Sha256(portable=portable)
    for part in _chunks(data, cuts):
        h.update(part)
    assert h.digest() == hashlib.sha256(data).digest() == crypto.sha256(data)


def test_sha256_copy_and_digest_do_not_disturb_state():
    h = crypto.Sha256(b"abc")
    mid = h.digest()
    twin = h.copy()
    h.update(b"def")
    assert mid == hashlib.sha256(b"abc").digest()
    assert twin.digest() == mid
    assert h.digest() == hashlib.sha256(b"abcdef").digest()


def _keypair(secret: int) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    priv = ec.derive_private_key(secret, ec.SECP256R1())
    point = priv.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return priv, point


secrets = st.integers(1, N - 1)
digests = st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(secrets, digests)
def test_verify_agrees_with_openssl_and_python_ecdsa(secret, digest):
    priv, point = _keypair(secret)
    der = priv.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r, s = utils.decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    compressed = priv.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    assert crypto.verify_p256(point, digest, der)
    assert crypto.verify_p256(compressed, digest, der)
    assert crypto.verify_p256(point, digest, raw, encoding="raw")
    vk = ecdsa.VerifyingKey.from_string(point, curve=ecdsa.NIST256p)
    assert vk.verify_digest(raw, digest, sigdecode=ecdsa.util.sigdecode_string)
    # the other digest never verifies
    other = bytes([digest[0] ^ 1]) + digest[1:]
    assert not crypto.verify_p256(point, other, der)


@settings(max_examples=25, deadline=None)
@given(secrets, digests, st.data())
def test_single_bit_flips_in_signature_never_verify(secret, digest, data):
    priv, point = _keypair(secret)
    der = priv.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    bit = data.draw(st.integers(0, 72 * 8 - 1)) % (len(der) * 8)  # DER length varies with k
    bad = bytearray(der)
    bad[bit // 8] ^= 1 << (bit % 8)
    ours = crypto.verify_p256(point, digest, bytes(bad))
    try:
        priv.public_key().verify(bytes(bad), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        theirs = True
    except InvalidSignature:
        theirs = False
    assert ours is theirs is False


@settings(max_examples=200)
@given(st.binary(max_size=80), digests)
def test_garbage_signatures_return_false(sig, digest):
    _, point = _keypair(7)
    assert crypto.verify_p256(point, digest, sig) is False
    assert crypto.verify_p256(point, digest, sig, encoding="raw") is False


def test_public_key_errors_raise_value_error():
    _, point = _keypair(12345)
    with pytest.raises(ValueError, match="33- or 65-byte"):
        crypto.verify_p256(point[:64], bytes(32), b"")
    with pytest.raises(ValueError, match="not a valid point"):
        off_curve = point[:-1] + bytes([point[-1] ^ 1])
        crypto.verify_p256(off_curve, bytes(32), b"")
    with pytest.raises(ValueError, match="encoding"):
        crypto.verify_p256(b"\x05" + point[1:], bytes(32), b"")
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.verify_p256(point, bytes(31), b"")
    with pytest.raises(ValueError, match="encoding must be"):
        crypto.verify_p256(point, bytes(32), b"", encoding="ber")  # type: ignore[arg-type]


def test_load_public_key_pem_der_and_wrong_curve():
    priv, point = _keypair(99)
    pub = priv.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = pub.public_bytes(serialization.Encoding.PEM, spki)
    der = pub.public_bytes(serialization.Encoding.DER, spki)
    assert crypto.load_public_key(pem) == point
    assert crypto.load_public_key(der) == point
    assert crypto.load_public_key(point) == point
    assert crypto.key_id(pem) == hashlib.sha256(point).digest()[:8]
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(ValueError, match="secp384r1"):
        crypto.load_public_key(other.public_bytes(serialization.Encoding.PEM, spki))
    with pytest.raises(ValueError, match=r"^not a PEM or DER public key: "):
        crypto.load_public_key(b"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")
