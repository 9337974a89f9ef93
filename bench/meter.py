"""``python -m bench.meter``: CPU per meter for one firmware update (SPEC section 9).

The case: a 128 KiB signed package (1,024 fragments of 128 bytes) broadcast
over a link with 10 % Bernoulli loss, retransmission rounds until complete,
then validated and activated. CPU time is ``time.process_time`` summed over
many meters, split by phase; the link simulation and the building of each
meter (provisioning its factory image) are head-end / set-up work and are
reported apart, not in the per-meter figure.

Two paths are measured:

* **C core** -- what firmware built from ``csrc/`` does: frames into
  ``mt_reasm`` over an ``mt_flash`` device, the acceptance check
  (``mt_image_check``: CRC-32, SHA-256, ECDSA P-256) on the bank, then the
  bootloader's activate / start / confirm. The hash and signature pieces are
  also timed alone, so the split shows where validation goes.
* **VirtualMeter** -- the whole sans-I/O device object (audit log, metrology,
  boot states, COSEM objects) that test benches drive, given each round's
  frames in one ``receive_many`` call as ``meteremu.hes.deliver`` does.

Beside the C core path, the **C-core floor**: ``csrc/build/test/bench_wave``
(``make -C csrc bench-wave``) runs the same per-meter work for ``--floor``
meters with no Python in the loop (the package, key and factory image written
here to a temporary directory), so the ratio shows what the binding costs. It
is skipped, saying so, when the binary has not been built. Under it, the
physical floor of issue 11 (one ``hashlib`` SHA-256 of the package, one
OpenSSL P-256 verify, one copy of the package), measured in the same run.

``--against DIR`` measures this checkout and the one in ``DIR`` (an earlier
commit, built in its own venv) side by side: two worker processes, each running
its own checkout's code, take turns batch by batch in one session, and the
medians per phase are printed in two columns (construction is the set-up line).

Then ``--meters`` meters on each path one after another in this process
(each built, updated, dropped; here set-up and link simulation count),
timed as they are. A wave of 10,000 meters alive at once, each on its own
link, is ``python -m bench.fleet`` (docs/FLEET.md): nothing is
extrapolated from one meter. Target per meter: <= 2 ms of CPU.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from meteremu.device import Client
from meteremu.hes import LossyLink, fragment_package
from meteremu.testing import (
    HW_REVISION,
    VENDOR_ID,
    make_firmware,
    make_keys,
    make_meter,
    make_package,
)

PACKAGE_SIZE = 128 * 1024
FRAGMENT_SIZE = 128
TRAILER = 128
LOSS = 0.1
TARGET_MS = 2.0
SESSION = 0xBE4C


@dataclass
class Phases:
    """CPU seconds per phase, summed over meters."""

    meters: int = 0
    times: dict[str, float] = field(default_factory=dict)
    frames_sent: int = 0
    frames_delivered: int = 0
    rounds: int = 0

    def add(self, name: str, seconds: float) -> None:
        self.times[name] = self.times.get(name, 0.0) + seconds

    def per_meter_ms(self, name: str) -> float:
        return 1e3 * self.times.get(name, 0.0) / max(self.meters, 1)


def _case() -> tuple[object, bytes, bytes, list[bytes]]:
    keys = make_keys(0)
    image = make_firmware(PACKAGE_SIZE - 128 - TRAILER, seed=9)
    pkg = make_package(image, keys, version="2.0.0", security_counter=2,
                       fragment_size=FRAGMENT_SIZE, trailer_size=TRAILER)
    assert len(pkg) == PACKAGE_SIZE
    factory = make_package(make_firmware(8 * 1024, seed=1), keys, version="1.0.0",
                           security_counter=1, fragment_size=FRAGMENT_SIZE)
    frames = fragment_package(pkg, session_id=SESSION)
    assert len(frames) == 1024
    return keys, pkg, factory, frames


def _each(receive: Callable[[bytes], object]) -> Callable[[list[bytes]], object]:
    """A round's frames handed to ``receive`` one at a time."""
    def burst(arrived: list[bytes]) -> None:
        for f in arrived:
            receive(f)
    return burst


