"""The firmware package (.pkg) in construct: header, trailer, whole package.

The layout is the one ``csrc/mt_pkg.h`` documents and the C core parses; these
definitions must match it byte for byte (``tests/test_package_format.py``
checks them against that header and against ``docs/FORMAT.md``)::

    header (128 bytes) | image (image_size bytes) | trailer (trailer_size bytes)

Every integer is little-endian. The *unsigned package* -- header and image,
no trailer -- is what the signature covers; :data:`UnsignedPackage` describes
that file, :data:`Package` the signed one.

Parsing runs the header checks in the C core's order: magic, format version
and header size first (is this a package at all), then the header CRC, then
the field rules -- so a flipped bit reads as a CRC mismatch, not as whatever
field it happened to land in.
"""

from __future__ import annotations

from typing import Any

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    ByteSwapped,
    Const,
    Construct,
    Enum,
    FixedSized,
    GreedyRange,
    Int8ul,
    Int16ul,
    Int32ul,
    Rebuild,
    SizeofError,
    Struct,
    Terminated,
    ValidationError,
    len_,
    stream_read_entire,
    stream_tell,
    stream_write,
    this,
)

from .layout import Require, Sealed, offset_of

__all__ = [
    "BEHAVIOURS",
    "FORMAT_VERSION",
    "FRAGMENT_ALIGN",
    "FRAGMENT_MAX",
    "FRAGMENT_MIN",
    "HEADER_CRC_OFFSET",
    "HEADER_SIZE",
    "KEY_ID_LEN",
    "MAGIC",
    "SIG_DER_MAX",
    "SIG_DER_MIN",
    "SIG_RAW_LEN",
    "TLV_PAD",
    "TLV_SIG_DER",
    "TLV_SIG_RAW",
    "TRAILER_DEFAULT",
    "TRAILER_MAX",
    "Flags",
    "Header",
    "HeaderBody",
    "Package",
    "SignatureRecord",
    "Trailer",
    "UnsignedPackage",
    "fragment_count",
]

# mt_pkg.h
MAGIC = b"MTRP"
FORMAT_VERSION = 1
#: The header's size; a field of the header too (checked against the definition below).
HEADER_SIZE = 128
KEY_ID_LEN = 8
FRAGMENT_MIN = 16
FRAGMENT_MAX = 1024
#: Fragments start on a flash write unit of the bank (the model allows 1..16).
FRAGMENT_ALIGN = 16
TRAILER_MAX = 1024
TRAILER_DEFAULT = 128
TLV_SIG_DER = 0x01
TLV_SIG_RAW = 0x02
TLV_PAD = 0xFF
# Strict DER ECDSA-Sig-Value for P-256: 30 len 02 len r 02 len s, r and s 1..33 bytes.
SIG_DER_MIN = 8
SIG_DER_MAX = 72
SIG_RAW_LEN = 64

# Emulation behaviour, flags bits 0-3 (enum mt_behaviour).
BEHAVIOURS: dict[str, int] = {
    "normal": 0,
    "no-heartbeat": 1,
    "crash-on-boot": 2,
    "slow-boot": 3,
}


