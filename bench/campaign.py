"""``python -m bench.campaign``: what a campaign costs beside the broadcasts it makes.

Three cases over the same generated fleet (``--meters``, 250 per
concentrator, a 6 KiB package, 16 KiB banks), each in its own process so its
peak memory is its own:

* ``broadcast`` -- the peer: every meter built and sent the package once, one
  broadcast per concentrator, nothing else (no activation, no database);
* ``campaign`` -- the whole campaign in memory: canary, 24 h soak, waves of
  1,000, activation and confirmation, ``--ack-loss`` of the acks lost on the
  bus and every gap settled by reading the meter, SQLite state;
* ``campaign-files`` -- the same with each meter's flash in a file (what
  ``meteremu campaign run`` does, so that ``kill -9`` loses nothing).

Printed: wall time, CPU time and peak RSS per case, and each campaign's
ratio to the peer. Figures are for this machine at this moment: compare the
ratios, not the seconds.

``--field fleet`` runs the fleet field's pair instead (the in-memory meters of
:mod:`meteremu.campaign.fleetfield`, on a star of lossy links), the one that
holds 100,000 meters (``--meters 100000 --wave 9800``: a canary of 2,000 and
10 waves of 9,800):

* ``fleet-broadcast`` -- the peer: every meter built and sent the package
  once through the fleet field, one broadcast per concentrator;
* ``campaign-fleet`` -- the whole campaign on the fleet field, as
  ``campaign`` above (``--mqtt``: the acks through a local ``mosquitto``,
  which loses none on its own, instead of the lossy in-process bus).

Each fleet case also prints the meters alive at its end (every one of the
fleet: none is freed before the figures are taken), the flash pages the
meters wrote (``private_bytes``, copied from their templates) and the
templates' bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CASES = ("broadcast", "campaign", "campaign-files")
FLEET_CASES = ("fleet-broadcast", "campaign-fleet")


def _case(name: str, meters: int, ack_loss: float, wave: int = 1000,
          mqtt: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from rolloutkit import GEOMETRY, VENDOR, package

    from meteremu.campaign.engine import Params
    from meteremu.campaign.field import EPOCH, MeshField
    from meteremu.campaign.fleet import generate_fleet
    from meteremu.campaign.fleetfield import FleetField
    from meteremu.campaign.policy import Policy
    from meteremu.campaign.runner import create, open_campaign
    from meteremu.campaign.store import Store

    fleet = generate_fleet(meters, seed=1)
    pkg = package()
    wall, cpu = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {"case": name, "meters": meters}
    kind = "fleet" if name.endswith("fleet") or name.startswith("fleet") else "mesh"
    if name in ("broadcast", "fleet-broadcast"):
        make = MeshField if kind == "mesh" else FleetField
        field = make(fleet, trusted_keys=[], vendor_id=VENDOR, geometry=GEOMETRY)
        for dc, ids in field.concentrators.items():
            field.broadcast(dc, ids, pkg, EPOCH, seed=1)
        _took(out, wall, cpu)
        if kind == "fleet":
            out.update(_held(field))
        field.close()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "c.sqlite")
            files = name == "campaign-files"
            create(store, "c", package=pkg, package_name="fw.pkg", fleet=fleet,
                   params=Params(canary=0.02, wave=wave, seed=1), policy=Policy(),
                   version="2.0.0", trusted_keys=[], vendor_id=VENDOR, persist=files,
                   field=kind)
            with contextlib.ExitStack() as stack:
                bus = _bus(stack, mqtt, ack_loss, Path(tmp))
                opened = open_campaign(store, "c", bus=bus, fleet=fleet, package=pkg,
                                       persist=files, field_options={"geometry": GEOMETRY},
                                       ack_wait=0.2 if mqtt else 0.0)
                out["state"] = opened.engine.run()
                out["reads"] = opened.engine.reads
                out["acks_lost"] = getattr(bus, "dropped", None)
                out["states"] = store.counts("c")
                out["waves"] = len(store.waves("c"))
                _took(out, wall, cpu)
                if kind == "fleet":
                    out.update(_held(opened.field))
                opened.close()
                bus.close()
            store.close()
    if "wall_s" not in out:
        _took(out, wall, cpu)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _bus(stack: contextlib.ExitStack, mqtt: bool, ack_loss: float, tmp: Path) -> Any:
    """The in-process bus losing ``ack_loss`` of the acks, or a client of a
    local ``mosquitto`` (tests/mosquittokit.py) started for this case."""
    from meteremu.campaign.bus import InProcessBus, open_bus

    if not mqtt:
        rnd = random.Random(1)
        return InProcessBus(drop=lambda _a: rnd.random() < ack_loss)
    import mosquittokit

    broker = stack.enter_context(mosquittokit.Broker(tmp / "broker"))
    return open_bus(broker.url, campaign="c", session="bench-head-end")


def _took(out: dict[str, Any], wall: float, cpu: float) -> None:
    """The case's wall and CPU seconds (taken before its memory is measured)."""
    out["wall_s"] = round(time.perf_counter() - wall, 2)
    out["cpu_s"] = round(time.process_time() - cpu, 2)