def _rounds(link: LossyLink, frames: Sequence[bytes], burst: Callable[[list[bytes]], object],
            missing: Callable[[], list[int]], ph: Phases, phase: str) -> None:
    """Broadcast, then re-send what is missing; only ``burst`` (the meter taking a
    round's frames) is timed as meter CPU."""
    clock = time.process_time
    todo: Sequence[int] = range(len(frames))
    while todo:
        ph.rounds += 1
        t0 = clock()
        arrived = link.transmit([frames[i] for i in todo])
        t1 = clock()
        burst(arrived)
        t2 = clock()
        ph.add("link simulation (HES side)", t1 - t0)
        ph.add(phase, t2 - t1)
        ph.frames_sent += len(todo)
        ph.frames_delivered += len(arrived)
        todo = missing()


# --------------------------------------------------------------------------- C core path

def run_core(n: int, keys: object, pkg: bytes, factory: bytes, frames: list[bytes]) -> Phases:
    from meteremu._lowlevel.boot import Bootloader
    from meteremu._lowlevel.flash import Flash, compute_layout
    from meteremu._lowlevel.reasm import Reassembler
    from meteremu.hes import missing_indices

    point = keys.point  # type: ignore[attr-defined]
    lay = compute_layout(bank_size=PACKAGE_SIZE)
    areas = {k: (p.off, p.size) for k, p in lay.partitions().items()}
    ph = Phases()
    clock = time.process_time
    for i in range(n):
        t0 = clock()
        flash = Flash(lay.used)
        for name in ("golden", "bank_a"):
            flash.program(areas[name][0], factory + b"\xff" * (-len(factory) % 8))
        boot = Bootloader(flash, areas, vendor_id=VENDOR_ID, hw_revision=HW_REVISION,
                          trusted_keys=[point])
        boot.provision()
        boot.start()
        boot.boot_ok()
        inactive = boot.inactive()
        r = Reassembler(flash, getattr(lay, f"bank_{inactive.name.lower()}"), lay.progress,
                        VENDOR_ID, HW_REVISION)
        ph.add("meter set-up (not counted)", clock() - t0)
        t0 = clock()
        r.begin(SESSION, len(pkg), FRAGMENT_SIZE, len(frames))  # as any frame would
        ph.add("fragments (mt_reasm into flash)", clock() - t0)
        link = LossyLink(i, loss=LOSS)
        _rounds(link, frames, _each(r.frame), lambda r=r: missing_indices(r.missing(),
                r.fragment_count) if r.fragment_count else list(range(len(frames))),
                ph, "fragments (mt_reasm into flash)")
        assert r.complete
        t0 = clock()
        boot.verify()
        t1 = clock()
        boot.activate()
        boot.start()
        boot.boot_ok()
        boot.confirm()
        t2 = clock()
        ph.add("validation (mt_image_check)", t1 - t0)
        ph.add("activation (swap, boot, confirm)", t2 - t1)
        ph.meters += 1
    return ph


def pieces(pkg: bytes, point: bytes, repeat: int = 200) -> dict[str, float]:
    """CPU ms of the validation pieces alone (C core, through meteremu.crypto)."""
    from meteremu.crypto import crc32, sha256, verify_p256
    from meteremu.package import parse_package

    p = parse_package(pkg)
    digest = sha256(p.unsigned)
    assert p.signature is not None
    sig, enc = p.signature, p.signature_encoding or "der"
    out = {}
    for name, fn in (
        ("CRC-32 of the image", lambda: crc32(p.image)),
        ("SHA-256 of the image", lambda: sha256(p.image)),
        ("SHA-256 of header+image (signed bytes)", lambda: sha256(p.unsigned)),
        ("ECDSA P-256 verify", lambda: verify_p256(point, digest, sig, encoding=enc)),
    ):
        best = float("inf")
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(repeat):
                fn()
            best = min(best, (time.process_time() - t0) / repeat)
        out[name] = 1e3 * best
    return out


