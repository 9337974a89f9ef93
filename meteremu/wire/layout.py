"""What a construct definition says about bytes: field offsets, sizes, a
``struct`` format, and the sealed-record shape most on-flash formats share.

Everything here is derived from the definitions, so an offset, a size or a
``struct`` format is never written down a second time:

* :func:`fields` lists the fixed-size fields of a definition, flattened
  through the ``RawCopy`` / ``Checksum`` wrapping of :class:`Sealed`, with
  offset, size and the meaning given in the definition (``"name" / Int32ul *
  "meaning"``); :func:`offset_of` and :func:`size_of` answer for one field.
* :func:`struct_format` turns a definition made only of integers, byte
  strings, constants and padding into the equivalent ``struct`` format, for
  hot paths that construct cannot serve fast enough (the tests check that the
  two agree byte for byte).
* :class:`Sealed` is a record whose last field is a checksum over every byte
  before it -- a ``Checksum`` over a ``RawCopy`` -- presented as one flat
  record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from construct import (
    Adapter,
    Bytes,
    Check,
    CheckError,
    Checksum,
    Const,
    Construct,
    Container,
    FormatField,
    Int32ul,
    Padded,
    Pass,
    RawCopy,
    Renamed,
    SizeofError,
    Struct,
    Terminated,
    evaluate,
    this,
)

__all__ = [
    "Field",
    "Require",
    "Sealed",
    "crc32",
    "fields",
    "offset_of",
    "size_of",
    "struct_format",
]


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC through the C core.

    Imported at the call, so that the format modules load before the compiled
    core does (the binding takes its constants from here).
    """
    from ..crypto import crc32 as _crc32

    return _crc32(data)


class Require(Check):
    """``Check`` that says which rule failed (construct's own says only 'check failed')."""

    def __init__(self, func: Any, message: str) -> None:
        super().__init__(func)
        self.message = message

    def _parse(self, stream: Any, context: Any, path: str) -> None:
        if not evaluate(self.func, context):
            raise CheckError(self.message, path=path)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        if not evaluate(self.func, context):
            raise CheckError(self.message, path=path)


class Sealed(Adapter):
    """A record sealed by a checksum over every byte before it, as one flat record.

    Underneath it is ``Struct("body" / RawCopy(body), crc_name / Checksum(...),
    *rules)``; the adapter lifts the body's fields one level up, so a parsed
    record reads ``rec.sequence``, not ``rec.body.value.sequence``, and builds
    from the same flat mapping (the checksum is computed, whatever the mapping
    says). ``rules`` are ``(predicate over the fields, message)`` pairs checked
    after the checksum, on parse and on build: a flipped bit reads as a
    checksum failure, not as whatever field it landed in. ``hide`` names body
    fields left out of the parsed record (derived ones, such as a length);
    ``defaults`` fills body fields a mapping to build may leave out;
    ``terminated``: nothing may follow the checksum when parsing.
    """

    def __init__(
        self,
        body: Struct,
        *,
        crc_name: str = "crc32",
        crc_field: Construct = Int32ul,
        crc: Callable[[bytes], int] = crc32,
        crc_doc: str | None = None,
        rules: Iterable[tuple[Callable[[Any], bool], str]] = (),
        hide: Iterable[str] = (),
        defaults: Mapping[str, Any] | None = None,
        terminated: bool = False,
    ) -> None:
        doc = crc_doc or f"CRC-32/ISO-HDLC of bytes 0..{body.sizeof() - 1}"
        checks = [
            Require(lambda ctx, pred=pred: pred(ctx.body.value), message)
            for pred, message in rules
        ]
        super().__init__(
            Struct(
                "body" / RawCopy(body),
                crc_name / Checksum(crc_field, crc, this.body.data) * doc,
                *checks,
                *([Terminated] if terminated else []),
            )
        )
        self.body = body
        self.crc_name = crc_name
        self.crc = crc
        self.hide = frozenset(hide)
        self.defaults = dict(defaults or {})

    def _decode(self, obj: Any, context: Any, path: str) -> Container:
        out = Container(
            (k, v) for k, v in obj.body.value.items()
            if not k.startswith("_") and k not in self.hide
        )
        out[self.crc_name] = obj[self.crc_name]
        return out

    def _encode(self, obj: Any, context: Any, path: str) -> dict[str, Any]:
        values = {k: v for k, v in dict(obj).items() if k != self.crc_name}
        for k, v in self.defaults.items():
            values.setdefault(k, v)
        return {"body": {"value": values}, self.crc_name: None}


# ---------------------------------------------------------------------------
# Offsets and sizes


