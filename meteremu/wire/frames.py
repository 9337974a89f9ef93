"""The mesh fragment frame in construct (layout: ``csrc/mt_frame.h``).

One frame carries one fragment of a package over the radio mesh (SPEC
section 6). All integers are little-endian::

    off  size  field
      0     1  type            0xF1: fragment frame, version 1
      1     4  session_id      download session / image ID chosen by the head-end
      5     4  package_size    bytes of the whole package
      9     2  fragment_size   payload bytes of every fragment but the last
     11     2  fragment_index  0-based
     13     2  fragment_count
     15     2  payload_len     n
     17     n  payload
   17+n     2  fcs             CRC-16/X-25 over bytes 0 .. 16+n

:data:`Frame` is the definition, used for both parse and build; the FCS is a
``Checksum`` over a ``RawCopy`` of everything before it. Like
``mt_frame_parse``, it checks the wire form only -- the type byte, the
payload length against the bytes present (nothing may follow the FCS) and
the FCS; whether index, count and sizes make sense is the reassembler's job.

The C encoder (``meteremu._lowlevel.reasm.encode_frame``) is the fast path
for bulk work; ``tests/test_frames.py`` checks the two agree byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

from construct import (
    Bytes,
    Const,
    Container,
    Int8ul,
    Int16ul,
    Int32ul,
    Rebuild,
    Struct,
    len_,
    this,
)

from .layout import Sealed, offset_of

__all__ = [
    "FRAME_HEAD",
    "FRAME_OVERHEAD",
    "FRAME_TYPE",
    "Frame",
    "FrameBody",
    "FrameRecord",
    "build_frame",
    "parse_frame",
]

FRAME_TYPE = 0xF1
_FCS = Int16ul


def _crc16_x25(data: bytes) -> int:
    # Imported here so the format module loads before the compiled core does.
    from ..crypto import crc16_x25

    return crc16_x25(data)


# Bytes 0 .. 16+n: everything the FCS covers. Every field is attacker-controlled
# on the receiving side; payload_len is bounded by the bytes present (construct
# raises StreamError when fewer follow, Terminated when more do).
FrameBody = Struct(
    "type" / Const(FRAME_TYPE, Int8ul) * "0xF1: fragment frame, version 1",
    "session_id" / Int32ul * "download session / image ID chosen by the head-end",
    "package_size" / Int32ul * "bytes of the whole package",
    "fragment_size" / Int16ul * "payload bytes of every fragment but the last",
    "fragment_index" / Int16ul * "0-based",
    "fragment_count" / Int16ul * "fragments in the session",
    "payload_len" / Rebuild(Int16ul, len_(this.payload)) * "n",
    "payload" / Bytes(this.payload_len) * "the fragment",
)

#: The mesh fragment frame: parse bytes to a record, build a record to bytes.
#: The record is the fields, ``payload`` and ``fcs`` (``type`` and
#: ``payload_len`` are derived: build computes them, parse checks them).
Frame = Sealed(
    FrameBody,
    crc_name="fcs",
    crc_field=_FCS,
    crc=_crc16_x25,
    crc_doc="CRC-16/X-25 over bytes 0 .. 16+n",
    hide=("type", "payload_len"),
    terminated=True,
)

FRAME_HEAD = offset_of(Frame, "payload")  # bytes before the payload
FRAME_OVERHEAD = FRAME_HEAD + _FCS.sizeof()  # head + FCS


@dataclass(frozen=True)
class FrameRecord:
    """One mesh fragment frame's fields: what :data:`Frame` parses to, less the
    FCS, as a plain record (the C codec in ``meteremu._lowlevel.reasm`` takes
    and gives this type)."""

    session_id: int
    package_size: int
    fragment_size: int
    fragment_index: int
    fragment_count: int
    payload: bytes


# The record and the definition name the same fields, in the same order.
assert tuple(f.name for f in dataclass_fields(FrameRecord)) == tuple(
    sc.name for sc in FrameBody.subcons if sc.name not in Frame.hide)


def build_frame(
    *,
    session_id: int,
    package_size: int,
    fragment_size: int,
    fragment_index: int,
    fragment_count: int,
    payload: bytes,
) -> bytes:
    """The frame's bytes, FCS included, built by the construct definition."""
    return Frame.build(
        {
            "session_id": session_id,
            "package_size": package_size,
            "fragment_size": fragment_size,
            "fragment_index": fragment_index,
            "fragment_count": fragment_count,
            "payload": bytes(payload),
        }
    )


def parse_frame(data: bytes | bytearray | memoryview) -> Container:
    """Parse one frame; construct's ``ConstructError`` (``ChecksumError`` for a bad
    FCS) when the bytes are not a well-formed frame."""
    return Frame.parse(bytes(data))
