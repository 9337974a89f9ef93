"""Method parameters and attribute values written as JSON, typed as A-XDR by the object table.

``meteremu dlms method OBIS --params JSON`` takes the parameter as JSON, the
way the seed writes step 6 (``{"activate": true}``). The JSON says *what*;
the meter's object table (``meteremu/device/cosem.py``, with the composite
schemas of :mod:`meteremu.dlms.values`) says *which A-XDR type*, so
``true`` becomes a boolean for 0.0.96.10.2.255 method 1 and ``0`` an
integer for class 18 method 3. The mapping:

* **a JSON object with one member** stands for its value: ``{"activate":
  true}`` is ``true`` (the name documents the call, the meter never sees
  it). An object with more members is refused: a structure is a JSON array.
* **a JSON array** is a structure (its fields in order) or an array, as the
  schema says: ``["fw-2.0.0", 132608]`` for class 18 method 1
  (``{image_identifier, image_size}``).
* **strings** fill octet-, visible- and UTF-8 strings with their UTF-8
  bytes; ``"hex:0a0b"`` gives the bytes ``0a 0b``. A date-time takes an ISO
  8601 string (``"2026-01-01T00:00:00Z"``; without an offset, UTC). A
  bit-string takes a string of ``0`` and ``1``.
* **numbers** fill every integer type and enums (range-checked against the
  type), **true/false** a boolean, **null** null-data.

Outside the object table (``--class-id`` given for an object the table does
not know) there is no type to follow, so the natural one is taken: boolean,
double-long (long64 when it does not fit), octet-string, structure,
null-data. A value that does not fit its type is a
:class:`~meteremu.errors.UsageError` naming the path inside the JSON.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from ..device.cosem import Axdr
from ..dlms.axdr import Data, DataType
from ..dlms.values import ArrayOf, OneOf, Schema, StructOf, to_data
from ..errors import UsageError

__all__ = ["HEX_PREFIX", "data_from_json", "default_parameter", "parse_json"]

HEX_PREFIX = "hex:"
_T = DataType
_STRINGS = (_T.OCTET_STRING, _T.VISIBLE_STRING, _T.UTF8_STRING)


def parse_json(text: str, what: str = "--params") -> Any:
    """``text`` as JSON; a UsageError naming ``what`` when it is not."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{what}: not JSON ({exc})") from None


def _leaf(schema: Schema) -> DataType | None:
    if isinstance(schema, Axdr):
        return _T(schema.value)
    return schema if isinstance(schema, DataType) else None


def default_parameter(schema: Schema | None) -> Data | None:
    """The parameter sent when ``--params`` is not given: ``integer(0)`` for a method
    whose parameter is an integer (the Blue Book's "data ::= integer(0)" of class 18
    verify and activate), nothing for an object outside the table; None when the
    method needs a real parameter."""
    if schema is not None and _leaf(schema) is _T.INTEGER:
        return Data(_T.INTEGER, 0)
    return None


def _bytes(value: str, where: str) -> bytes:
    if value.startswith(HEX_PREFIX):
        try:
            return bytes.fromhex(value[len(HEX_PREFIX):])
        except ValueError:
            raise UsageError(f"{where}: {value!r} is not hex after 'hex:'") from None
    return value.encode("utf-8")


def _datetime(value: Any, where: str) -> _dt.datetime:
    if isinstance(value, str):
        try:
            when = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)
    raise UsageError(f"{where}: a date-time is an ISO 8601 string, not {value!r}")


def _python(value: Any, schema: Schema, where: str) -> Any:
    """The Python COSEM value for ``value`` (JSON) under ``schema``."""
    if isinstance(schema, OneOf):
        for option in schema.options:
            try:
                py = _python(value, option, where)
                to_data(py, option)
            except UsageError:
                continue
            return py
        raise UsageError(f"{where}: {json.dumps(value)} fits none of the accepted types")
    if isinstance(schema, ArrayOf | StructOf):
        if not isinstance(value, list):
            kind = "an array" if isinstance(schema, ArrayOf) else "a structure"
            raise UsageError(f"{where}: {kind} is a JSON array, not {json.dumps(value)}")
        if isinstance(schema, ArrayOf):
            return [_python(v, schema.element, f"{where}[{i}]") for i, v in enumerate(value)]
        if len(value) != len(schema.fields):
            raise UsageError(f"{where}: a structure of {len(schema.fields)} fields, "
                             f"not {len(value)}")
        return tuple(_python(v, s, f"{where}[{i}]")
                     for i, (v, s) in enumerate(zip(value, schema.fields, strict=True)))
    t = _leaf(schema)
    if t is _T.DATE_TIME:
        return _datetime(value, where)
    if t in _STRINGS:
        if not isinstance(value, str):
            raise UsageError(f"{where}: {t.name.lower().replace('_', '-')} is a JSON string "
                             f"(\"hex:...\" for raw bytes), not {json.dumps(value)}")
        return _bytes(value, where)
    return value  # numbers, booleans, null, bit-strings: to_data checks them


def _natural(value: Any, where: str) -> Data:
    """Outside the object table: the natural A-XDR type of a JSON value."""
    if value is None:
        return Data(_T.NULL)
    if isinstance(value, bool):
        return Data(_T.BOOLEAN, value)
    if isinstance(value, int):
        if -(1 << 31) <= value < 1 << 31:
            return Data(_T.DOUBLE_LONG, value)
        if -(1 << 63) <= value < 1 << 63:
            return Data(_T.LONG64, value)
        raise UsageError(f"{where}: {value} does not fit a long64")
    if isinstance(value, str):
        return Data(_T.OCTET_STRING, _bytes(value, where))
    if isinstance(value, list):
        return Data(_T.STRUCTURE, tuple(_natural(v, f"{where}[{i}]")
                                        for i, v in enumerate(value)))
    raise UsageError(f"{where}: no A-XDR type for {json.dumps(value)}")


def data_from_json(value: Any, schema: Schema | None, where: str = "--params") -> Data:
    """``value`` (parsed JSON) as the A-XDR ``Data`` that ``schema`` types it as;
    ``schema`` None: the natural types (an object outside the table)."""
    if isinstance(value, dict):
        if len(value) != 1:
            raise UsageError(f"{where}: a JSON object names one value ({{\"activate\": true}}); "
                             "write a structure as a JSON array")
        (name, value), = value.items()
        where = f"{where}.{name}"
    if schema is None:
        return _natural(value, where)
    py = _python(value, schema, where)
    try:
        return to_data(py, schema)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
