"""Mesh fragment frames, provisional layout until the formats layer defines them.

    0  4 session ID (u32 LE)       8 2 fragment count (u16 LE)
    4  2 fragment index (u16 LE)  10 2 payload length (u16 LE)
    6  2 reserved, 0              12 n payload, then CRC-16/X-25 (u16 LE) of all before

Every field is peer-controlled; :func:`parse_frame` checks the length field
against the bytes actually present before slicing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crcmod.predefined

__all__ = ["FRAME_OVERHEAD", "Frame", "FrameError", "build_frame", "parse_frame"]

_HEAD = struct.Struct("<IHHHH")
FRAME_OVERHEAD = _HEAD.size + 2
_crc16 = crcmod.predefined.mkCrcFun("x-25")


class FrameError(ValueError):
    """Why a frame is dropped: ``reason`` is ``crc`` or ``length``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    session_id: int
    index: int
    count: int
    payload: bytes


def build_frame(session_id: int, index: int, count: int, payload: bytes) -> bytes:
    body = _HEAD.pack(session_id, index, 0, count, len(payload)) + payload
    return body + _crc16(body).to_bytes(2, "little")


def parse_frame(data: bytes) -> Frame:
    if len(data) < FRAME_OVERHEAD:
        raise FrameError("length")
    session_id, index, _reserved, count, length = _HEAD.unpack_from(data)
    # length is peer-controlled: compare it with what is left, never add to it first.
    if length != len(data) - FRAME_OVERHEAD:
        raise FrameError("length")
    if _crc16(data[:-2]) != int.from_bytes(data[-2:], "little"):
        raise FrameError("crc")
    return Frame(session_id, index, count, bytes(data[_HEAD.size : _HEAD.size + length]))
