"""Channel models of one mesh link (ns-3's error models, as small objects).

A :class:`Link` joins a node to its parent. It owns one ``random.Random``
seeded from the run's seed and the node's ID alone (:func:`stream_seed`), so
adding or removing another node never changes this link's draws, and the
same seed gives the same draws on every machine. It carries two directions,
each with its own loss state:

* ``down`` -- broadcast frames from the parent: lost, duplicated, damaged
  (one to three bits flipped) or held back behind later frames (reordered);
* ``up`` -- unicast reports to the parent, one attempt at a time: an attempt
  is delivered or not (a damaged report fails the MAC check: lost).

Loss is a :class:`Bernoulli` process (each frame independently) or a
:class:`GilbertElliott` one (a good and a bad state, a Markov chain stepped
once per frame: bursts). Both say their stationary loss rate, so a run can
compare a bursty link with a memoryless one of the same mean loss.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

__all__ = [
    "Bernoulli",
    "GilbertElliott",
    "Link",
    "LossModel",
    "stream_seed",
]


def stream_seed(seed: int, *names: object) -> int:
    """A 64-bit seed for the random stream named ``names`` within run ``seed``.

    Streams are independent of each other and of how many there are: link
    ``"MTR7"`` draws the same numbers whatever else the topology holds.
    """
    text = "\x1f".join(str(n) for n in (seed, *names)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def unit(seed: int, *names: object) -> float:
    """A number in [0, 1) drawn from the stream ``names`` without keeping state."""
    return stream_seed(seed, *names) / 2**64


def _probability(name: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in 0..1, not {p}")
    return float(p)


class LossModel:
    """A per-frame loss process. :meth:`lost` draws one frame's fate from ``rnd``."""

    stationary_loss: float

    def lost(self, rnd: random.Random) -> bool:
        raise NotImplementedError

    def fresh(self) -> LossModel:
        """A model with the same parameters and its own state (one per direction)."""
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        raise NotImplementedError


@dataclass
class Bernoulli(LossModel):
    """Each frame lost with probability ``p``, independently."""

    p: float

    def __post_init__(self) -> None:
        self.p = _probability("loss", self.p)

    @property
    def stationary_loss(self) -> float:  # type: ignore[override]
        return self.p

    def lost(self, rnd: random.Random) -> bool:
        return self.p > 0.0 and rnd.random() < self.p

    def fresh(self) -> Bernoulli:
        return Bernoulli(self.p)

    def describe(self) -> dict[str, object]:
        return {"model": "bernoulli", "loss": self.p}


class GilbertElliott(LossModel):
    """A two-state Markov loss process, stepped once per frame.

    ``p_gb``: probability of moving from good to bad after a frame;
    ``p_bg``: from bad to good. In the good state a frame is lost with
    probability ``loss_good``, in the bad state ``loss_bad``. With
    ``loss_good = 0`` and ``loss_bad = 1`` (Gilbert's model, what
    :meth:`from_loss` builds) losses come in bursts of mean length ``1/p_bg``.

    Stationary: ``P(bad) = p_gb / (p_gb + p_bg)``, and the loss rate is
    ``P(good) loss_good + P(bad) loss_bad``. The first frame's state is drawn
    from that stationary distribution, so a link has its mean loss from the
    start.
    """

    __slots__ = ("_bad", "loss_bad", "loss_good", "p_bg", "p_gb")

    def __init__(self, p_gb: float, p_bg: float, loss_good: float = 0.0,
                 loss_bad: float = 1.0) -> None:
        self.p_gb = _probability("p_gb", p_gb)
        self.p_bg = _probability("p_bg", p_bg)
        if self.p_gb + self.p_bg == 0.0:
            raise ValueError("p_gb and p_bg cannot both be 0 (the chain would never mix)")
        self.loss_good = _probability("loss_good", loss_good)
        self.loss_bad = _probability("loss_bad", loss_bad)
        self._bad: bool | None = None  # drawn at the first frame

    @classmethod
    def from_loss(cls, loss: float, burst: float) -> GilbertElliott:
        """Gilbert's model with stationary loss ``loss`` and mean burst length ``burst``
        frames: ``p_bg = 1/burst``, ``p_gb = p_bg loss / (1 - loss)``."""
        loss = _probability("loss", loss)
        if burst < 1.0:
            raise ValueError(f"a mean burst length is at least 1 frame, not {burst}")
        if loss >= 1.0:
            raise ValueError("a loss of 1 has no good state to leave")
        p_bg = 1.0 / burst
        p_gb = p_bg * loss / (1.0 - loss)
        if p_gb > 1.0:
            raise ValueError(f"bursts of {burst:g} frames cannot make a loss of {loss:g}: "
                             f"they must be at least {loss / (1.0 - loss):.3g} frames long")
        if loss == 0.0:
            return cls(0.0, 1.0)
        return cls(p_gb, p_bg)

    @property
    def bad_share(self) -> float:
        """Stationary probability of the bad state."""
        return self.p_gb / (self.p_gb + self.p_bg)

    @property
    def stationary_loss(self) -> float:  # type: ignore[override]
        b = self.bad_share
        return (1.0 - b) * self.loss_good + b * self.loss_bad

    @property
    def mean_burst(self) -> float:
        """Mean number of frames spent in the bad state per visit (``1/p_bg``)."""
        return float("inf") if self.p_bg == 0.0 else 1.0 / self.p_bg

    def lost(self, rnd: random.Random) -> bool:
        bad = self._bad
        if bad is None:
            bad = rnd.random() < self.bad_share
        lost = rnd.random() < (self.loss_bad if bad else self.loss_good)
        self._bad = (rnd.random() >= self.p_bg) if bad else (rnd.random() < self.p_gb)
        return lost

    def fresh(self) -> GilbertElliott:
        return GilbertElliott(self.p_gb, self.p_bg, self.loss_good, self.loss_bad)

    def describe(self) -> dict[str, object]:
        return {"model": "gilbert-elliott", "loss": self.stationary_loss,
                "p_gb": self.p_gb, "p_bg": self.p_bg, "loss_good": self.loss_good,
                "loss_bad": self.loss_bad, "mean_burst": self.mean_burst}

    def __repr__(self) -> str:
        return (f"GilbertElliott(p_gb={self.p_gb!r}, p_bg={self.p_bg!r}, "
                f"loss_good={self.loss_good!r}, loss_bad={self.loss_bad!r})")


