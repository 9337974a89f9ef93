"""The mesh as a tree: a concentrator at the root, meters below it, each
meter's radio relaying for its children (multi-hop).

A :class:`Node` is one meter and the link to its parent: the link's quality
(its packet reception ratio, 0 < q <= 1: a frame gets through with
probability q, so the link's mean loss is ``1 - q``), its rate (an IEEE
802.15.4g SUN mode, 50-200 kbps), whether the meter runs on a battery
(water, gas) or on mains, its hardware revision and its group (the
``--group`` a broadcast addresses, the seed's ``residential_sector_04``).

A :class:`Topology` comes from a seed (:meth:`Topology.generate`) or from a
file (:meth:`Topology.load`: JSON or CSV, columns ``id, parent, quality,
power, hw_revision, group`` and optional ``rate_kbps``; the concentrator is
the one ``parent`` that is not a node, or a row with an empty parent). See
docs/MESH.md for the file formats.
"""

from __future__ import annotations

import csv
import io
import json
import pathlib
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UsageError, short_repr
from .channel import stream_seed

__all__ = [
    "RATES_KBPS",
    "Node",
    "Topology",
    "TopologyError",
    "rate_for_quality",
]

#: The SUN FSK data rates a generated link may use (IEEE 802.15.4g; the seed's 50-200 kbps).
RATES_KBPS = (50, 100, 150, 200)
RATE_MIN, RATE_MAX = 50, 200
CONCENTRATOR = "DC0001"
_POWER = ("mains", "battery")
FIELDS = ("id", "parent", "quality", "power", "hw_revision", "group", "rate_kbps")


class TopologyError(UsageError):
    """A topology that cannot be built: a bad file, field or generation parameter."""


def rate_for_quality(quality: float) -> int:
    """The rate a link adapts to: the fastest mode its reception ratio affords."""
    if quality >= 0.95:
        return 200
    if quality >= 0.9:
        return 150
    if quality >= 0.8:
        return 100
    return 50


@dataclass(frozen=True, slots=True)
class Node:
    """One meter and the link to its parent."""

    id: str
    parent: str
    quality: float = 1.0
    battery: bool = False
    hw_revision: int = 3
    group: str = ""
    rate_kbps: int = 0  # 0: by quality (rate_for_quality)

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise TopologyError(f"node ID must be a non-empty string, not {short_repr(self.id)}")
        if not isinstance(self.quality, (int, float)) or not 0.0 < self.quality <= 1.0:
            raise TopologyError(f"node {self.id}: quality must be in (0, 1], "
                              f"not {short_repr(self.quality)}")
        if not isinstance(self.hw_revision, int) or not 0 <= self.hw_revision <= 0xFFFF:
            raise TopologyError(f"node {self.id}: hw_revision must be 0..65535, "
                              f"not {short_repr(self.hw_revision)}")
        if self.rate_kbps == 0:
            object.__setattr__(self, "rate_kbps", rate_for_quality(self.quality))
        elif not isinstance(self.rate_kbps, int) or not RATE_MIN <= self.rate_kbps <= RATE_MAX:
            raise TopologyError(f"node {self.id}: rate_kbps must be {RATE_MIN}..{RATE_MAX} "
                              f"(IEEE 802.15.4g), not {short_repr(self.rate_kbps)}")

    @property
    def loss(self) -> float:
        """The link's mean frame loss, ``1 - quality``."""
        return 1.0 - self.quality

    @property
    def power(self) -> str:
        return "battery" if self.battery else "mains"

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        del row["battery"]
        row["power"] = self.power
        return {k: row[k] for k in FIELDS}


