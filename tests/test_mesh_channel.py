"""Channel models: loss rates match their stationary values, bursts their mean
length; a link's draws depend on the seed and its own name only."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.mesh import Bernoulli, GilbertElliott, Link, stream_seed

N = 200_000


def _losses(model, seed: int = 1, n: int = N) -> list[bool]:
    rnd = random.Random(seed)
    return [model.lost(rnd) for _ in range(n)]


def _bursts(lost: list[bool]) -> list[int]:
    out, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            out.append(run)
            run = 0
    if run:
        out.append(run)
    return out


@pytest.mark.parametrize("p", [0.0, 0.02, 0.1, 0.3])
def test_bernoulli_loses_its_rate(p: float) -> None:
    lost = _losses(Bernoulli(p))
    # 4.5 standard deviations of a binomial proportion
    tol = 4.5 * (p * (1 - p) / N) ** 0.5 + 1e-9
    assert abs(sum(lost) / N - p) <= tol
    assert Bernoulli(p).stationary_loss == p


@pytest.mark.parametrize("loss,burst", [(0.05, 1.0), (0.1, 4.0), (0.2, 10.0)])
def test_gilbert_from_loss_has_that_loss_and_those_bursts(loss: float, burst: float) -> None:
    ge = GilbertElliott.from_loss(loss, burst)
    assert ge.stationary_loss == pytest.approx(loss)
    assert ge.mean_burst == pytest.approx(burst)
    lost = _losses(ge, n=400_000)
    rate = sum(lost) / len(lost)
    # Correlated draws: the variance grows with the burst length (about 2 * burst).
    tol = 4.5 * (loss * (1 - loss) * 2 * burst / len(lost)) ** 0.5
    assert abs(rate - loss) <= tol
    runs = _bursts(lost)
    mean = sum(runs) / len(runs)
    assert mean == pytest.approx(burst, rel=0.06)
    # Geometric run lengths: P(run >= 2) = 1 - 1/burst
    at_least_2 = sum(1 for r in runs if r >= 2) / len(runs)
    assert at_least_2 == pytest.approx(1 - 1 / burst, abs=0.02)


def test_gilbert_elliott_general_stationary_loss() -> None:
    ge = GilbertElliott(p_gb=0.02, p_bg=0.25, loss_good=0.01, loss_bad=0.6)
    b = 0.02 / 0.27
    expected = (1 - b) * 0.01 + b * 0.6
    assert ge.stationary_loss == pytest.approx(expected)
    lost = _losses(ge, seed=9, n=400_000)
    assert sum(lost) / len(lost) == pytest.approx(expected, abs=0.005)


def test_bursty_and_memoryless_links_differ_in_bursts_not_in_loss() -> None:
    b = _losses(Bernoulli(0.1), seed=3)
    g = _losses(GilbertElliott.from_loss(0.1, 8.0), seed=3)
    assert sum(b) / N == pytest.approx(sum(g) / N, abs=0.02)
    assert max(_bursts(g)) > 3 * max(_bursts(b))


@pytest.mark.parametrize("loss,burst", [(0.7, 1.0), (0.5, 0.5), (1.0, 5.0)])
def test_impossible_gilbert_parameters_are_refused(loss: float, burst: float) -> None:
    with pytest.raises(ValueError):
        GilbertElliott.from_loss(loss, burst)


def test_bad_probabilities_are_refused() -> None:
    with pytest.raises(ValueError):
        Bernoulli(1.5)
    with pytest.raises(ValueError):
        GilbertElliott(0.0, 0.0)
    with pytest.raises(ValueError):
        Link(1, Bernoulli(0.1), duplicate=-0.1)


def test_stream_seeds_depend_on_names_only() -> None:
    assert stream_seed(7, "link", "MTR1") == stream_seed(7, "link", "MTR1")
    assert stream_seed(7, "link", "MTR1") != stream_seed(7, "link", "MTR2")
    assert stream_seed(7, "link", "MTR1") != stream_seed(8, "link", "MTR1")


FRAMES = [bytes([i & 0xFF, i >> 8]) * 30 for i in range(500)]


def _carry(link: Link, frames: list[bytes]) -> tuple[list[bytes], list[bool]]:
    out: list[bytes] = []
    intact = [link.carry(f, out) for f in frames]
    link.flush(out)
    return out, intact


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=30)
def test_same_seed_same_fate(seed: int) -> None:
    kw = dict(duplicate=0.1, corrupt=0.1, reorder=0.2)
    a = _carry(Link(seed, Bernoulli(0.2), **kw), FRAMES)
    b = _carry(Link(seed, Bernoulli(0.2), **kw), FRAMES)
    assert a == b


def test_intact_means_an_undamaged_copy_arrives() -> None:
    link = Link(5, Bernoulli(0.1), duplicate=0.2, corrupt=0.3, reorder=0.2)
    out, intact = _carry(link, FRAMES)
    got = set(out)
    for f, ok in zip(FRAMES, intact, strict=True):
        assert ok == (f in got)
    assert any(f not in set(FRAMES) for f in out)  # some damaged copies arrived too
    assert len(out) > sum(intact)  # duplicates and damaged copies


def test_reordering_keeps_every_copy() -> None:
    out, intact = _carry(Link(11, Bernoulli(0.0), reorder=0.5), FRAMES)
    assert all(intact)
    assert sorted(out) == sorted(FRAMES) and out != FRAMES


def test_uplink_attempts_follow_their_own_loss_state() -> None:
    link = Link(2, Bernoulli(0.25))
    ok = sum(link.attempt() for _ in range(40_000)) / 40_000
    assert ok == pytest.approx(0.75, abs=0.015)


def test_none_receiver_draws_the_same() -> None:
    """A relay that keeps nothing for a meter makes the same draws (its fate is the same)."""
    a = Link(3, Bernoulli(0.3), duplicate=0.2, corrupt=0.2)
    b = Link(3, Bernoulli(0.3), duplicate=0.2, corrupt=0.2)
    assert [a.carry(f, []) for f in FRAMES] == [b.carry(f, None) for f in FRAMES]
