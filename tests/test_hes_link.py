"""The lossy link is deterministic and does what its rates say; delivery over it
brings a meter to a verified image."""

from __future__ import annotations

import collections
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.device import BootState
from meteremu.hes import LossyLink, deliver, fragment_package
from meteremu.testing import make_firmware, make_keys, make_meter, make_package

FRAMES = [bytes([i % 256, i // 256]) * 20 for i in range(2000)]


def _link(seed: int, **kw: float) -> LossyLink:
    return LossyLink(seed, **kw)


def test_same_seed_same_bytes_out() -> None:
    kw = dict(loss=0.2, reorder=0.3, duplicate=0.1, corrupt=0.1)
    assert _link(7, **kw).transmit(FRAMES) == _link(7, **kw).transmit(FRAMES)
    assert _link(7, **kw).transmit(FRAMES) != _link(8, **kw).transmit(FRAMES)


def test_perfect_link_is_the_identity() -> None:
    link = LossyLink(1, loss=0.0)
    assert link.transmit(FRAMES) == FRAMES
    assert link.stats.delivered == link.stats.offered == len(FRAMES)


def test_loss_rate_is_about_what_was_asked() -> None:
    link = LossyLink(3, loss=0.1)
    out = link.transmit(FRAMES * 5)
    assert 0.08 < 1 - len(out) / (5 * len(FRAMES)) < 0.12
    assert link.stats.lost == 5 * len(FRAMES) - len(out)
    assert all(f in set(FRAMES) for f in out)  # loss alone never changes a frame


@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_loss_alone_is_one_draw_per_frame_in_order(seed: int, loss: float) -> None:
    """A seed picks the same survivors as one Random(seed) draw per offered frame."""
    rnd = random.Random(seed)
    expected = [f for f in FRAMES[:300] if not (loss and rnd.random() < loss)]
    link = LossyLink(seed, loss=loss)
    assert link.transmit(FRAMES[:300]) == expected
    assert link.stats.lost == 300 - len(expected)


def test_duplicates_corruption_and_reordering_happen_and_are_counted() -> None:
    link = LossyLink(5, loss=0.0, reorder=0.2, duplicate=0.2, corrupt=0.2)
    out = link.transmit(FRAMES)
    s = link.stats
    assert s.delivered == len(out) == len(FRAMES) + s.duplicated
    known = set(FRAMES)
    damaged = [f for f in out if f not in known]
    assert len(damaged) == s.corrupted > 0
    assert all(len(f) == 40 for f in damaged)  # bits flip; frames keep their length
    counts = collections.Counter(out)
    assert any(c > 1 for c in counts.values())
    intact = [f for f in out if f in known]
    assert intact != sorted(intact, key=FRAMES.index)  # some arrive out of order
    assert s.reordered > 0


@given(st.integers(0, 2**32), st.floats(0, 1), st.floats(0, 1))
@settings(max_examples=50)
def test_nothing_is_invented(seed: int, reorder: float, duplicate: float) -> None:
    # Without corruption and loss, what comes out is what went in, plus copies.
    out = LossyLink(seed, loss=0.0, reorder=reorder, duplicate=duplicate).transmit(FRAMES[:200])
    assert set(out) == set(FRAMES[:200])


def test_rates_are_probabilities() -> None:
    with pytest.raises(ValueError, match=r"loss must be a probability in 0\.\.1, not 1\.5"):
        LossyLink(0, loss=1.5)
    with pytest.raises(ValueError, match=r"corrupt must be a probability in 0\.\.1, not -0\.1"):
        LossyLink(0, corrupt=-0.1)


@pytest.fixture(scope="module")
def package() -> bytes:
    return make_package(make_firmware(6000, seed=2), make_keys())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_delivery_over_a_bad_link_verifies_the_image(package: bytes, seed: int) -> None:
    m = make_meter(make_keys())
    frames = fragment_package(package, session_id=0x1000 + seed)
    link = LossyLink(seed, loss=0.3, reorder=0.2, duplicate=0.1, corrupt=0.05)
    d = deliver(m, frames, link)
    assert d.complete and d.rounds > 1
    assert d.frames_sent > len(frames)
    assert m.boot_state is BootState.VERIFIED
    assert m.counters["dropped-frame"] == link.stats.corrupted


def test_delivery_advances_the_meter_clock(package: bytes) -> None:
    m = make_meter(make_keys())
    start = m.now
    d = deliver(m, fragment_package(package, session_id=9), LossyLink(0, loss=0.0), airtime=0.5)
    assert d.rounds == 1 and d.complete
    assert m.now - start == d.frames_delivered * 0.5


def test_delivery_stops_when_the_meter_refuses(package: bytes) -> None:
    m = make_meter(make_keys(1))  # trusts another key: 0x8005 once complete
    d = deliver(m, fragment_package(package, session_id=4), LossyLink(2, loss=0.2))
    assert not d.complete
    assert m.boot_state is BootState.FAILED
    assert any("FOTA_ERR 0x8005" in line for line in m.audit_log)


def test_delivery_gives_up_on_a_refused_header(package: bytes) -> None:
    other = make_package(make_firmware(3000), make_keys(), hw_revision=9)
    m = make_meter(make_keys())
    d = deliver(m, fragment_package(other, session_id=4), max_rounds=20)
    assert not d.complete and d.rounds < 20
    assert any("FOTA_ERR 0x8004" in line for line in m.audit_log)


def test_round_limit(package: bytes) -> None:
    m = make_meter(make_keys())
    d = deliver(m, fragment_package(package, session_id=5), LossyLink(1, loss=0.9), max_rounds=2)
    assert d.rounds == 2 and not d.complete
