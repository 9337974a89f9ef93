"""A head-end's frame list in another order than fragment_package made it.

Every tool that sends a fragment again sends it by the index a meter reports
missing: ``retransmission``, ``deliver`` and the mesh ``Broadcast``. Given a
shuffled list they must still send the frame that carries that fragment
(they used to send whatever frame stood at that position, so a meter heard
duplicates round after round and never completed).
"""

from __future__ import annotations

import functools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.device import BootState
from meteremu.hes import (
    LossyLink,
    by_fragment,
    deliver,
    fragment_package,
    retransmission,
    session_of,
)
from meteremu.mesh import Broadcast, MeshConfig, Node, Topology, virtual_meters
from meteremu.testing import VENDOR_ID, make_firmware, make_keys, make_meter, make_package

KEYS = make_keys(0)
SESSION = 0x0DE5


@functools.cache
def _frames() -> list[bytes]:
    return fragment_package(make_package(make_firmware(3000, seed=3), KEYS), session_id=SESSION)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), damaged=st.integers(0, 30))
def test_by_fragment_puts_each_frame_at_its_index(seed: int, damaged: int) -> None:
    """Any order gives fragment_package's list back; a frame that does not
    parse stays where it was put, and the fragment it replaced has no frame
    but that one."""
    frames = _frames()
    order = list(range(len(frames)))
    random.Random(seed).shuffle(order)
    shuffled = [frames[k] for k in order]
    assert by_fragment(shuffled) == frames
    at = damaged % len(frames)
    broken = list(shuffled)
    broken[at] = b"\x00" * 12
    got = by_fragment(broken)
    lost = order[at]  # the fragment whose only frame was broken
    for i, frame in enumerate(got):
        assert frame == (frames[i] if i != lost else (b"\x00" * 12 if i == at else broken[i]))


def test_retransmission_sends_the_frames_of_the_missing_fragments() -> None:
    frames = _frames()
    shuffled = frames[::-1]
    assert retransmission(shuffled, [3, 1, 3]) == [frames[1], frames[3]]


def test_a_shuffled_list_is_delivered_over_a_lossy_link() -> None:
    frames = list(_frames())
    random.Random(5).shuffle(frames)
    m = make_meter(KEYS)
    d = deliver(m, frames, LossyLink(7, loss=0.3), max_rounds=12)
    assert d.complete, d
    assert m.boot_state is BootState.VERIFIED


def test_the_mesh_broadcast_of_a_shuffled_list_is_the_broadcast_of_the_list() -> None:
    topo = Topology([Node("A", "DC", quality=0.7, group="g"),
                     Node("B", "A", quality=0.7, group="g")], concentrator="DC")
    reports = []
    for frames in (_frames(), _frames()[::-1]):
        meters = virtual_meters([topo["A"], topo["B"]], trusted_keys=[KEYS.point],
                                vendor_id=VENDOR_ID)
        reports.append(Broadcast(topo, "g", frames, meters, MeshConfig(seed=4)).run().to_dict())
    ordered, shuffled = reports
    ordered.pop("wall_s", None)
    shuffled.pop("wall_s", None)
    assert shuffled == ordered
    assert ordered["outcome"]["complete"] == 2


def test_another_sessions_frame_stays_where_it_was_put() -> None:
    """A frame of another session is never taken for a fragment of this one."""
    frames = _frames()
    stranger = fragment_package(make_package(make_firmware(3000, seed=4), KEYS),
                                session_id=SESSION + 1)[7]
    mixed = list(frames)
    mixed[4] = stranger
    got = by_fragment(mixed)
    assert got[4] == stranger and got[7] == frames[7]
    assert got[:4] == frames[:4] and got[5:] == frames[5:]
    assert session_of(mixed[4:5]) == SESSION + 1 and session_of([b"x", b""]) is None
