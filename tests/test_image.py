"""The C acceptance check through its binding: packages built here with struct,
zlib, hashlib and `cryptography` (tests/_pkg_build.py), independent of the core."""

from __future__ import annotations

import struct
import zlib

import pytest
from _pkg_build import build_header, key_id, make_package, sec1, sign, trailer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.image import (
    PackageRefused,
    check_package,
    parse_header,
    parse_trailer,
)
from meteremu._lowlevel.image import key_id as c_key_id
from meteremu.errors import MT_ERR, PackageError

VENDOR = 0x4D455445
HW = 3
BANK = 128 * 1024

KEY = ec.derive_private_key(0xC0FFEE * 0x1000193, ec.SECP256R1())
OTHER = ec.derive_private_key(0xBADBEEF * 0x1000193, ec.SECP256R1())
IMAGE = bytes((i * 13 + 5) & 0xFF for i in range(1000))


def check(pkg: bytes, **kw: object):
    args: dict[str, object] = dict(
        vendor_id=VENDOR,
        hw_revision=HW,
        bank_size=BANK,
        trusted_keys=[sec1(KEY.public_key())],
        installed_counter=0,
    )
    args.update(kw)
    return check_package(pkg, **args)  # type: ignore[arg-type]


def err(pkg: bytes, **kw: object) -> str:
    with pytest.raises(PackageRefused) as info:
        check(pkg, **kw)
    return info.value.err_name


@pytest.fixture(scope="module")
def pkg() -> bytes:
    return make_package(KEY, IMAGE, security_counter=5, version=(2, 1, 3, 44))


def with_header(pkg: bytes, **fields: object) -> bytes:
    """pkg with header fields replaced (header checksum recomputed)."""
    image = pkg[128 : 128 + len(IMAGE)]
    base = dict(key=key_id(KEY.public_key()), security_counter=5, version=(2, 1, 3, 44))
    base.update(fields)
    return build_header(image, **base) + pkg[128:]  # type: ignore[arg-type]


