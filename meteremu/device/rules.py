"""Every rule of the meter's update life cycle, in one module, as data.

Four tables, each ``(state, event) -> next state | Refusal``:

* :data:`BOOT` -- the boot state (attribute 2 of 0.0.96.10.2.255): the
  update's life cycle, and the requests it allows (a download frame, a class
  18 initiate, an activation, a heartbeat) or refuses, and why;
* :data:`IMAGE_TRANSFER` -- attribute 6 of the class 18 object 0.0.44.0.0.255,
  as the Blue Book numbers it;
* :data:`AVAILABILITY` -- whether the meter answers at all: off, booting
  (slow boot), on, or silent with a fault on its display (F.03, F.04);
* :data:`RESTORE` -- the boot state a power-up rebuilds from the facts in
  flash (the boot-control record, an open download, the persisted state),
  first matching row wins.

A pair that is not in its table is a bug in the caller and raises
:class:`~meteremu.errors.MeterUsageError`; a :class:`Refusal` is the rules
saying no to something a peer asked (the meter reports it, nothing changes).
``docs/METER.md``'s tables are generated from these (:func:`markdown`), and a
test checks they agree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from .._lowlevel.boot import BootState as RecordState
from .._lowlevel.boot import Outcome
from ..errors import INVALID_REQUEST, ErrorCode, MeterUsageError

__all__ = [
    "AVAILABILITY",
    "BOOT",
    "IMAGE_TRANSFER",
    "RESTORE",
    "Availability",
    "AvailabilityEvent",
    "BootState",
    "Event",
    "ImageTransferEvent",
    "ImageTransferStatus",
    "Refusal",
    "RestoreRule",
    "markdown",
    "restored_state",
    "step",
]


class _Member(enum.Enum):
    """An enum hashed by identity, in C: its members are singletons compared by
    identity, and the rules tables below are dicts keyed by them, looked up
    on every block and frame (``enum.Enum.__hash__`` is Python code)."""

    __hash__ = object.__hash__


class BootState(_Member):
    """Attribute 2 of 0.0.96.10.2.255; the value is the enum's wire number."""

    IDLE = 0  # factory image running, no update ever started
    DOWNLOADING = 1  # a package is being written into the inactive bank
    VERIFIED = 2  # the inactive bank holds a complete package that passed acceptance
    TRIAL = 3  # the new image runs on trial, waiting for a heartbeat
    CONFIRMED = 4  # the last update was confirmed by a heartbeat
    REVERTED = 5  # the last update rolled back (previous bank or golden image)
    FAILED = 6  # the last update was refused, or the bank swap failed (F.03)


class ImageTransferStatus(enum.IntEnum):
    """Class 18 attribute 6, as the Blue Book numbers it."""

    NOT_INITIATED = 0
    INITIATED = 1
    VERIFICATION_INITIATED = 2
    VERIFICATION_SUCCESSFUL = 3
    VERIFICATION_FAILED = 4
    ACTIVATION_INITIATED = 5
    ACTIVATION_SUCCESSFUL = 6
    ACTIVATION_FAILED = 7


class Availability(_Member):
    OFF = "off"  # no power
    BOOTING = "booting"  # a slow-boot image is starting: nothing answers yet
    ON = "on"  # the meter answers
    SWAP_FAULT = "F.03"  # a boot-control record could not be written at boot: nothing runs
    NO_IMAGE = "F.04"  # no bank validates, the golden image included: nothing runs


@dataclass(frozen=True)
class Refusal:
    """The rules refuse a request: ``reason`` says why (it is what a caller
    reports); ``error`` is the audit-log record when the refusal is one."""

    reason: str
    error: ErrorCode | None = None


class Event(_Member):
    """What happens to the update (the meter's own events) and what a peer asks."""

    # the update's life cycle
    DOWNLOAD_START = "download-start"  # a new session opened
    DOWNLOAD_RESUME = "download-resume"  # a power-up found a session in progress
    ACCEPTED = "accepted"  # the acceptance check passed
    REJECTED = "rejected"  # the open download was stopped (acceptance, conflict, fault)
    REFUSED = "refused"  # a new session was refused before it began (size, battery)
    ACTIVATED = "activated"  # the boot-control record now points at the new bank
    SWAP_FAILED = "swap-failed"  # the boot-control record could not be written (F.03)
    CONFIRMED = "confirmed"  # heartbeat within the window
    REVERTED = "reverted"  # heartbeat window over, boot loop, or a bank invalid at boot
    # requests a peer makes, allowed or refused here
    FRAME = "frame"  # a download frame of a session not yet open
    INITIATE = "initiate"  # class 18 method 1
    ACTIVATE = "activate"  # 0.0.96.10.2.255 method 1, class 18 method 4
    HEARTBEAT = "heartbeat"  # the first management association, or an explicit call


