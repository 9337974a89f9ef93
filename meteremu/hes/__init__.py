"""Head-end tools: cut a package into mesh fragment frames, carry them over a
deterministic lossy link, and deliver them to a meter round by round until it
has every fragment."""

from __future__ import annotations

from .fragments import (
    by_fragment,
    fragment_count,
    fragment_package,
    missing_indices,
    retransmission,
    session_of,
)
from .link import Delivery, LinkStats, LossyLink, Receiver, deliver

__all__ = [
    "Delivery",
    "LinkStats",
    "LossyLink",
    "Receiver",
    "by_fragment",
    "deliver",
    "fragment_count",
    "fragment_package",
    "missing_indices",
    "retransmission",
    "session_of",
]
