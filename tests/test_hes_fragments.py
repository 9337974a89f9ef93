"""The fragment cutter: the C encoder's frames equal the construct definition's,
they cover the package exactly, and retransmission picks the right ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.reasm import decode_frame
from meteremu.hes import fragment_count, fragment_package, missing_indices, retransmission
from meteremu.hes.fragments import header_fragment_size
from meteremu.testing import make_firmware, make_keys, make_package
from meteremu.wire.frames import build_frame, parse_frame


@pytest.fixture(scope="module")
def pkg() -> bytes:
    return make_package(make_firmware(5000), make_keys(), fragment_size=256)


def test_fragment_size_defaults_to_the_header(pkg: bytes) -> None:
    frames = fragment_package(pkg, session_id=0xABCD)
    assert header_fragment_size(pkg) == 256
    assert len(frames) == fragment_count(len(pkg), 256) == int.from_bytes(pkg[36:40], "little")
    first = parse_frame(frames[0])
    assert (first.session_id, first.package_size, first.fragment_size) == (0xABCD, len(pkg), 256)
    assert b"".join(parse_frame(f).payload for f in frames) == pkg


@settings(max_examples=40, deadline=None)
@given(
    package=st.binary(min_size=40, max_size=3000),
    fragment_size=st.integers(16, 1024),
    session_id=st.integers(0, 2**32 - 1),
)
def test_c_frames_equal_construct_frames(package: bytes, fragment_size: int,
                                         session_id: int) -> None:
    frames = fragment_package(package, session_id=session_id, fragment_size=fragment_size)
    n = len(frames)
    assert n == -(-len(package) // fragment_size)
    for i, raw in enumerate(frames):
        assert raw == build_frame(
            session_id=session_id, package_size=len(package), fragment_size=fragment_size,
            fragment_index=i, fragment_count=n,
            payload=package[i * fragment_size : (i + 1) * fragment_size])
    assert b"".join(decode_frame(f).payload for f in frames) == package


def test_refuses_what_a_frame_cannot_say() -> None:
    with pytest.raises(ValueError, match=r"fragment size must be 16\.\.1024, not 15"):
        fragment_package(b"x" * 100, session_id=1, fragment_size=15)
    with pytest.raises(ValueError, match=r"fragment size must be 16\.\.1024, not 1025"):
        fragment_package(b"x" * 100, session_id=1, fragment_size=1025)
    with pytest.raises(ValueError, match=r"session_id must fit 32 bits"):
        fragment_package(b"x" * 100, session_id=2**32, fragment_size=16)
    with pytest.raises(ValueError, match=r"20 bytes is too short to hold a package header"):
        fragment_package(b"x" * 20, session_id=1)  # too short to hold the header field
    with pytest.raises(ValueError, match=r"65537 fragments of 16 bytes: .*16-bit count"):
        fragment_package(b"x" * (16 * 65536 + 1), session_id=1, fragment_size=16)


def test_retransmission_picks_the_missing_frames(pkg: bytes) -> None:
    frames = fragment_package(pkg, session_id=3)
    again = retransmission(frames, [5, 1, 5, 19])
    assert [decode_frame(f).fragment_index for f in again] == [1, 5, 19]
    assert retransmission(frames, []) == []
    with pytest.raises(IndexError):
        retransmission(frames, [len(frames)])


def test_missing_indices_reads_the_reassembler_bitmap() -> None:
    assert missing_indices(bytes([0b00000101, 0b10000000]), 16) == [0, 2, 15]
    assert missing_indices(bytes([0xFF, 0xFF]), 10) == list(range(10))  # pad bits ignored
    with pytest.raises(ValueError, match=r"a 1-byte bitmap cannot cover 9 fragments"):
        missing_indices(b"\x00", 9)
