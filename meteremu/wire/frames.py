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

from typing import Any

from construct import (
    Adapter,
    Bytes,
    Checksum,
    Const,
    Container,
    Int8ul,
    Int16ul,
    Int32ul,
    RawCopy,
    Rebuild,
    Struct,
    Terminated,
    len_,
    this,
)

__all__ = [
    "FRAME_HEAD",
    "FRAME_OVERHEAD",
    "FRAME_TYPE",
    "Frame",
    "FrameBody",
    "build_frame",
    "parse_frame",
]

FRAME_TYPE = 0xF1
FRAME_HEAD = 17  # bytes before the payload
FRAME_OVERHEAD = 19  # head + FCS


def _crc16_x25(data: bytes) -> int:
    # Imported here so the format module loads before the compiled core does.
    from ..crypto import crc16_x25

    return crc16_x25(data)


# Bytes 0 .. 16+n: everything the FCS covers. Every field is attacker-controlled
# on the receiving side; payload_len is bounded by the bytes present (construct
# raises StreamError when fewer follow, Terminated when more do).
FrameBody = Struct(
    "type" / Const(FRAME_TYPE, Int8ul),
    "session_id" / Int32ul,
    "package_size" / Int32ul,
    "fragment_size" / Int16ul,
    "fragment_index" / Int16ul,
    "fragment_count" / Int16ul,
    "payload_len" / Rebuild(Int16ul, len_(this.payload)),
    "payload" / Bytes(this.payload_len),
)

_FrameRaw = Struct(
    "body" / RawCopy(FrameBody),
    "fcs" / Checksum(Int16ul, _crc16_x25, this.body.data),
    Terminated,
)

_FIELDS = ("session_id", "package_size", "fragment_size", "fragment_index",
           "fragment_count", "payload")


class _Flat(Adapter):
    """Presents a frame as one flat record: the fields, ``payload`` and ``fcs``.

    Underneath, the FCS is a ``Checksum`` over a ``RawCopy`` of the body; the
    adapter only lifts the fields one level up. ``type`` and ``payload_len``
    are derived, so they are left out of the record (build computes them).
    """

    def _decode(self, obj: Any, context: Any, path: str) -> Container:
        body = obj.body.value
        out = Container({k: body[k] for k in _FIELDS})
        out.fcs = obj.fcs
        return out

    def _encode(self, obj: Any, context: Any, path: str) -> dict[str, Any]:
        fields = {k: obj[k] for k in _FIELDS}
        fields["payload"] = bytes(fields["payload"])
        return {"body": {"value": fields}, "fcs": None}


#: The mesh fragment frame: parse bytes to a record, build a record to bytes.
Frame = _Flat(_FrameRaw)


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
            "payload": payload,
        }
    )


def parse_frame(data: bytes | bytearray | memoryview) -> Container:
    """Parse one frame; construct's ``ConstructError`` (``ChecksumError`` for a bad
    FCS) when the bytes are not a well-formed frame."""
    return Frame.parse(bytes(data))