# --------------------------------------------------------------------------- VirtualMeter path

def run_device(n: int, keys: object, pkg: bytes, factory: bytes,
               frames: list[bytes]) -> Phases:
    ph = Phases()
    clock = time.process_time
    for i in range(n):
        t0 = clock()
        m = make_meter(keys, factory)  # type: ignore[arg-type]
        ph.add("meter set-up (not counted)", clock() - t0)
        link = LossyLink(i, loss=LOSS)

        def missing(m: object = m) -> list[int]:
            if m.download_progress() == (0, 0):  # type: ignore[attr-defined]
                return list(range(len(frames)))  # nothing arrived yet
            return m.missing_fragments()  # type: ignore[attr-defined]

        # as meteremu.hes.deliver does: each round's frames in one burst
        _rounds(link, frames, m.receive_many, missing, ph,
                "fragments + acceptance on completion")
        t0 = clock()
        m.action("0.0.96.10.2.255", 1, True, client=Client.MANAGEMENT)
        t1 = clock()
        confirmed = m.heartbeat()
        t2 = clock()
        assert confirmed and m.active_version == "2.0.0"
        ph.add("activation (re-check, swap, boot)", t1 - t0)
        ph.add("heartbeat (confirm)", t2 - t1)
        ph.meters += 1
        m.close()
    return ph


# --------------------------------------------------------------------------- C-core floor

FLOOR_BINARY = pathlib.Path(__file__).resolve().parent.parent / "csrc/build/test/bench_wave"
_FLOOR_PHASES = (("fragments", "fragments_us"), ("validation", "validation_us"),
                 ("activation", "activation_us"))


