"""Power-cut sweep of the VirtualMeter over the C core (MCUboot simulator style, stricter).

For each scenario, count the flash operations of a clean run; then, for every
operation k (every K-th in the default run, all of them under ``-m slow``),
on a fresh meter: cut the power at operation k -- the operation not started
(tear none), or torn: a prefix of its bytes written, or bits partly cleared
(program) / partly erased (erase) --, power up, check, let the head-end finish
the scenario, check again. Plus runs with several stacked random cuts from a
fixed seed.

Scenarios: (a) download + activate + confirm; (b) download + activate of a
no-heartbeat image, rollback after 300 s; (c) a crash-on-boot image: boot
loop, revert to the previous bank; and the same with the previous bank
damaged, so the meter ends on the golden image.

Checked after every power-up and at the end:
  * the meter runs, and the bank it runs holds a package whose ECDSA signature
    verifies (``meteremu.crypto``, independently of the meter's own check)
    against the trusted key, and which is byte for byte one we signed;
  * boot-control state is consistent: the record names the running bank; the
    boot state agrees with the record (trial, and the outcome of the last
    update); the anti-rollback counter never exceeds a confirmed image's, and the
    effective floor (record or floor region) is never below one;
  * fragments marked received in the flash bitmap before the cut are not
    requested again after it (the download resumes, it does not restart);
  * no confirmed energy is lost: the register after power-up is at least what
    was persisted before the cut;
  * the scenario ends as the rules say: (a) the new image confirmed, (b)/(c)
    the old image back (reverted), (c') the golden image.
"""

from __future__ import annotations

import contextlib
import functools
import random
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from meterkit import MGMT, REFUSED, frames, meter, package, point

from meteremu import crypto
from meteremu._lowlevel.boot import BootState as CoreState
from meteremu._lowlevel.boot import Outcome
from meteremu._lowlevel.flash import Tear
from meteremu.device import BootState, Geometry, MeterUnavailable, VirtualMeter

FACTORY = package(1)
SMALL_IMAGE, BIG_IMAGE = 3000, 24 * 1024  # bytes of image in the new package


@functools.cache
def new_package(scenario: str, size: int) -> bytes:
    behaviour = {"confirm": 0, "no-heartbeat": 1}.get(scenario, 2)
    return package(2 + behaviour, size=size, behaviour=behaviour)


@functools.cache
def stream(scenario: str, size: int, session: int) -> list[bytes]:
    return frames(new_package(scenario, size), session)


SIGNED = {FACTORY} | {new_package(s, n) for s in ("confirm", "no-heartbeat", "crash")
                      for n in (SMALL_IMAGE, BIG_IMAGE)}
KEY = point(0)
EXPECT = {  # scenario -> (boot state, version, bank) at the end
    "confirm": (BootState.CONFIRMED, "2.0.0", "B"),
    "no-heartbeat": (BootState.REVERTED, "1.0.0", "A"),
    "crash": (BootState.REVERTED, "1.0.0", "A"),
    "crash-golden": (BootState.REVERTED, "1.0.0", "golden"),
}
COARSE_STEP = 7  # the default run cuts at every 7th operation
TEARS = (Tear.NONE, Tear.PREFIX, Tear.BITS)
_VERIFIED: dict[bytes, bool] = {}


def _signed_by_trusted_key(pkg: bytes) -> bool:
    """The package's signature, checked with meteremu.crypto (layout: mt_pkg.h)."""
    if pkg not in _VERIFIED:
        image_size, trailer_size = struct.unpack_from("<I", pkg, 28)[0], pkg[34] | pkg[35] << 8
        signed = pkg[: 128 + image_size]
        trailer = pkg[128 + image_size : 128 + image_size + trailer_size]
        kind, length = trailer[0], trailer[1] | trailer[2] << 8
        sig = trailer[3 : 3 + length]
        _VERIFIED[pkg] = kind in (1, 2) and crypto.verify_p256(
            KEY, crypto.sha256(signed), sig, encoding="der" if kind == 1 else "raw")
    return _VERIFIED[pkg]


class Failure(AssertionError):
    pass


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise Failure(what)


