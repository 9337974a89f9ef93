"""``meteremu demo``: the front door -- a campaign over a fleet, end to end.

1. Make a signing key and two firmware images, sign and package them with
   the CLI (``meteremu keygen``, ``meteremu package --key``): 2.0.0, a normal
   image, and 3.0.0, a ``no-heartbeat`` image that never confirms.
2. Build a mixed fleet of a few hundred meters under a few concentrators,
   each a lossy multi-hop mesh: some meters on batteries, one of another
   hardware revision, one that will lose power in the middle of its bank swap.
3. Run the 2.0.0 campaign -- canary, 24 h soak, waves -- with a fifth of the
   acks lost on their way to the head-end (it reads the meters instead).
4. Run the 3.0.0 campaign: its canary rolls back on its own after 300 s
   without a heartbeat, and the policy stops it there.
5. Print the report (per wave: updated, reverted, refused by code, pending,
   airtime, rounds) and the audit-log lines of the failures, and say plainly
   whether the fleet is healthy.

Virtual time throughout; under a minute of wall time. The single-meter
walkthrough is ``meteremu demo meter`` (:mod:`meteremu.demo`).
"""

from __future__ import annotations

import pathlib
import random
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from typing import Any, TextIO

__all__ = ["run"]

VENDOR_ID = 0x4D455445
HW_REVISION = 3
IMAGE_SIZE = 24 * 1024
BANK = {"bank_size": 64 * 1024, "sector_size": 4096, "align": 8}


def _package(work: pathlib.Path, name: str, key: pathlib.Path, version: str, counter: int,
             behaviour: str, seed: int) -> pathlib.Path:
    import json

    from .demo import _cli

    image = work / f"{name}.bin"
    image.write_bytes(random.Random(f"{seed}-{name}").randbytes(IMAGE_SIZE))
    config = work / f"{name}.json"
    config.write_text(json.dumps({
        "vendor_id": f"0x{VENDOR_ID:08X}", "hw_revision": HW_REVISION, "version": version,
        "security_counter": counter, "fragment_size": 256, "behaviour": behaviour}))
    out = work / f"{name}.pkg"
    _cli(["package", str(image), "--config", str(config), "--key", str(key), "-o", str(out)])
    return out


def _fleet(meters: int, seed: int) -> tuple[list[Any], str, str]:
    """The fleet, the meter of the wrong hardware revision, the one that will
    lose power mid-swap (both outside the canary, in the first waves)."""
    from .campaign.fleet import generate_fleet
    from .campaign.plan import plan
    from .mesh import Topology

    fleet = generate_fleet(meters, seed=seed, per_concentrator=100, loss=0.08, spread=0.05,
                           battery_share=0.15, hw_revision=HW_REVISION, fanout=5, depth=4)
    waves = plan({t.concentrator: [n.id for n in t] for t in fleet}, canary=0.02, wave=100,
                 seed=seed)
    t0 = fleet[0]
    leaves = [n.id for n in t0 if not t0.children[n.id] and not n.battery and waves[n.id] == 1]
    odd, cut = leaves[0], leaves[1]
    fleet[0] = Topology((replace(n, hw_revision=HW_REVISION + 1) if n.id == odd else n
                         for n in t0), t0.concentrator)
    return fleet, odd, cut


