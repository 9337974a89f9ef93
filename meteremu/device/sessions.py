"""Recently closed download sessions, kept in NVM (SPEC section 6).

A meter hears broadcasts meant for others, rounds re-sent for slower meters
and stray frames. Frames of a session that is over -- activated, refused or
replaced by a newer one -- must be dropped, also after a power cut, or a late
frame would open that session again and erase the bank. The meter keeps the
IDs of the last :data:`KEEP` closed sessions: in RAM for the per-frame check,
and as records in a ring of NVM sectors, read back at every power-up.

The record is :data:`meteremu.wire.nvm.SessionRecord` (32 bytes: kind,
session ID, why it closed, the meter clock; docs/FORMAT.md).

Only the newest :data:`KEEP` matter: an ID is not dead forever, so a head-end
that reuses IDs long after is heard again.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator
from typing import Any

from ..errors import FlashError, FlashPowerError, NvmExhausted
from ..wire.nvm import SessionRecord
from .layout import Region
from .nvm import RecordRing

__all__ = ["KEEP", "CloseReason", "ClosedSessions", "SessionRecord"]

#: How many closed sessions the meter remembers.
KEEP = 16


class CloseReason(enum.IntEnum):
    ACTIVATED = 0  # its image was activated
    REFUSED = 1  # the header, a fragment, acceptance or the battery refused it
    REPLACED = 2  # a newer session took the bank, or it made no progress for too long


class ClosedSessions:
    """The last :data:`KEEP` closed sessions as ``(kind, session_id)`` pairs."""

    def __init__(self, flash: Any, region: Region, sector_size: int) -> None:
        self.ring = RecordRing(flash, region, SessionRecord, sector_size)
        self._recent: deque[tuple[int, int]] = deque(maxlen=KEEP)
        self._reasons: dict[tuple[int, int], int] = {}  # why each closed (newest record)
        self.write_failures = 0

    def load(self) -> None:
        """Read the ring back (at power-up)."""
        self._recent.clear()
        self._reasons = {}
        for rec in self.ring.load()[-KEEP:]:
            key = (rec.kind, rec.session_id)
            self._recent.append(key)
            self._reasons[key] = rec.reason

    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self._recent

    def reason(self, key: tuple[int, int]) -> CloseReason | None:
        """Why session ``key`` closed, if it is among the closed ones (None also
        for a reason this version does not know, read from flash)."""
        if key not in self._recent:
            return None
        try:
            return CloseReason(self._reasons[key])
        except (KeyError, ValueError):
            return None

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(tuple(self._recent))

    def add(self, kind: int, session_id: int, reason: CloseReason, clock: int) -> None:
        """Remember a closed session (nothing is written when it is remembered
        already). A power cut propagates; another flash failure is counted and
        the session is remembered in RAM until the next power-up (the ring
        skips a failing sector; the caller logs what ``ring.take_news`` says)."""
        key = (kind, session_id)
        if key in self._recent:
            return
        self._recent.append(key)
        self._reasons[key] = int(reason)
        if len(self._reasons) > 2 * KEEP:  # (keys that fell out of the last KEEP)
            self._reasons = {k: self._reasons[k] for k in self._recent}
        try:
            self.ring.append_fields(kind, session_id, int(reason), clock)
        except FlashPowerError:
            raise
        except (FlashError, NvmExhausted):
            self.write_failures += 1
