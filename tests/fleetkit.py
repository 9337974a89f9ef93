"""The fleet's twin: a fleet's meters made again the ordinary way (each its own
VirtualMeter) and driven one by one, as :meth:`Fleet.broadcast` documents it --
the reference the fleet tests compare against, byte for byte."""

from __future__ import annotations

from typing import Any

from meteremu.device import VirtualMeter
from meteremu.device.download import KIND_MESH
from meteremu.device.sessions import CloseReason
from meteremu.fleet import Fleet, Link
from meteremu.hes import fragment_package
from meteremu.testing import HW_REVISION, VENDOR_ID, make_firmware, make_keys, make_package

KEYS = make_keys(0)
FACTORY = make_package(make_firmware(4096, seed=1), KEYS, version="1.0.0", security_counter=1)
UPDATE = make_package(make_firmware(6000, seed=2), KEYS, version="2.0.0", security_counter=2,
                      fragment_size=128)
SESSION = 0x5EED
FRAMES = fragment_package(UPDATE, session_id=SESSION)
N = 20


def fleet_of(n: int = N, **kw: Any) -> Fleet:
    return Fleet.build(n, trusted_keys=[KEYS.point], factory_package=FACTORY,
                       vendor_id=VENDOR_ID, hw_revision=HW_REVISION, **kw)


def twins_of(fleet: Fleet) -> dict[str, VirtualMeter]:
    """The fleet's meters made the ordinary way: each its own VirtualMeter,
    provisioned from the factory package."""
    return {serial: VirtualMeter(serial=serial, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                                 trusted_keys=[KEYS.point], factory_package=FACTORY)
            for serial in fleet}


def status(m: VirtualMeter) -> tuple[str, int]:
    dl = m.download.open() if m.power.running else None
    if dl is not None and dl.tag == KIND_MESH and dl.session_id == SESSION:
        if dl.complete:
            return "complete", 0
        return "missing", int.from_bytes(dl.missing(), "little")
    if (KIND_MESH, SESSION) in m.download.closed:  # activated: it needs nothing more
        activated = m.download.closed.reason((KIND_MESH, SESSION)) is CloseReason.ACTIVATED
        return ("complete", 0) if activated else ("refused", 0)
    return "missing", -1


def one_by_one(meters: dict[str, VirtualMeter], loss: dict[str, float], seed: int,
                max_rounds: int) -> list[int]:
    """The broadcast as the fleet documents it, each meter on its own."""
    links = {s: Link(seed, s, loss.get(s, 0.0)) for s in meters}
    everything = (1 << len(FRAMES)) - 1
    todo = list(range(len(FRAMES)))
    sent = []
    for _ in range(max_rounds):
        frames = [FRAMES[i] for i in todo]
        sent.append(len(frames))
        union = 0
        for s, m in meters.items():
            heard = links[s].heard(frames)
            if heard:
                m.receive_many(heard)
            kind, missing = status(m)
            if kind == "missing":
                union |= everything if missing < 0 else missing
        if not union:
            break
        todo = [k for k in range(len(FRAMES)) if union >> k & 1]
    return sent


def picture(m: VirtualMeter) -> dict[str, Any]:
    return {
        "flash": m.flash.dump(), "wear": m.flash.wear_counters(), "counters": dict(m.counters),
        "state": m.boot_state, "version": m.active_version, "bank": m.active_bank,
        "record": m.boot_record, "audit": m.audit_log, "events": m.drain_events(),
        "progress": m.download_progress(), "powered": m.powered, "lcd": m.lcd,
        "refusals": m.refusals,
    }


def faults(meters: dict[str, VirtualMeter], serials: list[str]) -> None:
    """The same faults into the same meters of either side."""
    a, b, c, d = (meters[s] for s in serials[1:5])
    a.flash.cut_after(300)  # a power cut in the middle of the download
    b.flash.flip_bits(a.layout["bank_a"].offset + 200, 0x10)  # bit rot in the running image
    c.power_off()  # off for the whole broadcast
    d.flash.cut_after(5)  # a cut right at the start (the session record)
