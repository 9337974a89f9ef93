"""A-XDR, the DLMS data encoding (IEC 61334-6, DLMS UA Green Book), in construct.

Every value on the wire is a ``Data``: one tag byte (:class:`DataType`), then
the body the tag says. Lengths and element counts use the A-XDR length form
(:data:`AxdrLength`): one byte below 128, else ``0x80 | n`` followed by ``n``
big-endian bytes -- so an octet-string of 128 bytes or more starts
``09 81 80`` (SPEC section 7: the long form is required there). Integers are
big-endian two's complement. ::

    tag  type                     body
      0  null-data                (none)
      1  array                    count, then count Data
      2  structure                count, then count Data
      3  boolean                  1 byte, 0 false, anything else true (built as 1)
      4  bit-string               length in bits, then ceil(bits / 8) bytes, MSB first
      5  double-long              int32
      6  double-long-unsigned     uint32
      9  octet-string             length, bytes
     10  visible-string           length, bytes (ASCII)
     12  utf8-string              length, bytes
     13  bcd                      int8
     15  integer                  int8
     16  long                     int16
     17  unsigned                 uint8
     18  long-unsigned            uint16
     20  long64                   int64
     21  long64-unsigned          uint64
     22  enum                     uint8
     23  float32, 24 float64      IEEE 754
     25  date-time                12 bytes (see :data:`CosemDateTime`)
     26  date, 27 time            5 bytes, 4 bytes

Compact-array (19) and the deprecated types are not supported: decoding one
raises :class:`~meteremu.dlms.errors.ApduError` like any other garbage.

:class:`Data` is the typed value (tag and Python value) the APDU definitions
carry; :mod:`meteremu.dlms.values` maps it to the plain Python values the
meter takes and returns. Nesting deeper than :data:`MAX_DEPTH` arrays and
structures is refused, so a hostile frame cannot exhaust the stack.
"""

from __future__ import annotations

import datetime as _dt
import enum
import io
from dataclasses import dataclass
from typing import Any

from construct import (
    Bytes,
    Construct,
    ConstructError,
    Flag,
    Float32b,
    Float64b,
    GreedyBytes,
    Int8sb,
    Int8ub,
    Int16sb,
    Int16ub,
    Int32sb,
    Int32ub,
    Int64sb,
    Int64ub,
    Pass,
    Prefixed,
    SizeofError,
    Struct,
    stream_read,
    stream_write,
)

from ..errors import TypeUnmatched, UsageError
from .errors import ApduError

__all__ = [
    "MAX_DEPTH",
    "AxdrLength",
    "AxdrOptional",
    "BitString",
    "CosemDateTime",
    "Data",
    "DataType",
    "OctetString",
    "decode_data",
    "decode_datetime",
    "encode_data",
    "encode_datetime",
]

MAX_DEPTH = 16  # arrays and structures nested deeper than this are refused


class DataType(enum.IntEnum):
    """The A-XDR Data tags (Green Book, "Data" CHOICE)."""

    NULL = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27


class AxdrFormatError(ConstructError):
    """Raised inside the construct definitions for a body they refuse."""


# ---------------------------------------------------------------------------
# lengths, optional fields


