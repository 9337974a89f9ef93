"""Fast paths for the APDUs of every request: ``struct`` instead of construct.

STYLE: formats live in construct; a hot path construct cannot serve fast
enough goes to ``struct``, with a test that both agree byte for byte
(``tests/test_dlms_fast.py``, on hypothesis-generated values and on the fuzz
inputs). The construct definitions stay the single source of truth: every
function here returns ``None`` for anything it is not sure of -- an unusual
shape, a value out of range, truncated or malformed bytes -- and the caller
then takes the construct path, which decides (and raises the one documented
error). So the fast path can only ever give the answer construct would give,
sooner.

Covered: A-XDR ``Data`` (all but bit-strings), GET/SET/ACTION-Request-Normal
and their responses, GET-Response-With-Datablock.
"""

from __future__ import annotations

import struct
from typing import Any

from .axdr import MAX_DEPTH, Data, DataType
from .xdlms import (
    ActionRequestNormal,
    ActionResponseNormal,
    AttributeDescriptor,
    GetRequestNormal,
    GetResponseNormal,
    GetResponseWithDatablock,
    MethodDescriptor,
    SetRequestNormal,
    SetResponseNormal,
    _result,
)

__all__ = [
    "decode_apdu_fast",
    "decode_data_fast",
    "encode_apdu_fast",
    "encode_data_fast",
    "get_response_normal",
]


class _Slow(Exception):
    """Not for the fast path: take the construct path."""


_T = DataType
# fixed-size leaves: tag -> (struct, size)
_FIXED: dict[int, struct.Struct] = {
    _T.DOUBLE_LONG: struct.Struct(">i"), _T.DOUBLE_LONG_UNSIGNED: struct.Struct(">I"),
    _T.BCD: struct.Struct(">b"), _T.INTEGER: struct.Struct(">b"), _T.LONG: struct.Struct(">h"),
    _T.UNSIGNED: struct.Struct(">B"), _T.LONG_UNSIGNED: struct.Struct(">H"),
    _T.LONG64: struct.Struct(">q"), _T.LONG64_UNSIGNED: struct.Struct(">Q"),
    _T.ENUM: struct.Struct(">B"), _T.FLOAT32: struct.Struct(">f"),
    _T.FLOAT64: struct.Struct(">d"),
}
_FLOATS = (_T.FLOAT32, _T.FLOAT64)
_BLOBS = {_T.DATE_TIME: 12, _T.DATE: 5, _T.TIME: 4}
_STRINGS = (_T.OCTET_STRING, _T.VISIBLE_STRING, _T.UTF8_STRING)
_CONTAINERS = (_T.ARRAY, _T.STRUCTURE)
_TYPES = {t.value: t for t in DataType}
_DESC = struct.Struct(">H6sb")  # class id, instance, attribute/method id (Integer8)


def _length(raw: bytes, pos: int) -> tuple[int, int]:
    first = raw[pos]
    if first < 0x80:
        return first, pos + 1
    k = first & 0x7F
    if not 1 <= k <= 4 or pos + 1 + k > len(raw):
        raise _Slow
    return int.from_bytes(raw[pos + 1:pos + 1 + k], "big"), pos + 1 + k


def _data(raw: bytes, pos: int, depth: int) -> tuple[Data, int]:
    t = _TYPES.get(raw[pos])
    pos += 1
    if t is None:
        raise _Slow
    if t in _CONTAINERS:
        if depth >= MAX_DEPTH:
            raise _Slow
        count, pos = _length(raw, pos)
        if count > len(raw) - pos:  # each element takes a byte at least
            raise _Slow
        items = []
        for _ in range(count):
            item, pos = _data(raw, pos, depth + 1)
            items.append(item)
        return Data(t, tuple(items)), pos
    f = _FIXED.get(t)
    if f is not None:
        if pos + f.size > len(raw):
            raise _Slow
        return Data(t, f.unpack_from(raw, pos)[0]), pos + f.size
    if t in _STRINGS:
        n, pos = _length(raw, pos)
        if pos + n > len(raw):
            raise _Slow
        return Data(t, raw[pos:pos + n]), pos + n
    if t is _T.NULL:
        return Data(t), pos
    if t is _T.BOOLEAN:
        if pos >= len(raw):
            raise _Slow
        return Data(t, raw[pos] != 0), pos + 1
    n = _BLOBS.get(t)
    if n is None or pos + n > len(raw):  # bit-strings take the construct path
        raise _Slow
    return Data(t, raw[pos:pos + n]), pos + n


def decode_data_fast(raw: bytes) -> Data | None:
    """One whole ``Data``, or None (then ``axdr.decode_data`` decides)."""
    try:
        value, pos = _data(raw, 0, 0)
    except (_Slow, IndexError):
        return None
    return value if pos == len(raw) else None


def _put_length(n: int, out: bytearray) -> None:
    if n < 0x80:
        out.append(n)
    elif n <= 0xFF:
        out += b"\x81" + bytes((n,))
    elif n <= 0xFFFF:
        out += b"\x82" + n.to_bytes(2, "big")
    else:
        raise _Slow


def _put(d: Any, out: bytearray, depth: int) -> None:
    if type(d) is not Data:
        raise _Slow
    t, v = d.type, d.value
    out.append(t)
    f = _FIXED.get(t)
    if f is not None:
        if type(v) is not int and not (t in _FLOATS and type(v) is float):
            raise _Slow
        try:
            out += f.pack(v)
        except (struct.error, OverflowError):
            raise _Slow from None
    elif t in _STRINGS:
        if type(v) is not bytes:
            raise _Slow
        _put_length(len(v), out)
        out += v
    elif t in _CONTAINERS:
        if depth >= MAX_DEPTH or type(v) is not tuple:
            raise _Slow
        _put_length(len(v), out)
        for item in v:
            _put(item, out, depth + 1)
    elif t is _T.NULL and v is None:
        pass
    elif t is _T.BOOLEAN and type(v) is bool:
        out.append(1 if v else 0)
    elif t in _BLOBS and type(v) is bytes and len(v) == _BLOBS[t]:
        out += v
    else:
        raise _Slow


