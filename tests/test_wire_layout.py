"""Offsets, sizes and struct formats derived from the construct definitions
(meteremu.wire.layout), checked against the C headers' tables."""

from __future__ import annotations

import struct

import pytest
from c_layout import c_defines, c_int, c_table
from construct import Bytes, Const, Enum, Int8ul, Int16ub, Int16ul, Int32ul, Padding, Struct

from meteremu.wire import frames, package
from meteremu.wire.layout import Sealed, fields, offset_of, size_of, struct_format


def _table(con: object) -> list[tuple[int, int, str]]:
    return [(f.offset, f.size, f.name) for f in fields(con)]  # type: ignore[arg-type]


def test_header_fields_match_mt_pkg_h() -> None:
    assert _table(package.Header) == c_table("mt_pkg.h", "Header, format version 1",
                                             "Trailer TLV")
    assert package.HEADER_CRC_OFFSET == 124
    assert offset_of(package.Header, "fragment_size") == 32
    assert size_of(package.Header, "image_sha256") == 32


def test_frame_fields_and_constants_match_mt_frame_h() -> None:
    # the rows up to payload_len (the payload's size is n, the FCS's offset 17+n)
    rows = c_table("mt_frame.h", "All integers little-endian", "Besides the fields")
    assert [name for _, _, name in rows][-1] == "payload_len"
    assert [(offset_of(frames.Frame, name), size_of(frames.Frame, name), name)
            for _, _, name in rows] == rows
    defs = c_defines("mt_frame.h")
    assert c_int(defs["MT_FRAME_TYPE_FRAGMENT"]) == frames.FRAME_TYPE
    assert frames.FRAME_HEAD == c_int(defs["MT_FRAME_HEAD"]) == offset_of(frames.Frame, "payload")
    assert c_int(defs["MT_FRAME_OVERHEAD"]) == frames.FRAME_OVERHEAD


def test_fields_after_a_variable_one_have_no_offset() -> None:
    with pytest.raises(KeyError, match="fcs"):
        offset_of(frames.Frame, "fcs")
    with pytest.raises(KeyError, match="nope"):
        offset_of(package.Header, "nope")
    with pytest.raises(Exception, match="no fixed size"):
        size_of(frames.Frame, "payload")
    with pytest.raises(Exception, match="no fixed size"):
        fields(frames.Frame)


def test_struct_format_of_plain_fields() -> None:
    rec = Struct(
        "magic" / Const(b"XY"),
        "version" / Const(1, Int8ul),
        "a" / Int8ul,
        "b" / Int32ul,
        Padding(3),
        "text" / Bytes(5),
    )
    fmt, names, consts = struct_format(rec)
    assert fmt == "<2sBBL3x5s"
    assert names == ("magic", "version", "a", "b", "text")
    assert consts == {"magic": b"XY", "version": 1}
    raw = rec.build({"a": 7, "b": 0x01020304, "text": b"hello"})
    assert struct.pack(fmt, b"XY", 1, 7, 0x01020304, b"hello") == raw


def test_struct_format_through_a_sealed_record() -> None:
    body = Struct("magic" / Const(b"AB"), "n" / Int16ul)
    sealed = Sealed(body, crc_name="crc", crc=lambda data: sum(data))
    assert struct_format(sealed) == ("<2sHL", ("magic", "n", "crc"), {"magic": b"AB"})
    assert [f.doc for f in fields(sealed)][-1] == "CRC-32/ISO-HDLC of bytes 0..3"


@pytest.mark.parametrize("field", [Enum(Int8ul, a=1), Int16ub, Bytes(lambda ctx: 2)])
def test_struct_format_refuses_what_struct_cannot_say(field: object) -> None:
    with pytest.raises(TypeError):
        struct_format(Struct("x" / field))  # type: ignore[operator]
    with pytest.raises(TypeError):
        struct_format(package.Header)  # flags is a bit field with an enum


def test_wire_loads_without_the_compiled_core() -> None:
    """The binding takes its constants and record types from wire, so wire must
    not need the binding to load (its CRCs import the core when first used)."""
    import json
    import subprocess
    import sys

    code = "\n".join([
        "import importlib, json, pkgutil, sys",
        "import meteremu.wire as w",
        "for m in pkgutil.iter_modules(w.__path__):",
        "    importlib.import_module('meteremu.wire.' + m.name)",
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('meteremu.'))))",
    ])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if not m.startswith(("meteremu.wire", "meteremu._version"))] == []