@dataclass(frozen=True)
class Field:
    """One field of a definition: ``name`` (None for padding), where it is,
    how long it is, its construct, and the meaning the definition gives it."""

    name: str | None
    offset: int
    size: int
    subcon: Construct
    doc: str


def _flattened(con: Construct) -> Construct | None:
    """The struct whose fields stand for ``con``'s, or None when ``con`` is a leaf."""
    while True:
        if isinstance(con, Struct):
            return con
        if isinstance(con, Sealed):
            return con.subcon
        if isinstance(con, (RawCopy, Renamed)):
            con = con.subcon
            continue
        return None


def _walk(con: Construct, base: int) -> Iterator[Field]:
    """The fields of ``con`` from offset ``base`` on. A field without a fixed
    size is yielded with ``size`` None and ends the walk: nothing after it has
    a fixed offset."""
    inner = _flattened(con)
    if inner is None:
        raise TypeError(f"{con!r:.60} is not a struct")
    off = base
    for sc in inner.subcons:  # type: ignore[attr-defined]
        if isinstance(sc, Check) or sc is Terminated:
            continue  # no bytes
        name, doc, sub = None, "", sc
        while isinstance(sub, Renamed):
            name, doc, sub = name or sub.name, doc or sub.docs, sub.subcon
        if _flattened(sub) is not None:  # a nested struct: its fields, in place
            for f in _walk(sub, off):
                yield f
                if f.size is None:
                    return
            off += sub.sizeof()
            continue
        size = _size_or_none(sc)
        yield Field(name, off, size, sub, doc or "")
        if size is None:
            return
        off += size


def _size_or_none(con: Construct) -> Any:
    try:
        return con.sizeof()
    except SizeofError:
        return None


def fields(con: Construct, *, partial: bool = False) -> list[Field]:
    """Every field of the fixed-size definition ``con``, in byte order.

    A field without a fixed size raises ``SizeofError``; with ``partial`` the
    list ends at it instead (its ``size`` None: nothing after it has a fixed
    offset).
    """
    out = list(_walk(con, 0))
    if out and out[-1].size is None and not partial:
        raise SizeofError(f"field {out[-1].name!r} has no fixed size")
    return out


def _find(con: Construct, name: str) -> Field:
    for f in _walk(con, 0):
        if f.name == name:
            return f
    raise KeyError(f"no field {name!r} at a fixed offset in {con!r:.60}")


def offset_of(con: Construct, name: str) -> int:
    """Byte offset of field ``name`` in ``con`` (the fields before it must have
    fixed sizes; the field itself and those after it need not)."""
    return _find(con, name).offset


def size_of(con: Construct, name: str) -> int:
    """Size in bytes of field ``name`` of ``con``."""
    size = _find(con, name).size
    if size is None:
        raise SizeofError(f"field {name!r} has no fixed size")
    return int(size)


# ---------------------------------------------------------------------------
# struct formats


def _leaf_format(con: Construct) -> tuple[str, Any]:
    """(struct code, constant value or None) for one field."""
    if isinstance(con, Const):
        code, _ = _leaf_format(con.subcon)
        return code, con.value
    if isinstance(con, Checksum):
        return _leaf_format(con.checksumfield)
    if isinstance(con, FormatField):
        order, code = con.fmtstr[0], con.fmtstr[1:]
        if order != "<" and struct.calcsize(code) > 1:
            raise TypeError(f"{con!r}: only little-endian fields have a struct twin here")
        return code, None
    if isinstance(con, Bytes) and isinstance(con.length, int):
        return f"{con.length}s", None
    if isinstance(con, Padded) and con.subcon is Pass and isinstance(con.length, int):
        return f"{con.length}x", None
    raise TypeError(f"{con!r:.60} has no struct equivalent")


def struct_format(con: Construct) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """The ``struct`` twin of ``con``: (format, names of the values it packs and
    unpacks in order, constant fields with the value they must hold).

    Only integers, fixed byte strings, constants of those and padding have a
    twin; anything that maps values (an enum, a flag word) raises
    ``TypeError``, as construct and ``struct`` would then disagree on values.
    """
    codes, names, consts = ["<"], [], {}
    for f in fields(con):
        code, value = _leaf_format(f.subcon)
        codes.append(code)
        if code.endswith("x"):
            continue
        if f.name is None:
            raise TypeError(f"an unnamed field at {f.offset} in {con!r:.60}")
        names.append(f.name)
        if value is not None:
            consts[f.name] = value
    fmt = "".join(codes)
    assert struct.calcsize(fmt) == con.sizeof(), (fmt, con.sizeof())
    return fmt, tuple(names), consts
