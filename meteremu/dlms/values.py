"""COSEM values as the meter takes and returns them, and as A-XDR :class:`~.axdr.Data`.

The object table (``meteremu/device/cosem.py``) gives each attribute and
method parameter its A-XDR type (:class:`~meteremu.device.cosem.Axdr`). A
plain type is enough to encode a scalar; the composite ones (array,
structure) get their element types here, in :data:`SCHEMAS`, keyed by the
handler name the table gives them (a test checks every composite in the table
has one). A schema is a tree of:

* an :class:`Axdr` (or :class:`~.axdr.DataType`) leaf,
* :class:`ArrayOf` -- an array whose elements all have one schema,
* :class:`StructOf` -- a structure with one schema per field,
* :class:`OneOf` -- the first option that fits (``None`` -> null-data, ...).

Python side: bytes (octet-string, visible-string), int, bool, str of ``0``/``1``
(bit-string), an aware ``datetime`` (date-time: sent as an octet-string of 12
bytes, SPEC section 7), tuples or lists (structure, array), None (null-data).

:func:`to_data` encodes (a value that does not fit its schema is a bug of the
caller's: :class:`~meteremu.errors.UsageError`); :func:`from_data` decodes
what a peer sent (a value that does not fit:
:class:`~meteremu.errors.TypeUnmatched`, answered type-unmatched). Without a
schema :func:`python_value` gives the natural Python value of any Data.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from ..device.cosem import Axdr, CosemObject
from ..errors import TypeUnmatched, UsageError
from .axdr import Data, DataType, decode_datetime, encode_datetime

__all__ = [
    "SCHEMAS",
    "ArrayOf",
    "OneOf",
    "Schema",
    "StructOf",
    "attribute_schema",
    "from_data",
    "method_schema",
    "python_value",
    "to_data",
]


@dataclass(frozen=True)
class ArrayOf:
    element: Schema


@dataclass(frozen=True)
class StructOf:
    fields: tuple[Schema, ...]

    def __init__(self, *fields: Schema) -> None:
        object.__setattr__(self, "fields", tuple(fields))


@dataclass(frozen=True)
class OneOf:
    options: tuple[Schema, ...]

    def __init__(self, *options: Schema) -> None:
        object.__setattr__(self, "options", tuple(options))


Schema = Axdr | DataType | ArrayOf | StructOf | OneOf

_T = DataType
# Association LN version 1 (Blue Book): object_list element.
_ATTRIBUTE_ACCESS = StructOf(_T.INTEGER, _T.ENUM, OneOf(_T.NULL, ArrayOf(_T.INTEGER)))
_METHOD_ACCESS = StructOf(_T.INTEGER, _T.ENUM)  # version >= 1: enum (0 none, 1 access)
_OBJECT_LIST_ELEMENT = StructOf(
    _T.LONG_UNSIGNED,  # class_id
    _T.UNSIGNED,  # version
    _T.OCTET_STRING,  # logical_name
    StructOf(ArrayOf(_ATTRIBUTE_ACCESS), ArrayOf(_METHOD_ACCESS)),  # access_rights
)

#: Element types of the composite attributes and method parameters, by handler name.
SCHEMAS: dict[str, Schema] = {
    "object_list": ArrayOf(_OBJECT_LIST_ELEMENT),
    "energy_scaler_unit": StructOf(_T.INTEGER, _T.ENUM),  # scaler, unit
    "audit_log": ArrayOf(_T.OCTET_STRING),  # 0.0.96.10.3.255: the lines, oldest first
    # class 18 attribute 7: array of {size, identification, signature}
    "image_to_activate_info": ArrayOf(StructOf(_T.DOUBLE_LONG_UNSIGNED, _T.OCTET_STRING,
                                               _T.OCTET_STRING)),
    # class 18 method 1: {image_identifier, image_size}
    "image_transfer_initiate": StructOf(_T.OCTET_STRING, _T.DOUBLE_LONG_UNSIGNED),
    # class 18 method 2: {image_block_number, image_block_value}
    "image_block_transfer": StructOf(_T.DOUBLE_LONG_UNSIGNED, _T.OCTET_STRING),
}

_LOGICAL_NAME: Schema = _T.OCTET_STRING


def _leaf(schema: Schema) -> Schema:
    return _T(schema.value) if isinstance(schema, Axdr) else schema


def _leaf_type(schema: Schema) -> DataType:
    """The DataType of a leaf schema (the common case, a DataType, first)."""
    return schema if type(schema) is DataType else _T(_leaf(schema))


def attribute_schema(obj: CosemObject, attr: int) -> Schema:
    """The schema of attribute ``attr`` of ``obj`` (KeyError when it has none)."""
    if attr == 1:
        return _LOGICAL_NAME
    a = obj.attributes[attr]
    return SCHEMAS.get(a.handler, _leaf(a.axdr)) if a.axdr in (Axdr.ARRAY, Axdr.STRUCTURE) \
        else _leaf(a.axdr)


def method_schema(obj: CosemObject, method: int) -> Schema:
    """The schema of the parameter of ``method`` of ``obj`` (KeyError when it has none)."""
    m = obj.methods[method]
    return SCHEMAS.get(m.handler, _leaf(m.param)) if m.param in (Axdr.ARRAY, Axdr.STRUCTURE) \
        else _leaf(m.param)


# ---------------------------------------------------------------------------
# Python -> Data

_INT_RANGES = {
    _T.INTEGER: (-0x80, 0x7F),
    _T.BCD: (-0x80, 0x7F),
    _T.LONG: (-0x8000, 0x7FFF),
    _T.DOUBLE_LONG: (-0x8000_0000, 0x7FFF_FFFF),
    _T.LONG64: (-(1 << 63), (1 << 63) - 1),
    _T.UNSIGNED: (0, 0xFF),
    _T.ENUM: (0, 0xFF),
    _T.LONG_UNSIGNED: (0, 0xFFFF),
    _T.DOUBLE_LONG_UNSIGNED: (0, 0xFFFF_FFFF),
    _T.LONG64_UNSIGNED: (0, (1 << 64) - 1),
}
_STRINGS = (_T.OCTET_STRING, _T.VISIBLE_STRING, _T.UTF8_STRING)


def _fits(value: Any, schema: Schema) -> bool:
    """Whether :func:`to_data` can encode ``value`` as ``schema`` (for OneOf)."""
    try:
        to_data(value, schema)
    except UsageError:
        return False
    return True


def to_data(value: Any, schema: Schema) -> Data:
    """``value`` (a Python COSEM value) as typed A-XDR by ``schema``."""
    if isinstance(schema, OneOf):
        for option in schema.options:
            if _fits(value, option):
                return to_data(value, option)
        raise UsageError(f"{value!r} fits none of {schema}")
    if isinstance(schema, ArrayOf):
        if not isinstance(value, list | tuple):
            raise UsageError(f"an array takes a list, not {value!r}")
        return Data(_T.ARRAY, tuple(to_data(v, schema.element) for v in value))
    if isinstance(schema, StructOf):
        if not isinstance(value, list | tuple) or len(value) != len(schema.fields):
            raise UsageError(f"a structure of {len(schema.fields)} fields, not {value!r}")
        return Data(_T.STRUCTURE, tuple(to_data(v, s) for v, s in zip(value, schema.fields,
                                                                       strict=True)))
    t = _leaf_type(schema)
    if t is _T.DATE_TIME:
        if not isinstance(value, _dt.datetime):
            raise UsageError(f"a date-time takes a datetime, not {value!r}")
        return Data(_T.OCTET_STRING, encode_datetime(value))  # SPEC 7: octet-string(12)
    if t in _INT_RANGES:
        low, high = _INT_RANGES[t]
        if isinstance(value, bool) and t is _T.ENUM:  # an access flag shown as an enum
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise UsageError(f"{t.name} takes an integer {low}..{high}, not {value!r}")
        return Data(t, int(value))  # a plain int, not an IntEnum member
    if t is _T.BOOLEAN:
        if not isinstance(value, bool):
            raise UsageError(f"a boolean takes a bool, not {value!r}")
        return Data(t, value)
    if t in _STRINGS:
        if not isinstance(value, bytes | bytearray):
            raise UsageError(f"{t.name} takes bytes, not {value!r}")
        return Data(t, bytes(value))
    if t is _T.BIT_STRING:
        if not isinstance(value, str) or value.strip("01"):
            raise UsageError(f"a bit-string takes a str of 0 and 1, not {value!r}")
        return Data(t, value)
    if t is _T.NULL:
        if value is not None:
            raise UsageError(f"null-data takes None, not {value!r}")
        return Data(t)
    raise UsageError(f"no Python mapping for {t.name}")


# ---------------------------------------------------------------------------
# Data -> Python

_INTEGERS = frozenset(_INT_RANGES)


def python_value(data: Data) -> Any:
    """The natural Python value of ``data``: tuples for structures, lists for
    arrays, bytes for strings, a str of 0/1 for bit-strings, an aware datetime
    for a date-time tag (an octet-string stays bytes: without a schema it is
    not known to be a date-time)."""
    if data.type is _T.ARRAY:
        return [python_value(d) for d in data.value]
    if data.type is _T.STRUCTURE:
        return tuple(python_value(d) for d in data.value)
    if data.type is _T.DATE_TIME:
        try:
            return decode_datetime(data.value)
        except TypeUnmatched:
            return data.value
    return data.value


def from_data(data: Data, schema: Schema) -> Any:
    """What a peer sent, as the Python value ``schema`` expects.

    Integers of any integer type are accepted where an integer is expected
    (clients differ on the width they send); a date-time comes as an
    octet-string of 12 bytes or as a date-time. A value that does not fit:
    :class:`TypeUnmatched`.
    """
    if isinstance(schema, OneOf):
        for option in schema.options:
            try:
                return from_data(data, option)
            except TypeUnmatched:
                continue
        raise TypeUnmatched(f"{data!r} fits no option")
    if isinstance(schema, ArrayOf):
        if data.type is not _T.ARRAY:
            raise TypeUnmatched(f"expected an array, got {data.type.name}")
        return [from_data(d, schema.element) for d in data.value]
    if isinstance(schema, StructOf):
        if data.type is not _T.STRUCTURE or len(data.value) != len(schema.fields):
            raise TypeUnmatched(f"expected a structure of {len(schema.fields)} fields, "
                                f"got {data.type.name} of {_count(data)}")
        return tuple(from_data(d, s) for d, s in zip(data.value, schema.fields, strict=True))
    t = _leaf_type(schema)
    if t is _T.DATE_TIME:
        if data.type not in (_T.OCTET_STRING, _T.DATE_TIME):
            raise TypeUnmatched(f"expected a date-time, got {data.type.name}")
        return decode_datetime(data.value)
    if t in _INTEGERS:
        if data.type not in _INTEGERS:
            raise TypeUnmatched(f"expected an integer, got {data.type.name}")
        return data.value
    if t in _STRINGS:
        if data.type not in _STRINGS:
            raise TypeUnmatched(f"expected {t.name}, got {data.type.name}")
        return data.value
    if data.type is not t:
        raise TypeUnmatched(f"expected {t.name}, got {data.type.name}")
    return data.value


def _count(data: Data) -> str:
    return str(len(data.value)) if isinstance(data.value, tuple) else "-"