@dataclass
class Run:
    """One scenario run: the head-end's side (session ID, what it did) and the
    facts the checks compare against."""

    scenario: str
    m: VirtualMeter
    size: int = SMALL_IMAGE
    session: int = 0x5EED
    flipped: bool = False
    floor: float = 0.0
    max_counter: int = 1  # highest security counter of an image ever confirmed
    cuts: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def stream(self) -> list[bytes]:
        return stream(self.scenario, self.size, self.session)

    def done(self) -> bool:
        m = self.m
        if not (m.powered and m.available):
            return False
        return (m.boot_state, m.active_version, m.active_bank) == EXPECT[self.scenario]

    def step(self) -> None:
        """One head-end action for the state the meter is in."""
        m = self.m
        if not m.powered:
            return
        if not m.available:
            m.advance(31)
            return
        st = m.boot_state
        if st in (BootState.REVERTED, BootState.FAILED, BootState.CONFIRMED) and (
                self.scenario == "confirm" or st is not BootState.REVERTED) and (
                m.download_progress() == (0, 0) and m.active_version != "2.0.0"):
            self.session += 1  # a new attempt after a rollback or refusal: a new session
        if st in (BootState.IDLE, BootState.DOWNLOADING, BootState.FAILED,
                  BootState.REVERTED, BootState.CONFIRMED):
            stream = self.stream
            todo = m.missing_fragments() if m.download_progress() != (0, 0) else range(
                len(stream))
            for i in list(todo):
                m.receive(stream[i])
                if not m.powered:
                    return
            m.advance(1)
        elif st is BootState.VERIFIED:
            if self.scenario == "crash-golden" and not self.flipped:
                m.flash.flip_bits(m.layout["bank_a"].offset + 300, 0x10)  # A rots
                self.flipped = True
            with contextlib.suppress(REFUSED, MeterUnavailable):
                m.action("0.0.96.10.2.255", 1, True, client=MGMT)
        elif st is BootState.TRIAL:
            if self.scenario == "confirm":
                m.advance(5)
                with contextlib.suppress(MeterUnavailable):
                    if m.heartbeat():
                        self.max_counter = max(self.max_counter, 2)
            else:
                m.advance(301)

    def drive(self, rounds: int = 12) -> None:
        """Run the scenario until it is done, the power goes, or rounds run out."""
        for _ in range(rounds):
            if self.done() or not self.m.powered:
                return
            self.step()

    # ---------------------------------------------------------------- checks
    def received_on_flash(self) -> set[int]:
        """Fragments the progress bitmap marks received, read from the cells."""
        m = self.m
        p = m.layout["progress"]
        rec = m.flash.dump()[p.offset : p.offset + 32]
        if rec[:4] != b"MTDL" or zlib.crc32(rec[:28]) != int.from_bytes(rec[28:], "little"):
            return set()
        sid, _, _, count = struct.unpack_from("<IIII", rec, 4)
        if sid != self.session:
            return set()
        bitmap = m.flash.dump()[p.offset + 32 : p.offset + 32 + (count + 7) // 8]
        return {i for i in range(count) if not bitmap[i // 8] >> (i % 8) & 1}

    def check_running(self, where: str) -> None:
        m = self.m
        _check(m.lcd == "", f"{where}: LCD shows {m.lcd}")
        region = m.running_region
        _check(region is not None, f"{where}: nothing runs")
        assert region is not None
        cells = m.flash.dump()[region.offset : region.end]
        pkg = next((p for p in SIGNED if cells.startswith(p)), None)
        _check(pkg is not None, f"{where}: the running bank holds no package we signed")
        assert pkg is not None
        _check(_signed_by_trusted_key(pkg), f"{where}: signature does not verify")
        rec = m.boot_record
        bank = {"A": 0, "B": 1, "golden": 2}[m.active_bank or "A"]
        _check(int(rec.active) == bank, f"{where}: record names {rec.active}, runs {bank}")
        trial = rec.state is CoreState.TRIAL
        _check(trial == (m.boot_state is BootState.TRIAL),
               f"{where}: record trial={trial}, boot state {m.boot_state}")
        if m.boot_state is BootState.CONFIRMED:
            _check(rec.outcome is Outcome.CONFIRMED, f"{where}: confirmed, outcome {rec.outcome}")
        if m.boot_state is BootState.REVERTED:
            _check(rec.outcome is Outcome.REVERTED, f"{where}: reverted, outcome {rec.outcome}")
        _check(rec.counter <= self.max_counter, f"{where}: counter {rec.counter} raised")
        # the effective floor (record or floor region): never below a confirmed
        # counter, never raised by an image that was not confirmed
        top = 2 if self.scenario == "confirm" else 1
        _check(self.max_counter <= m.anti_rollback_floor <= top,
               f"{where}: floor {m.anti_rollback_floor}, confirmed {self.max_counter}")
        _check(m.energy_wh >= self.floor, f"{where}: energy {m.energy_wh} < floor {self.floor}")

    def power_up_and_check(self) -> None:
        m = self.m
        before = self.received_on_flash()
        self.floor = max(self.floor, m.energy_floor_wh)
        m.power_on()
        self.cuts += 1
        where = f"after cut {self.cuts}"
        self.check_running(where)
        if before and m.download_progress() != (0, 0):
            again = before & set(m.missing_fragments())
            _check(not again, f"{where}: fragments {sorted(again)[:5]} requested again")

    def finish(self) -> None:
        for _ in range(6):
            self.drive()
            if self.done():
                break
            if not self.m.powered:  # a cut still armed by a stacked run
                self.power_up_and_check()
        _check(self.done(), "scenario did not finish: "
               f"{(self.m.boot_state, self.m.active_version, self.m.active_bank)}")
        self.check_running("at the end")


def fresh(scenario: str, big: bool = False) -> Run:
    """A factory meter; ``big``: the default 128 KiB geometry, a 24 KiB image,
    and bank B holding an old image, so that the bank erase is in the sweep."""
    if not big:
        return Run(scenario, meter(load=3600))
    m = meter(load=3600, geometry=Geometry())
    pad = -len(FACTORY) % 8
    m.flash.program(m.layout["bank_b"].offset, FACTORY + b"\xff" * pad)
    return Run(scenario, m, size=BIG_IMAGE)


def clean_ops(scenario: str, big: bool = False) -> int:
    r = fresh(scenario, big)
    base = r.m.flash.ops_total
    r.finish()
    return r.m.flash.ops_total - base


def cut_once(scenario: str, k: int, tear: Tear, big: bool = False) -> str | None:
    """Cut at operation k of the scenario; None when every check held."""
    r = fresh(scenario, big)
    r.m.flash.seed(k * 3 + int(tear) + 1)
    r.m.flash.set_tear(tear)
    r.m.flash.cut_after(k)
    try:
        r.drive()
        _check(not r.m.powered, f"the cut at {k} never came")
        r.power_up_and_check()
        r.finish()
    except Failure as exc:
        return f"{scenario} k={k} tear={tear.name}: {exc}"
    return None


def stacked(scenario: str, seed: int, cuts: int = 4) -> str | None:
    """Several random cuts (random operation, random tear) before the finish."""
    rnd = random.Random(seed)
    r = fresh(scenario)
    try:
        for _ in range(cuts):
            r.m.flash.seed(rnd.getrandbits(31) + 1)
            r.m.flash.set_tear(rnd.choice(TEARS))
            r.m.flash.cut_after(rnd.randrange(0, 60))
            r.drive(rounds=rnd.randrange(1, 6))
            if not r.m.powered:
                r.power_up_and_check()
        r.m.flash.cut_disarm()
        r.finish()
    except Failure as exc:
        return f"{scenario} stacked seed={seed}: {exc}"
    return None


def sweep(step: int, stacked_runs: int, report: Callable[[str], None],
          big: bool = False) -> None:
    total = failed = 0
    problems: list[str] = []
    t0 = time.perf_counter()
    for scenario in EXPECT:
        ops = clean_ops(scenario, big)
        assert ops > 20, (scenario, ops)
        n0, t1 = total, time.perf_counter()
        for tear in TEARS:
            for k in range(0, ops, step):
                total += 1
                problem = cut_once(scenario, k, tear, big)
                if problem:
                    failed += 1
                    problems.append(problem)
        for seed in range(stacked_runs):
            total += 1
            problem = stacked(scenario, seed)
            if problem:
                failed += 1
                problems.append(problem)
        name = scenario + (" (128 KiB banks)" if big else "")
        report(f"sweep {name}: {ops} flash ops in a clean run, {total - n0} runs "
               f"({len(TEARS)} tear modes, every {step}. op, {stacked_runs} stacked), "
               f"{time.perf_counter() - t1:.1f} s")
    report(f"sweep total: {total} interruption runs, {failed} failed, "
           f"{time.perf_counter() - t0:.1f} s")
    assert not problems, "\n".join(problems[:20])


def test_clean_runs_end_as_the_rules_say() -> None:
    for scenario in EXPECT:
        for big in (False, True):
            r = fresh(scenario, big)
            r.finish()
            r.check_running("clean run")


def test_power_cut_sweep_coarse(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(COARSE_STEP, stacked_runs=3, report=lambda line: print("\n" + line))


@pytest.mark.slow
def test_power_cut_sweep_full(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(1, stacked_runs=50, report=lambda line: print("\n" + line))


@pytest.mark.slow
def test_power_cut_sweep_full_default_geometry(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(1, stacked_runs=20, report=lambda line: print("\n" + line), big=True)
