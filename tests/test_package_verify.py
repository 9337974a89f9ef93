"""The meter's acceptance check through meteremu.package.verify: every corruption gets its code.

Expected code per region of a signed package, in the C core's check order:
  header byte flipped    0x8008 malformed header (magic/version/size, else the header CRC)
  image byte flipped     0x8002 CRC mismatch (CRC-32 detects every single-bit error)
  trailer type byte      0xE06 malformed trailer (0x01 with one bit flipped is no known type)
  trailer length bytes   0xE06, unless the new length still frames a record followed by
                         0xFF only: then the DER is no longer strict, 0xE04
  signature value        0xE04 signature verification failed (bad DER is a failed signature)
  padding                0xE06 malformed trailer
and any truncation is 0x8001 incomplete image (the file holds less than the header announces).
"""

from __future__ import annotations

import hashlib

import pytest
from construct import ConstructError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.errors import PackageError
from meteremu.keys import generate_private_key, public_point
from meteremu.package import PackageConfig, attach_signature, build_unsigned, sign, verify

KEY = generate_private_key()
POINT = public_point(KEY)
CONFIG = PackageConfig.from_dict({
    "vendor_id": 0x4D455445,
    "hw_revision": 3,
    "version": "1.0.0",
    "security_counter": 5,
    "fragment_size": 64,
})
IMAGE = hashlib.sha256(b"image").digest() * 12
UNSIGNED = build_unsigned(IMAGE, CONFIG, hashlib.sha256(POINT).digest()[:8])
SIGNATURE = sign(UNSIGNED, KEY)
SIGNED = attach_signature(UNSIGNED, SIGNATURE)
TRAILER_AT = len(UNSIGNED)


def _code(data: bytes, **policy: int) -> str:
    try:
        verify(data, [POINT], **policy)
    except PackageError as exc:
        return exc.error.code
    return "accepted"


def test_valid_package_accepted() -> None:
    header = verify(SIGNED, [POINT], vendor_id=0x4D455445, hw_revision=3,
                    min_security_counter=5)
    assert header["security_counter"] == 5 and header["key_id"] == UNSIGNED[76:84]


def test_raw_signature_accepted() -> None:
    r, s = utils.decode_dss_signature(SIGNATURE)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert _code(attach_signature(UNSIGNED, raw)) == "accepted"


def test_policy_codes() -> None:
    assert _code(SIGNED, vendor_id=1) == "0x8007"
    assert _code(SIGNED, hw_revision=2) == "0x8004"
    assert _code(SIGNED, bank_size=len(SIGNED) - 1) == "0x9002"
    assert _code(SIGNED, bank_size=len(SIGNED)) == "accepted"
    assert _code(SIGNED, min_security_counter=6) == "0x8006"
    with pytest.raises(PackageError) as info:
        verify(SIGNED, [public_point(generate_private_key())])
    assert info.value.error.code == "0x8005"


def test_unsigned_and_foreign_signatures() -> None:
    assert _code(UNSIGNED) == "0x8001"
    assert _code(UNSIGNED + b"\xff" * 128) == "0xE05"
    foreign = generate_private_key().sign(UNSIGNED, ec.ECDSA(hashes.SHA256()))
    assert _code(attach_signature(UNSIGNED, foreign)) == "0xE04"


def _expected_for_flip(pos: int, bit: int) -> str:
    if pos < 128:
        return "0x8008"
    if pos < TRAILER_AT:
        return "0x8002"
    off = pos - TRAILER_AT
    trailer = bytearray(SIGNED[TRAILER_AT:])
    trailer[off] ^= 1 << bit
    if off == 0:
        return "0xE06"
    if off in (1, 2):
        length = int.from_bytes(trailer[1:3], "little")
        if 8 <= length <= 72 and 3 + length <= len(trailer) and all(
            b == 0xFF for b in trailer[3 + length :]
        ):
            return "0xE04"
        return "0xE06"
    if off < 3 + len(SIGNATURE):
        return "0xE04"
    return "0xE06"


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(SIGNED) - 1), st.integers(0, 7))
def test_any_single_bit_flip_is_refused_with_its_code(pos: int, bit: int) -> None:
    data = bytearray(SIGNED)
    data[pos] ^= 1 << bit
    assert _code(bytes(data)) == _expected_for_flip(pos, bit)