def run(*, seed: int = 0, meters: int = 300, plain: bool = False,
        file: TextIO | None = None) -> int:
    """The fleet demo; 0 when the fleet ends healthy and the story went as it should."""
    from rich.console import Console

    from .campaign.bus import InProcessBus
    from .campaign.engine import Params
    from .campaign.policy import Policy
    from .campaign.runner import create, open_campaign
    from .campaign.store import Store
    from .campaign.summary import summary
    from .cli.campaign import print_report, progress_bars
    from .demo import _cli
    from .keys import load_private_key_file, public_point
    from .package import parse_package

    out = file or sys.stdout
    console = Console(file=out, highlight=False, soft_wrap=False, no_color=plain,
                      width=None if out.isatty() else 140)

    def say(text: str, style: str | None = None) -> None:
        console.print(text, style=None if plain else style, markup=False)

    with tempfile.TemporaryDirectory(prefix="meteremu-demo-") as tmp:
        work = pathlib.Path(tmp)
        say("meteremu demo: a firmware campaign over a simulated fleet", "bold")
        key = work / "firmware_priv.pem"
        say("[1/5] " + _cli(["keygen", "--out", str(key), "--pub",
                             str(work / "firmware_pub.pem")]))
        point = public_point(load_private_key_file(str(key)))
        good = _package(work, "fw-2.0.0", key, "2.0.0", 2, "normal", seed)
        bad = _package(work, "fw-3.0.0", key, "3.0.0", 3, "no-heartbeat", seed)
        say(f"      signed and packaged {good.name} (normal) and {bad.name} (no-heartbeat) "
            "with meteremu package --key")
        fleet, odd, cut = _fleet(meters, seed)
        count = sum(len(t) for t in fleet)
        battery = sum(1 for t in fleet for n in t if n.battery)
        depth = max(t.max_depth for t in fleet)
        say(f"[2/5] fleet: {count} meters under {len(fleet)} concentrators, up to {depth} hops,"
            f" links losing 3-13 % of frames; {battery} on batteries; {odd} has hardware "
            f"revision {HW_REVISION + 1}; {cut} will lose power in the middle of its bank swap")
        db = work / "campaign.sqlite"
        store = Store.open(db)
        policy = Policy(error_threshold=0.05)
        params = Params(canary=0.02, wave=100, seed=seed, concurrency=2)
        rnd = random.Random(seed)
        results: dict[str, str] = {}
        try:
            for step, pkg_path in ((3, good), (4, bad)):
                pkg = pkg_path.read_bytes()
                version = str(parse_package(pkg).version)
                cid = f"fw-{version}"
                say(f"[{step}/5] campaign {cid}: canary 2 %, 24 h soak, waves of 100, at most "
                    "2 concentrators at once, 20 % of acks lost on the bus", "bold")
                create(store, cid, package=pkg, package_name=pkg_path.name, fleet=fleet,
                       params=params, policy=policy, version=version, trusted_keys=[point],
                       vendor_id=VENDOR_ID,
                       extra={"field": {"geometry": BANK, "mesh": {"max_rounds": 30}}})
                bus = InProcessBus(drop=lambda _a: rnd.random() < 0.2)
                with progress_bars(plain, console) as progress:
                    opened = open_campaign(store, cid, bus=bus, progress=progress)
                    if step == 3:
                        opened.field.cut_power_at_swap(cut)
                    try:
                        results[cid] = opened.engine.run()
                    finally:
                        opened.close()
            say("[5/5] report", "bold")
            sums = [summary(store, cid) for cid in results]
            for d in sums:
                print_report(console, d, full=True)
            verdict = _health(store, fleet, work, results, odd, cut)
        finally:
            store.close()
    healthy, notes, line = verdict
    for note in notes:
        say(note)
    console.print(line, style=None if plain else ("bold green" if healthy else "bold red"),
                  markup=False, soft_wrap=True)
    return 0 if healthy else 1


def _health(store: Any, fleet: list[Any], work: pathlib.Path, results: dict[str, str],
            odd: str, cut: str) -> tuple[bool, list[str], str]:
    """Read every meter of the fleet and say whether it is healthy."""
    from .campaign.bus import InProcessBus
    from .campaign.runner import open_campaign

    opened = open_campaign(store, "fw-2.0.0", bus=InProcessBus())
    try:
        field = opened.field
        now = float(store.campaign("fw-3.0.0")["now_virtual"])
        running: Counter[str] = Counter()
        silent = []
        for t in fleet:
            for n in t:
                r = field.read(n.id, now)
                if not r.available or r.boot_state in ("trial", "downloading"):
                    silent.append(f"{n.id} ({r.lcd or r.boot_state or 'silent'})")
                else:
                    running[r.version or "?"] += 1
        odd_ok = store.meter("fw-2.0.0", odd).last_code == "0x8004"
        cut_ok = store.meter("fw-2.0.0", cut).state == "confirmed"
        cut_log = field.meter(cut).audit_log
    finally:
        opened.close()
    story = (results.get("fw-2.0.0") == "done" and results.get("fw-3.0.0") == "paused"
             and odd_ok and cut_ok)
    notes = [f"{cut} lost power in its bank swap and came back on trial; the head-end "
             f"confirmed it: {'ok' if cut_ok else 'NOT confirmed'}"]
    notes += [f"      {line}" for line in cut_log[-4:]]
    notes.append(f"{odd} (hardware revision {HW_REVISION + 1}) refused 2.0.0 with 0x8004 and "
                 f"runs its factory image: {'ok' if odd_ok else 'NOT as expected'}")
    versions = ", ".join(f"{v} on {k}" for v, k in running.most_common())
    if silent or not story:
        why = (f"{len(silent)} meters not answering or stuck: {', '.join(silent[:5])}"
               if silent else "the campaigns did not end as they should")
        return False, notes, f"fleet NOT healthy: {why}"
    total = sum(running.values())
    return True, notes, (f"fleet healthy: all {total} meters answer and run a signed image "
                         f"({versions}); 3.0.0 was stopped by its canary, which rolled back "
                         "on its own")