def _held(field: Any) -> dict[str, Any]:
    """What the fleet field holds at the end: meters alive, pages they wrote."""
    try:  # one pass over /proc/self/smaps for every fleet (FleetField's takes one each)
        from meteremu.fleet.memory import private_bytes

        spans = [span for f in field.fleets for pool in f._pools for span in pool.spans()]
        private = private_bytes(spans)
    except (ImportError, AttributeError):
        private = field.private_bytes()
    return {"alive": len(field._fleet_of),
            "private_mb": None if private is None else round(private / 2**20, 1),
            "template_mb": round(field.template_bytes() / 2**20, 1),
            "pss_mb": _pss_mb()}


def _pss_mb() -> float | None:
    """The process's proportional set size now (a page shared by n mappings
    counts 1/n): RSS counts a template page once per block mapping that read
    it, so it overstates what the fleet holds. None without /proc."""
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in text.splitlines()
               if line.startswith("Pss:")), None)
    return None if kb is None else round(kb / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.campaign", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=2000)
    ap.add_argument("--ack-loss", type=float, default=0.6)
    ap.add_argument("--wave", type=int, default=1000, help="meters per wave (1000)")
    ap.add_argument("--field", choices=("mesh", "fleet"), default="mesh",
                    help="the mesh field's cases (default) or the fleet field's")
    ap.add_argument("--mqtt", action="store_true",
                    help="campaign-fleet's acks through a local mosquitto")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--case", choices=CASES + FLEET_CASES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        print(json.dumps(_case(args.case, args.meters, args.ack_loss, args.wave, args.mqtt)))
        return 0
    rows = []
    for case in (FLEET_CASES if args.field == "fleet" else CASES):
        cmd = [sys.executable, "-m", "bench.campaign", "--case", case, "--meters",
               str(args.meters), "--ack-loss", str(args.ack_loss), "--wave", str(args.wave)]
        done = subprocess.run(cmd + (["--mqtt"] if args.mqtt else []), check=True,
                              capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1])
        rows.append(json.loads(done.stdout.splitlines()[-1]))
    peer, peer_cpu = rows[0]["wall_s"] or 1e-9, rows[0]["cpu_s"] or 1e-9
    for r in rows:
        r["ratio_to_broadcast"] = round(r["wall_s"] / peer, 2)
        r["cpu_ratio_to_broadcast"] = round(r["cpu_s"] / peer_cpu, 2)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    lost = "acks through mosquitto" if args.mqtt else f"{args.ack_loss:.0%} of acks lost"
    print(f"{args.meters} meters, waves of {args.wave}, {args.field} field, {lost}")
    print(f"{'case':16} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12} {'wall x':>8} "
          f"{'cpu x':>8}")
    for r in rows:
        print(f"{r['case']:16} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_rss_mb']:12.1f} "
              f"{r['ratio_to_broadcast']:8.2f} {r['cpu_ratio_to_broadcast']:8.2f}")
    for r in rows:
        if "alive" in r:
            print(f"{r['case']}: {r['alive']} meters alive at the end, their written flash "
                  f"{r['private_mb']} MB, templates {r['template_mb']} MB, PSS "
                  f"{r['pss_mb']} MB"
                  + (f"; {r['state']}, {r['states']}" if "state" in r else ""))
    print("(x: against the broadcast-only peer, measured in the same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