_S = BootState
_E = Event
_ANY = tuple(BootState)
_NOT_TRIAL = tuple(s for s in BootState if s is not _S.TRIAL)
_ON_TRIAL = Refusal("an image is on trial: the other bank is its fallback")
_NOTHING_TO_ACTIVATE = Refusal("no verified image to activate", INVALID_REQUEST)
_NOT_ON_TRIAL = Refusal("no image is on trial")


def _rows(states: tuple[BootState, ...], event: Event,
          result: BootState | Refusal | None) -> dict[tuple[BootState, Event], BootState | Refusal]:
    """``result`` for each state; None: the state stays as it is."""
    return {(s, event): s if result is None else result for s in states}


#: The boot state: (state, event) -> next state, or the refusal of a request.
BOOT: Mapping[tuple[BootState, Event], BootState | Refusal] = {
    # A new download may start whenever no image is on trial (the inactive bank
    # then holds the previous image, which a revert needs); which session may
    # replace which is the download's rule (SPEC 6), not the boot state's.
    **_rows(_NOT_TRIAL, _E.DOWNLOAD_START, _S.DOWNLOADING),
    **_rows(_NOT_TRIAL, _E.DOWNLOAD_RESUME, _S.DOWNLOADING),
    **_rows((_S.DOWNLOADING, _S.VERIFIED), _E.ACCEPTED, _S.VERIFIED),
    **_rows((_S.DOWNLOADING, _S.VERIFIED), _E.REJECTED, _S.FAILED),
    # A session refused before it began: the update failed, unless a download
    # is open (it goes on).
    **_rows((_S.IDLE, _S.CONFIRMED, _S.REVERTED, _S.FAILED), _E.REFUSED, _S.FAILED),
    **_rows((_S.DOWNLOADING, _S.VERIFIED), _E.REFUSED, None),
    **_rows((_S.VERIFIED,), _E.ACTIVATED, _S.TRIAL),
    **_rows((_S.VERIFIED,), _E.SWAP_FAILED, _S.FAILED),
    **_rows((_S.TRIAL,), _E.CONFIRMED, _S.CONFIRMED),
    # Revert: from trial (no heartbeat, boot loop), and from any state at
    # power-up when the bank the boot-control record names no longer validates.
    **_rows(_ANY, _E.REVERTED, _S.REVERTED),
    # requests
    **_rows(_NOT_TRIAL, _E.FRAME, None),
    **_rows((_S.TRIAL,), _E.FRAME, _ON_TRIAL),
    **_rows(_NOT_TRIAL, _E.INITIATE, None),
    **_rows((_S.TRIAL,), _E.INITIATE, _ON_TRIAL),
    # an activation of a complete download runs acceptance first
    **_rows((_S.DOWNLOADING, _S.VERIFIED), _E.ACTIVATE, None),
    **_rows((_S.IDLE, _S.TRIAL, _S.CONFIRMED, _S.REVERTED, _S.FAILED), _E.ACTIVATE,
            _NOTHING_TO_ACTIVATE),
    **_rows((_S.TRIAL,), _E.HEARTBEAT, None),
    **_rows(_NOT_TRIAL, _E.HEARTBEAT, _NOT_ON_TRIAL),
}


class ImageTransferEvent(_Member):
    INITIATED = "initiated"  # a class 18 session opened (or resumed)
    MESH_SESSION = "mesh-session"  # a mesh session took the bank
    BLOCK = "block"  # a block was taken
    VERIFY = "verify"  # method 3 asked
    VERIFY_OK = "verify-ok"
    VERIFY_FAILED = "verify-failed"  # acceptance failed, or the download was stopped
    ACTIVATE = "activate"  # method 4 asked
    ACTIVATE_OK = "activate-ok"
    ACTIVATE_FAILED = "activate-failed"
    POWER_UP = "power-up"  # RAM lost: no class 18 session unless flash holds one


_T = ImageTransferStatus
_I = ImageTransferEvent
_ALL_T = tuple(ImageTransferStatus)
_NOT_VERIFIED = Refusal("the image is not verified (attribute 6 is not 3)", INVALID_REQUEST)