class Link:
    """The link from a node to its parent: one seeded RNG, a loss state per direction.

    ``duplicate``, ``corrupt`` and ``reorder`` apply to downlink frames as
    :class:`meteremu.hes.LossyLink` applies them (a kept frame may get a second
    copy; each copy may be damaged; each may be held back behind
    1..``reorder_depth`` later frames). Reordering changes the order in which
    the node's radio hands frames to its meter; what a relay forwards is
    decided by whether an intact copy came at all.
    """

    __slots__ = ("_held", "corrupt", "down", "duplicate", "reorder", "reorder_depth",
                 "rnd", "seed", "up")

    def __init__(self, seed: int, loss: LossModel, *, duplicate: float = 0.0,
                 corrupt: float = 0.0, reorder: float = 0.0, reorder_depth: int = 8) -> None:
        self.seed = seed
        self.rnd = random.Random(seed)
        self.down = loss.fresh()
        self.up = loss.fresh()
        self.duplicate = _probability("duplicate", duplicate)
        self.corrupt = _probability("corrupt", corrupt)
        self.reorder = _probability("reorder", reorder)
        if reorder_depth < 1:
            raise ValueError("reorder_depth must be at least 1")
        self.reorder_depth = reorder_depth
        self._held: list[list[object]] = []  # [frames still to pass, frame]

    def _damage(self, frame: bytes) -> bytes:
        data = bytearray(frame)
        rnd = self.rnd
        for _ in range(rnd.randint(1, 3)):
            bit = rnd.randrange(8 * len(data))
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)

    def carry(self, frame: bytes, out: list[bytes] | None) -> bool:
        """One broadcast frame down this link: append what arrives now to ``out``
        (None: the receiver keeps nothing; the draws are made all the same).
        True when an intact copy arrives (now, or held back to arrive later)."""
        rnd = self.rnd
        if self._held:
            self._release(out)
        if self.down.lost(rnd):
            return False
        if not (self.duplicate or self.corrupt or self.reorder):
            if out is not None:
                out.append(frame)
            return True
        n = 2 if self.duplicate and rnd.random() < self.duplicate else 1
        intact = False
        for _ in range(n):
            copy = frame
            if self.corrupt and rnd.random() < self.corrupt:
                copy = self._damage(frame)
            else:
                intact = True
            if self.reorder and rnd.random() < self.reorder:
                self._held.append([rnd.randint(1, self.reorder_depth), copy])
            elif out is not None:
                out.append(copy)
        return intact

    def _release(self, out: list[bytes] | None) -> None:
        """One more frame has passed: copies held back long enough come out."""
        keep: list[list[object]] = []
        for h in self._held:
            h[0] = int(h[0]) - 1  # type: ignore[call-overload]
            if int(h[0]) <= 0:  # type: ignore[call-overload]
                if out is not None:
                    out.append(h[1])  # type: ignore[arg-type]
            else:
                keep.append(h)
        self._held = keep

    def flush(self, out: list[bytes] | None) -> None:
        """The end of a burst: frames still held back arrive now."""
        if self._held:
            if out is not None:
                out.extend(h[1] for h in self._held)  # type: ignore[misc]
            self._held = []

    def attempt(self) -> bool:
        """One unicast attempt up this link: True when it gets through intact."""
        rnd = self.rnd
        if self.up.lost(rnd):
            return False
        return not (self.corrupt and rnd.random() < self.corrupt)
