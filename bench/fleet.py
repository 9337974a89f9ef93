"""``python -m bench.fleet [--meters N]``: a real wave over N live meters (SPEC section 9).

Every meter is alive at once in this process (a :class:`meteremu.fleet.Fleet`):
built, sent a 128 KiB signed package in 128-byte fragments, each meter on its
own 10 %-loss link, broadcast rounds until every meter is complete, then
each meter's image activated and confirmed by a heartbeat. Nothing is
extrapolated: the wave is timed as it runs, construction included. Times
are CPU time of this (single-threaded) process -- its time on one core,
robust to a shared machine -- with wall time beside.

Beside it, measured in the same run:

* **the physical floor**: N x (one ``hashlib`` SHA-256 of the package, one
  OpenSSL P-256 signature verification through ``cryptography``, one copy of
  the package into memory) -- what any implementation must at least do --
  measured in five slices, before the wave, between its phases and after
  it, so that both see the machine alike (:class:`Floor`);
* **the C core's share**: the CPU time spent inside the C core's calls
  (the batched rounds, acceptance, activation, boot and confirm), so the
  rest is what Python costs. Timing every call costs time itself, so the
  split comes from a second wave over N fresh meters, timed call by call
  and printed with its own total; the headline wave and the targets are
  the first, untimed one.

Memory, per meter: the peak resident set's growth over the wave divided by N
(``VmHWM`` minus ``VmRSS`` before, from /proc/self/status) -- which counts a
page of the template once for every block mapping that has read it -- and
the memory the fleet holds: the growth of private pages (``RssAnon``: the
flash pages meters wrote, Python objects) plus the template files, once;
and the flash the meters wrote (copied from their template,
:meth:`Fleet.private_bytes`).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from bench._floor import floor_step
from bench.meter import _case
from meteremu._lowlevel import boot as _boot
from meteremu._lowlevel import fleet as _fleet
from meteremu._lowlevel import image as _image
from meteremu._lowlevel import reasm as _reasm
from meteremu.fleet import Fleet
from meteremu.fleet import broadcast as _broadcast
from meteremu.testing import HW_REVISION, VENDOR_ID

LOSS = 0.1
WAVE_TARGET_S = 10.0
FLOOR_TARGET = 4.0
MEMORY_TARGET_MB = 0.2


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


FLOOR_SLICES = 5  # the floor's steps, spread over the wave: before, between its phases, after


class Floor:
    """The physical floor, ``n`` x (SHA-256 of pkg + P-256 verify + one copy of
    pkg), measured in slices: :meth:`slice` runs the next share of the n
    steps and adds its CPU time. The wave runs one slice before it, one
    between each two of its phases and one after it, so that the floor and
    the wave see the same machine: on a shared host the speed moves by 10 %
    or more within a minute, and a floor timed in one block after the wave
    can fall into a fast or a slow spell the wave did not."""

    def __init__(self, n: int, pkg: bytes, point: bytes) -> None:
        self._step = floor_step(pkg, point)
        self._left = n
        self._slices = FLOOR_SLICES
        self.seconds: list[float] = []

    def slice(self) -> None:
        if self._slices == 0:
            raise RuntimeError("every slice of the floor has run")
        k = self._left // self._slices
        self._left -= k
        self._slices -= 1
        step = self._step
        was = gc.isenabled()
        gc.disable()  # a collection the wave has due stays the wave's
        try:
            t0 = time.process_time()
            for _ in range(k):
                step()
            self.seconds.append(time.process_time() - t0)
        finally:
            if was:
                gc.enable()

    @property
    def total(self) -> float:
        return sum(self.seconds)


class _CTimer:
    """Adds up the CPU time spent in the C core's calls during the wave."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name)
        clock = time.process_time
        totals = self.seconds
        totals.setdefault(label, 0.0)

        def timed(*args: Any, **kw: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args, **kw)
            finally:
                totals[label] += clock() - t0

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, fn))

    def close(self) -> None:
        for undo in reversed(self._undo):
            undo()


