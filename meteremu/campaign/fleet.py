"""The fleet a campaign addresses: concentrators, each with its mesh of meters.

A fleet is a list of :class:`~meteremu.mesh.Topology` -- one per
concentrator, meter IDs unique across all of them. It comes from a seed
(:func:`generate_fleet`) or from a file (:func:`load_fleet`): a topology file
as ``meteremu mesh broadcast --topology`` reads it (one concentrator), or a
JSON fleet ``{"concentrators": [<topology JSON>, ...]}`` (docs/CAMPAIGN.md).
"""

from __future__ import annotations

import json
import pathlib
import random
from dataclasses import replace
from typing import Any

from ..errors import UsageError
from ..mesh import Topology, TopologyError
from ..mesh.channel import stream_seed

__all__ = ["Fleet", "dump_fleet", "generate_fleet", "load_fleet", "meter_load"]

Fleet = list[Topology]


def generate_fleet(meters: int, *, seed: int = 0, per_concentrator: int = 250,
                   loss: float = 0.05, spread: float = 0.04, battery_share: float = 0.1,
                   hw_revision: int = 3, other_hw_share: float = 0.0, fanout: int = 8,
                   depth: int = 4) -> Fleet:
    """``meters`` meters under ``ceil(meters / per_concentrator)`` concentrators
    ``DC0001``..., each a tree of :meth:`Topology.generate` from its own stream of
    ``seed``; meter IDs ``DC0001M0001``... (unique across the fleet)."""
    if meters < 1:
        raise UsageError("a fleet needs at least one meter")
    if per_concentrator < 1:
        raise UsageError("a concentrator needs at least one meter")
    count = -(-meters // per_concentrator)
    out: Fleet = []
    left = meters
    for k in range(1, count + 1):
        n = -(-left // (count - k + 1))  # as even as can be
        left -= n
        dc = f"DC{k:04d}"
        topo = Topology.generate(
            n, seed=stream_seed(seed, "concentrator", dc) & 0xFFFFFFFF, fanout=fanout,
            depth=depth, loss=loss, spread=spread, battery_share=battery_share, group="",
            hw_revision=hw_revision, other_hw_share=other_hw_share)
        out.append(rename(topo, dc, lambda i, dc=dc: f"{dc}M{int(i[3:]):04d}"))
    return out


def rename(topo: Topology, concentrator: str, name: Any) -> Topology:
    """``topo`` under concentrator ``concentrator`` with each meter ID ``name(id)``."""
    ids = {n.id: name(n.id) for n in topo}
    ids[topo.concentrator] = concentrator
    return Topology((replace(n, id=ids[n.id], parent=ids[n.parent]) for n in topo),
                    concentrator)


def load_fleet(path: str | pathlib.Path) -> Fleet:
    """A fleet file: a topology (JSON or CSV) or ``{"concentrators": [...]}``."""
    p = pathlib.Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read fleet {path}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    return loads_fleet(text, "csv" if p.suffix.lower() == ".csv" else "json")


def loads_fleet(text: str, kind: str = "json") -> Fleet:
    fleet: Fleet
    if kind == "json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise TopologyError(f"fleet is not valid JSON: {exc}") from None
        if isinstance(data, dict) and "concentrators" in data:
            parts = data["concentrators"]
            if not isinstance(parts, list) or not parts:
                raise TopologyError("fleet: 'concentrators' must be a non-empty list")
            fleet = [Topology.loads(json.dumps(t), "json") for t in parts]
        else:
            fleet = [Topology.loads(text, "json")]
    else:
        fleet = [Topology.loads(text, kind)]
    seen: dict[str, str] = {}
    for t in fleet:
        if t.concentrator in seen:
            raise TopologyError(f"fleet: concentrator {t.concentrator} appears twice")
        seen[t.concentrator] = t.concentrator
    for t in fleet:
        for n in t:
            if n.id in seen:
                raise TopologyError(f"fleet: meter ID {n.id} appears twice")
            if any(c in n.id for c in "/+#"):
                raise TopologyError(f"fleet: meter ID {n.id!r} must not hold / + #")
            seen[n.id] = t.concentrator
    return fleet


def dump_fleet(fleet: Fleet) -> str:
    return json.dumps({"concentrators": [json.loads(t.dumps("json")) for t in fleet]},
                      indent=1) + "\n"


def meter_load(seed: int, meter: str) -> int:
    """The load a meter measures (W), 200..3000, drawn from its own stream of ``seed``:
    the soak checks the energy register against it."""
    return random.Random(stream_seed(seed, "load", meter)).randrange(200, 3001, 50)