def fragment_count(package_size: int, fragment_size: int) -> int:
    """Fragments a package of ``package_size`` bytes is cut into: ceil(package /
    fragment). What the header's ``fragment_count`` says (for a package of
    128 + image_size + trailer_size bytes) and what every frame announces."""
    return -(-package_size // fragment_size)


class PadFF(Construct):
    """The rest of a fixed-size region, every byte 0xFF (erased flash).

    Parses to the number of padding bytes; builds that many 0xFF bytes.
    """

    def _parse(self, stream: Any, context: Any, path: str) -> int:
        start = stream_tell(stream, path)
        data = stream_read_entire(stream, path)
        for i, byte in enumerate(data):
            if byte != TLV_PAD:
                raise ValidationError(
                    f"trailer byte {start + i} is 0x{byte:02X}: neither a valid signature "
                    "record nor 0xFF padding",
                    path=path,
                )
        return len(data)

    def _build(self, obj: int, stream: Any, context: Any, path: str) -> int:
        if not isinstance(obj, int) or obj < 0:
            raise ValidationError(f"padding must be a byte count >= 0, not {obj!r}", path=path)
        stream_write(stream, b"\xff" * obj, obj, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("padding fills the rest of the trailer", path=path)


# ---------------------------------------------------------------------------
# Header

# flags (offset 14, 2 bytes LE): bits 0-3 behaviour, bits 4-15 reserved (0).
# ByteSwapped turns the little-endian word into MSB-first bits for BitStruct.
Flags = ByteSwapped(
    BitStruct(
        "reserved" / BitsInteger(12),
        "behaviour" / Enum(BitsInteger(4), **BEHAVIOURS),
    )
)

# Bytes 0..123: everything the header CRC covers.
HeaderBody = Struct(
    "magic" / Const(MAGIC),
    "format_version" / Const(FORMAT_VERSION, Int16ul),
    "header_size" / Const(HEADER_SIZE, Int16ul),
    "vendor_id" / Int32ul,
    "hw_revision" / Int16ul,
    "flags" / Flags,
    "version_major" / Int8ul,
    "version_minor" / Int8ul,
    "version_patch" / Int16ul,
    "version_build" / Int32ul,
    "security_counter" / Int32ul,
    "image_size" / Int32ul,
    "fragment_size" / Int16ul,
    "trailer_size" / Int16ul,
    "fragment_count" / Int32ul,
    "image_crc32" / Int32ul,
    "image_sha256" / Bytes(32),
    "key_id" / Bytes(KEY_ID_LEN),
    "reserved" / Bytes(40),
)


def _behaviour_known(value: Any) -> bool:
    # Parsed: a name (construct's enum string) for 0..3, a bare int otherwise.
    # Built: whatever the caller passed, name or number.
    if isinstance(value, str):
        return value in BEHAVIOURS
    return value in BEHAVIOURS.values()


#: The header as one flat record: the fields of :data:`HeaderBody` plus
#: ``header_crc32``, a ``Checksum`` over a ``RawCopy`` of bytes 0..123. The
#: field rules of mt_pkg_header_parse are checked after the CRC, as C does.
Header = Sealed(
    HeaderBody,
    crc_name="header_crc32",
    rules=[
        (lambda h: h.flags.reserved == 0, "flags: bits 4-15 are reserved and must be 0"),
        (lambda h: _behaviour_known(h.flags.behaviour), "flags: behaviour (bits 0-3) must be 0..3"),
        (lambda h: h.image_size >= 1, "image_size must be at least 1"),
        (
            lambda h: FRAGMENT_MIN <= h.fragment_size <= FRAGMENT_MAX
            and h.fragment_size % FRAGMENT_ALIGN == 0,
            f"fragment_size must be a multiple of {FRAGMENT_ALIGN} in "
            f"{FRAGMENT_MIN}..{FRAGMENT_MAX}",
        ),
        (lambda h: h.trailer_size <= TRAILER_MAX, f"trailer_size must be <= {TRAILER_MAX}"),
        (
            lambda h: HEADER_SIZE + h.image_size + h.trailer_size <= 0xFFFFFFFF,
            "package size does not fit 32 bits",
        ),
        (
            lambda h: h.fragment_count
            == fragment_count(HEADER_SIZE + h.image_size + h.trailer_size, h.fragment_size),
            "fragment_count must be ceil((128 + image_size + trailer_size) / fragment_size)",
        ),
        (lambda h: h.reserved == bytes(40), "reserved bytes 84..123 must be 0"),
    ],
    defaults={"reserved": bytes(40)},
)

#: Where the header CRC sits: right after the bytes it covers.
HEADER_CRC_OFFSET = offset_of(Header, "header_crc32")
assert Header.sizeof() == HEADER_SIZE

# ---------------------------------------------------------------------------
# Trailer

_SIG_TYPES = {"sig_der": TLV_SIG_DER, "sig_raw": TLV_SIG_RAW}


def _sig_length_ok(ctx: Any) -> bool:
    if ctx.type == "sig_der":
        return SIG_DER_MIN <= ctx.length <= SIG_DER_MAX
    return ctx.length == SIG_RAW_LEN


# One TLV record. Type, length and value are attacker-controlled; the length is
# bounded by the fixed-size trailer region the record is parsed from.
SignatureRecord = Struct(
    "type" / Enum(Int8ul, **_SIG_TYPES),
    Require(lambda ctx: isinstance(ctx.type, str), "unknown trailer record type"),
    "length" / Rebuild(Int16ul, len_(this.value)),
    Require(_sig_length_ok, "signature length wrong for its type (DER 8..72, raw 64)"),
    "value" / Bytes(this.length),
)

# Records, then 0xFF to the end of the region: the first 0xFF type byte starts
# the padding. Parse it from exactly trailer_size bytes (see Package).
Trailer = Struct(
    "records" / GreedyRange(SignatureRecord),
    Require(lambda ctx: len(ctx.records) <= 1, "more than one signature record"),
    "padding" / PadFF(),
)

# ---------------------------------------------------------------------------
# Whole files

UnsignedPackage = Struct(
    "header" / Header,
    "image" / Bytes(this.header.image_size),
    Terminated,
)

Package = Struct(
    "header" / Header,
    "image" / Bytes(this.header.image_size),
    "trailer" / FixedSized(this.header.trailer_size, Trailer),
    Terminated,
)
