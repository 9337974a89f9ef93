"""The meter's own NVM records in construct, and their ``struct`` twins.

Three records live in rings of fixed-size slots (``meteremu.device.nvm``):

* :data:`MetrologyRecord` -- 32 bytes: energy, clock, boot state and battery
  debit, written periodically;
* :data:`AuditRecord` -- 128 bytes: one line of the audit log;
* :data:`SessionRecord` -- 32 bytes: a download session that is over
  (``meteremu.device.sessions``).

Each starts with a two-letter magic and a version and ends in a CRC-32 over
every byte before it (a ``Checksum`` over a ``RawCopy``); all integers are
little-endian. The definitions are the formats; writing and reading a record
is a hot path (every metrology snapshot, every audit line, every slot of a
ring at power-up), where a construct build and parse costs some 20 times what
``struct`` does. So each definition has a :class:`RecordStruct`: the
``struct.Struct`` whose format is computed from the definition's fields
(:func:`meteremu.wire.layout.struct_format`), never written down again.
``tests/test_wire_nvm.py`` checks that the two agree byte for byte.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Mapping
from typing import Any

from construct import Bytes, Const, Construct, Container, Int8ul, Int32ul, Int64ul, Padding, Struct

from .layout import Sealed, crc32, struct_format

__all__ = [
    "AUDIT_TEXT_MAX",
    "AuditBody",
    "AuditRecord",
    "MetrologyBody",
    "MetrologyRecord",
    "RecordStruct",
    "SessionBody",
    "SessionRecord",
    "record_struct",
]

_SEQ = "sequence: +1 per record; the valid record with the highest one is the newest"

MetrologyBody = Struct(
    "magic" / Const(b"MR") * '"MR"',
    "version" / Const(1, Int8ul) * "1",
    "boot_state" / Int8ul * "the life-cycle state (meteremu.device.lifecycle.BootState)",
    "seq" / Int32ul * _SEQ,
    "energy_uwh" / Int64ul * "energy, micro-watt-hours (floor)",
    "clock" / Int64ul * "meter clock, seconds since 1970 UTC",
    "battery_mj" / Int32ul
    * "battery reserve debit, mJ; 0xFFFFFFFF: no battery (the field was reserved, "
      "0xFF, before meters had batteries)",
)
#: A metrology snapshot, 32 bytes: the body's fields and ``crc``.
MetrologyRecord = Sealed(MetrologyBody, crc_name="crc", crc_doc="CRC-32 of bytes 0..27")

AUDIT_TEXT_MAX = 116
AuditBody = Struct(
    "magic" / Const(b"AL") * '"AL"',
    "version" / Const(1, Int8ul) * "1",
    "length" / Int8ul * "bytes of text used",
    "seq" / Int32ul * _SEQ,
    "text" / Bytes(AUDIT_TEXT_MAX) * "the line (ASCII), padded with 0xFF",
)
#: An audit-log line, 128 bytes: the body's fields and ``crc``.
AuditRecord = Sealed(AuditBody, crc_name="crc", crc_doc="CRC-32 of bytes 0..123")

SessionBody = Struct(
    "magic" / Const(b"SC") * '"SC"',
    "version" / Const(1, Int8ul) * "1",
    "kind" / Int8ul * "0 mesh, 1 DLMS",
    "seq" / Int32ul * _SEQ,
    "session_id" / Int32ul * "session ID",
    "reason" / Int8ul * "why it closed (meteremu.device.sessions.CloseReason)",
    Padding(3) * "reserved, 0",
    "clock" / Int64ul * "meter clock, seconds since 1970 UTC",
    Padding(4) * "reserved, 0",
)
#: A closed download session, 32 bytes: the body's fields and ``crc``.
SessionRecord = Sealed(SessionBody, crc_name="crc", crc_doc="CRC-32 of bytes 0..27")


class RecordStruct:
    """The ``struct`` twin of a sealed record definition, for hot paths.

    ``names`` are the record's fields in byte order, the CRC last (padding has
    none); :meth:`pack_body` packs the bytes the CRC covers, :meth:`unpack`
    reads a whole record. Constant fields (magic, version) are filled in by
    :meth:`pack_body` and checked by :meth:`unpack`, as the definition does.
    The CRC itself (a plain CRC-32 over the body) is the caller's
    (``meteremu.device.nvm.seal``/``unseal``).
    """

    __slots__ = ("_body_values", "_const_at", "_const_names", "_sealers", "body", "body_names",
                 "consts", "crc_name", "definition", "names", "size", "struct")

    def __init__(self, definition: Sealed) -> None:
        fmt, names, consts = struct_format(definition)
        body_fmt, body_names, _ = struct_format(definition.body)
        if names[:-1] != body_names or names[-1] != definition.crc_name:
            raise TypeError("the CRC must be the record's last field, after the whole body")
        if definition.crc is not crc32:
            raise TypeError("a record twin is for records sealed by a plain CRC-32")
        if len(body_names) < 2:
            raise TypeError("a record body of fewer than two fields")  # itemgetter gives a tuple
        self.definition = definition
        self.struct = struct.Struct(fmt)
        self.body = struct.Struct(body_fmt)
        self.size = self.struct.size
        self.names = names
        self.body_names = body_names
        self.crc_name = definition.crc_name
        self.consts = consts
        self._const_at = tuple((names.index(k), v) for k, v in consts.items())
        self._const_names = frozenset(consts)
        self._body_values = operator.itemgetter(*body_names)
        self._sealers: dict[tuple[Callable[[bytes], int], str], Callable[..., bytes]] = {}

    def pack_body(self, fields: Mapping[str, Any]) -> bytes:
        """The bytes the CRC covers, from ``fields`` (constants filled in; a
        constant given with another value raises ``ValueError``)."""
        if not self._const_names.isdisjoint(fields):
            for name in self._const_names.intersection(fields):
                if fields[name] != self.consts[name]:
                    raise ValueError(
                        f"{name} is the constant {self.consts[name]!r}, not {fields[name]!r}")
        return self.body.pack(*self._body_values({**fields, **self.consts}))

    def sealer(self, crc: Callable[[bytes], int], first: str = "seq") -> Callable[..., bytes]:
        """:meth:`pack_body` and its CRC in one call, for a record written again
        and again: a function of the non-constant body fields -- ``first``,
        then the others in byte order, positionally -- returning the sealed
        record, the CRC-32 ``crc(body)`` appended little-endian. The same bytes
        as ``pack_body`` of those fields plus the CRC (and the same
        ``struct.error`` for a value out of range), without a dict, the
        constant check (no constant is a parameter) or the field lookups.
        Generated source, as dataclasses' own. ``tests/test_short_paths.py``
        holds it to ``meteremu.device.nvm.seal``. Made once per ``crc`` and
        ``first`` (every meter's ring shares it)."""
        got = self._sealers.get((crc, first))
        if got is not None:
            return got
        free = [n for n in self.body_names if n not in self.consts]
        if first not in free:
            raise TypeError(f"{first!r} is not a free field of the record")
        params = [first] + [n for n in free if n != first]
        env: dict[str, Any] = {"_pack": self.body.pack, "_crc": crc}
        args = []
        for name in self.body_names:
            if name in self.consts:
                env[f"_const_{name}"] = self.consts[name]
                args.append(f"_const_{name}")
            else:
                args.append(name)
        exec(f"def sealed({', '.join(params)}):\n"  # (field names of our own definitions)
             f"    body = _pack({', '.join(args)})\n"
             f"    return body + _crc(body).to_bytes(4, 'little')\n", env)
        fn: Callable[..., bytes] = env["sealed"]
        fn.__qualname__ = f"RecordStruct.sealer.<{'/'.join(params)}>"
        self._sealers[crc, first] = fn
        return fn

    def unpack(self, raw: bytes) -> Container | None:
        """The record (a ``Container``, as the definition parses it), or None when
        ``raw`` is not its size or a constant field is wrong. The CRC is not
        checked here."""
        if len(raw) != self.size:
            return None
        values = self.struct.unpack(raw)
        for i, const in self._const_at:
            if values[i] != const:
                return None
        return Container(zip(self.names, values, strict=False))  # one format made both


_TWINS: dict[int, RecordStruct] = {}


def record_struct(definition: Construct) -> RecordStruct:
    """The :class:`RecordStruct` of a sealed record definition (made once)."""
    twin = _TWINS.get(id(definition))
    if twin is None or twin.definition is not definition:
        if not isinstance(definition, Sealed):
            raise TypeError(f"{definition!r:.60} is not a sealed record definition")
        twin = _TWINS[id(definition)] = RecordStruct(definition)
    return twin
