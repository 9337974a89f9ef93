"""Building, signing, attaching and parsing packages (meteremu.package)."""

from __future__ import annotations

import hashlib
import zlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.errors import ConfigError, PackageError
from meteremu.keys import generate_private_key, public_point
from meteremu.package import (
    PackageConfig,
    Version,
    attach_signature,
    build_unsigned,
    describe,
    parse_package,
    sign,
)

KEY = generate_private_key()
POINT = public_point(KEY)
KEY_ID = hashlib.sha256(POINT).digest()[:8]
OTHER = generate_private_key()

CONFIG = {
    "vendor_id": "0x4D455445",
    "hw_revision": 3,
    "version": "1.2.3+45",
    "security_counter": 7,
    "fragment_size": 128,
}


def _config(**changes: object) -> PackageConfig:
    return PackageConfig.from_dict({**CONFIG, **changes})


IMAGE = bytes(range(256)) * 20


def _signed(image: bytes = IMAGE, **changes: object) -> bytes:
    unsigned = build_unsigned(image, _config(**changes), KEY_ID)
    return attach_signature(unsigned, sign(unsigned, KEY))


# --- version and config -----------------------------------------------------


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535),
       st.integers(0, 2**32 - 1))
def test_version_round_trip(major: int, minor: int, patch: int, build: int) -> None:
    v = Version(major, minor, patch, build)
    assert Version.parse(str(v)) == v


_SHAPE = r'must look like "1\.2\.3" or "1\.2\.3\+45" \(ASCII digits\)'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.2", _SHAPE + r", not '1\.2'"),
        ("1.2.3.4", _SHAPE),
        ("v1.2.3", _SHAPE),
        ("1.2.3+", _SHAPE),
        ("256.0.0", r"major must be 0\.\.255, not 256"),
        ("1.2.65536", r"patch must be 0\.\.65535, not 65536"),
        ("1.2.3+4294967296", r"build must be 0\.\.4294967295, not 4294967296"),
        ("1.-2.3", _SHAPE),
        ("", _SHAPE + r", not ''"),
    ],
)
def test_version_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Version.parse(text)


