"""Putting a campaign together: the package, the fleet, the plan, the store,
the field and the engine (what ``meteremu campaign run`` and ``resume`` do).

Next to the database ``X.sqlite`` lives its state directory ``X.sqlite.d/``:
``fleet.json`` (the fleet the campaigns address), ``<campaign>.pkg`` (each
campaign's package, so ``resume`` needs nothing else) and ``meters/`` (each
meter's flash, shared by the campaigns of this database: a second campaign
updates the meters the first one left).

A campaign created with ``field="fleet"`` runs on a :class:`~.fleetfield.FleetField`:
its meters live in the process's memory only (no ``meters/``), so it cannot
be resumed once it has started (:func:`open_campaign` refuses, saying so),
and it must be its database's only campaign.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import Any

from ..crypto import sha256
from ..errors import UsageError
from .bus import AckBus
from .engine import Engine, Params, Progress
from .field import EPOCH, MeshField
from .fleet import Fleet, dump_fleet, loads_fleet
from .fleetfield import FleetField
from .plan import plan
from .policy import Policy
from .store import Store

__all__ = ["FIELDS", "Opened", "create", "open_campaign", "resumable", "state_dir"]

#: The fields a campaign can run on: meters with their flash in files (or in
#: memory) on the multi-hop mesh, or in-memory fleet meters on a star.
FIELDS = ("mesh", "fleet")


def state_dir(db: str | os.PathLike[str]) -> pathlib.Path:
    return pathlib.Path(f"{os.fspath(db)}.d")


def create(store: Store, cid: str, *, package: bytes, package_name: str, fleet: Fleet,
           params: Params, policy: Policy, version: str, trusted_keys: list[bytes],
           vendor_id: int, persist: bool = True, extra: dict[str, Any] | None = None,
           field: str = "mesh") -> None:
    """Plan campaign ``cid`` and write it to ``store`` (and, with ``persist``, the
    fleet and the package to the state directory). ``field``: one of
    :data:`FIELDS`."""
    if not cid or any(c in cid for c in "/+#") or cid.startswith("."):
        raise UsageError(f"campaign name {cid!r} must be non-empty, without / + # "
                         "and not start with a dot")
    if field not in FIELDS:
        raise UsageError(f"field {field!r}: use one of {', '.join(FIELDS)}")
    if field == "fleet" and store.campaigns():
        raise UsageError(f"{store.path} already holds a campaign: the fleet field's meters "
                         "start from the factory in memory and would not be the meters it "
                         "updated; use another --db")
    sd = state_dir(store.path)
    if persist:
        sd.mkdir(parents=True, exist_ok=True)
        known = sd / "fleet.json"
        text = dump_fleet(fleet)
        if known.exists() and known.read_text() != text:
            raise UsageError(f"{store.path} already addresses another fleet ({known}); "
                             "use another --db")
        known.write_text(text)
        (sd / f"{cid}.pkg").write_bytes(package)
    concentrators = {t.concentrator: [n.id for n in t] for t in fleet}
    waves = plan(concentrators, canary=params.canary, wave=params.wave, seed=params.seed)
    where = {m: dc for dc, ids in concentrators.items() for m in ids}
    count = 1 + max(waves.values())
    prior = [store.campaign(c) for c in store.campaigns()]
    now = max([EPOCH, *(float(c["now_virtual"] or EPOCH) for c in prior)])
    store.create(cid, package=package_name, sha256=sha256(package).hex(), version=version,
                 seed=params.seed,
                 params={"engine": params.to_dict(), "policy": policy.to_dict(),
                         "trusted_keys": [k.hex() for k in trusted_keys],
                         "vendor_id": vendor_id, "field_kind": field, **(extra or {})},
                 now=now, meters=((m, where[m], w) for m, w in sorted(waves.items())),
                 waves=count)


@dataclass
class Opened:
    engine: Engine
    field: MeshField  # or its FleetField

    def close(self) -> None:
        self.field.close()


def open_campaign(store: Store, cid: str, *, bus: AckBus, progress: Progress | None = None,
                  fleet: Fleet | None = None, package: bytes | None = None,
                  persist: bool = True, field_options: dict[str, Any] | None = None,
                  ack_wait: float = 0.0) -> Opened:
    """The engine for campaign ``cid``, its field built from the state directory
    (or from ``fleet`` and ``package`` given, with ``persist`` False: in memory)."""
    c = store.campaign(cid)
    p = c["params"]
    sd = state_dir(store.path)
    if fleet is None:
        try:
            fleet = loads_fleet((sd / "fleet.json").read_text())
        except OSError as exc:
            raise UsageError(f"cannot read the fleet of {store.path}: "
                             f"{exc.strerror or exc}") from None
    if package is None:
        try:
            package = (sd / f"{cid}.pkg").read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the package of campaign {cid}: "
                             f"{exc.strerror or exc}") from None
    if sha256(package).hex() != c["package_sha256"]:
        raise UsageError(f"the package of campaign {cid} has changed since it started")
    params = Params.from_dict(p["engine"])
    kind = resumable(store, cid)
    options = dict(p.get("field", {}))
    options.update(field_options or {})
    if "geometry" in options and isinstance(options["geometry"], dict):
        from ..device import Geometry

        options["geometry"] = Geometry(**options["geometry"])
    engine_box: list[Engine] = []

    def uplink(*a: Any) -> None:
        engine_box[0].publish(*a)

    make = FleetField if kind == "fleet" else MeshField
    field = make(fleet, trusted_keys=[bytes.fromhex(k) for k in p["trusted_keys"]],
                 vendor_id=int(p["vendor_id"]), seed=params.seed,
                 state_dir=(sd / "meters") if persist and kind == "mesh" else None,
                 heartbeat_window=params.heartbeat_window, uplink=uplink, **options)
    engine = Engine(store, cid, field, bus, package, policy=Policy.from_dict(p["policy"]),
                    params=params, progress=progress, ack_wait=ack_wait)
    engine_box.append(engine)
    return Opened(engine, field)


def resumable(store: Store, cid: str) -> str:
    """The field campaign ``cid`` runs on; :class:`UsageError` when it cannot be
    opened again: a fleet-field campaign that has started and is not done (its
    meters lived in the memory of the process that ran it)."""
    c = store.campaign(cid)
    kind = str(c["params"].get("field_kind", "mesh"))
    if kind == "fleet" and c["state"] not in ("planned", "done"):
        raise UsageError(
            f"campaign {cid} ran on the in-memory fleet field: its meters' state went with "
            "the process that ran it, so it cannot be resumed (start a new campaign with "
            "another --db; the mesh field keeps each meter's flash in a file and resumes)")
    return kind


def unpause(store: Store, cid: str) -> str:
    """Let a paused campaign go on past what paused it; the state it goes on in."""
    c = store.campaign(cid)
    if c["state"] != "paused":
        return str(c["state"])
    waves = store.waves(cid)
    soaked = any(e["detail"].get("state") == "done" for e in store.events(cid, "soak"))
    if waves and waves[0]["state"] not in ("done", "paused"):
        nxt = "canary"
    elif not soaked:
        nxt = "soak"
    else:
        nxt = "waves"
    store.set_state(cid, nxt, float(c["now_virtual"]), None)
    return nxt
