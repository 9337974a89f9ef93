"""What the meter reports, as frozen event objects (h11 style): a caller drains
them with :meth:`VirtualMeter.drain_events`; the audit log is written from
them (:meth:`Event.line`), so a campaign database or a mesh report reads the
same facts as the log, without parsing it.

Every event carries ``at``, the meter's real-time clock when it happened
(ISO 8601, whole seconds), and ``t``, the emulation seconds since the meter
was made. Events that are also audit records render as the seed's lines::

    2026-11-27T10:00:05Z FOTA_ERR 0x8005 signature mismatch key_id=0123456789abcdef
    2026-11-27T10:07:12Z FOTA_OK CONFIRMED version=2.0.0 bank=B
    2026-11-27T10:00:00Z FOTA_EVT DOWNLOAD_START session=0x1234abcd fragments=1024

``FOTA_ERR`` lines carry an operator code from the error table, so ``grep
0xE04`` finds every signature failure; ``FOTA_OK`` marks a milestone reached;
``FOTA_EVT`` everything else worth knowing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ErrorCode
from .rules import BootState

__all__ = [
    "Activated",
    "BatteryReplaced",
    "BootFailed",
    "Booted",
    "ClockSet",
    "Confirmed",
    "DownloadComplete",
    "DownloadProgress",
    "DownloadStarted",
    "Event",
    "FloorMismatch",
    "FrameDropped",
    "Refused",
    "RolledBack",
    "StateChanged",
    "Verified",
    "format_fields",
]


def format_fields(fields: tuple[tuple[str, object], ...]) -> str:
    return "".join([f" {k}={v}" for k, v in fields if v is not None])


@dataclass(frozen=True)
class Event:
    """Base of every event: when it happened."""

    at: str  # the meter's clock, ISO 8601 UTC
    t: Fraction  # emulation seconds

    def line(self) -> str | None:
        """The audit-log line, or None for an event the log does not keep."""
        return None


@dataclass(frozen=True)
class _Logged(Event):
    """An event that is an audit record: ``FOTA_<kind> <what> k=v ...``."""

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        raise NotImplementedError

    def line(self) -> str:
        kind, what, fields = self._record()
        return f"{self.at} FOTA_{kind} {what}{format_fields(fields)}"


@dataclass(frozen=True)
class Refused(_Logged):
    """A refusal or a fault with its error-table record (``FOTA_ERR``)."""

    error: ErrorCode
    fields: tuple[tuple[str, object], ...] = ()

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "ERR", f"{self.error.code} {self.error.name}", self.fields

    def field(self, name: str) -> object:
        return dict(self.fields).get(name)


@dataclass(frozen=True)
class StateChanged(Event):
    """The boot state (0.0.96.10.2.255 attribute 2) changed."""

    old: BootState
    new: BootState


@dataclass(frozen=True)
class DownloadStarted(_Logged):
    session: int
    kind: str  # "mesh" or "dlms"
    fragments: int
    bank: str

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "DOWNLOAD_START", (("session", f"0x{self.session:08x}"),
                                         ("fragments", self.fragments), ("bank", self.bank))


@dataclass(frozen=True)
class DownloadProgress(Event):
    """Fragments received so far in the open session (after a burst or a block)."""

    session: int
    received: int
    count: int


@dataclass(frozen=True)
class DownloadComplete(_Logged):
    session: int
    fragments: int

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "DOWNLOAD_COMPLETE", (("fragments", self.fragments),)


@dataclass(frozen=True)
class FrameDropped(_Logged):
    """Frames of a session the meter will not take (logged once per session)."""

    session: int
    reason: str

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "FRAME_DROPPED", (("reason", self.reason),
                                        ("session", f"0x{self.session:08x}"))


@dataclass(frozen=True)
class Verified(_Logged):
    version: str
    bank: str
    behaviour: str | None

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "OK", "VERIFIED", (("version", self.version), ("bank", self.bank),
                                  ("behaviour", self.behaviour))


@dataclass(frozen=True)
class Activated(_Logged):
    bank: str

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "OK", "ACTIVATED", (("bank", self.bank),)


@dataclass(frozen=True)
class Booted(_Logged):
    version: str
    bank: str
    trial: bool
    cold: bool

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "BOOT", (("version", self.version), ("bank", self.bank),
                               ("trial", 1 if self.trial else None),
                               ("cold", 1 if self.cold else None))


@dataclass(frozen=True)
class BootFailed(_Logged):
    """The image crashed while coming up (crash-on-boot): a watchdog reset."""

    version: str
    attempt: int

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "BOOT_FAIL", (("version", self.version), ("attempt", self.attempt))


@dataclass(frozen=True)
class RolledBack(_Logged):
    """The meter left an image: ``reason`` no-heartbeat, boot-loop or invalid-bank."""

    reason: str
    bank: str  # the bank it runs now (no-heartbeat: the one it goes back to)
    version: str | None = None  # the image given up (no-heartbeat)

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "ROLLBACK", (("reason", self.reason), ("version", self.version),
                                   ("bank", self.bank))


@dataclass(frozen=True)
class Confirmed(_Logged):
    version: str
    bank: str
    counter: int

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "OK", "CONFIRMED", (("version", self.version), ("bank", self.bank),
                                   ("counter", self.counter))


@dataclass(frozen=True)
class ClockSet(_Logged):
    was: str

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "CLOCK_SET", (("was", self.was),)


@dataclass(frozen=True)
class BatteryReplaced(_Logged):
    reserve: str

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "BATTERY_REPLACED", (("reserve", self.reserve),)


@dataclass(frozen=True)
class FloorMismatch(_Logged):
    """At power-up the boot-control record and the floor region disagreed."""

    record: int
    otp: int
    floor: int

    def _record(self) -> tuple[str, str, tuple[tuple[str, object], ...]]:
        return "EVT", "FLOOR_MISMATCH", (("record", self.record), ("otp", self.otp),
                                         ("floor", self.floor))


def _quick_init(cls: type[Event]) -> None:
    """Give the frozen event dataclass ``cls`` an ``__init__`` that stores its
    fields straight into the instance's dict, where the generated one calls
    ``object.__setattr__`` once per field: the same parameters and defaults,
    the same dict (order included), about twice as fast -- a fleet makes
    events by the hundred thousand. The generated one stays reachable as
    ``__init__.__wrapped__`` (tests/test_short_paths.py holds the two equal).
    Generated source, as dataclasses' own."""
    fields = dataclasses.fields(cls)
    if any(not f.init or f.default_factory is not dataclasses.MISSING for f in fields) or (
            hasattr(cls, "__post_init__")):
        return  # (none of ours: keep the generated one)
    env = {f"_default_{f.name}": f.default for f in fields
           if f.default is not dataclasses.MISSING}
    params = ", ".join(f.name if f.default is dataclasses.MISSING else
                       f"{f.name}=_default_{f.name}" for f in fields)
    stores = "".join(f"\n    _dict_[{f.name!r}] = {f.name}" for f in fields)
    exec(f"def __init__(self, {params}) -> None:\n    _dict_ = self.__dict__{stores}", env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__wrapped__ = cls.__init__
    cls.__init__ = init  # type: ignore[misc]


def _all_events(cls: type[Event]) -> list[type[Event]]:
    return [cls] + [c for sub in cls.__subclasses__() for c in _all_events(sub)]


EVENT_CLASSES = tuple(_all_events(Event))  #: Event and every event class
for _cls in EVENT_CLASSES:
    _quick_init(_cls)
