"""Fleet.broadcast's frames as a careless head-end hands them over.

A round re-sends the fragments the meters miss by their index, so the frames
may come in any order and still make the same broadcast; frames that are
not one session's fragments, each once and whole, are refused before
anything is sent, and no meter changes.
"""

from __future__ import annotations

import dataclasses

import pytest
from fleetkit import FRAMES, fleet_of, picture
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.reasm import decode_frame, encode_frame
from meteremu.errors import UsageError


@settings(max_examples=10, deadline=None)
@given(order=st.permutations(range(len(FRAMES))), seed=st.integers(0, 2**32),
       loss=st.sampled_from([0.0, 0.2, 0.5]))
def test_frames_in_any_order_make_the_same_broadcast(order: list[int], seed: int,
                                                     loss: float) -> None:
    """The reference: the same fleet sent the frames as fragment_package made
    them. Every outcome, the rounds' sizes and every meter byte for byte."""
    ordered, shuffled = fleet_of(4), fleet_of(4)
    want = ordered.broadcast(FRAMES, loss=loss, seed=seed, max_rounds=6)
    got = shuffled.broadcast([FRAMES[k] for k in order], loss=loss, seed=seed, max_rounds=6)
    assert got.sent == want.sent
    assert got.outcomes == want.outcomes
    for s in ordered:
        assert picture(shuffled[s]) == picture(ordered[s]), s


def _frame(k: int, **change: object) -> bytes:
    return encode_frame(dataclasses.replace(decode_frame(FRAMES[k]), **change))


def _with(k: int, data: object) -> list[object]:
    frames: list[object] = list(FRAMES)
    frames[k] = data
    return frames


BAD = {
    "not a frame": (_with(3, b"\x00" * 10), "frame 3 is not a mesh fragment frame"),
    "a bit flipped": (_with(3, FRAMES[3][:20] + bytes([FRAMES[3][20] ^ 1]) + FRAMES[3][21:]),
                      "frame 3 is not a mesh fragment frame"),
    "not bytes": (_with(2, "text"), "frame 2 is not a mesh fragment frame"),
    "another session": (_with(4, _frame(4, session_id=0x5EEE)), "frame 4 is of another session"),
    "another count": (_with(4, _frame(4, fragment_count=len(FRAMES) + 1)),
                      "frame 4 is of another session"),
    "a fragment twice": (_with(5, FRAMES[6]), "frame 6: fragment 6 a second time"),
    "an index past the count": (_with(3, _frame(3, fragment_index=len(FRAMES))),
                                f"frame 3: fragment {len(FRAMES)} of a session of"),
    "a short payload": (_with(1, _frame(1, payload=decode_frame(FRAMES[1]).payload[:-8])),
                        "frame 1: fragment 1 carries"),
    "one frame missing": (FRAMES[:-1], "frames for a session of"),
    "one frame more": ([*FRAMES, FRAMES[0]], "frames for a session of"),
    "no frames": ([], "no frames"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_frames_that_are_not_one_session_are_refused_and_change_nothing(case: str) -> None:
    frames, message = BAD[case]
    fleet = fleet_of(3)
    for s in fleet:
        fleet[s].drain_events()
    before = {s: picture(fleet[s]) for s in fleet}
    with pytest.raises(UsageError, match=message):
        fleet.broadcast(frames, loss=0.1, seed=1)  # type: ignore[arg-type]
    assert {s: picture(fleet[s]) for s in fleet} == before