def test_valid_der_package(pkg: bytes) -> None:
    h = check(pkg)
    assert h.vendor_id == VENDOR and h.hw_revision == HW
    assert h.version == (2, 1, 3, 44)
    assert h.security_counter == 5
    assert h.image_size == len(IMAGE)
    assert h.package_size == len(pkg) == 128 + 1000 + 128
    assert h.fragment_count == -(-len(pkg) // 128)
    assert h.key_id == key_id(KEY.public_key()) == c_key_id(sec1(KEY.public_key()))
    assert h.behaviour == 0


def test_raw_signature_compressed_key_and_behaviour() -> None:
    p = make_package(KEY, IMAGE, raw=True, flags=2, trailer_size=300, fragment_size=1024)
    compressed = KEY.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    h = check(p, trusted_keys=[sec1(OTHER.public_key()), compressed])
    assert h.behaviour == 2 and h.trailer_size == 300
    assert parse_trailer(p[-300:]).der is False


def test_bank_view_with_trailing_erased_flash(pkg: bytes) -> None:
    bank = pkg + b"\xff" * (4096 - len(pkg))
    assert check(bank, bank_size=4096).package_size == len(pkg)


def test_exception_shape(pkg: bytes) -> None:
    with pytest.raises(PackageError) as info:
        check(pkg, installed_counter=6)
    exc = info.value
    assert isinstance(exc, PackageRefused)
    assert exc.err == MT_ERR["MT_E_DOWNGRADE"] and exc.error.code == "0x8006"
    assert str(exc).startswith("0x8006")


def test_each_check_in_order(pkg: bytes) -> None:
    assert err(pkg[:100]) == "MT_E_INCOMPLETE"
    assert err(b"XXXX" + pkg[4:]) == "MT_E_HDR_MAGIC"
    assert err(with_header(pkg, format_version=2)) == "MT_E_HDR_MAGIC"
    assert err(pkg[:20] + bytes([pkg[20] ^ 1]) + pkg[21:]) == "MT_E_HDR_CRC"
    assert err(with_header(pkg, flags=0x10)) == "MT_E_HDR_FIELD"
    assert err(with_header(pkg, flags=4)) == "MT_E_HDR_FIELD"
    assert err(with_header(pkg, fragment_size=8)) == "MT_E_HDR_FIELD"
    # fragments must start on a flash write unit: a multiple of 16
    assert err(with_header(pkg, fragment_size=24)) == "MT_E_HDR_FIELD"
    assert err(with_header(pkg, fragment_size=32)) == "MT_E_SIGNATURE"  # header fine, not signed
    assert err(with_header(pkg, fragment_count=99)) == "MT_E_HDR_FIELD"
    assert err(with_header(pkg, reserved=b"\x01" + bytes(39))) == "MT_E_HDR_FIELD"
    assert err(with_header(pkg, image_size=0xFFFFFF00)) == "MT_E_HDR_FIELD"
    # vendor wins over everything after it, even a corrupt image
    corrupt = pkg[:300] + bytes([pkg[300] ^ 0xFF]) + pkg[301:]
    assert err(corrupt, vendor_id=VENDOR + 1) == "MT_E_VENDOR"
    assert err(corrupt, hw_revision=HW + 1) == "MT_E_HW_REV"
    assert err(corrupt, bank_size=len(pkg) - 1) == "MT_E_TOO_BIG"
    assert err(pkg[:-1]) == "MT_E_INCOMPLETE"
    assert err(pkg, complete=False) == "MT_E_INCOMPLETE"
    assert err(corrupt) == "MT_E_IMAGE_CRC"
    assert err(with_header(pkg, image_sha256=bytes(32))) == "MT_E_IMAGE_SHA"
    assert err(pkg, trusted_keys=[sec1(OTHER.public_key())]) == "MT_E_UNKNOWN_KEY"
    assert err(pkg, trusted_keys=[]) == "MT_E_UNKNOWN_KEY"
    # a signed field changed (checksum kept right): the signature fails
    assert err(with_header(pkg, security_counter=6)) == "MT_E_SIGNATURE"
    body = pkg[:-128]
    assert err(body + trailer(b"", 128)) == "MT_E_NO_SIGNATURE"
    assert err(body + trailer(b"\x07\x00\x00", 128)) == "MT_E_TRAILER"
    two = sign(body, KEY, raw=True) + struct.pack("<BH", 1, 8) + b"\x30\x06\x02\x01\x01\x02\x01\x01"
    assert err(body + trailer(two, 128)) == "MT_E_TRAILER"
    other_sig = sign(body, OTHER)
    assert err(body + trailer(other_sig, 128)) == "MT_E_SIGNATURE"
    assert err(pkg, installed_counter=6) == "MT_E_DOWNGRADE"
    assert check(pkg, installed_counter=5).security_counter == 5


def test_signature_covers_header_not_trailer(pkg: bytes) -> None:
    """What is signed is header || image: the unsigned package file."""
    unsigned = pkg[:-128]
    der = KEY.sign(unsigned, ec.ECDSA(hashes.SHA256()))
    rebuilt = unsigned + trailer(struct.pack("<BH", 1, len(der)) + der, 128)
    check(rebuilt)


def test_parse_header_and_trailer_errors(pkg: bytes) -> None:
    assert parse_header(pkg).image_size == len(IMAGE)
    with pytest.raises(ValueError, match=r"a package header is 128 bytes, got 127"):
        parse_header(pkg[:127])
    with pytest.raises(PackageRefused) as info:
        parse_header(b"\x00" * 128)
    assert info.value.err_name == "MT_E_HDR_MAGIC"
    sig = parse_trailer(pkg[-128:])
    assert sig.der and 8 <= len(sig.signature) <= 72
    with pytest.raises(PackageRefused) as info:
        parse_trailer(b"")
    assert info.value.err_name == "MT_E_NO_SIGNATURE"
    with pytest.raises(PackageRefused) as info:
        parse_trailer(b"\x02\x40\x00" + bytes(63))
    assert info.value.err_name == "MT_E_TRAILER"


def test_bad_arguments(pkg: bytes) -> None:
    with pytest.raises(ValueError, match=r"trusted key 0: a SEC1 point is 33 or 65 bytes, got 11"):
        check(pkg, trusted_keys=[b"\x04" + bytes(10)])
    with pytest.raises(ValueError, match=r"trusted key 0: not a valid P-256 point"):
        check(pkg, trusted_keys=[b"\x04" + bytes(64)])  # not on the curve
    with pytest.raises(ValueError, match=r"at most 4 trusted keys, got 5"):
        check(pkg, trusted_keys=[sec1(KEY.public_key())] * 5)
    with pytest.raises(ValueError, match=r"vendor_id out of range: -1"):
        check(pkg, vendor_id=-1)


# ---- properties ----

_VALID = make_package(KEY, IMAGE[:200], security_counter=1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_pass(data: bytes) -> None:
    with pytest.raises(PackageRefused):
        check(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=124, max_size=124), st.binary(max_size=600))
def test_random_header_with_valid_crc_never_passes(body: bytes, rest: bytes) -> None:
    header = b"MTRP\x01\x00\x80\x00" + body[8:]
    header += struct.pack("<I", zlib.crc32(header))
    with pytest.raises(PackageRefused):
        check(header + rest)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(1, 255)), min_size=1, max_size=4
    )
)
def test_mutations_of_a_valid_package_never_pass(flips: list[tuple[int, int]]) -> None:
    data = bytearray(_VALID)
    for pos, mask in flips:
        data[pos] ^= mask
    if bytes(data) == _VALID:
        return
    with pytest.raises(PackageRefused):
        check(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(_VALID) - 1))
def test_truncations_never_pass(n: int) -> None:
    with pytest.raises(PackageRefused) as info:
        check(_VALID[:n])
    assert info.value.err_name == "MT_E_INCOMPLETE"


@settings(max_examples=100)
@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
                 st.integers(0, 2**16 - 1)))
def test_version_text_is_major_minor_patch_and_the_build_when_there_is_one(version):
    h = parse_header(build_header(b"\0" * 64, key=key_id(KEY.public_key()), version=version))
    major, minor, patch, build = version
    want = f"{major}.{minor}.{patch}" + (f"+{build}" if build else "")
    assert h.version == version
    assert h.version_text == want and h.version_text == want  # remembered: the same text