class Topology:
    """A concentrator and a tree of meters (IDs unique, every meter reaches the root)."""

    def __init__(self, nodes: Iterable[Node], concentrator: str = CONCENTRATOR) -> None:
        self.concentrator = concentrator
        self.nodes: dict[str, Node] = {}
        for n in nodes:
            if n.id in self.nodes or n.id == concentrator:
                raise TopologyError(f"node ID {short_repr(n.id)} appears twice")
            self.nodes[n.id] = n
        self.children: dict[str, list[str]] = {concentrator: []}
        for n in self.nodes.values():
            self.children.setdefault(n.id, [])
        for n in self.nodes.values():
            if n.parent not in self.children:
                raise TopologyError(f"node {n.id}: parent {short_repr(n.parent)} is not a node "
                                  f"nor the concentrator {concentrator}")
            self.children[n.parent].append(n.id)
        self.depth: dict[str, int] = {concentrator: 0}
        order = [concentrator]
        for nid in order:  # breadth first from the root
            for c in self.children[nid]:
                self.depth[c] = self.depth[nid] + 1
                order.append(c)
        if len(order) != len(self.nodes) + 1:
            stuck = sorted(set(self.nodes) - set(order))[:5]
            raise TopologyError(f"nodes in a cycle, not reaching the concentrator: {stuck}")
        self.order: list[str] = order[1:]  # meters, parents before children

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]

    @property
    def max_depth(self) -> int:
        return max(self.depth.values())

    def groups(self) -> Counter[str]:
        """Meters per group name."""
        return Counter(n.group for n in self.nodes.values())

    def group(self, name: str) -> list[str]:
        """IDs of the meters of group ``name``, parents before children."""
        return [nid for nid in self.order if self.nodes[nid].group == name]

    def path(self, node_id: str) -> list[str]:
        """``node_id`` and its ancestors up to (not including) the concentrator."""
        out = []
        while node_id != self.concentrator:
            out.append(node_id)
            node_id = self.nodes[node_id].parent
        return out

    def relays(self) -> list[str]:
        return [nid for nid in self.order if self.children[nid]]

    # ------------------------------------------------------------ generation
    @classmethod
    def generate(
        cls,
        meters: int,
        *,
        seed: int = 0,
        fanout: int = 6,
        depth: int = 4,
        loss: float = 0.05,
        spread: float = 0.04,
        battery_share: float = 0.1,
        group: str = "residential_sector_04",
        hw_revision: int = 3,
        other_hw_share: float = 0.0,
        rate_kbps: int = 0,
    ) -> Topology:
        """A random tree of ``meters`` meters from ``seed``.

        Each meter in turn picks its parent uniformly among the nodes that can
        take one more child: the concentrator or a mains meter less than
        ``depth`` hops out with fewer than ``fanout`` children (battery meters
        sleep between reads and never relay, so they are always leaves). A
        link's loss is drawn uniformly from ``loss ± spread`` (kept to
        0..0.9); its rate follows from it (:func:`rate_for_quality`) unless
        ``rate_kbps`` fixes it. ``battery_share`` of the meters run on a
        battery, ``other_hw_share`` have hardware revision ``hw_revision + 1``
        (a package for ``hw_revision`` is refused there). Each meter's draws
        come from its own stream of ``seed``.
        """
        if meters < 1:
            raise TopologyError("a generated mesh needs at least one meter")
        if fanout < 1 or depth < 1:
            raise TopologyError("fanout and depth must be at least 1")
        capacity = sum(fanout ** d for d in range(1, depth + 1))
        if meters > capacity:
            raise TopologyError(f"{meters} meters do not fit a tree of fan-out {fanout} and "
                              f"depth {depth} (at most {capacity})")
        for name, p in (("loss", loss), ("battery_share", battery_share),
                        ("other_hw_share", other_hw_share)):
            if not 0.0 <= p <= 1.0:
                raise TopologyError(f"{name} must be in 0..1, not {p}")
        if spread < 0:
            raise TopologyError(f"spread must be >= 0, not {spread}")
        width = max(8, len(str(meters)))
        open_: list[str] = [CONCENTRATOR]  # nodes that can take a child
        kids: dict[str, int] = {CONCENTRATOR: 0}
        level: dict[str, int] = {CONCENTRATOR: 0}
        nodes: list[Node] = []
        for k in range(1, meters + 1):
            nid = f"MTR{k:0{width}d}"
            rnd = random.Random(stream_seed(seed, "node", nid))
            battery = rnd.random() < battery_share
            other = rnd.random() < other_hw_share
            link_loss = min(0.9, max(0.0, loss + rnd.uniform(-spread, spread)))
            if not open_:  # only battery leaves left to hang on: the tree is full of them
                raise TopologyError(f"no relay left for meter {k}: with fan-out {fanout}, depth "
                                  f"{depth} and {battery_share:.0%} battery meters (leaves "
                                  f"only) the tree is full; raise the fan-out or depth")
            i = rnd.randrange(len(open_))
            parent = open_[i]
            kids[parent] += 1
            if kids[parent] >= fanout:
                open_[i] = open_[-1]
                open_.pop()
            level[nid] = level[parent] + 1
            kids[nid] = 0
            if not battery and level[nid] < depth:
                open_.append(nid)
            nodes.append(Node(nid, parent, quality=round(1.0 - link_loss, 6),
                              battery=battery, hw_revision=hw_revision + (1 if other else 0),
                              group=group, rate_kbps=rate_kbps))
        return cls(nodes)

    # ------------------------------------------------------------ files
    @classmethod
    def load(cls, path: str | pathlib.Path) -> Topology:
        """A topology from a ``.json`` or ``.csv`` file (by its suffix; else sniffed)."""
        p = pathlib.Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TopologyError(f"cannot read topology {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
        kind = p.suffix.lower().lstrip(".")
        if kind not in ("json", "csv"):
            kind = "json" if text.lstrip().startswith(("{", "[")) else "csv"
        return cls.loads(text, kind)

    @classmethod
    def loads(cls, text: str, kind: str = "json") -> Topology:
        if kind == "json":
            try:
                data = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise TopologyError(f"topology is not valid JSON: {exc}") from None
            return cls._from_json(data)
        if kind == "csv":
            return cls._from_rows(csv.DictReader(io.StringIO(text)), "row", start=2)
        raise TopologyError(f"unknown topology format {kind!r} (json or csv)")

    @classmethod
    def _from_json(cls, data: Any) -> Topology:
        concentrator = None
        if isinstance(data, Mapping):
            concentrator = data.get("concentrator")
            if concentrator is not None and not isinstance(concentrator, str):
                raise TopologyError("topology: 'concentrator' must be a string")
            data = data.get("nodes")
        if not isinstance(data, list):
            raise TopologyError("topology JSON must be a list of nodes or "
                              "{\"concentrator\": ..., \"nodes\": [...]}")
        return cls._from_rows(data, "node", start=1, concentrator=concentrator)

    @classmethod
    def _from_rows(cls, rows: Iterable[Any], what: str, *, start: int,
                   concentrator: str | None = None) -> Topology:
        nodes: list[Node] = []
        roots: list[str] = []
        for n, row in enumerate(rows, start):
            if not isinstance(row, Mapping):
                raise TopologyError(f"topology {what} {n}: not an object")
            try:
                node = _node(row)
            except TopologyError as exc:
                raise TopologyError(f"topology {what} {n}: {exc}") from None
            if node is None:
                roots.append(str(row.get("id")))
            else:
                nodes.append(node)
        if not nodes:
            raise TopologyError("topology holds no meters")
        if len(roots) > 1:
            raise TopologyError(f"topology has {len(roots)} rows without a parent "
                              f"(concentrators): {roots[:5]}; one is allowed")
        if roots:
            if concentrator is not None and concentrator != roots[0]:
                raise TopologyError(f"topology names concentrator {concentrator} and has a root "
                                  f"row {roots[0]}")
            concentrator = roots[0]
        if concentrator is None:
            ids = {n.id for n in nodes}
            outside = sorted({n.parent for n in nodes if n.parent not in ids})
            if not outside:
                raise TopologyError("topology: every parent is a node, so the nodes form a "
                                  "cycle and none reaches a concentrator (the one parent "
                                  "that is not a node)")
            if len(outside) != 1:
                raise TopologyError(f"topology: the concentrator is the one parent that is not a "
                                  f"node; found {len(outside)}: {outside[:5]}")
            concentrator = outside[0]
        return cls(nodes, concentrator)

    def rows(self) -> list[dict[str, Any]]:
        return [self.nodes[nid].as_row() for nid in self.order]

    def dumps(self, kind: str = "json") -> str:
        if kind == "json":
            return json.dumps({"concentrator": self.concentrator, "nodes": self.rows()},
                              indent=1) + "\n"
        if kind == "csv":
            out = io.StringIO()
            w = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(self.rows())
            return out.getvalue()
        raise TopologyError(f"unknown topology format {kind!r} (json or csv)")


def _text(row: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    v = row.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if not isinstance(v, (str, int)) or isinstance(v, bool):
        raise TopologyError(f"{key} must be a string, not {short_repr(v)}")
    return str(v).strip()


def _number(row: Mapping[str, Any], key: str, default: float, kind: type) -> Any:
    v = row.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if isinstance(v, bool):
        raise TopologyError(f"{key} must be a number, not {short_repr(v)}")
    if isinstance(v, str):
        try:
            v = kind(v.strip()) if kind is float else int(v.strip(), 0)
        except ValueError:
            raise TopologyError(f"{key} must be a number, not {short_repr(v)}") from None
    if kind is int and not isinstance(v, int):
        raise TopologyError(f"{key} must be an integer, not {short_repr(v)}")
    if not isinstance(v, (int, float)) or v != v:
        raise TopologyError(f"{key} must be a number, not {short_repr(v)}")
    return kind(v)


def _node(row: Mapping[str, Any]) -> Node | None:
    """A node from a file row, or None for the concentrator's row (no parent)."""
    nid = _text(row, "id")
    if nid is None:
        raise TopologyError("'id' is missing")
    parent = _text(row, "parent")
    if parent is None:
        return None
    power = (_text(row, "power", "mains") or "mains").lower()
    if power not in _POWER:
        raise TopologyError(f"power must be 'mains' or 'battery', not {short_repr(power)}")
    return Node(
        nid, parent,
        quality=_number(row, "quality", 1.0, float),
        battery=power == "battery",
        hw_revision=_number(row, "hw_revision", 3, int),
        group=_text(row, "group", "") or "",
        rate_kbps=_number(row, "rate_kbps", 0, int),
    )
