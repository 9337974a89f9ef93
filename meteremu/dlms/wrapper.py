"""The TCP/UDP wrapper of IEC 62056-47 (DLMS UA Green Book, "wrapper"), in construct.

Every APDU on a TCP connection travels in one wrapper frame, all fields
big-endian::

    off  size  field
      0     2  version       0x0001
      2     2  source wPort  the sender's SAP (client 16 public, 1 management;
                             server: the logical device, 1 management)
      4     2  destination wPort
      6     2  length        bytes of the APDU that follows
      8     n  APDU

A reply swaps the two ports. :data:`WrapperFrame` is the definition (parse and
build); :class:`WrapperReader` cuts a byte stream into frames, whatever the
chunking (a frame may arrive split anywhere, or several in one read). It
refuses a wrong version and a frame longer than the receiver's limit as soon
as the header is in (:class:`FrameTooLong` keeps the ports, so the receiver
can still answer), without waiting for a body it will not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from construct import Adapter, Const, GreedyBytes, Int16ub, Prefixed, Struct

from .errors import ApduError

__all__ = [
    "HEADER_SIZE",
    "HEADER_STRUCT",
    "WRAPPER_VERSION",
    "Frame",
    "FrameTooLong",
    "WrapperFrame",
    "WrapperHeader",
    "WrapperReader",
    "wrap",
]

WRAPPER_VERSION = 1
HEADER_SIZE = 8

WrapperHeader = Struct(
    "version" / Const(WRAPPER_VERSION, Int16ub),
    "source" / Int16ub,
    "destination" / Int16ub,
    "length" / Int16ub,
)


@dataclass(frozen=True)
class Frame:
    source: int  # wPort of the sender
    destination: int  # wPort of the receiver
    apdu: bytes

    def reply(self, apdu: bytes) -> Frame:
        """A frame carrying ``apdu`` back to this frame's sender (ports swapped)."""
        return Frame(self.destination, self.source, apdu)


class _FrameAdapter(Adapter):
    def _decode(self, obj: Any, context: Any, path: str) -> Frame:
        return Frame(obj.source, obj.destination, obj.apdu)

    def _encode(self, obj: Frame, context: Any, path: str) -> dict[str, Any]:
        return {"source": obj.source, "destination": obj.destination, "apdu": obj.apdu}


WrapperFrame = _FrameAdapter(Struct(
    "version" / Const(WRAPPER_VERSION, Int16ub),
    "source" / Int16ub,
    "destination" / Int16ub,
    "apdu" / Prefixed(Int16ub, GreedyBytes),
))

_HEADER = struct.Struct(">HHHH")  # the fast path of WrapperHeader (a test checks they agree)
HEADER_STRUCT = _HEADER  # for a reader that takes a whole frame at once (connection.py)


def wrap(source: int, destination: int, apdu: bytes) -> bytes:
    """One frame's bytes (the fast path of ``WrapperFrame.build``)."""
    if len(apdu) > 0xFFFF:
        raise ValueError(f"an APDU of {len(apdu)} bytes does not fit a wrapper frame")
    return _HEADER.pack(WRAPPER_VERSION, source, destination, len(apdu)) + apdu


class FrameTooLong(ApduError):
    """A frame header announcing more bytes than the receiver accepts."""

    def __init__(self, source: int, destination: int, length: int, limit: int) -> None:
        super().__init__(f"a wrapper frame of {length} bytes; at most {limit} are accepted")
        self.source, self.destination, self.length = source, destination, length


class WrapperReader:
    """Bytes in (any chunking), whole frames out. Holds at most one partial frame
    beyond what was fed in one call."""

    def __init__(self, max_apdu: int) -> None:
        self.max_apdu = max_apdu
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received and not yet handed out as a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> Frame | None:
        """The next whole frame, None until one is complete; :class:`ApduError` for a
        wrong version, :class:`FrameTooLong` for a frame over ``max_apdu``."""
        buf = self._buf
        if len(buf) < HEADER_SIZE:
            return None
        version, source, destination, length = _HEADER.unpack_from(buf)
        if version != WRAPPER_VERSION:
            raise ApduError(f"wrapper version {version:#06x}, not {WRAPPER_VERSION:#06x}")
        if length > self.max_apdu:
            raise FrameTooLong(source, destination, length, self.max_apdu)
        end = HEADER_SIZE + length
        if len(buf) < end:
            return None
        apdu = bytes(buf[HEADER_SIZE:end])
        del buf[:end]
        return Frame(source, destination, apdu)