def wave(n: int, timer: _CTimer | None, kernel: _CTimer | None = None,
         floor: Floor | None = None) -> dict[str, Any]:
    """One wave over n fresh meters; ``floor``: its slices run before, between
    and after the wave's phases, outside their times."""
    keys, _pkg, factory, frames = _case()
    out: dict[str, Any] = {}
    rss0 = _status_kib("VmRSS")
    anon0 = _status_kib("RssAnon")
    wall, cpu = time.perf_counter, time.process_time
    between = floor.slice if floor is not None else (lambda: None)
    between()
    w0, t0 = wall(), cpu()
    fleet = Fleet.build(n, trusted_keys=[keys.point], factory_package=factory,  # type: ignore[attr-defined]
                        vendor_id=VENDOR_ID, hw_revision=HW_REVISION)
    w1, t1 = wall(), cpu()
    between()
    w2, t2 = wall(), cpu()
    result = fleet.broadcast(frames, loss=LOSS, seed=1, max_rounds=60)
    w3, t3 = wall(), cpu()
    between()
    w4, t4 = wall(), cpu()
    activated = fleet.activate()
    w5, t5 = wall(), cpu()
    between()
    w6, t6 = wall(), cpu()
    confirmed = fleet.heartbeat()
    w7, t7 = wall(), cpu()
    between()
    out["phases"] = {"build": t1 - t0, "broadcast": t3 - t2, "activate": t5 - t4,
                     "heartbeat": t7 - t6}
    out["cpu"] = sum(out["phases"].values())
    out["wall"] = (w1 - w0) + (w3 - w2) + (w5 - w4) + (w7 - w6)
    out["round calls"] = result.seconds_c
    out["rounds"] = result.sent
    out["complete"] = result.count("complete")
    out["activated"] = sum(v is None for v in activated.values())
    out["confirmed"] = sum(confirmed.values())
    out["versions"] = sum(fleet[s].active_version == "2.0.0" for s in fleet)
    hwm = _status_kib("VmHWM")
    out["rss_delta_kib"] = None if hwm is None or rss0 is None else hwm - rss0
    anon = _status_kib("RssAnon")
    out["anon_delta_kib"] = None if anon is None or anon0 is None else anon - anon0
    out["template_bytes"] = fleet.template_bytes()
    out["private"] = fleet.private_bytes()
    t5 = cpu()
    out["shared_left"] = fleet.share_identical()
    out["share_cpu"] = cpu() - t5
    anon = _status_kib("RssAnon")
    out["anon_shared_kib"] = None if anon is None or anon0 is None else anon - anon0
    out["private_shared"] = fleet.private_bytes()
    out["template_bytes_shared"] = fleet.template_bytes()
    out["c"] = dict(timer.seconds) if timer is not None else {}
    out["k"] = dict(kernel.seconds) if kernel is not None else {}
    fleet.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=10_000, metavar="N",
                    help="live meters in the wave (default 10,000)")
    ap.add_argument("--no-c-split", action="store_true",
                    help="skip the second wave, the one that times the C core's calls")
    args = ap.parse_args(argv)
    n = args.meters
    if n < 1:
        ap.error("--meters must be at least 1")
    keys, pkg, _factory, _frames = _case()
    print(f"bench.fleet on {platform.machine()} ({os.cpu_count()} CPUs seen), Python "
          f"{platform.python_version()}: {n:,} live meters, {len(pkg):,}-byte package, "
          f"{len(_frames)} fragments of 128 B, {LOSS:.0%} loss per meter. Times are this "
          f"process's CPU (one thread: its time on one core); wall beside it")
    the_floor = Floor(n, pkg, keys.point)  # type: ignore[attr-defined]
    got = wave(n, None, floor=the_floor)  # the headline: nothing wrapped
    fl = the_floor.total
    split = None
    if not args.no_c_split:  # a second wave, every C call timed
        timer = _CTimer()
        timer.wrap(_fleet.RoundRunner, "run", "rounds (mt_fleet_round)")
        timer.wrap(_fleet.RoundRunner, "replay", "rounds after stops (mt_fleet_replay)")
        timer.wrap(_reasm.Reassembler, "frames", "stopped runs (mt_reasm_frames)")
        timer.wrap(_reasm.Reassembler, "frame", "single frames (mt_reasm_frame)")
        for name in ("verify", "activate", "start", "boot_ok", "confirm", "load", "provision"):
            timer.wrap(_boot.Bootloader, name, "acceptance, boot, confirm (mt_boot_*)")
        timer.wrap(_image, "check_package", "template check (mt_image_check)")
        # not the C core: the kernel copying download banks' pages for meters
        kernel = _CTimer()
        kernel.wrap(_broadcast, "populate", "bank pages copied ahead of writes (kernel)")
        split = wave(n, timer, kernel)
        timer.close()
        kernel.close()
    ok = got["complete"] == got["activated"] == got["confirmed"] == got["versions"] == n
    cpu = got["cpu"]
    print(f"\nwave: {cpu:.2f} s CPU ({got['wall']:.2f} s wall), {len(got['rounds'])} rounds "
          f"sending {got['rounds']} fragments; complete {got['complete']:,}, activated "
          f"{got['activated']:,}, confirmed {got['confirmed']:,}"
          f"{'' if ok else '   (NOT every meter)'}")
    for name, s in got["phases"].items():
        print(f"  {name:<12} {s:8.2f} s CPU")
    ratio = cpu / fl
    print(f"physical floor, {n:,} x (hashlib SHA-256 + OpenSSL P-256 verify + copy): "
          f"{fl:.2f} s CPU, in {FLOOR_SLICES} slices around the wave's phases "
          f"({', '.join(f'{x:.2f}' for x in the_floor.seconds)} s)")
    print(f"  wave / floor: {ratio:.2f}x (target <= {FLOOR_TARGET:g}x: "
          f"{'pass' if ratio <= FLOOR_TARGET else 'FAIL'});  wave <= {WAVE_TARGET_S:g} s on "
          f"one core: {'pass' if cpu <= WAVE_TARGET_S else 'FAIL'}")
    if split is not None:
        total_c = sum(split["c"].values())
        total_k = sum(split["k"].values())
        cpu2 = split["cpu"]
        print(f"C core's calls, timed one by one in a second wave of {n:,} fresh meters "
              f"({cpu2:.2f} s CPU with the timers' own cost): {total_c:.2f} s CPU "
              f"({total_c / cpu2:.0%} of that wave; Python the rest: "
              f"{cpu2 - total_c - total_k:.2f} s)")
        for name, s in split["c"].items():
            print(f"  {name:<44} {s:8.2f} s")
        for name, s in split["k"].items():
            print(f"  {name:<44} {s:8.2f} s (outside the C core: madvise)")
        print(f"  C core / floor: {total_c / fl:.1f}x;  untimed wave / C core: "
              f"{cpu / total_c:.1f}x")
    if got["rss_delta_kib"] is not None:
        per = got["rss_delta_kib"] * 1024 / n / 1e6
        print(f"memory: peak RSS growth {got['rss_delta_kib'] / 1024:,.0f} MiB = {per:.3f} MB "
              f"per meter (target <= {MEMORY_TARGET_MB:g} MB: "
              f"{'pass' if per <= MEMORY_TARGET_MB else 'FAIL'})")
        print("  (RSS counts a template page once per block mapping that has read it, though "
              "it is one page of the template file)")
    if got["anon_delta_kib"] is not None:
        own = got["anon_delta_kib"] * 1024 + got["template_bytes"]
        per = own / n / 1e6
        print(f"  memory the fleet holds: private pages {got['anon_delta_kib'] / 1024:,.0f} MiB "
              f"+ template files {got['template_bytes'] / 2**20:,.0f} MiB = {per:.3f} MB per "
              f"meter (target <= {MEMORY_TARGET_MB:g} MB: "
              f"{'pass' if per <= MEMORY_TARGET_MB else 'FAIL'})")
    if got["private"] is not None:
        print(f"  of which flash the meters wrote (copied pages): "
              f"{got['private'] / n / 1024:.0f} KiB per meter")
    if got["shared_left"] is None:
        print("identical sectors: not shared on this platform (needs Linux's mremap)")
    elif got["anon_shared_kib"] is not None and got["private_shared"] is not None:
        own = got["anon_shared_kib"] * 1024 + got["template_bytes_shared"]
        print(f"after Fleet.share_identical() ({got['share_cpu']:.2f} s CPU, after the wave): "
              f"flash private to single meters {got['private_shared'] / n / 1024:.1f} KiB per "
              f"meter; the fleet holds private pages {got['anon_shared_kib'] / 1024:,.0f} MiB "
              f"+ template files {got['template_bytes_shared'] / 2**20:,.0f} MiB = "
              f"{own / n / 1e6:.3f} MB per meter")
    return 0


if __name__ == "__main__":
    sys.exit(main())
