"""What a DLMS connection reports: frozen events, for logs, counters and tests.

A server connection returns them from ``receive_data``; none of them asks the
caller to do anything but :class:`ConnectionClosed`, which says the
transport must close once the bytes to send are out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ApduRefused",
    "Associated",
    "AssociationRejected",
    "ConnectionClosed",
    "Event",
    "Released",
    "Served",
]


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class Associated(Event):
    client: int  # client SAP
    meter: int  # server wPort (logical device address) of the meter
    conformance: int  # negotiated
    max_pdu: int  # the client's max receive PDU
    heartbeat: bool  # the association confirmed an image on trial


@dataclass(frozen=True)
class AssociationRejected(Event):
    client: int
    diagnostic: int
    reason: str


@dataclass(frozen=True)
class Released(Event):
    client: int


@dataclass(frozen=True)
class Served(Event):
    """One GET/SET/ACTION item: ``service`` (get, set, action), the object and
    attribute/method, and the result's name (``success``, ``read-write-denied``...)."""

    service: str
    obis: str
    index: int
    result: str


@dataclass(frozen=True)
class ApduRefused(Event):
    """An APDU answered with an exception-response or ignored (malformed,
    unsupported, not allowed now)."""

    reason: str


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The connection ends: close it once :meth:`data_to_send` is written."""

    reason: str
