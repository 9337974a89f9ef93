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
"""

from __future__ import annotations

import argparse
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


def _case(name: str, meters: int, ack_loss: float) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from rolloutkit import GEOMETRY, VENDOR, package

    from meteremu.campaign.bus import InProcessBus
    from meteremu.campaign.engine import Params
    from meteremu.campaign.field import EPOCH, MeshField
    from meteremu.campaign.fleet import generate_fleet
    from meteremu.campaign.policy import Policy
    from meteremu.campaign.runner import create, open_campaign
    from meteremu.campaign.store import Store

    fleet = generate_fleet(meters, seed=1)
    pkg = package()
    wall, cpu = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {"case": name, "meters": meters}
    if name == "broadcast":
        field = MeshField(fleet, trusted_keys=[], vendor_id=VENDOR, geometry=GEOMETRY)
        for dc, ids in field.concentrators.items():
            field.broadcast(dc, ids, pkg, EPOCH, seed=1)
        field.close()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "c.sqlite")
            files = name == "campaign-files"
            create(store, "c", package=pkg, package_name="fw.pkg", fleet=fleet,
                   params=Params(canary=0.02, wave=1000, seed=1), policy=Policy(),
                   version="2.0.0", trusted_keys=[], vendor_id=VENDOR, persist=files)
            rnd = random.Random(1)
            bus = InProcessBus(drop=lambda _a: rnd.random() < ack_loss)
            opened = open_campaign(store, "c", bus=bus, fleet=fleet, package=pkg,
                                   persist=files, field_options={"geometry": GEOMETRY})
            out["state"] = opened.engine.run()
            out["reads"] = opened.engine.reads
            out["acks_lost"] = bus.dropped
            out["states"] = store.counts("c")
            opened.close()
            store.close()
    out["wall_s"] = round(time.perf_counter() - wall, 2)
    out["cpu_s"] = round(time.process_time() - cpu, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.campaign", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=2000)
    ap.add_argument("--ack-loss", type=float, default=0.6)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        print(json.dumps(_case(args.case, args.meters, args.ack_loss)))
        return 0
    rows = []
    for case in CASES:
        done = subprocess.run(
            [sys.executable, "-m", "bench.campaign", "--case", case, "--meters",
             str(args.meters), "--ack-loss", str(args.ack_loss)],
            check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        rows.append(json.loads(done.stdout.splitlines()[-1]))
    peer, peer_cpu = rows[0]["wall_s"] or 1e-9, rows[0]["cpu_s"] or 1e-9
    for r in rows:
        r["ratio_to_broadcast"] = round(r["wall_s"] / peer, 2)
        r["cpu_ratio_to_broadcast"] = round(r["cpu_s"] / peer_cpu, 2)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{args.meters} meters, {args.ack_loss:.0%} of acks lost")
    print(f"{'case':16} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12} {'wall x':>8} "
          f"{'cpu x':>8}")
    for r in rows:
        print(f"{r['case']:16} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_rss_mb']:12.1f} "
              f"{r['ratio_to_broadcast']:8.2f} {r['cpu_ratio_to_broadcast']:8.2f}")
    print("(x: against the broadcast-only peer, measured in the same run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