def run_floor(n: int, pkg: bytes, point: bytes, factory: bytes,
              binary: pathlib.Path = FLOOR_BINARY) -> dict[str, float] | None:
    """The C-core floor for n meters (csrc/bench/bench_wave.c): its JSON figures,
    or None when the binary is not built."""
    if not binary.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, data in (("package.bin", pkg), ("key.bin", point), ("factory.bin", factory)):
            path = pathlib.Path(tmp, name)
            path.write_bytes(data)
            files.append(str(path))
        out = subprocess.run([str(binary), "--json", *files, str(n), "1", f"{LOSS * 100:g}"],
                             capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def physical_floor(pkg: bytes, point: bytes, repeat: int = 300) -> float:
    """CPU ms of the physical floor issue 11 names, per meter: one hashlib
    SHA-256 of the package, one OpenSSL P-256 verify (through cryptography, of
    a digest already made) and one copy of the package into memory; best of 5."""
    from ._floor import floor_step

    step = floor_step(pkg, point)
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(repeat):
            step()
        best = min(best, (time.process_time() - t0) / repeat)
    return 1e3 * best


def report_floor(fl: dict[str, float] | None, core: Phases | None,
                 physical: float | None = None) -> None:
    if fl is None:
        print(f"\nC-core floor: not built ({FLOOR_BINARY.name}: make -C csrc bench-wave)")
        return
    print(f"\nC-core floor (csrc/bench/bench_wave.c, no Python in the loop): {fl['meters']:.0f} "
          f"meters, {fl['frames_sent']:.0f} frames sent and {fl['frames_delivered']:.0f} "
          f"delivered per meter, {fl['rounds']:.1f} rounds")
    names = {"fragments": "fragments (mt_reasm into flash)",
             "validation": "validation (mt_image_check)",
             "activation": "activation (swap, boot, confirm)"}
    for label, key in _FLOOR_PHASES:
        ms = fl[key] / 1e3
        py = core.per_meter_ms(names[label]) if core is not None else 0.0
        ratio = f"   C core path / floor {py / ms:5.1f}x" if core is not None and ms else ""
        print(f"  {label:<44} {ms:8.3f} ms{ratio}")
    total = fl["total_us"] / 1e3
    py_total = (sum(core.per_meter_ms(v) for v in names.values()) if core is not None else 0.0)
    ratio = f"   C core path / floor {py_total / total:5.1f}x" if core is not None else ""
    print(f"  {'total CPU per meter':<44} {total:8.3f} ms{ratio}")
    if physical:
        print(f"  {'physical floor (hashlib + OpenSSL + copy)':<44} {physical:8.3f} ms   "
              f"C-core floor / physical {total / physical:5.1f}x")
    print(f"  (image passes {fl['image_passes']:.2f} and ECDSA {fl['ecdsa']:.2f} per meter on "
          f"the new bank: activation re-checks from the cache; set-up "
          f"{fl['setup_us'] / 1e3:.3f} ms per meter, not counted)")


# --------------------------------------------------------------------------- report

_NOT_COUNTED = ("meter set-up (not counted)", "link simulation (HES side)")


def report(title: str, ph: Phases, extra: dict[str, float] | None = None) -> float:
    print(f"\n{title}: {ph.meters} meters, {ph.frames_sent / ph.meters:.0f} frames sent and "
          f"{ph.frames_delivered / ph.meters:.0f} delivered per meter, "
          f"{ph.rounds / ph.meters:.1f} rounds")
    total = 0.0
    for name in ph.times:
        if name in _NOT_COUNTED:
            continue
        ms = ph.per_meter_ms(name)
        total += ms
        print(f"  {name:<44} {ms:8.3f} ms")
        if extra and name.startswith("validation"):
            for piece, v in extra.items():
                print(f"    of which {piece:<38} {v:8.3f} ms (timed alone)")
            print("    (the check reads the image once for both SHA-256 digests: "
                  "mt_sha256_update2, make -C csrc bench)")
    verdict = "pass" if total <= TARGET_MS else "FAIL"
    print(f"  {'total CPU per meter':<44} {total:8.3f} ms   target <= {TARGET_MS:g} ms: {verdict}")
    for name in _NOT_COUNTED:
        if name in ph.times:
            print(f"  ({name}: {ph.per_meter_ms(name):.3f} ms per meter)")
    return total


def wave(name: str, run: Callable[..., Phases], n: int, *case: object) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    run(n, *case)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"\nin a row, {name}: {n} meters in one process, each built, updated and dropped "
          f"(set-up and link simulation included): {wall:.2f} s wall, {cpu:.2f} s CPU")


# --------------------------------------------------------------------------- side by side

# Run in a second interpreter inside a checkout (its working directory): that
# checkout's own bench.meter measures batches of meters on request. Only
# _case, run_core and run_device are used, which every version of this file has.
_WORKER = """
import json, sys
from bench.meter import _case, run_core, run_device
case = _case()
for line in sys.stdin:
    path, n = line.split()
    ph = (run_core if path == "core" else run_device)(int(n), *case)
    print(json.dumps({"meters": ph.meters, "times": ph.times}), flush=True)
"""

_ROOT = pathlib.Path(__file__).resolve().parent.parent


