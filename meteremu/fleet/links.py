"""Each fleet meter's downlink: Bernoulli loss drawn from its own generator.

The link of meter ``serial`` under broadcast seed ``seed`` is a xorshift64*
generator started from :func:`link_seed` (a hash of both, so adding or
removing a meter never changes another's draws) and a loss threshold
``round(loss * 2**32)``. Every frame on the air takes one draw from every
meter's link, in the order the frames are sent; the frame is heard when the
draw's top 32 bits are at or above the threshold. The C core draws these in
:func:`meteremu._lowlevel.fleet.RoundRunner.run`; :class:`Link` is the same
thing in Python (the reference the tests hold the C against, and what a
caller uses to drive one meter the way the fleet drives it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .._lowlevel.fleet import draw, loss_threshold

__all__ = ["Link", "link_seed"]


def link_seed(seed: int, serial: str) -> int:
    """The nonzero 64-bit starting state of ``serial``'s link under ``seed``."""
    h = hashlib.blake2b(f"{seed}\0{serial}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") | 1


class Link:
    """One meter's link: ``heard(frames)`` is the frames it receives, in order."""

    def __init__(self, seed: int, serial: str, loss: float) -> None:
        self.state = link_seed(seed, serial)
        self.threshold = loss_threshold(loss)

    def hears(self) -> bool:
        """One frame on the air: True when this meter receives it."""
        self.state, r = draw(self.state)
        return r >= self.threshold

    def heard(self, frames: Sequence[bytes]) -> list[bytes]:
        return [f for f in frames if self.hears()]
