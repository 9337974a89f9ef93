"""Every boot-state transition of the virtual meter lives in this module, as data.

The meter's update life cycle is the enum of COSEM attribute 0.0.96.10.2.255/2
(:class:`BootState`). It moves only through :func:`transition`, which looks the
pair (state, event) up in :data:`TRANSITIONS`; a pair that is not in the table
is a bug in the caller (the meter itself, or code driving it by hand) and
raises :class:`MeterUsageError` -- never something a peer can provoke. What a
peer sends that does not fit (a garbage frame, an activation with nothing to
activate) is refused *before* an event is made and shows up as an audit record
and a counter, not as an exception.
"""

from __future__ import annotations

import enum

from ..errors import MeteremuError

__all__ = [
    "TRANSITIONS",
    "BootState",
    "Event",
    "MeterUsageError",
    "transition",
]


class MeterUsageError(MeteremuError):
    """The API was misused: a call or a transition that makes no sense in this state.

    Distinct from what a peer sends: bad frames and refused requests are
    expected, counted and audited, never raised out of ``receive()``.
    """


class BootState(enum.Enum):
    """Attribute 2 of 0.0.96.10.2.255; the value is the enum's wire number."""

    IDLE = 0  # factory image running, no update ever started
    DOWNLOADING = 1  # a package is being written into the inactive bank
    VERIFIED = 2  # the inactive bank holds a complete package that passed acceptance
    TRIAL = 3  # the new image runs on trial, waiting for a heartbeat
    CONFIRMED = 4  # the last update was confirmed by a heartbeat
    REVERTED = 5  # the last update rolled back (previous bank or golden image)
    FAILED = 6  # the last update was refused, or the bank swap failed (F.03)


class Event(enum.Enum):
    DOWNLOAD_START = "download-start"  # first fragment/block of a new session written
    DOWNLOAD_RESUME = "download-resume"  # power-up found a session in progress
    ACCEPTED = "accepted"  # the acceptance check passed
    REJECTED = "rejected"  # the acceptance check failed, or the download was stopped
    REFUSED = "refused"  # a new session was refused before it began (size, battery)
    ACTIVATED = "activated"  # the boot-control record now points at the new bank
    SWAP_FAILED = "swap-failed"  # the boot-control record could not be written (F.03)
    CONFIRMED = "confirmed"  # heartbeat within the window
    REVERTED = "reverted"  # heartbeat window over, boot loop, or bank invalid at boot


_S = BootState
_E = Event

#: (state, event) -> next state. Not listed = not allowed.
TRANSITIONS: dict[tuple[BootState, Event], BootState] = {}


def _allow(states: tuple[BootState, ...], event: Event, target: BootState) -> None:
    for s in states:
        TRANSITIONS[(s, event)] = target


# A new download may start whenever no image is on trial (the inactive bank then
# holds the previous image, which a revert needs). It replaces a download in
# progress or a verified package: the head-end decides.
_allow((_S.IDLE, _S.DOWNLOADING, _S.VERIFIED, _S.CONFIRMED, _S.REVERTED, _S.FAILED),
       _E.DOWNLOAD_START, _S.DOWNLOADING)
_allow((_S.IDLE, _S.DOWNLOADING, _S.VERIFIED, _S.CONFIRMED, _S.REVERTED, _S.FAILED),
       _E.DOWNLOAD_RESUME, _S.DOWNLOADING)
# Acceptance runs on a complete download; verifying again is allowed.
_allow((_S.DOWNLOADING, _S.VERIFIED), _E.ACCEPTED, _S.VERIFIED)
_allow((_S.DOWNLOADING, _S.VERIFIED), _E.REJECTED, _S.FAILED)
# A session refused before it began, with no download open: the update failed.
_allow((_S.IDLE, _S.CONFIRMED, _S.REVERTED, _S.FAILED), _E.REFUSED, _S.FAILED)
_allow((_S.VERIFIED,), _E.ACTIVATED, _S.TRIAL)
_allow((_S.VERIFIED,), _E.SWAP_FAILED, _S.FAILED)
_allow((_S.TRIAL,), _E.CONFIRMED, _S.CONFIRMED)
# Revert: from trial (no heartbeat, boot loop), and from any state at power-up
# when the bank the boot-control record names no longer validates.
_allow(tuple(_S), _E.REVERTED, _S.REVERTED)


def transition(state: BootState, event: Event) -> BootState:
    """The state after ``event`` in ``state``; :class:`MeterUsageError` if not allowed."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise MeterUsageError(
            f"event {event.value!r} is not allowed in boot state {state.name.lower()}"
        ) from None


class Receipt(enum.Enum):
    """What ``receive()`` did with a frame (also counted in ``counters``)."""

    WRITTEN = "written"
    DUPLICATE = "duplicate"
    DROPPED_FRAME = "dropped-frame"  # not a fragment frame: type, length or FCS wrong
    DROPPED_LENGTH = "dropped-length"
    DROPPED_SESSION = "dropped-session"  # another session holds the bank
    DROPPED_CLOSED = "dropped-closed"  # a frame of a session that is over (late, or refused)
    DROPPED_INDEX = "dropped-index"
    DROPPED_STATE = "dropped-state"  # no download possible now (image on trial)
    DROPPED_UNAVAILABLE = "dropped-unavailable"  # off or booting
    DROPPED_BATTERY = "dropped-battery"  # battery reserve at its minimum, or session refused
    REFUSED = "refused"  # the download was stopped (header refused, conflict, flash fault)
