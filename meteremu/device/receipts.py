"""What the meter did with a download frame (``receive()`` returns one; each is
also counted in ``meter.counters`` under its value)."""

from __future__ import annotations

import enum

__all__ = ["Receipt"]


class Receipt(enum.Enum):
    WRITTEN = "written"  # a new fragment on flash (or a header fragment held in RAM)
    DUPLICATE = "duplicate"
    DROPPED_FRAME = "dropped-frame"  # not a fragment frame: type, length or FCS wrong
    DROPPED_LENGTH = "dropped-length"
    DROPPED_SESSION = "dropped-session"  # another session holds the bank
    DROPPED_CLOSED = "dropped-closed"  # a frame of a session that is over (late, or refused)
    DROPPED_INDEX = "dropped-index"
    DROPPED_STATE = "dropped-state"  # no download possible now (image on trial)
    DROPPED_UNAVAILABLE = "dropped-unavailable"  # off or booting
    DROPPED_BATTERY = "dropped-battery"  # battery reserve at its minimum, or session refused
    REFUSED = "refused"  # the session was refused (header, conflict, flash fault, size)
