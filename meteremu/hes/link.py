"""A deterministic lossy link, and delivery of a package over it round by round.

:class:`LossyLink` does to a stream of frames what a radio mesh does (SPEC
section 6 and 8): Bernoulli loss, corruption (bits flipped on the air),
duplication and reordering, every choice drawn from one ``random.Random``
seeded by the caller, so the same seed and the same frames give the same
bytes out, on every machine and every run.

:func:`deliver` plays the concentrator of seed step 4 for one meter: send
every frame, ask the meter which fragments it still misses, send those again,
until it has them all or the round limit is reached.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .fragments import by_fragment, session_of

__all__ = ["Delivery", "LinkStats", "LossyLink", "Receiver", "deliver"]

_PATIENCE = 3  # rounds with frames arriving and no session before giving up


@dataclass
class LinkStats:
    """What the link did so far (counts of frames)."""

    offered: int = 0  # frames handed to transmit()
    lost: int = 0
    corrupted: int = 0  # copies with bits flipped
    duplicated: int = 0  # extra copies made
    reordered: int = 0  # copies held back behind later frames
    delivered: int = 0  # copies that came out, corrupted and duplicates included


def _probability(name: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in 0..1, not {p}")
    return float(p)


class LossyLink:
    """A one-way link that loses, corrupts, duplicates and reorders frames.

    Per frame offered, in this order: lost with probability ``loss`` (and
    nothing else happens to it); else a second copy is made with probability
    ``duplicate``; each copy is corrupted with probability ``corrupt`` (one to
    three bits flipped) and held back with probability ``reorder`` behind
    1..``reorder_depth`` later frames. Whatever is still held back when a
    :meth:`transmit` call ends comes out at its end: a round's stragglers
    arrive late, but within the round.
    """

    def __init__(
        self,
        seed: int = 0,
        loss: float = 0.1,
        reorder: float = 0.0,
        duplicate: float = 0.0,
        corrupt: float = 0.0,
        *,
        reorder_depth: int = 8,
    ) -> None:
        self.seed = seed
        self.loss = _probability("loss", loss)
        self.reorder = _probability("reorder", reorder)
        self.duplicate = _probability("duplicate", duplicate)
        self.corrupt = _probability("corrupt", corrupt)
        if reorder_depth < 1:
            raise ValueError("reorder_depth must be at least 1")
        self.reorder_depth = reorder_depth
        self.stats = LinkStats()
        self._rnd = random.Random(seed)

    def __repr__(self) -> str:
        return (f"LossyLink(seed={self.seed!r}, loss={self.loss}, reorder={self.reorder}, "
                f"duplicate={self.duplicate}, corrupt={self.corrupt})")

    def _damage(self, frame: bytes) -> bytes:
        data = bytearray(frame)
        if not data:
            return frame
        for _ in range(self._rnd.randint(1, 3)):
            bit = self._rnd.randrange(8 * len(data))
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)

    def transmit(self, frames: Iterable[bytes]) -> list[bytes]:
        """The frames that come out of the link for ``frames`` going in."""
        rnd = self._rnd
        s = self.stats
        if not (self.duplicate or self.corrupt or self.reorder):
            # Loss alone: one draw per frame, the same draws as the general loop
            # below makes, so a seed gives the same output either way.
            offered = list(frames)
            loss, draw = self.loss, rnd.random
            out = [f for f in offered if not (loss and draw() < loss)] if loss else offered
            s.offered += len(offered)
            s.lost += len(offered) - len(out)
            s.delivered += len(out)
            return out
        out: list[bytes] = []
        held: list[tuple[int, int, bytes]] = []  # (release after n offered, order, frame)
        n = 0
        for frame in frames:
            n += 1
            s.offered += 1
            if held:
                ready = [h for h in held if h[0] <= n]
                if ready:
                    held = [h for h in held if h[0] > n]
                    out.extend(f for _, _, f in sorted(ready))
            if self.loss and rnd.random() < self.loss:
                s.lost += 1
                continue
            copies = [frame]
            if self.duplicate and rnd.random() < self.duplicate:
                copies.append(frame)
                s.duplicated += 1
            for copy in copies:
                if self.corrupt and rnd.random() < self.corrupt:
                    copy = self._damage(copy)
                    s.corrupted += 1
                if self.reorder and rnd.random() < self.reorder:
                    s.reordered += 1
                    held.append((n + rnd.randint(1, self.reorder_depth), n, copy))
                else:
                    out.append(copy)
        out.extend(f for _, _, f in sorted(held))
        s.delivered += len(out)
        return out


class Receiver(Protocol):
    """What :func:`deliver` needs of a meter (``VirtualMeter`` has it all).

    A receiver that also has ``receive_many(frames)`` (the same as ``receive``
    for each frame in turn) gets each round's frames in one call, unless
    ``airtime`` makes the clock move between frames. One that has
    ``download_session`` (the session ID of its open download, or None) tells
    :func:`deliver` whether the progress it reports is this delivery's.
    """

    def receive(self, frame: bytes) -> object: ...

    def missing_fragments(self) -> list[int]: ...

    def download_progress(self) -> tuple[int, int]: ...


class _Clocked(Protocol):
    def advance(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """How a delivery went. ``complete``: the meter reported every fragment received.
    ``refused``: the meter refused the session (its receipts said so); the
    reason is in its audit log."""

    rounds: int
    frames_sent: int  # frames handed to the link, first round and retransmissions
    frames_delivered: int  # frames that reached the meter (duplicates, damaged included)
    complete: bool
    refused: bool = False


#: Receipts that mean the meter will not take this session (VirtualMeter's Receipt values).
_REFUSALS = frozenset({"refused", "dropped-closed", "dropped-battery"})


def deliver(
    meter: Receiver,
    frames: Sequence[bytes],
    link: LossyLink | None = None,
    *,
    max_rounds: int = 50,
    airtime: float = 0.0,
    on_round: Callable[[int, int, int], object] | None = None,
) -> Delivery:
    """Send ``frames`` to ``meter`` over ``link`` (a perfect link when None), then
    each round the ones it reports missing, until it has all or ``max_rounds``.

    Each round's frames go to the meter's ``receive_many`` when it has one,
    else to ``receive`` one by one. ``airtime`` > 0 advances the meter's
    virtual clock by that many seconds per frame that reaches it (the meter
    must have ``advance``; frames then go one by one, the clock moving
    between them).

    While the meter's open download is another session (it keeps one that
    this session's header has not yet replaced, SPEC section 6), every frame
    goes again next round. The delivery stops at the first round whose
    receipts show the meter refusing the session (refused, a closed session,
    the battery) without taking any of its frames, or after a few rounds
    running in which frames reached the meter and none was taken.
    ``on_round`` is called after each round with (round, fragments received,
    fragment count) as the meter reports them -- for progress displays.
    """
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")
    link = link if link is not None else LossyLink(loss=0.0)
    clock: _Clocked | None = meter if airtime > 0 else None  # type: ignore[assignment]
    sid = session_of(frames)
    resend = by_fragment(frames, sid)  # a missing fragment goes again by its index
    session_of_meter = getattr(meter, "download_session", None)
    everything = range(len(frames))
    todo: Sequence[int] = everything
    sent = delivered = 0
    rounds = quiet = 0
    refused = False
    while rounds < max_rounds and todo:
        rounds += 1
        batch = [frames[i] for i in todo] if todo is everything else [resend[i] for i in todo]
        sent += len(batch)
        arrived = link.transmit(batch)
        burst = getattr(meter, "receive_many", None) if clock is None else None
        if burst is not None:
            receipts = list(burst(arrived))  # the round's frames at once, as the radio does
        else:
            receipts = []
            for frame in arrived:
                receipts.append(meter.receive(frame))
                if clock is not None:
                    clock.advance(airtime)
        delivered += len(arrived)
        received, count = meter.download_progress()
        if on_round is not None:
            on_round(rounds, received, count)
        ours = count > 0 and (session_of_meter is None or session_of_meter() == sid)
        if ours and received == count:
            return Delivery(rounds, sent, delivered, True)
        said = {str(getattr(r, "value", r)) for r in receipts}
        taken = bool(said & {"written", "duplicate"})
        if not taken and said & _REFUSALS:
            refused = True
            break  # the meter will not take this session
        if arrived and not taken:
            quiet += 1
            if quiet >= _PATIENCE:
                break  # frames arrive and none is taken
        else:
            quiet = 0
        todo = [i for i in meter.missing_fragments() if i < len(frames)] if ours else everything
    received, count = meter.download_progress()
    ours = count > 0 and (session_of_meter is None or session_of_meter() == sid)
    return Delivery(rounds, sent, delivered, ours and received == count, refused)
