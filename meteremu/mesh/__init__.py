"""The RF mesh on the head-end side: a concentrator broadcasting a package to a
group of meters over a multi-hop tree, round by round (seed step 4).

* :mod:`.topology` -- the tree: generated from a seed or loaded from JSON/CSV;
* :mod:`.channel` -- a link's channel: Bernoulli or Gilbert-Elliott loss,
  duplication, damage, reordering, one seeded RNG per link;
* :mod:`.clock` -- the one event queue that owns virtual time;
* :mod:`.airtime` -- the shared channel, FOTA held to its cap in every window;
* :mod:`.meters` -- what the mesh needs of a meter (:class:`MeshMeter`), and
  VirtualMeters for a group;
* :mod:`.broadcast` -- the rounds; :mod:`.events` and :mod:`.report` -- what
  happened, and the report folded from it.

See docs/MESH.md.
"""

from __future__ import annotations

from .airtime import Medium, WindowPeak, airtime_ns
from .broadcast import Broadcast, MeshConfig, session_of
from .channel import Bernoulli, GilbertElliott, Link, stream_seed
from .clock import NS, EventQueue
from .meters import BatterySpec, MeshMeter, MeterAgent, Status, virtual_meters
from .report import OUTCOMES, Recorder, Report
from .topology import Node, Topology, TopologyError, rate_for_quality

__all__ = [
    "NS",
    "OUTCOMES",
    "BatterySpec",
    "Bernoulli",
    "Broadcast",
    "EventQueue",
    "GilbertElliott",
    "Link",
    "Medium",
    "MeshConfig",
    "MeshMeter",
    "MeterAgent",
    "Node",
    "Recorder",
    "Report",
    "Status",
    "Topology",
    "TopologyError",
    "WindowPeak",
    "airtime_ns",
    "broadcast",
    "rate_for_quality",
    "session_of",
    "stream_seed",
    "virtual_meters",
]


def broadcast(
    package: bytes,
    topology: Topology,
    group: str,
    meters: dict[str, MeshMeter],
    config: MeshConfig | None = None,
    *,
    session: int | None = None,
    observers: tuple = (),
) -> Report:
    """Cut ``package`` into frames (session ``session``, default from its SHA-256)
    and broadcast them to ``group``; the report."""
    from ..crypto import sha256
    from ..hes import fragment_package

    sid = int.from_bytes(sha256(package)[:4], "big") if session is None else session
    frames = fragment_package(package, session_id=sid)
    return Broadcast(topology, group, frames, meters, config, session=sid,
                     observers=observers).run()
