"""What the mesh needs of a node's meter, and the node's side of the protocol.

The mesh drives meters only through :class:`MeshMeter` -- the part of
:class:`~meteremu.device.VirtualMeter`'s public API a radio needs -- so a
memory-cheap fleet of meters can stand in later behind the same methods
(docs/MESH.md, "Scale"). :class:`MeterAgent` is the node's radio stack
around its meter: it moves the meter's clock to the event queue's, hands it
each round's frames in one burst, reads what it will report upstream, and
keeps what the meter said about the session (its refusal) from the meter's
own events.

:func:`virtual_meters` builds :class:`~meteremu.device.VirtualMeter` s for a
topology's group members, each running the built-in factory image (signed by
the demo key, as ``meteremu serve`` does) and trusting the keys given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

from ..errors import FRAGMENT_REJECTED
from .clock import NS
from .topology import Node

__all__ = [
    "REFUSAL_RECEIPTS",
    "BatterySpec",
    "MeshMeter",
    "MeterAgent",
    "Status",
    "virtual_meters",
]

#: Receipts that say the meter will not take the session (``meteremu.hes.deliver``'s set),
#: the most telling first.
REFUSAL_RECEIPTS = ("refused", "dropped-battery", "dropped-closed")
_TAKEN = frozenset({"written", "duplicate"})


@runtime_checkable
class MeshMeter(Protocol):
    """A meter as the mesh drives it (``VirtualMeter`` has all of it)."""

    def receive_many(self, frames: Sequence[bytes]) -> Sequence[Any]: ...

    def missing_fragments(self) -> list[int]: ...

    def download_progress(self) -> tuple[int, int]: ...

    def download_session(self) -> int | None: ...

    def session_outcome(self, session: int) -> str: ...

    def advance(self, seconds: Fraction) -> None: ...

    def drain_events(self) -> list[Any]: ...

    @property
    def battery_mj(self) -> float | None: ...

    @property
    def boot_state(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Status:
    """What a meter reports upstream at the end of a round.

    ``kind``: ``complete`` (every fragment, the image verified), ``missing``
    (``missing`` is the bitmask of fragments still wanted; all of them when the
    meter has not heard the session yet), or ``refused`` (``code`` from its
    FOTA_ERR record, when it wrote one).
    """

    kind: str
    missing: int = 0
    code: str | None = None

    @property
    def final(self) -> bool:
        return self.kind != "missing"


class MeterAgent:
    """A group member's radio stack around its meter.

    The meter refused the session when it no longer holds it open and said so:
    a ``Refused`` event (its FOTA_ERR record) other than 0x8009 -- a dropped
    frame, logged once per session while the download goes on -- or a burst
    whose receipts refused frames and took none. A meter that closed the
    session as activated before (the same broadcast sent again) is complete:
    it needs none of its frames.
    """

    __slots__ = ("battery_start", "frames_heard", "meter", "refusal", "refusal_receipt",
                 "synced")

    def __init__(self, meter: MeshMeter) -> None:
        self.meter = meter
        self.synced = 0  # the queue's time the meter's clock stands at (ns since start)
        self.frames_heard = 0
        self.refusal: Any = None  # the meter's first Refused event of this broadcast
        self.refusal_receipt: str | None = None
        self.battery_start = meter.battery_mj
        self.meter.drain_events()  # what happened before the broadcast is not its story

    def sync(self, now: int) -> None:
        if now > self.synced:
            self.meter.advance(Fraction(now - self.synced, NS))
            self.synced = now

    def deliver(self, now: int, frames: list[bytes]) -> None:
        """The frames the radio received this round, in the order they came."""
        self.sync(now)
        receipts = self.meter.receive_many(frames)
        self.frames_heard += len(frames)
        said = {str(getattr(r, "value", r)) for r in set(receipts)}
        if self.refusal_receipt is None and not (said & _TAKEN):
            self.refusal_receipt = next((r for r in REFUSAL_RECEIPTS if r in said), None)
        self._read_events()

    def _read_events(self) -> None:
        for e in self.meter.drain_events():
            if (self.refusal is None and type(e).__name__ == "Refused"
                    and e.error != FRAGMENT_REJECTED):
                self.refusal = e

    @property
    def said_no(self) -> bool:
        return self.refusal is not None or self.refusal_receipt is not None

    @property
    def code(self) -> str | None:
        return None if self.refusal is None else str(self.refusal.error.code)

    def status(self, now: int, session: int, everything: int) -> Status:
        """What the meter has of ``session``, as it reports it at ``now``."""
        self.sync(now)
        self._read_events()
        m = self.meter
        if m.download_session() != session:
            if m.session_outcome(session) == "complete":  # it activated the session before
                return Status("complete")
            if self.said_no:
                return Status("refused", code=self.code)
            return Status("missing", everything)
        received, count = m.download_progress()
        if received == count:
            return Status("complete")
        missing = 0
        for i in m.missing_fragments():
            missing |= 1 << i
        return Status("missing", missing & everything)


@dataclass(frozen=True)
class BatterySpec:
    """The battery a battery meter of a generated fleet carries (mJ): ``spare_mj``
    above the ``minimum_mj`` kept for metrology; ``rx_frame_mj`` per frame heard."""

    spare_mj: int = 10_000
    minimum_mj: int = 1_000_000
    rx_frame_mj: float = 3.0

    def battery(self) -> Any:
        from ..device import Battery

        return Battery(reserve_mj=self.minimum_mj + self.spare_mj, minimum_mj=self.minimum_mj,
                       rx_frame_mj=Fraction(str(self.rx_frame_mj)))


def virtual_meters(
    nodes: Iterable[Node],
    *,
    trusted_keys: Sequence[bytes],
    vendor_id: int,
    battery: BatterySpec | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A :class:`~meteremu.device.VirtualMeter` per node: serial = node ID, the
    node's hardware revision, a battery (``battery``, default
    :class:`BatterySpec`) when the node is battery-powered, the built-in factory
    image for its revision; trusts ``trusted_keys`` and the demo key that signed
    that image (at most 3 keys besides it). ``kwargs`` go to ``VirtualMeter``.

    The meters are built as a :class:`~meteremu.fleet.Fleet` per (revision,
    battery or mains): each is byte for byte the meter built on its own, its
    flash shared copy-on-write with its kind's (docs/FLEET.md)."""
    from ..fleet import Fleet, MeterSpec
    from ..package.builtin import factory_package

    spec = battery or BatterySpec()
    groups: dict[tuple[int, bool], list[Node]] = {}
    order: list[str] = []
    for node in nodes:
        groups.setdefault((node.hw_revision, node.battery), []).append(node)
        order.append(node.id)
    meters: dict[str, Any] = {}
    for (hw, on_battery), members in groups.items():
        golden, demo = factory_package(vendor_id, hw)
        keys = list(trusted_keys)
        if demo not in keys:
            keys.append(demo)
        options = dict(kwargs)
        if on_battery:
            options["battery"] = spec.battery()
        fleet = Fleet.build([MeterSpec(n.id) for n in members], trusted_keys=keys,
                            factory_package=golden, vendor_id=vendor_id, hw_revision=hw,
                            **options)
        meters.update((s, fleet[s]) for s in fleet)
    return {node_id: meters[node_id] for node_id in order}


def as_agents(meters: Mapping[str, MeshMeter], ids: Iterable[str]) -> dict[str, MeterAgent]:
    missing = [i for i in ids if i not in meters]
    if missing:
        raise ValueError(f"no meter for group members {missing[:5]}")
    return {i: MeterAgent(meters[i]) for i in ids}