def test_bit_flips_in_the_framing_exhaustively() -> None:
    """Every bit of the header, the TLV type/length and the first padding bytes."""
    for pos in [*range(128), *range(TRAILER_AT, TRAILER_AT + 3),
                *range(TRAILER_AT + 3 + len(SIGNATURE), TRAILER_AT + 3 + len(SIGNATURE) + 4)]:
        for bit in range(8):
            data = bytearray(SIGNED)
            data[pos] ^= 1 << bit
            assert _code(bytes(data)) == _expected_for_flip(pos, bit), (pos, bit)


def test_every_truncation_is_incomplete() -> None:
    for length in range(len(SIGNED)):
        assert _code(SIGNED[:length]) == "0x8001", length


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_never_crashes(data: bytes) -> None:
    assert _code(data) != "accepted"
    assert _code(SIGNED[:128] + data) != "accepted" or data.startswith(SIGNED[128:])


def _c_header(data: bytes) -> object:
    from meteremu._lowlevel.image import parse_header as c_parse_header

    try:
        return c_parse_header(data)
    except PackageError as exc:
        return exc.error.code


def _py_header(data: bytes) -> object:
    from meteremu.package import parse_header

    try:
        return parse_header(data)
    except PackageError as exc:
        return exc.error.code


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 123), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_construct_and_c_header_parsers_agree(edits: list, fix_crc: bool) -> None:
    """The construct definition and the C parser accept and refuse the same headers."""
    import zlib

    data = bytearray(SIGNED[:128])
    for pos, value in edits:
        data[pos] = value
    if fix_crc:  # let the field rules, not the CRC, decide
        data[124:128] = zlib.crc32(bytes(data[:124])).to_bytes(4, "little")
    c, py = _c_header(bytes(data)), _py_header(bytes(data))
    if isinstance(c, str) or isinstance(py, str):
        assert c == py == "0x8008"
        return
    _same_header(c, py)


def _same_header(c: object, py: object) -> None:
    """Every field of the C parser's record equals the construct record's."""
    from dataclasses import fields

    from meteremu.wire.package import BEHAVIOURS, HEADER_SIZE

    behaviour = BEHAVIOURS[str(py["flags"]["behaviour"])]  # type: ignore[index]
    derived = {
        "behaviour": behaviour,
        "flags": py["flags"]["reserved"] << 4 | behaviour,  # type: ignore[index]
        "package_size": HEADER_SIZE + py["image_size"] + py["trailer_size"],  # type: ignore[index]
    }
    for f in fields(c):  # type: ignore[arg-type]
        want = derived[f.name] if f.name in derived else py[f.name]  # type: ignore[index]
        assert getattr(c, f.name) == want, f.name


def test_construct_and_c_header_parsers_agree_on_a_real_header() -> None:
    from meteremu._lowlevel.image import parse_header as c_parse_header
    from meteremu.package import parse_header

    _same_header(c_parse_header(SIGNED), parse_header(SIGNED))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 127), st.integers(0, 255)), max_size=3),
    st.integers(0, 128),
)
def test_construct_and_c_trailer_parsers_agree(edits: list, size: int) -> None:
    """Trailer records and padding: construct and C give the same record or the same code."""
    from meteremu._lowlevel.image import parse_trailer
    from meteremu.wire.package import Trailer

    data = bytearray(SIGNED[TRAILER_AT:])
    for pos, value in edits:
        data[pos] = value
    data = data[:size]
    try:
        c: object = parse_trailer(bytes(data))
    except PackageError as exc:
        c = exc.error.code
    try:
        parsed = Trailer.parse(bytes(data))
        py: object = "0xE05" if not parsed.records else parsed.records[0]
    except ConstructError:
        py = "0xE06"
    if isinstance(c, str) or isinstance(py, str):
        assert c == py
    else:
        assert c.signature == py.value  # type: ignore[attr-defined]
        assert c.der == (py.type == "sig_der")  # type: ignore[attr-defined]