def test_config_fields() -> None:
    c = _config(behaviour="crash-on-boot", packet_count=42)
    assert c.vendor_id == 0x4D455445 and c.hw_revision == 3
    assert c.version == Version(1, 2, 3, 45) and str(c.version) == "1.2.3+45"
    assert c.behaviour == "crash-on-boot" and c.packet_count == 42
    assert c.trailer_size == 128
    assert str(_config(version="2.0.1").version) == "2.0.1"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vendor_id": -1}, "vendor_id"),
        ({"vendor_id": 2**32}, "vendor_id"),
        ({"vendor_id": "0xZZ"}, "vendor_id"),
        ({"hw_revision": 70000}, "hw_revision"),
        ({"hw_revision": True}, "hw_revision"),
        ({"hw_revision": 3.0}, "hw_revision"),
        ({"version": "1.2"}, "version"),
        ({"version": 1}, "version"),
        ({"security_counter": "7"}, "security_counter"),
        ({"fragment_size": 8}, "fragment_size"),
        ({"fragment_size": 2048}, "fragment_size"),
        ({"fragment_size": 100}, "fragment_size"),
        ({"behaviour": "explode"}, "behaviour"),
        ({"packet_count": -3}, "packet_count"),
        ({"trailer_size": 64}, "trailer_size"),
        ({"trailer_size": 4096}, "trailer_size"),
        ({"fragement_size": 64}, "fragement_size"),
    ],
)
def test_config_rejects_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        PackageConfig.from_dict({**CONFIG, **changes})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("missing", sorted(CONFIG))
def test_config_missing_field(missing: str) -> None:
    data = {k: v for k, v in CONFIG.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        PackageConfig.from_dict(data)
    assert info.value.field == missing


def test_config_must_be_object() -> None:
    with pytest.raises(ConfigError):
        PackageConfig.from_dict([1, 2])  # type: ignore[arg-type]


# --- building -----------------------------------------------------------------


def test_unsigned_package_bytes() -> None:
    unsigned = build_unsigned(IMAGE, _config(behaviour="slow-boot"), KEY_ID)
    assert len(unsigned) == 128 + len(IMAGE)
    assert unsigned[:4] == b"MTRP" and unsigned[128:] == IMAGE
    p = parse_package(unsigned)
    assert not p.signed and p.unsigned == unsigned
    h = p.header
    assert h["image_size"] == len(IMAGE)
    assert h["image_crc32"] == zlib.crc32(IMAGE)
    assert h["image_sha256"] == hashlib.sha256(IMAGE).digest()
    assert h["key_id"] == KEY_ID
    assert h["fragment_count"] == -(-(128 + len(IMAGE) + 128) // 128)
    assert p.behaviour == "slow-boot" and str(p.version) == "1.2.3+45"
    assert int.from_bytes(unsigned[14:16], "little") == 3


def test_packet_count_checked() -> None:
    count = -(-(128 + len(IMAGE) + 128) // 128)
    build_unsigned(IMAGE, _config(packet_count=count), KEY_ID)
    with pytest.raises(ConfigError) as info:
        build_unsigned(IMAGE, _config(packet_count=count + 1), KEY_ID)
    assert info.value.field == "packet_count"
    assert str(count) in str(info.value)


def test_empty_image_refused() -> None:
    with pytest.raises(ConfigError):
        build_unsigned(b"", _config(), KEY_ID)


def test_signature_covers_the_unsigned_package() -> None:
    signed = _signed()
    p = parse_package(signed)
    assert p.signed and p.signature_encoding == "der"
    assert len(signed) == 128 + len(IMAGE) + 128
    assert signed[len(p.unsigned) + 3 + len(p.signature) :] == b"\xff" * (
        128 - 3 - len(p.signature)
    )
    KEY.public_key().verify(p.signature, p.unsigned, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(p.signature, p.unsigned[:-1] + b"\0",
                                ec.ECDSA(hashes.SHA256()))


def test_raw_signature_attached_as_raw() -> None:
    unsigned = build_unsigned(IMAGE, _config(), KEY_ID)
    r, s = utils.decode_dss_signature(sign(unsigned, KEY))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    signed = attach_signature(unsigned, raw, [POINT])
    p = parse_package(signed)
    assert p.signature_encoding == "raw" and p.signature == raw
    assert signed[len(unsigned)] == 0x02


def test_attach_replaces_an_existing_trailer() -> None:
    signed = _signed()
    again = attach_signature(signed, parse_package(signed).signature or b"", [POINT])
    assert again == signed


def test_attach_checks_key_and_signature() -> None:
    unsigned = build_unsigned(IMAGE, _config(), KEY_ID)
    good = sign(unsigned, KEY)
    with pytest.raises(PackageError) as info:
        attach_signature(unsigned, good, [public_point(OTHER)])
    assert info.value.error.code == "0x8005"
    foreign = OTHER.sign(unsigned, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(PackageError) as info:
        attach_signature(unsigned, foreign, [POINT])
    assert info.value.error.code == "0xE04"
    with pytest.raises(PackageError) as info:
        attach_signature(unsigned, b"not a signature", [POINT])
    assert info.value.error.code == "0xE04"
    # Without keys nothing is verified: the meter will refuse it later.
    assert parse_package(attach_signature(unsigned, foreign)).signature == foreign


def test_sign_refuses_a_key_the_header_does_not_name() -> None:
    unsigned = build_unsigned(IMAGE, _config(), KEY_ID)
    with pytest.raises(PackageError) as info:
        sign(unsigned, OTHER)
    assert info.value.error.code == "0x8005"


def test_signature_must_fit_the_trailer() -> None:
    unsigned = build_unsigned(IMAGE, _config(trailer_size=75), KEY_ID)
    signed = attach_signature(unsigned, sign(unsigned, KEY))
    assert len(signed) == len(unsigned) + 75
    tiny = bytearray(unsigned)
    # trailer_size 40 (too small for any signature), header fixed up with a
    # correct fragment count and CRC so that only the size is wrong.
    tiny[34:36] = (40).to_bytes(2, "little")
    tiny[36:40] = (-(-(128 + len(IMAGE) + 40) // 128)).to_bytes(4, "little")
    tiny[124:128] = zlib.crc32(bytes(tiny[:124])).to_bytes(4, "little")
    with pytest.raises(PackageError) as info:
        attach_signature(bytes(tiny), sign(bytes(tiny), KEY))
    assert info.value.error.code == "0xE06"


# --- parsing errors -------------------------------------------------------------


def _code(data: bytes) -> str:
    with pytest.raises(PackageError) as info:
        parse_package(data)
    return info.value.error.code


def test_parse_errors() -> None:
    signed = _signed()
    unsigned_len = 128 + len(IMAGE)
    assert _code(signed[:100]) == "0x8001"
    assert _code(signed[:unsigned_len - 1]) == "0x8001"
    assert _code(signed[:-1]) == "0x8001"
    assert _code(signed + b"\xff") == "0xE06"
    assert _code(signed[:unsigned_len] + b"\xff" * 128) == "0xE05"
    assert _code(signed[:unsigned_len] + b"\x00" * 128) == "0xE06"
    assert _code(b"XTRP" + signed[4:]) == "0x8008"
    flipped = bytearray(signed)
    flipped[30] ^= 1
    with pytest.raises(PackageError) as info:
        parse_package(bytes(flipped))
    assert str(info.value).startswith("0x8008 malformed header: header CRC mismatch")


def _reheader(data: bytes, offset: int, value: bytes) -> bytes:
    """Set a header field and fix the header CRC, so only the field rule can fail."""
    b = bytearray(data)
    b[offset : offset + len(value)] = value
    b[124:128] = zlib.crc32(bytes(b[:124])).to_bytes(4, "little")
    return bytes(b)


@pytest.mark.parametrize(
    ("offset", "value", "words"),
    [
        (14, (0x10).to_bytes(2, "little"), "bits 4-15"),
        (14, (4).to_bytes(2, "little"), "behaviour"),
        (28, (0).to_bytes(4, "little"), "image_size"),
        (32, (15).to_bytes(2, "little"), "fragment_size"),
        (32, (1025).to_bytes(2, "little"), "fragment_size"),
        (34, (1025).to_bytes(2, "little"), "trailer_size"),
        (36, (1).to_bytes(4, "little"), "fragment_count"),
        (100, b"\x01", "reserved"),
        (4, (2).to_bytes(2, "little"), "format_version"),
        (6, (127).to_bytes(2, "little"), "header_size"),
    ],
)
def test_header_field_rules(offset: int, value: bytes, words: str) -> None:
    with pytest.raises(PackageError) as info:
        parse_package(_reheader(_signed(), offset, value))
    assert info.value.error.code == "0x8008"
    assert words in str(info.value)


def test_describe() -> None:
    signed = _signed(behaviour="no-heartbeat")
    info = describe(signed)
    assert info["header"]["behaviour"] == "no-heartbeat" and info["header"]["flags"] == 1
    assert info["header"]["version"] == "1.2.3+45"
    assert info["header"]["key_id"] == KEY_ID.hex()
    assert info["sizes"] == {"file": len(signed), "unsigned": 128 + len(IMAGE),
                             "package": len(signed)}
    assert info["digests"]["image_sha256"] == hashlib.sha256(IMAGE).hexdigest()
    assert info["digests"]["package_sha256"] == hashlib.sha256(signed).hexdigest()
    assert info["digests"]["signed_sha256"] == hashlib.sha256(signed[:128 + len(IMAGE)]).hexdigest()
    assert info["digests"]["image_crc32_matches_header"] is True
    assert info["signature"]["present"] and info["signature"]["encoding"] == "der"
    unsigned = describe(signed[: 128 + len(IMAGE)])
    assert unsigned["signature"] == {"present": False, "encoding": None, "length": None,
                                     "value": None}


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=3000), st.integers(1, 64).map(lambda n: 16 * n),
       st.sampled_from(["normal", "no-heartbeat", "crash-on-boot", "slow-boot"]))
def test_build_parse_property(image: bytes, fragment_size: int, behaviour: str) -> None:
    signed = _signed(image, fragment_size=fragment_size, behaviour=behaviour)
    p = parse_package(signed)
    assert p.image == image and p.behaviour == behaviour
    assert p.header["fragment_count"] * fragment_size >= len(signed)
    assert (p.header["fragment_count"] - 1) * fragment_size < len(signed)