def encode_data_fast(value: Data) -> bytes | None:
    """The encoding of ``value``, or None (then ``axdr.encode_data`` decides)."""
    out = bytearray()
    try:
        _put(value, out, 0)
    except _Slow:
        return None
    return bytes(out)


# ---------------------------------------------------------------------------
# APDUs


def decode_apdu_fast(raw: bytes) -> Any:
    """The APDU, for the common shapes; None otherwise (construct decides)."""
    try:
        return _decode(raw)
    except (_Slow, IndexError, struct.error):
        return None


def _decode(raw: bytes) -> Any:
    if len(raw) < 3 or raw[1] != 1:
        return None
    tag, invoke = raw[0], raw[2]
    if tag == 0xC0:  # GET-Request-Normal without selective access
        if len(raw) != 13 or raw[12] != 0:
            return None
        cid, inst, attr = _DESC.unpack_from(raw, 3)
        return GetRequestNormal(invoke, AttributeDescriptor(cid, inst, attr))
    if tag == 0xC3:  # ACTION-Request-Normal
        if len(raw) < 13:
            return None
        cid, inst, method = _DESC.unpack_from(raw, 3)
        desc = MethodDescriptor(cid, inst, method)
        if raw[12] == 0 and len(raw) == 13:
            return ActionRequestNormal(invoke, desc)
        if raw[12] != 1:
            return None
        value, pos = _data(raw, 13, 0)
        return ActionRequestNormal(invoke, desc, value) if pos == len(raw) else None
    if tag == 0xC1:  # SET-Request-Normal without selective access
        if len(raw) < 14 or raw[12] != 0:
            return None
        cid, inst, attr = _DESC.unpack_from(raw, 3)
        value, pos = _data(raw, 13, 0)
        return SetRequestNormal(invoke, AttributeDescriptor(cid, inst, attr), value) \
            if pos == len(raw) else None
    if tag == 0xC4:  # GET-Response-Normal
        if len(raw) < 5:
            return None
        if raw[3] == 1:
            return GetResponseNormal(invoke, _result(raw[4])) if len(raw) == 5 else None
        if raw[3] != 0:
            return None
        value, pos = _data(raw, 4, 0)
        return GetResponseNormal(invoke, value) if pos == len(raw) else None
    if tag == 0xC7:  # ACTION-Response-Normal without return parameters
        if len(raw) == 5 and raw[4] == 0:
            return ActionResponseNormal(invoke, _result(raw[3]))
        return None
    if tag == 0xC5:  # SET-Response-Normal
        return SetResponseNormal(invoke, _result(raw[3])) if len(raw) == 4 else None
    return None


def _byte(v: Any) -> int:
    if type(v) is bool or not isinstance(v, int) or not 0 <= v <= 255:
        raise _Slow
    return int(v)


def encode_apdu_fast(apdu: Any) -> bytes | None:
    """The bytes of the common responses and requests; None otherwise."""
    try:
        return _encode(apdu)
    except (_Slow, struct.error, OverflowError):
        return None


def _encode(apdu: Any) -> bytes | None:
    kind = type(apdu)
    if kind is GetResponseNormal:
        r = apdu.result
        if type(r) is Data:
            out = bytearray(b"\xc4\x01")
            out += bytes((_byte(apdu.invoke), 0))
            _put(r, out, 0)
            return bytes(out)
        return bytes((0xC4, 1, _byte(apdu.invoke), 1, _byte(r)))
    if kind is ActionResponseNormal and apdu.return_parameters is None:
        return bytes((0xC7, 1, _byte(apdu.invoke), _byte(apdu.result), 0))
    if kind is SetResponseNormal:
        return bytes((0xC5, 1, _byte(apdu.invoke), _byte(apdu.result)))
    if kind is GetResponseWithDatablock and type(apdu.raw) is bytes:
        if type(apdu.last) is not bool or type(apdu.block_number) is not int \
                or not 0 <= apdu.block_number <= 0xFFFFFFFF:
            return None
        out = bytearray((0xC4, 2, _byte(apdu.invoke), 1 if apdu.last else 0))
        out += apdu.block_number.to_bytes(4, "big") + b"\x00"
        _put_length(len(apdu.raw), out)
        out += apdu.raw
        return bytes(out)
    if kind is GetRequestNormal and apdu.access is None:
        d = apdu.attribute
        if type(d.instance) is not bytes or len(d.instance) != 6:
            return None
        return bytes((0xC0, 1, _byte(apdu.invoke))) + _DESC.pack(
            d.class_id, d.instance, d.attribute) + b"\x00"
    if kind is ActionRequestNormal:
        d = apdu.method
        if type(d.instance) is not bytes or len(d.instance) != 6:
            return None
        out = bytearray((0xC3, 1, _byte(apdu.invoke)))
        out += _DESC.pack(d.class_id, d.instance, d.method)
        if apdu.parameters is None:
            out.append(0)
        else:
            out.append(1)
            _put(apdu.parameters, out, 0)
        return bytes(out)
    return None


def get_response_normal(invoke: int, payload: bytes) -> bytes:
    """GET-Response-Normal carrying data whose A-XDR encoding is ``payload``:
    ``C4 01 invoke 00 payload`` (what ``encode_apdu(GetResponseNormal(invoke,
    data))`` builds, without encoding the data a second time)."""
    return bytes((0xC4, 1, _byte(invoke), 0)) + payload