class _AxdrLength(Construct):
    """A-XDR length: ``n < 128`` in one byte, else ``0x80 | k`` and ``k`` (1..4)
    big-endian bytes. Built in the shortest form; parsed in any form (a
    non-minimal long form is legal A-XDR)."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> int:
        first = stream_read(stream, 1, path)[0]
        if first < 0x80:
            return first
        k = first & 0x7F
        if not 1 <= k <= 4:
            raise AxdrFormatError(f"length of {k} bytes", path=path)
        return int.from_bytes(stream_read(stream, k, path), "big")

    def _build(self, obj: int, stream: io.BytesIO, context: Any, path: str) -> int:
        if not isinstance(obj, int) or not 0 <= obj <= 0xFFFFFFFF:
            raise AxdrFormatError(f"length {obj!r} out of range", path=path)
        if obj < 0x80:
            stream_write(stream, bytes((obj,)), 1, path)
        else:
            k = (obj.bit_length() + 7) // 8
            stream_write(stream, bytes((0x80 | k,)) + obj.to_bytes(k, "big"), 1 + k, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("an A-XDR length has a variable size", path=path)


AxdrLength = _AxdrLength()
OctetString = Prefixed(AxdrLength, GreedyBytes)


class AxdrOptional(Construct):
    """A-XDR OPTIONAL: ``00`` absent (None), ``01`` then the value."""

    def __init__(self, subcon: Construct) -> None:
        super().__init__()
        self.subcon = subcon

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        flag = stream_read(stream, 1, path)[0]
        if flag == 0:
            return None
        if flag != 1:
            raise AxdrFormatError(f"optional flag {flag:#04x}", path=path)
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if obj is None:
            stream_write(stream, b"\x00", 1, path)
            return None
        stream_write(stream, b"\x01", 1, path)
        return self.subcon._build(obj, stream, context, path)

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("an optional field has a variable size", path=path)


class _BitString(Construct):
    """Bit-string body: length in bits, then the bits MSB first, as a ``"0101"`` str."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> str:
        bits = AxdrLength._parsereport(stream, context, path)
        raw = stream_read(stream, (bits + 7) // 8, path)
        return "".join(format(b, "08b") for b in raw)[:bits]

    def _build(self, obj: str, stream: io.BytesIO, context: Any, path: str) -> str:
        if not isinstance(obj, str) or obj.strip("01"):
            raise AxdrFormatError("a bit-string is a str of 0 and 1", path=path)
        AxdrLength._build(len(obj), stream, context, path)
        padded = obj + "0" * (-len(obj) % 8)
        raw = bytes(int(padded[i:i + 8], 2) for i in range(0, len(padded), 8))
        stream_write(stream, raw, len(raw), path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("a bit-string has a variable size", path=path)


BitString = _BitString()

# The body of each tag that is not an array or a structure.
_LEAVES: dict[DataType, Construct] = {
    DataType.NULL: Pass,
    DataType.BOOLEAN: Flag,
    DataType.BIT_STRING: BitString,
    DataType.DOUBLE_LONG: Int32sb,
    DataType.DOUBLE_LONG_UNSIGNED: Int32ub,
    DataType.OCTET_STRING: OctetString,
    DataType.VISIBLE_STRING: OctetString,
    DataType.UTF8_STRING: OctetString,
    DataType.BCD: Int8sb,
    DataType.INTEGER: Int8sb,
    DataType.LONG: Int16sb,
    DataType.UNSIGNED: Int8ub,
    DataType.LONG_UNSIGNED: Int16ub,
    DataType.LONG64: Int64sb,
    DataType.LONG64_UNSIGNED: Int64ub,
    DataType.ENUM: Int8ub,
    DataType.FLOAT32: Float32b,
    DataType.FLOAT64: Float64b,
    DataType.DATE_TIME: Bytes(12),
    DataType.DATE: Bytes(5),
    DataType.TIME: Bytes(4),
}
_CONTAINERS = (DataType.ARRAY, DataType.STRUCTURE)
_BYTES = (bytes, bytearray)
# The Python type each leaf holds (bool is refused where an int is meant).
_PYTHON_TYPES: dict[DataType, type | tuple[type, ...]] = {
    DataType.NULL: type(None),
    DataType.BOOLEAN: bool,
    DataType.BIT_STRING: str,
    DataType.OCTET_STRING: _BYTES,
    DataType.VISIBLE_STRING: _BYTES,
    DataType.UTF8_STRING: _BYTES,
    DataType.FLOAT32: (int, float),
    DataType.FLOAT64: (int, float),
    DataType.DATE_TIME: _BYTES,
    DataType.DATE: _BYTES,
    DataType.TIME: _BYTES,
    **{t: int for t in (DataType.DOUBLE_LONG, DataType.DOUBLE_LONG_UNSIGNED, DataType.BCD,
                        DataType.INTEGER, DataType.LONG, DataType.UNSIGNED,
                        DataType.LONG_UNSIGNED, DataType.LONG64, DataType.LONG64_UNSIGNED,
                        DataType.ENUM)},
}
_TYPES = {t.value: t for t in DataType}


@dataclass(frozen=True, slots=True)
class Data:
    """One A-XDR value: its tag and its Python value.

    ``value`` is None (null-data), a tuple of :class:`Data` (array, structure),
    bool, int, float, bytes (the string types and date/time bodies), or a str
    of ``0``/``1`` (bit-string). Building checks the value fits the type.
    """

    type: DataType
    value: Any = None

    def __repr__(self) -> str:
        return f"Data({self.type.name}, {self.value!r})"


class _DataConstruct(Construct):
    """The recursive ``Data`` CHOICE, with a nesting limit."""

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Data:
        return self._parse_at(stream, context, path, 0)

    def _parse_at(self, stream: io.BytesIO, context: Any, path: str, depth: int) -> Data:
        tag = stream_read(stream, 1, path)[0]
        t = _TYPES.get(tag)
        if t is None:
            raise AxdrFormatError(f"unsupported A-XDR type {tag}", path=path)
        if t in _CONTAINERS:
            if depth >= MAX_DEPTH:
                raise AxdrFormatError(f"nested deeper than {MAX_DEPTH}", path=path)
            count = AxdrLength._parsereport(stream, context, path)
            items = []
            for _ in range(count):  # each element takes >= 1 byte: bounded by the input
                items.append(self._parse_at(stream, context, path, depth + 1))
            return Data(t, tuple(items))
        return Data(t, _LEAVES[t]._parsereport(stream, context, path))

    def _build(self, obj: Data, stream: io.BytesIO, context: Any, path: str) -> Data:
        self._build_at(obj, stream, context, path, 0)
        return obj

    def _build_at(self, obj: Data, stream: io.BytesIO, context: Any, path: str,
                  depth: int) -> None:
        if not isinstance(obj, Data) or obj.type not in _TYPES.values():
            raise AxdrFormatError(f"not a Data value: {obj!r}", path=path)
        stream_write(stream, bytes((obj.type,)), 1, path)
        if obj.type in _CONTAINERS:
            if depth >= MAX_DEPTH:
                raise AxdrFormatError(f"nested deeper than {MAX_DEPTH}", path=path)
            if not isinstance(obj.value, tuple | list):
                raise AxdrFormatError(f"{obj.type.name} holds a tuple of Data", path=path)
            AxdrLength._build(len(obj.value), stream, context, path)
            for item in obj.value:
                self._build_at(item, stream, context, path, depth + 1)
            return
        want = _PYTHON_TYPES[obj.type]
        if not isinstance(obj.value, want) or (
                isinstance(obj.value, bool) and obj.type is not DataType.BOOLEAN):
            raise AxdrFormatError(f"{obj.type.name} does not hold {obj.value!r}", path=path)
        _LEAVES[obj.type]._build(obj.value, stream, context, path)

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("Data has a variable size", path=path)


AxdrData = _DataConstruct()
"""The ``Data`` CHOICE: parses to and builds from :class:`Data`."""


def decode_data(raw: bytes) -> Data:
    """One whole ``Data`` encoding; :class:`ApduError` for anything else."""
    from .fast import decode_data_fast  # the struct fast path (it agrees with AxdrData)

    fast = decode_data_fast(bytes(raw))
    if fast is not None:
        return fast
    stream = io.BytesIO(raw)
    try:
        value = AxdrData.parse_stream(stream)
    except ConstructError as exc:
        raise ApduError(f"A-XDR data: {exc}") from None
    if stream.tell() != len(raw):
        raise ApduError(f"A-XDR data: {len(raw) - stream.tell()} bytes after the value")
    return value


def encode_data(value: Data) -> bytes:
    """The A-XDR encoding of ``value``; :class:`UsageError` when it does not fit its type."""
    from .fast import encode_data_fast

    fast = encode_data_fast(value)
    if fast is not None:
        return fast
    stream = io.BytesIO()
    try:
        AxdrData.build_stream(value, stream)
    except ConstructError as exc:
        raise UsageError(f"cannot encode {value!r}: {exc}") from None
    return stream.getvalue()


# ---------------------------------------------------------------------------
# COSEM date-time (Blue Book 4.1.6.1), 12 bytes

CosemDateTime = Struct(
    "year" / Int16ub,  # 0xFFFF: not specified
    "month" / Int8ub,  # 1..12; 0xFD, 0xFE DST end/begin; 0xFF not specified
    "day" / Int8ub,  # 1..31; 0xFD, 0xFE last days; 0xFF not specified
    "weekday" / Int8ub,  # 1 Monday .. 7 Sunday; 0xFF not specified
    "hour" / Int8ub,
    "minute" / Int8ub,
    "second" / Int8ub,
    "hundredths" / Int8ub,  # 0xFF not specified
    "deviation" / Int16sb,  # minutes, local time = UTC - deviation; -0x8000 not specified
    "status" / Int8ub,  # clock status bits; 0xFF not specified
)
DEVIATION_UNSPECIFIED = -0x8000


def encode_datetime(when: _dt.datetime) -> bytes:
    """An aware datetime as the 12-byte COSEM date-time, in UTC (deviation 0,
    clock status 0): the meter's clock runs in UTC."""
    if not isinstance(when, _dt.datetime) or when.tzinfo is None:
        raise UsageError(f"a date-time needs an aware datetime, not {when!r}")
    u = when.astimezone(_dt.timezone.utc)
    return CosemDateTime.build({
        "year": u.year, "month": u.month, "day": u.day, "weekday": u.isoweekday(),
        "hour": u.hour, "minute": u.minute, "second": u.second,
        "hundredths": u.microsecond // 10_000, "deviation": 0, "status": 0,
    })


def decode_datetime(raw: bytes) -> _dt.datetime:
    """The 12-byte COSEM date-time as an aware datetime.

    The deviation is read as the Blue Book defines it (minutes, local time =
    UTC - deviation); "not specified" means UTC. A date-time with other fields
    not specified (wildcards) names no instant: :class:`TypeUnmatched`.
    """
    if not isinstance(raw, bytes | bytearray) or len(raw) != 12:
        raise TypeUnmatched(f"a date-time is 12 bytes, not {len(raw)}")
    f = CosemDateTime.parse(bytes(raw))
    hundredths = 0 if f.hundredths == 0xFF else f.hundredths
    offset = 0 if f.deviation == DEVIATION_UNSPECIFIED else -f.deviation
    if not -840 <= offset <= 840 or hundredths > 99:
        raise TypeUnmatched(f"date-time field out of range: {bytes(raw).hex()}")
    try:
        tz = _dt.timezone(_dt.timedelta(minutes=offset))
        return _dt.datetime(f.year, f.month, f.day, f.hour, f.minute, f.second,
                            hundredths * 10_000, tzinfo=tz)
    except ValueError:
        raise TypeUnmatched(f"date-time names no instant (wildcards or out of range): "
                            f"{bytes(raw).hex()}") from None