def _trows(states: tuple[ImageTransferStatus, ...], event: ImageTransferEvent,
           result: ImageTransferStatus | Refusal) -> dict[
               tuple[ImageTransferStatus, ImageTransferEvent], ImageTransferStatus | Refusal]:
    return {(s, event): result for s in states}


#: Class 18 attribute 6: (status, event) -> next status, or the refusal of a request.
IMAGE_TRANSFER: Mapping[tuple[ImageTransferStatus, ImageTransferEvent],
                        ImageTransferStatus | Refusal] = {
    **_trows(_ALL_T, _I.INITIATED, _T.INITIATED),
    **_trows(_ALL_T, _I.MESH_SESSION, _T.NOT_INITIATED),
    **_trows(_ALL_T, _I.POWER_UP, _T.NOT_INITIATED),
    # a block after a failed verification takes the transfer up again
    **_trows((_T.INITIATED, _T.VERIFICATION_FAILED), _I.BLOCK, _T.INITIATED),
    **_trows((_T.VERIFICATION_SUCCESSFUL,), _I.BLOCK, _T.VERIFICATION_SUCCESSFUL),
    **_trows(_ALL_T, _I.VERIFY, _T.VERIFICATION_INITIATED),
    **_trows(_ALL_T, _I.VERIFY_OK, _T.VERIFICATION_SUCCESSFUL),
    **_trows(_ALL_T, _I.VERIFY_FAILED, _T.VERIFICATION_FAILED),
    **_trows((_T.VERIFICATION_SUCCESSFUL,), _I.ACTIVATE, _T.ACTIVATION_INITIATED),
    **_trows(tuple(s for s in _ALL_T if s is not _T.VERIFICATION_SUCCESSFUL), _I.ACTIVATE,
             _NOT_VERIFIED),
    **_trows((_T.ACTIVATION_INITIATED,), _I.ACTIVATE_OK, _T.ACTIVATION_SUCCESSFUL),
    **_trows((_T.ACTIVATION_INITIATED,), _I.ACTIVATE_FAILED, _T.ACTIVATION_FAILED),
}


class AvailabilityEvent(_Member):
    POWER_DOWN = "power-down"  # mains lost, or a cut hit a flash operation
    BOOTED = "booted"  # an image came up
    SLOW_BOOT = "slow-boot"  # a slow-boot image came up: silent for a while
    SLOW_BOOT_OVER = "slow-boot-over"
    SWAP_FAULT = "swap-fault"  # a record write failed at boot (F.03)
    NO_IMAGE = "no-image"  # nothing validates (F.04)


_A = Availability
_V = AvailabilityEvent

#: Whether the meter answers: (availability, event) -> next availability.
AVAILABILITY: Mapping[tuple[Availability, AvailabilityEvent], Availability] = {
    **{(a, _V.POWER_DOWN): _A.OFF for a in Availability},
    # a boot: at power-up, and at a bank swap, revert or watchdog reset while on
    **{(a, _V.BOOTED): _A.ON for a in (_A.OFF, _A.ON, _A.BOOTING)},
    **{(a, _V.SLOW_BOOT): _A.BOOTING for a in (_A.OFF, _A.ON, _A.BOOTING)},
    (_A.BOOTING, _V.SLOW_BOOT_OVER): _A.ON,
    **{(a, _V.SWAP_FAULT): _A.SWAP_FAULT for a in (_A.OFF, _A.ON, _A.BOOTING)},
    **{(a, _V.NO_IMAGE): _A.NO_IMAGE for a in (_A.OFF, _A.ON, _A.BOOTING)},
}


@dataclass(frozen=True)
class RestoreRule:
    """A row of :data:`RESTORE`: when every given fact matches, the state is
    ``result`` (``None``: the one the last update's outcome names)."""

    record: RecordState | None  # the boot-control record's state; None: any
    download_open: bool | None  # a download session open on flash; None: any
    persisted: frozenset[BootState] | None  # the state in the newest snapshot; None: any
    result: BootState | None
    why: str


_STALE = frozenset({_S.DOWNLOADING, _S.VERIFIED, _S.TRIAL})

