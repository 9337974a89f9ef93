"""A :class:`~.field.Field` of live in-memory meters for fleets of 100,000.

:class:`FleetField` is :class:`~.field.MeshField` with two differences:

* **The meters** are :class:`~meteremu.fleet.Fleet` meters, their flash
  shared copy-on-write with a template (docs/FLEET.md), built when the
  campaign first reaches them: a concentrator's wave in one build per kind
  (hardware revision, battery or mains), clocks starting then, as
  MeshField's meters start on first use. Nothing is in a file: when the
  process ends, the meters' state goes with it, so a campaign run on this
  field cannot be resumed after a kill (:func:`~.runner.open_campaign`
  refuses).
* **The delivery** is a star, not the multi-hop tree: each concentrator's
  broadcast is :meth:`Fleet.broadcast` to its wave's meters, each meter on
  its own lossy link whose loss is what its whole path loses
  (``1 - product of the qualities of the hops``), rounds until none waits
  or ``max_rounds``. No relay stores and forwards, no report is lost on the
  way up (the concentrator knows exactly what each meter misses), and no
  billing read shares the channel (``billing_p95_s`` is None, so the soak
  does not judge billing latency on this field).

After each broadcast the fleet shares again what its meters now hold alike
(:meth:`Fleet.share_identical`): a wave's copies of the image are held once.

Activation, heartbeat, read, time and faults (``cut_power_at_swap``) are
MeshField's own, on the fleet's meters, so the engine's reconciliation and
policy run unchanged.

Airtime: the concentrator sends each round's fragments once, at the slowest
rate any wave meter's path has (a star reaches its slowest member), so
``airtime_s`` is the fragments the fleet's rounds sent times one frame's
airtime (``overhead_bytes`` added per frame, as on the mesh). The 30 % cap
is kept as a budget, not scheduled window by window: a broadcast lasts
``airtime_s / cap``, so FOTA holds exactly ``cap`` of the channel over it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import UsageError
from ..mesh import BatterySpec, MeshConfig
from ..mesh.airtime import airtime_ns
from ..mesh.channel import stream_seed
from ..mesh.clock import NS
from .field import EPOCH, BroadcastResult, MeshField, Uplink
from .fleet import Fleet

__all__ = ["FLEET_MESH_OPTIONS", "FleetField"]

#: The MeshConfig fields the star honours; any other is refused (not modelled).
FLEET_MESH_OPTIONS = ("max_rounds", "cap", "overhead_bytes")


class FleetField(MeshField):
    """A :class:`~.field.Field` of :class:`~meteremu.fleet.Fleet` meters (in memory
    only), each concentrator's wave delivered by one ``Fleet.broadcast`` per
    kind of meter. Arguments are :class:`MeshField`'s; ``state_dir`` and
    ``meters`` must be None and ``mesh`` may hold only ``max_rounds``, ``cap``
    and ``overhead_bytes``. ``block``: meters per shared mapping
    (``Fleet.build``'s): small, because a concentrator's few hundred meters
    are a build of their own and each build's template is ``block`` copies of
    a meter's flash, while 100,000 meters stay far below the process's
    mapping limit (``vm.max_map_count``)."""

    def __init__(self, fleet: Fleet, *, trusted_keys: Sequence[bytes], vendor_id: int,
                 seed: int = 0, state_dir: Any = None, geometry: Any = None,
                 heartbeat_window: float = 300, battery: BatterySpec | None = None,
                 uplink: Uplink | None = None, mesh: dict[str, Any] | None = None,
                 meters: Any = None, block: int = 8) -> None:
        if state_dir is not None:
            raise UsageError("the fleet field keeps its meters in memory only: no state_dir")
        if meters is not None:
            raise UsageError("the fleet field builds its own meters")
        extra = sorted(set(mesh or {}) - set(FLEET_MESH_OPTIONS))
        if extra:
            raise UsageError(f"the fleet field does not model {', '.join(extra)} (it "
                             f"takes {', '.join(FLEET_MESH_OPTIONS)})")
        self.config = MeshConfig(**(mesh or {}))
        super().__init__(fleet, trusted_keys=trusted_keys, vendor_id=vendor_id, seed=seed,
                         geometry=geometry, heartbeat_window=heartbeat_window,
                         battery=battery, uplink=uplink, mesh=mesh, meters={})
        self.block = block
        self.fleets: list[Any] = []
        self._fleet_of: dict[str, Any] = {}
        self._kind: dict[str, tuple[int, bool]] = {}
        self._loss: dict[str, float] = {}
        self._rate: dict[str, int] = {}
        for topo in fleet:
            for node in topo:
                self._kind[node.id] = (node.hw_revision, node.battery)
                quality, rate = 1.0, node.rate_kbps
                for hop in topo.path(node.id):
                    quality *= topo[hop].quality
                    rate = min(rate, topo[hop].rate_kbps)
                self._loss[node.id] = 1.0 - quality
                self._rate[node.id] = rate
        # MeshField looks given meters up by ID (and sets each one's load on first use)
        self._given = _Lookup(self._fleet_of)

    # ------------------------------------------------------------ meters
    def _make(self, ids: Sequence[str], at: float | None) -> None:
        """Build the meters of ``ids`` not built yet, one Fleet per kind (hardware
        revision, battery or mains), their clocks starting at ``at`` as
        MeshField's meters do on first use: a meter idles through no time
        before the campaign reaches it."""
        import datetime as dt

        from ..fleet import Fleet as Meters
        from ..fleet import MeterSpec
        from ..package.builtin import factory_package

        built = self._fleet_of
        new = [m for m in ids if m not in built]
        if not new:
            return
        groups: dict[tuple[int, bool], list[str]] = {}
        for m in dict.fromkeys(new):
            groups.setdefault(self._kind[m], []).append(m)
        options: dict[str, Any] = {"heartbeat_window": self.heartbeat_window}
        if self.geometry is not None:
            options["geometry"] = self.geometry
        if at is not None and at > EPOCH:
            options["clock_start"] = dt.datetime.fromtimestamp(int(at), dt.timezone.utc)
        for (hw, on_battery), members in groups.items():
            golden, demo = factory_package(self.vendor_id, hw)
            keys = [*self.keys, demo] if demo not in self.keys else list(self.keys)
            extra = {"battery": self.battery.battery()} if on_battery else {}
            made = Meters.build([MeterSpec(i) for i in members], trusted_keys=keys,
                                factory_package=golden, vendor_id=self.vendor_id,
                                hw_revision=hw, block=self.block, **options, **extra)
            self.fleets.append(made)
            for i in members:
                built[i] = made

    def meter(self, mid: str, at: float | None = None) -> Any:
        if mid not in self._fleet_of:
            if mid not in self._kind:
                raise UsageError(f"no meter {mid!r} in the fleet")
            self._make([mid], at)
        return super().meter(mid, at)

    def sync(self, meters: Iterable[str], at: float) -> None:
        meters = list(meters)
        self._make(meters, at)  # a concentrator's wave: its new meters in one build
        super().sync(meters, at)

    # ------------------------------------------------------------ the star
    def broadcast(self, concentrator: str, meters: Sequence[str], package: bytes,
                  at: float, *, seed: int) -> BroadcastResult:
        """``package`` from ``concentrator`` to ``meters`` over one lossy link each
        (see the module's docstring); each meter's status becomes an ack."""
        from ..crypto import sha256
        from ..hes import fragment_package

        self.sync(meters, at)
        sid = int.from_bytes(sha256(package)[:4], "big")
        frames = fragment_package(package, session_id=sid)
        link_seed = stream_seed(seed, concentrator) & 0xFFFFFFFF
        by_fleet: dict[int, tuple[Any, list[str]]] = {}
        for m in meters:
            f = self._fleet_of[m]
            by_fleet.setdefault(id(f), (f, []))[1].append(m)
        sent: list[int] = []
        outcomes: dict[str, Any] = {}
        for f, ids in by_fleet.values():
            res = f.broadcast(frames, loss={m: self._loss[m] for m in ids}, seed=link_seed,
                              max_rounds=self.config.max_rounds, ids=ids)
            # One broadcast to every kind at once sends, per round, the union of
            # what they miss: at least the most any kind asked for.
            for r, n in enumerate(res.sent):
                if r < len(sent):
                    sent[r] = max(sent[r], n)
                else:
                    sent.append(n)
            outcomes.update(res.outcomes)
            f.share_identical()  # the image every meter now holds alike: once, not per meter
        rate = min((self._rate[m] for m in meters), default=0)
        frame_ns = 0 if not rate else airtime_ns(
            sum(len(f) for f in frames) // len(frames) + self.config.overhead_bytes, rate)
        airtime = sum(sent) * frame_ns / NS
        duration = airtime / self.config.cap
        out = BroadcastResult(concentrator, at, at + duration, len(sent), airtime, duration)
        for m in meters:
            o = outcomes[m]
            kind = {"complete": "complete", "refused": "refused"}.get(o.kind, "incomplete")
            out.outcomes[m] = (kind, o.code)
            out.reported[m] = kind if kind != "incomplete" else None
        self.sync(meters, out.end)
        self._acks(meters, out)
        return out

    # ------------------------------------------------------------ memory
    def private_bytes(self) -> int | None:
        """Flash pages the meters have written (copied from their template), all
        fleets together; None without /proc (see ``Fleet.private_bytes``). Each
        fleet reads /proc/self/smaps once: slow with a thousand fleets."""
        parts = [f.private_bytes() for f in self.fleets]
        return None if any(p is None for p in parts) else sum(p or 0 for p in parts)

    def template_bytes(self) -> int:
        return sum(f.template_bytes() for f in self.fleets)

    def close(self) -> None:
        super().close()
        for f in getattr(self, "fleets", []):
            f.close()
        self.fleets = []
        self._fleet_of = {}


class _Lookup:
    """``lookup[id]``: the meter of that ID in whichever fleet holds it."""

    def __init__(self, fleet_of: dict[str, Any]) -> None:
        self._fleet_of = fleet_of

    def __getitem__(self, mid: str) -> Any:
        return self._fleet_of[mid][mid]