class _Worker:
    def __init__(self, root: pathlib.Path, python: str) -> None:
        self.root = root
        self.proc = subprocess.Popen([python, "-c", _WORKER], cwd=root, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def batch(self, path: str, n: int) -> dict[str, float]:
        """CPU ms per meter of each phase, for n meters on path ("core" or "vm")."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{path} {n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench worker in {self.root} stopped")
        got = json.loads(line)
        return {k: 1e3 * v / got["meters"] for k, v in got["times"].items()}

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def _python_of(root: pathlib.Path) -> str:
    venv = root / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def compare(other: pathlib.Path, python: str | None, rounds: int, batch: int) -> None:
    """This checkout against ``other`` (e.g. a build of an earlier commit), in one
    session: two worker processes take turns, batch by batch, alternating which
    goes first, so both see the same machine; per phase the median over rounds."""
    sides = {"before": _Worker(other, python or _python_of(other)),
             "after": _Worker(_ROOT, sys.executable)}
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for w in sides.values():  # warm-up, not counted
            w.batch("vm", 2)
            w.batch("core", 2)
        for r in range(rounds):
            order = list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]
            for path in ("vm", "core"):
                for name, w in order:
                    runs.setdefault((name, path), []).append(w.batch(path, batch))
    finally:
        for w in sides.values():
            w.close()
    print(f"\nside by side, one session: before = {other}, after = {_ROOT}; {rounds} rounds "
          f"of {batch} meters per path and side, turns alternating; CPU ms per meter, median "
          f"of the rounds")
    for path, title in (("vm", "VirtualMeter path"), ("core", "C core path")):
        before, after = runs[("before", path)], runs[("after", path)]
        names = list(dict.fromkeys([*before[0], *after[0]]))
        print(f"\n{title:<46} {'before':>9} {'after':>9} {'after/before':>13}")

        def med(rows: list[dict[str, float]], key: str) -> float | None:
            vals = [row[key] for row in rows if key in row]
            return statistics.median(vals) if vals else None

        def show(label: str, b: float | None, a: float | None) -> None:
            bs = "-" if b is None else f"{b:9.3f}"
            as_ = "-" if a is None else f"{a:9.3f}"
            ratio = f"{a / b:12.2f}x" if a is not None and b else ""
            print(f"  {label:<44} {bs:>9} {as_:>9} {ratio:>13}")

        for key in names:
            show(key, med(before, key), med(after, key))
        tot = [[sum(v for k, v in row.items() if k not in _NOT_COUNTED) for row in rows]
               for rows in (before, after)]
        show("update: total CPU per meter", statistics.median(tot[0]), statistics.median(tot[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.meter", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-meter", type=int, default=200, metavar="N",
                    help="meters for the per-meter split (default 200)")
    ap.add_argument("--meters", type=int, default=1000, metavar="N",
                    help="meters updated one after another at the end (default 1000)")
    ap.add_argument("--against", type=pathlib.Path, metavar="DIR",
                    help="instead: this checkout side by side with the checkout in DIR (built, "
                    "with its venv in DIR/.venv), batches alternating in one session")
    ap.add_argument("--against-python", metavar="PATH",
                    help="the interpreter for --against (default DIR/.venv/bin/python)")
    ap.add_argument("--rounds", type=int, default=15, metavar="N",
                    help="--against: rounds (default 15)")
    ap.add_argument("--batch", type=int, default=20, metavar="N",
                    help="--against: meters per batch (default 20)")
    ap.add_argument("--floor", type=int, default=2000, metavar="N",
                    help="meters for the C-core floor, 0 to skip it (default 2000)")
    args = ap.parse_args(argv)
    if args.against is not None:
        compare(args.against.resolve(), args.against_python, args.rounds, args.batch)
        return 0
    keys, pkg, factory, frames = _case()
    print(f"bench.meter on {platform.machine()}, Python {platform.python_version()}: "
          f"{len(pkg)}-byte package, {len(frames)} fragments of {FRAGMENT_SIZE}, "
          f"{LOSS:.0%} loss; CPU by time.process_time")
    try:
        core = run_core(args.per_meter, keys, pkg, factory, frames)
    except (AttributeError, ImportError) as exc:  # a core built without mt_image/mt_boot
        print(f"\nC core path: not built ({exc})")
        core = None
    else:
        report("C core path", core, pieces(pkg, keys.point))  # type: ignore[attr-defined]
    if args.floor:
        point = keys.point  # type: ignore[attr-defined]
        report_floor(run_floor(args.floor, pkg, point, factory), core,
                     physical_floor(pkg, point))
    report("VirtualMeter path", run_device(args.per_meter, keys, pkg, factory, frames))
    if args.meters:
        if core is not None:
            wave("C core", run_core, args.meters, keys, pkg, factory, frames)
        wave("VirtualMeter", run_device, args.meters, keys, pkg, factory, frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
