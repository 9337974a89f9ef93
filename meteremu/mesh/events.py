"""What happens in a broadcast, as frozen event objects.

The broadcast (:mod:`.broadcast`) emits them as they happen to its
observers; the report (:mod:`.report`) is a fold over them, so it says what
the simulation did, not what counters said afterwards. Times are the event
queue's nanoseconds since the broadcast started.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BillingRead",
    "BroadcastEnded",
    "BroadcastStarted",
    "MeshEvent",
    "MeterFinal",
    "OnAir",
    "ReportArrived",
    "ReportLost",
    "RoundEnded",
    "RoundStarted",
]


class MeshEvent:
    """Base of the broadcast's events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class BroadcastStarted(MeshEvent):
    session: int
    fragments: int
    members: tuple[str, ...]  # the group's meters, parents before children
    relays: int  # nodes that forward for the group (members or not)
    nodes: tuple[str, ...]  # every node of the mesh (billing reads any of them)


@dataclass(frozen=True, slots=True)
class OnAir(MeshEvent):
    """One transmission, seen when it ends.

    ``kind``: ``fragment`` (the concentrator's broadcast), ``relay`` (a meter
    forwarding a fragment to its children), ``report`` (a status report one
    hop up, each attempt one event; ``retry`` from the second attempt on),
    ``billing`` (one hop of a billing read). ``node``: the sender (the
    concentrator's ID for its own). ``listeners``: the nodes whose radios
    receive it (children for a broadcast, the parent for a unicast).
    """

    start: int
    end: int
    kind: str
    node: str
    listeners: tuple[str, ...]
    fota: bool = True
    retry: bool = False


@dataclass(frozen=True, slots=True)
class RoundStarted(MeshEvent):
    round: int
    t: int
    fragments: int  # fragments in the union the concentrator sends
    waiting: int  # members the concentrator still waits for


@dataclass(frozen=True, slots=True)
class ReportArrived(MeshEvent):
    """A member's status report reached the concentrator."""

    t: int
    round: int
    member: str
    kind: str  # complete, missing, refused
    missing: int  # fragments it still wants (missing)
    code: str | None


@dataclass(frozen=True, slots=True)
class ReportLost(MeshEvent):
    """A report went no further: ``queue`` -- ``node``'s upstream queue was full
    when it came (saturation); ``path`` -- ``node`` could not get it to its
    parent within its MAC retries."""

    t: int
    round: int
    member: str
    node: str
    cause: str
    complete: bool  # the report said the member had the whole image


@dataclass(frozen=True, slots=True)
class RoundEnded(MeshEvent):
    """A round is over: every report of it arrived or was lost. Counts by what
    the concentrator knows and what the meters hold (see :mod:`.report`)."""

    round: int
    t: int
    complete: int
    pending: int
    incomplete: int
    refused: int


@dataclass(frozen=True, slots=True)
class MeterFinal(MeshEvent):
    """A member at the end of the broadcast."""

    member: str
    outcome: str  # complete, pending, incomplete, refused
    reported: str | None  # the final status the concentrator received (complete, refused)
    received: int
    count: int
    boot_state: str
    code: str | None  # its FOTA_ERR code when it refused
    audit: str | None  # that audit-log line
    receipt: str | None  # the receipt that said it refused, when no record did
    battery_start_mj: float | None
    battery_end_mj: float | None
    frames_heard: int
    depth: int


@dataclass(frozen=True, slots=True)
class BillingRead(MeshEvent):
    """A billing read of ``node`` (request down, response up) that is done."""

    node: str
    arrived: int
    done: int
    service: int  # its own airtime: the latency with an idle channel


@dataclass(frozen=True, slots=True)
class BroadcastEnded(MeshEvent):
    t: int
    rounds: int
