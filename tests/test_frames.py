"""The mesh fragment frame in construct: round trip, and byte-for-byte agreement
with the C codec (csrc/mt_frame.c) in both directions."""

from __future__ import annotations

import struct

import crcmod.predefined
import pytest
from construct import ChecksumError, ConstError, ConstructError
from hypothesis import given
from hypothesis import strategies as st

from meteremu._lowlevel.reasm import Frame as CFrame
from meteremu._lowlevel.reasm import PackageRefused, decode_frame, encode_frame
from meteremu.wire.frames import FRAME_OVERHEAD, Frame, build_frame, parse_frame

_x25 = crcmod.predefined.mkCrcFun("x-25")

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
frames = st.builds(
    dict,
    session_id=u32,
    package_size=u32,
    fragment_size=u16,
    fragment_index=u16,
    fragment_count=u16,
    payload=st.binary(max_size=300),
)


def _c(f: dict) -> CFrame:
    return CFrame(f["session_id"], f["package_size"], f["fragment_size"],
                  f["fragment_index"], f["fragment_count"], f["payload"])


def test_layout_against_an_independent_encoder() -> None:
    payload = bytes(range(40))
    raw = build_frame(session_id=0x01020304, package_size=5000, fragment_size=40,
                      fragment_index=9, fragment_count=125, payload=payload)
    head = struct.pack("<BIIHHHH", 0xF1, 0x01020304, 5000, 40, 9, 125, 40)
    body = head + payload
    assert raw == body + struct.pack("<H", _x25(body))
    assert len(raw) == FRAME_OVERHEAD + len(payload)


@given(frames)
def test_parse_build_round_trip(f: dict) -> None:
    raw = build_frame(**f)
    parsed = parse_frame(raw)
    assert {k: parsed[k] for k in f} == f
    assert Frame.build(parsed) == raw


@given(frames)
def test_construct_and_c_encoders_agree(f: dict) -> None:
    assert build_frame(**f) == encode_frame(_c(f))


@given(frames)
def test_each_parses_what_the_other_builds(f: dict) -> None:
    parsed = parse_frame(encode_frame(_c(f)))
    assert {k: parsed[k] for k in f} == f
    assert decode_frame(build_frame(**f)) == _c(f)


@given(frames, st.data())
def test_both_refuse_the_same_damaged_frames(f: dict, data: st.DataObject) -> None:
    raw = bytearray(build_frame(**f))
    how = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if how == "flip":
        bit = data.draw(st.integers(0, 8 * len(raw) - 1))
        raw[bit // 8] ^= 1 << (bit % 8)
    elif how == "truncate":
        del raw[data.draw(st.integers(0, len(raw) - 1)):]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=4))
    # CRC-16 detects every single-bit error, so a flipped frame never passes.
    with pytest.raises(ConstructError):
        parse_frame(bytes(raw))
    with pytest.raises(PackageRefused):
        decode_frame(bytes(raw))


def test_bad_fcs_and_wrong_type_name_their_field() -> None:
    raw = bytearray(build_frame(session_id=1, package_size=300, fragment_size=128,
                                fragment_index=0, fragment_count=3, payload=b"x" * 128))
    raw[-1] ^= 0x80
    with pytest.raises(ChecksumError):
        parse_frame(bytes(raw))
    raw[-1] ^= 0x80
    raw[0] = 0xF2
    with pytest.raises(ConstError):
        parse_frame(bytes(raw))
