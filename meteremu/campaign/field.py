"""The field: the meters a campaign updates, as the head-end reaches them.

The engine drives meters only through :class:`Field` -- broadcast a package
to some meters of a concentrator, activate, heartbeat, read, let virtual time
pass -- so another fleet (a memory-cheap one for 100,000 meters) can stand
behind the same methods. :class:`MeshField` is the one made of
:class:`~meteremu.device.VirtualMeter` s: each concentrator runs
:class:`~meteremu.mesh.Broadcast` for its meters, and with a ``state_dir``
every meter keeps its flash in a file there, so a head-end killed with
``kill -9`` loses nothing the meters did.

Time: every meter has its own clock; :meth:`Field.sync` moves the meters
given to the campaign's time (seconds since the Unix epoch) and never back.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Protocol

from ..device.clock import DEFAULT_EPOCH
from ..errors import MeteremuError, MeterUnavailable
from ..mesh import BatterySpec, Broadcast, MeshConfig, Topology
from ..mesh.channel import stream_seed
from .fleet import Fleet, meter_load

__all__ = ["EPOCH", "BroadcastResult", "Field", "MeshField", "Reading"]

EPOCH = DEFAULT_EPOCH.timestamp()  # a new meter's clock starts here
_ERR = re.compile(r"FOTA_ERR (0x(?!8009)[0-9A-Fa-f]{4})")  # 0x8009: a dropped frame

#: ``publish(concentrator, meter, state, at, version, code)``: what a
#: concentrator sends upstream about one of its meters (an ack).
Uplink = Callable[[str, str, str, float, "str | None", "str | None"], None]


@dataclass(frozen=True, slots=True)
class Reading:
    """What the head-end reads of a meter: firmware identifier (1.0.0.2.0.255),
    boot state (0.0.96.10.2.255 attribute 2), the inactive bank's package
    SHA-256 (0.0.96.10.1.255), the latest FOTA_ERR code of its audit log
    (0.0.96.10.3.255), the energy register. ``available`` False: it did not
    answer; ``lcd`` then holds a fault it shows (F.03, F.04)."""

    meter: str
    available: bool
    at: float
    boot_state: str | None = None
    version: str | None = None
    inactive_sha256: str | None = None
    code: str | None = None
    audit: tuple[str, ...] = ()
    energy_wh: int | None = None
    lcd: str = ""


@dataclass
class BroadcastResult:
    """One concentrator's broadcast: how each meter ended (``complete``,
    ``pending``, ``incomplete``, ``refused``) and what it cost."""

    concentrator: str
    start: float
    end: float
    rounds: int
    airtime_s: float
    duration_s: float
    outcomes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    reported: dict[str, str | None] = field(default_factory=dict)
    billing_p95_s: float | None = None


class Field(Protocol):
    """The meters as the campaign engine drives them."""

    concentrators: dict[str, list[str]]

    def broadcast(self, concentrator: str, meters: Sequence[str], package: bytes,
                  at: float, *, seed: int) -> BroadcastResult: ...

    def activate(self, meter: str, at: float) -> str | None: ...

    def heartbeat(self, meter: str, at: float) -> bool: ...

    def read(self, meter: str, at: float) -> Reading: ...

    def sync(self, meters: Iterable[str], at: float) -> None: ...

    def expected_wh(self, meter: str, seconds: float) -> float: ...

    def close(self) -> None: ...


class MeshField:
    """A :class:`Field` of VirtualMeters on simulated meshes, one per concentrator.

    ``uplink`` gets the acks the concentrators send (a lossy bus may drop
    them). ``state_dir``: keep each meter's flash in ``<state_dir>/<id>.flash``
    (None: in memory). ``mesh`` are :class:`~meteremu.mesh.MeshConfig` fields.
    ``meters``: meters built beforehand, looked up by ID (``meters[id]``); a
    fleet built for 100,000 meters stands behind the field this way.
    """

    def __init__(self, fleet: Fleet, *, trusted_keys: Sequence[bytes], vendor_id: int,
                 seed: int = 0, state_dir: str | os.PathLike[str] | None = None,
                 geometry: Any = None, heartbeat_window: float = 300,
                 battery: BatterySpec | None = None, uplink: Uplink | None = None,
                 mesh: dict[str, Any] | None = None, meters: Any = None) -> None:
        self.fleet = {t.concentrator: t for t in fleet}
        self.concentrators = {t.concentrator: [n.id for n in t] for t in fleet}
        self.where = {m: dc for dc, ids in self.concentrators.items() for m in ids}
        self.keys = list(trusted_keys)
        self.vendor_id = vendor_id
        self.seed = seed
        self.state_dir = None if state_dir is None else pathlib.Path(state_dir)
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.geometry = geometry
        self.heartbeat_window = heartbeat_window
        self.battery = battery or BatterySpec()
        self.uplink = uplink
        self.mesh = dict(mesh or {})
        # Meters built elsewhere (``meters[id]`` a VirtualMeter: a dict, or a
        # memory-cheap fleet of them); else each is made here on first use.
        self._given = meters
        self._meters: dict[str, Any] = {}
        self._goldens: dict[int, tuple[bytes, bytes]] = {}
        self._cut: dict[str, tuple[int, float]] = {}  # meter: (flash op, seconds off)
        self._back: dict[str, float] = {}  # meter: when its power comes back
        self._trial: set[str] = set()  # activated by the field, not yet confirmed

    # ------------------------------------------------------------ meters
    def meter(self, mid: str, at: float | None = None) -> Any:
        """The VirtualMeter ``mid`` (made, or reopened from its state file, on first
        use; a new one's clock starts at ``at``, so nothing idles it to there)."""
        m = self._meters.get(mid)
        if m is None and self._given is not None:
            m = self._meters[mid] = self._given[mid]
            m.set_load(meter_load(self.seed, mid))  # the load the soak checks it against
        if m is None:
            import datetime as _dt

            from ..device import VirtualMeter
            from ..package.builtin import factory_package

            dc = self.where[mid]
            node = self.fleet[dc][mid]
            if node.hw_revision not in self._goldens:
                self._goldens[node.hw_revision] = factory_package(self.vendor_id,
                                                                  node.hw_revision)
            golden, demo = self._goldens[node.hw_revision]
            keys = [*self.keys, demo] if demo not in self.keys else list(self.keys)
            state = None if self.state_dir is None else self.state_dir / f"{mid}.flash"
            kw: dict[str, Any] = {} if self.geometry is None else {"geometry": self.geometry}
            if at is not None and at > EPOCH and (state is None or not state.exists()):
                kw["clock_start"] = _dt.datetime.fromtimestamp(int(at), _dt.timezone.utc)
            kw.update(serial=mid, vendor_id=self.vendor_id, hw_revision=node.hw_revision,
                      trusted_keys=keys, factory_package=golden,
                      heartbeat_window=self.heartbeat_window, load=meter_load(self.seed, mid),
                      battery=self.battery.battery() if node.battery else None)
            if state is not None and not state.exists():
                # Provisioning (the factory image written to flash) happens at the
                # factory, not in the field: a head-end killed while it makes a
                # meter's file must not leave a meter without a golden image.
                tmp = state.with_name(f".{state.name}.new")
                tmp.unlink(missing_ok=True)  # a file a killed head-end did not finish
                VirtualMeter(state=tmp, **kw).close()
                os.replace(tmp, state)
            m = VirtualMeter(state=state, **kw)
            self._meters[mid] = m
        return m

    def now_of(self, mid: str) -> float:
        """Meter ``mid``'s clock, seconds since the Unix epoch."""
        return float(self.meter(mid).clock.epoch_seconds)

    def sync(self, meters: Iterable[str], at: float) -> None:
        target = Fraction(at)
        for mid in meters:
            m = self.meter(mid, at)
            back = self._back.get(mid)
            if back is not None and back <= at:
                step = Fraction(back) - m.clock.epoch_seconds
                if step > 0:
                    m.advance(step)
                m.power_on()
                del self._back[mid]
            ahead = target - m.clock.epoch_seconds
            if ahead > 0:
                m.advance(ahead)
            self._check_trial(mid, m)

    def expected_wh(self, meter: str, seconds: float) -> float:
        return meter_load(self.seed, meter) * seconds / 3600.0

    # ------------------------------------------------------------ faults
    def cut_power_at_swap(self, meter: str, *, op: int = 3, off_s: float = 600.0) -> None:
        """Rehearse a power cut in the middle of the bank swap: the next
        activation of ``meter`` loses power at flash operation ``op``; mains come
        back ``off_s`` seconds later."""
        self._cut[meter] = (op, off_s)

    # ------------------------------------------------------------ the mesh
    def broadcast(self, concentrator: str, meters: Sequence[str], package: bytes,
                  at: float, *, seed: int) -> BroadcastResult:
        """Broadcast ``package`` from ``concentrator`` to ``meters`` (its own),
        starting at ``at``; each meter's report becomes an ack."""
        from ..crypto import sha256
        from ..hes import fragment_package

        topo = self.fleet[concentrator]
        wanted = set(meters)
        sub = Topology((replace(n, group="wave" if n.id in wanted else "-") for n in topo),
                       concentrator)
        self.sync(meters, at)
        live = {m: self.meter(m) for m in meters}
        sid = int.from_bytes(sha256(package)[:4], "big")
        frames = fragment_package(package, session_id=sid)
        config = MeshConfig(seed=stream_seed(seed, concentrator) & 0xFFFFFFFF, **self.mesh)
        report = Broadcast(sub, "wave", frames, live, config, session=sid).run()
        duration = report.airtime["duration_s"]
        out = BroadcastResult(concentrator, at, at + duration, len(report.rounds),
                              report.airtime["fota_s"], duration,
                              billing_p95_s=report.billing.get("latency_p95_s"))
        for row in report.meters:
            out.outcomes[row["id"]] = (row["outcome"], row["code"])
            out.reported[row["id"]] = row["reported"]
        self.sync(meters, out.end)
        self._acks(meters, out)
        return out

    def _acks(self, meters: Sequence[str], out: BroadcastResult) -> None:
        """What the meters reported of a broadcast, upstream as acks."""
        for mid in meters:
            said = out.reported.get(mid)
            if said == "complete":
                self._ack(mid, "verified", out.end)
            elif said == "refused":
                self._ack(mid, "refused", out.end, out.outcomes[mid][1])

    # ------------------------------------------------------------ commands
    def activate(self, meter: str, at: float) -> str | None:
        """0.0.96.10.2.255 method 1; None on success, else the FOTA code or
        ``"unreachable"`` (the meter did not answer, or lost power on the way)."""
        from ..device import Client

        self.sync([meter], at)
        m = self.meter(meter)
        cut = self._cut.pop(meter, None)
        if cut is not None:
            m.flash.cut_after(cut[0])
        try:
            m.action("0.0.96.10.2.255", 1, True, client=Client.MANAGEMENT)
        except MeterUnavailable:
            if cut is not None:
                self._back[meter] = at + cut[1]
            return "unreachable"
        except MeteremuError as exc:
            code = getattr(getattr(exc, "code", None), "code", None)
            return str(code) if code is not None else type(exc).__name__
        self._trial.add(meter)
        self._ack(meter, "activated", at)
        return None

    def heartbeat(self, meter: str, at: float) -> bool:
        self.sync([meter], at)
        m = self.meter(meter)
        on_trial = m.powered and m.boot_state.name == "TRIAL"
        try:
            ok = m.heartbeat()
        except MeterUnavailable:
            return False
        if ok and on_trial:
            self._trial.discard(meter)
            self._ack(meter, "confirmed", at)
        return ok

    def read(self, meter: str, at: float) -> Reading:
        from ..device import BootState, Client

        self.sync([meter], at)
        m = self.meter(meter)
        mg, pub = Client.MANAGEMENT, Client.PUBLIC
        try:
            state = BootState(int(m.get("0.0.96.10.2.255", 2, client=mg)))
            version = bytes(m.get("1.0.0.2.0.255", 2, client=pub)).decode("ascii", "replace")
            inactive = bytes(m.get("0.0.96.10.1.255", 2, client=pub)).hex()
            audit = tuple(bytes(x).decode("ascii", "replace")
                          for x in m.get("0.0.96.10.3.255", 2, client=mg))
            energy = int(m.get("1.0.1.8.0.255", 2, client=pub))
        except MeterUnavailable:
            return Reading(meter, False, at, lcd=m.power.lcd)
        code = next((mt.group(1) for line in reversed(audit) if (mt := _ERR.search(line))),
                    None)
        return Reading(meter, True, at, state.name.lower(), version, inactive or None, code,
                       audit, energy)

    # ------------------------------------------------------------ acks
    def _check_trial(self, mid: str, m: Any) -> None:
        if mid in self._trial and m.boot_state.name != "TRIAL" and m.powered:
            self._trial.discard(mid)
            if m.boot_state.name == "REVERTED":
                self._ack(mid, "reverted", float(m.clock.epoch_seconds))

    def _ack(self, mid: str, state: str, at: float, code: str | None = None) -> None:
        if self.uplink is None:
            return
        m = self.meter(mid)
        version = m.active_version if m.powered else None
        self.uplink(self.where[mid], mid, state, at, version, code)

    def close(self) -> None:
        if self._given is not None:  # whoever built them closes them
            self._meters.clear()
            return
        for m in self._meters.values():
            with contextlib.suppress(Exception):
                m.close()
        self._meters.clear()