#: Power-up: the boot state from the facts in flash; the first row that matches.
RESTORE: tuple[RestoreRule, ...] = (
    RestoreRule(RecordState.TRIAL, None, None, _S.TRIAL,
                "the record says trial: the new image is on trial again"),
    RestoreRule(None, True, None, _S.DOWNLOADING,
                "a download is open: it resumes (a complete one is checked again)"),
    RestoreRule(None, False, _STALE, None,
                "the snapshot names a download or trial that is over: the outcome says how"),
    RestoreRule(None, None, None, None, "otherwise: the persisted state"),
)
#: The state a stale snapshot gives way to, by the record's outcome byte.
BY_OUTCOME: Mapping[Outcome, BootState] = {
    Outcome.NONE: _S.IDLE, Outcome.CONFIRMED: _S.CONFIRMED, Outcome.REVERTED: _S.REVERTED,
}


def restored_state(record: RecordState, outcome: Outcome, download_open: bool,
                   persisted: BootState) -> BootState:
    """The boot state after a power-up, by :data:`RESTORE`."""
    for rule in RESTORE:
        if rule.record is not None and rule.record is not record:
            continue
        if rule.download_open is not None and rule.download_open is not download_open:
            continue
        if rule.persisted is not None and persisted not in rule.persisted:
            continue
        if rule.result is not None:
            return rule.result
        return BY_OUTCOME[outcome] if rule.persisted is not None else persisted
    raise AssertionError("RESTORE's last row matches everything")  # pragma: no cover


def step(table: Mapping[tuple[object, object], object], state: object, event: object) -> object:
    """``table[(state, event)]``; :class:`MeterUsageError` when the pair is not there."""
    try:
        return table[(state, event)]
    except KeyError:
        name = getattr(state, "name", state)
        value = getattr(event, "value", event)
        raise MeterUsageError(f"event {value!r} is not allowed in {str(name).lower()}") from None


# ---------------------------------------------------------------- docs/METER.md
def _name(x: object) -> str:
    if isinstance(x, Refusal):
        return f"refused: {x.reason}" + (f" ({x.error.code})" if x.error else "")
    return str(getattr(x, "name", x)).lower().replace("_", "-")


def _grouped(table: Mapping[tuple[object, object], object], events: list[object],
             states: list[object]) -> list[str]:
    """One row per (event, result): the states it applies in, then the result."""
    rows = []
    for event in events:
        by_result: dict[object, list[object]] = {}
        for state in states:
            if (state, event) in table:
                result = table[(state, event)]
                key = "(unchanged)" if result == state else result
                by_result.setdefault(key, []).append(state)
        for result, where in by_result.items():
            froms = "any" if len(where) == len(states) else ", ".join(map(_name, where))
            shown = result if isinstance(result, str) else _name(result)
            rows.append(f"| {_name(event)} | {froms} | {shown} |")
    return rows


def markdown() -> str:
    """The rules as the Markdown tables docs/METER.md carries (between its
    ``<!-- rules -->`` markers): ``python -m meteremu.device``."""
    out = ["<!-- rules: generated by `python -m meteremu.device`; do not edit -->", "",
           "Boot state (0.0.96.10.2.255 attribute 2):", "",
           "| event | in | becomes |", "| --- | --- | --- |"]
    out += _grouped(BOOT, list(Event), list(BootState))
    out += ["", "Image transfer status (0.0.44.0.0.255 attribute 6):", "",
            "| event | in | becomes |", "| --- | --- | --- |"]
    out += _grouped(IMAGE_TRANSFER, list(ImageTransferEvent), list(ImageTransferStatus))
    out += ["", "Availability (off, booting, on; F.03 and F.04 when nothing runs):", "",
            "| event | in | becomes |", "| --- | --- | --- |"]
    out += _grouped(AVAILABILITY, list(AvailabilityEvent), list(Availability))
    out += ["", "Power-up (first row that matches):", "",
            "| record | download open | persisted state | boot state | why |",
            "| --- | --- | --- | --- | --- |"]
    for r in RESTORE:
        persisted = "any" if r.persisted is None else ", ".join(
            _name(s) for s in BootState if s in r.persisted)
        result = _name(r.result) if r.result is not None else (
            "by outcome: " + ", ".join(f"{_name(o)} → {_name(s)}" for o, s in BY_OUTCOME.items())
            if r.persisted is not None else "the persisted state")
        record = "any" if r.record is None else _name(r.record)
        opened = "any" if r.download_open is None else ("yes" if r.download_open else "no")
        out.append(f"| {record} | {opened} | {persisted} | {result} | {r.why} |")
    out += ["", "<!-- /rules -->"]
    return "\n".join(out) + "\n"

