"""Many live meters in one process: built copy-on-write, driven in batches.

``Fleet.build(count_or_specs, trusted_keys=..., factory_package=..., vendor_id=...,
hw_revision=...)`` makes the meters; ``fleet[serial]`` is a
:class:`~meteremu.device.VirtualMeter`; ``fleet.broadcast(frames, loss=, seed=,
max_rounds=)`` runs broadcast rounds (one C call per round for every meter) and
returns each meter's outcome; ``fleet.activate()``, ``fleet.heartbeat()`` and
``fleet.advance(seconds)`` take an optional list of serials. See docs/FLEET.md.
"""

from __future__ import annotations

from .broadcast import BroadcastResult, MeterOutcome
from .fleet import Fleet, MeterSpec
from .links import Link, link_seed

__all__ = ["BroadcastResult", "Fleet", "Link", "MeterOutcome", "MeterSpec", "link_seed"]
