"""Power-cut sweep of the VirtualMeter over the C core (MCUboot simulator style, stricter).

For each scenario, count the flash operations of a clean run; then, for every
operation k (a coarse selection in the default run, all of them under
``-m slow``), on a fresh meter: cut the power at operation k -- the operation
not started (tear none), or torn: a prefix of its bytes written, or bits
partly cleared (program) / partly erased (erase) --, power up, check, let the
head-end finish the scenario, check again, then send one more update. Plus
runs with several stacked random cuts. Operations are counted from the
meter's making, power-ups included: the cut is re-armed after every
power-up, so it can also land in the boot itself (a brown-out), in a mains
outage's power-fail save, or in a trial boot's attempt count.

A scenario is a list of jobs, one update each: a package, the path it takes
(mesh frames one by one through ``receive``, a burst through
``receive_many``, or class 18 image transfer: initiate, blocks, verify,
activate) and what the rules say it ends in (confirmed, rolled back to the
previous bank or to golden, refused as a downgrade). Before a job the meter
may meter for hours, with neighbours' update headers on the air and mains
outages, so that the metrology and audit rings wrap. The head-end acts on
what the meter reports; after a cut it either continues its session (the
missing fragments; class 18: initiate again with the same identifier and go
on from attribute 4, the first block not transferred) or starts afresh with
a new session ID, a choice drawn per cut from the run's seed. Between steps
the air carries late frames of sessions already closed and foreign frames
(another vendor's package, a package for another hardware revision, a stray
single non-header frame of an unknown session), frame by frame and inside
bursts. At the end of every run the head-end sends one more package (higher
version and counter) in a new session, which must download, verify and
confirm: the meter is never left unable to take the next update.

Checked after every power-up, at the end of every job and at the end:
  * the meter runs, and the bank it runs holds a package we signed whose
    ECDSA signature verifies (``meteremu.crypto``, independently of the
    meter's own check), never one below the anti-rollback floor (golden
    excepted);
  * boot-control state is consistent: the record names the running bank; the
    boot state agrees with the record (trial, and the outcome of the last
    update); the record's anti-rollback counter, and the meter's effective
    floor where it has one (``security_floor``, ``anti_rollback_floor``), is
    never lower than the highest counter the meter confirmed in the run, and
    the counter never higher than a normal image activated;
  * a session once activated is not open again after a power-up;
  * fragments marked received in the flash bitmap before the cut are not
    requested again after it (the download resumes); class 18 attribute 4
    names the first block still missing;
  * energy: after a power-up the register is at least what was persisted
    before the cut, and at least the register just before the cut less one
    15-minute interval at the known load (3600 W); a mains outage without a
    cut loses nothing (the power-fail save);
  * late frames of a session the meter closed (and still remembers) are
    dropped; no injected frame changes the running image or touches a
    download the meter keeps (its session, its fragments, its state); on
    trial every download frame is dropped;
  * every job ends as the rules say, and the next update confirms.
"""

from __future__ import annotations

import functools
import random
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

import pytest
from meterkit import MGMT, REFUSED, frames, meter, package, point

from meteremu import crypto
from meteremu._lowlevel.boot import BootState as CoreState
from meteremu._lowlevel.boot import Outcome
from meteremu._lowlevel.flash import Tear
from meteremu.device import (
    BootState,
    Geometry,
    ImageTransferStatus,
    MeterUnavailable,
    Receipt,
    VirtualMeter,
)
from meteremu.device.nvm import AuditRecord, MetrologyRecord, unseal
from meteremu.device.sessions import KEEP

IT, UPDATE = "0.0.44.0.0.255", "0.0.96.10.2.255"
NORMAL, NO_HEARTBEAT, CRASH = 0, 1, 2
PATHS = ("mesh", "burst", "class18")
LOAD_W = 3600  # 1 Wh a second
CUT_LOSS_WH = LOAD_W * 15 * 60 / 3600  # what a cut may lose: one 15-minute interval at LOAD_W
EPS_WH = 1e-5  # the register persists whole micro-watt-hours
SMALL_IMAGE, BIG_IMAGE, CAMPAIGN_BIG_IMAGE = 3000, 24 * 1024, 3000
FACTORY = package(1)
KEY = point(0)
TEARS = (Tear.NONE, Tear.PREFIX, Tear.BITS)
MESH_SID, FOREIGN_SID = 0x5E000000, 0x0F000000
FLOOR_PROPERTIES = ("security_floor", "anti_rollback_floor")
_VERIFIED: dict[bytes, bool] = {}
SIGNED: set[bytes] = {FACTORY}  # every package of ours a job sends; grows as they are made


@dataclass(frozen=True)
class Job:
    """One update the head-end carries out."""

    version: int  # major version; the security counter is the same number
    behaviour: int = NORMAL  # NORMAL, NO_HEARTBEAT or CRASH (crash-on-boot)
    path: str = "mesh"  # "mesh" (receive), "burst" (receive_many), "class18"
    rot: bool = False  # the running bank rots just before activation: the revert ends on golden
    soak: float = 0  # hours of metering, with mains outages, before the update starts

    @property
    def name(self) -> str:
        return f"{self.version}.0.0"


@dataclass(frozen=True)
class Scenario:
    name: str
    jobs: tuple[Job, ...]
    big: bool = False  # the default geometry (128 KiB banks), bank B pre-filled
    image: int = SMALL_IMAGE  # bytes of image in each package
    outage_every: float = 4 * 3600  # seconds of metering between mains outages in a soak
    neighbours_every: float = 2 * 3600  # ... between other meters' update headers (0: none)

    @property
    def title(self) -> str:
        return self.name + (" (128 KiB banks)" if self.big else "")


_CAMPAIGN = (  # several updates in a row, every path, every ending
    Job(2, soak=6),
    Job(3, path="class18", soak=6),
    Job(4, NO_HEARTBEAT, path="burst", soak=6),
    Job(2, path="burst"),  # an old release sent again: refused as a downgrade
    Job(5, CRASH, path="class18", soak=6),
    Job(6, soak=6),
)
SCENARIOS = (
    Scenario("confirm", (Job(2),)),
    Scenario("no-heartbeat", (Job(3, NO_HEARTBEAT),)),
    Scenario("crash", (Job(4, CRASH),)),
    Scenario("crash-golden", (Job(4, CRASH, rot=True),)),
    Scenario("class18", (Job(2, path="class18"),)),
    Scenario("burst", (Job(2, NORMAL, path="burst"), Job(3, NO_HEARTBEAT, path="burst"))),
    Scenario("campaign", _CAMPAIGN, outage_every=3 * 3600),
)
BIG_SCENARIOS = (
    Scenario("confirm", (Job(2),), big=True, image=BIG_IMAGE),
    Scenario("no-heartbeat", (Job(3, NO_HEARTBEAT),), big=True, image=BIG_IMAGE),
    Scenario("crash", (Job(4, CRASH, path="burst"),), big=True, image=BIG_IMAGE),
    Scenario("crash-golden", (Job(4, CRASH, rot=True),), big=True, image=BIG_IMAGE),
    Scenario("class18", (Job(2, path="class18"),), big=True, image=BIG_IMAGE),
    Scenario("campaign", tuple(Job(j.version, j.behaviour, j.path, j.rot, j.soak and 21)
                               for j in _CAMPAIGN),
             big=True, image=CAMPAIGN_BIG_IMAGE, outage_every=12 * 3600,
             neighbours_every=3600),
)


# ---------------------------------------------------------------- packages and frames
def job_package(job: Job, size: int) -> bytes:
    pkg = package(job.version, size=size, behaviour=job.behaviour)
    SIGNED.add(pkg)
    return pkg


@functools.cache
def stream(pkg: bytes, session: int) -> list[bytes]:
    return frames(pkg, session)


@functools.cache
def foreign(kind: str) -> bytes:
    """Packages other meters are updated with: never ours to take."""
    if kind == "vendor":  # another vendor's, signed with its own key
        return package(8, size=700, signer=1, vendor_id=0x0BAD0BAD)
    if kind == "hw":  # ours, for another hardware revision
        return package(7, size=700, hw_revision=99)
    return package(9, size=2000)  # "stray": a package a single frame of which strays in


def _counter(pkg: bytes) -> int:
    return struct.unpack_from("<I", pkg, 24)[0]


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


# ---------------------------------------------------------------- power cuts
class Cutter:
    """Power cuts at flash operations counted from the meter's making.

    The flash model disarms a pending cut at power-up; this re-arms the next
    cut point right after every power-up, so that a cut can land inside the
    boot that follows a cut or a mains outage, not only between head-end
    calls. A cut point passed (the operation hit counts as done) is used up.
    """

    def __init__(self, m: VirtualMeter) -> None:
        self.flash = m.flash
        self.base = self.flash.ops_total
        self.points: list[tuple[int, Tear, int]] = []  # (operation, tear, seed), ascending
        self.fired = 0
        plain = self.flash.power_up

        def power_up() -> None:
            plain()
            self.arm()

        self.flash.power_up = power_up  # type: ignore[method-assign]

    @property
    def done(self) -> int:
        return self.flash.ops_total - self.base

    def arm(self) -> None:
        done = self.done
        while self.points and self.points[0][0] < done:
            self.points.pop(0)
            self.fired += 1
        if self.points:
            k, tear, seed = self.points[0]
            self.flash.seed(seed)
            self.flash.set_tear(tear)
            self.flash.cut_after(k - done)

    def stop(self) -> None:
        self.points.clear()
        self.flash.cut_disarm()


# ---------------------------------------------------------------- the run
def _fresh_meter(sc: Scenario) -> VirtualMeter:
    """A factory meter; in the default geometry bank B holds an old image, so
    that the bank erase is in the sweep."""
    if not sc.big:
        return meter(load=LOAD_W)
    m = meter(load=LOAD_W, geometry=Geometry())
    pad = -len(FACTORY) % 8
    m.flash.program(m.layout["bank_b"].offset, FACTORY + b"\xff" * pad)
    return m


def _other(bank: str) -> str:
    return "B" if bank == "A" else "A"  # (golden runs: downloads go to A)


class Run:
    """One scenario run: the head-end's side (sessions, choices), the cut
    points, and the facts the checks compare against."""

    def __init__(self, sc: Scenario, label: str = "clean") -> None:
        self.sc = sc
        self.label = label  # seeds the head-end's choices after the first cut
        self.m = _fresh_meter(sc)
        self.cutter = Cutter(self.m)
        # the clean run's choices; every run of the scenario makes the same
        # ones until its first cut, so cut k hits operation k of the clean run
        self.rnd = random.Random(sc.name)
        self.jobs = list(sc.jobs)
        self.i = 0
        # head-end
        self.sid: int | None = None  # the job's current session (class 18: crc32(ident))
        self.ident = b""
        self.sessions = 0
        self.foreigners = 0
        self.heard = 0  # sessions begun on the air (bounds what the meter closed since)
        self.fresh = False  # start a fresh session at the next download step
        self.late: list[tuple[list[bytes], int]] = []  # closed sessions: frames, self.heard
        self.abandoned: list[list[bytes]] = []  # sessions given up after a cut
        self._job_reset()
        # what must hold
        self.running = ("1.0.0", "A")
        self.floor = 1  # highest security counter the meter confirmed
        self.activated_max = 1  # highest counter of a normal image activated
        self.energy_floor = 0.0
        self.cuts = 0

    def _job_reset(self) -> None:
        self.sid = None
        self.job_seq: int | None = None
        self.soaked = self.rotted = self.refused = self.expect_refusal = False
        self.downgrades = 0
        self.activation: tuple[int, int] | None = None  # (session, record sequence) at activate
        self.fresh = False

    @property
    def job(self) -> Job:
        return self.jobs[self.i]

    @property
    def pkg(self) -> bytes:
        return job_package(self.job, self.sc.image)

    # ------------------------------------------------------------ driving
    def drive(self, limit: int | None = None) -> None:
        """Run the jobs to their end; power up (and check) after every cut."""
        limit = limit or 40 * (len(self.jobs) - self.i) + 25 * len(self.cutter.points)
        for _ in range(limit):
            if self.i >= len(self.jobs):
                return
            if not self.m.powered:
                self.power_up_and_check()
            else:
                self.step()
        m = self.m
        raise Failure(f"job {self.i} ({self.jobs[self.i]}) not finished after {limit} steps: "
                      f"{(m.boot_state, m.active_version, m.active_bank)}, session "
                      f"{m.download_session()}, progress {m.download_progress()}")

    def next_update(self) -> None:
        """One more update, in a new session: the meter must never be left
        unable to take it."""
        self.cutter.stop()
        top = max(j.version for j in self.jobs)
        self.jobs.append(Job(top + 1, path=self.rnd.choice(PATHS)))
        self.drive(60)
        self.check_running("after the next update")

    def step(self) -> None:
        """One head-end action for the state the meter is in."""
        m, job = self.m, self.job
        if not m.available:
            _check(m.lcd == "", f"the meter shows {m.lcd}")
            m.advance(31)
            return
        if self.job_seq is None:
            self.job_seq = m.boot_record.sequence
            self.expect_refusal = _counter(self.pkg) < self.floor
            self.downgrades = self.downgrades_logged() if self.expect_refusal else 0
        if not self.soaked:
            self.soaked = True
            if job.soak:
                self.soak(Fraction(job.soak * 3600))
                return
        self.observe()
        if self.job_done():
            self.close_job()
            return
        self.interfere()
        if not m.available:
            return
        st = m.boot_state
        if st is BootState.TRIAL:
            self.trial()
        elif st is BootState.VERIFIED and self.ours_open() and not self.fresh:
            _check(not self.expect_refusal, f"a downgrade to {job.name} was verified")
            self.activate()
        elif job.path == "class18":
            self.class18()
        else:
            self.mesh()

    def job_done(self) -> bool:
        m, job = self.m, self.job
        if self.expect_refusal:
            return self.refused
        if job.behaviour == NORMAL:
            return m.boot_state is BootState.CONFIRMED and m.active_version == job.name
        assert self.job_seq is not None
        return (m.boot_state is BootState.REVERTED and m.download_session() is None
                and m.boot_record.sequence > self.job_seq)

    def expected(self) -> tuple[BootState, tuple[str, str]]:
        job, bank = self.job, self.running[1]
        if self.expect_refusal:
            return BootState.FAILED, self.running
        if job.behaviour == NORMAL:
            return BootState.CONFIRMED, (job.name, _other(bank))
        if job.rot:
            return BootState.REVERTED, ("1.0.0", "golden")
        return BootState.REVERTED, self.running

    def close_job(self) -> None:
        m, job = self.m, self.job
        state, running = self.expected()
        got = (m.boot_state, (m.active_version, m.active_bank))
        _check(got == (state, running), f"job {self.i} {job}: ended {got}, the rules say "
               f"{(state, running)}")
        if self.expect_refusal:
            _check(any("FOTA_ERR 0x8006" in line for line in m.audit_log),
                   f"job {self.i}: refused, but no 0x8006 logged")
        self.running = running
        self.check_running(f"after job {self.i}")
        if self.sid is not None and job.path != "class18":
            self.late.append((stream(self.pkg, self.sid), self.heard))
        self.i += 1
        self._job_reset()

    # ------------------------------------------------------------ head-end actions
    def ours_open(self) -> bool:
        return self.sid is not None and self.m.download_session() == self.sid

    def new_session(self) -> None:
        if self.sid is not None and self.job.path != "class18":
            self.abandoned.append(stream(self.pkg, self.sid))
        self.sessions += 1
        self.heard += 1
        self.fresh = False
        if self.job.path == "class18":
            self.ident = b"fw-%d-%d" % (self.job.version, self.sessions)
            self.sid = zlib.crc32(self.ident)
        else:
            self.sid = MESH_SID + self.sessions

    def mesh(self) -> None:
        m, job, pkg = self.m, self.job, self.pkg
        if self.fresh or not self.ours_open():
            self.new_session()
            assert self.sid is not None
            todo: Iterable[int] = range(len(stream(pkg, self.sid)))
        else:
            todo = m.missing_fragments()
        assert self.sid is not None
        ours = stream(pkg, self.sid)
        batch = [ours[i] for i in todo]
        if job.path == "burst":  # late and foreign frames ride in the burst too
            noise, late = self.noise()
            mixed: list[tuple[bytes, int | None]] = [(f, None) for f in batch]
            for n, f in enumerate(noise):  # (frame, its index in noise; None: ours)
                mixed.insert(self.rnd.randrange(len(mixed) + 1), (f, n))
            receipts = m.receive_many([f for f, _ in mixed])
            for r, (_, n) in zip(receipts, mixed, strict=True):
                if n in late and r is not Receipt.DROPPED_UNAVAILABLE:
                    _check(r.value.startswith("dropped"),
                           f"a late frame of a closed session in a burst: {r.value}")
        else:
            for f in batch:
                m.receive(f)
                if not m.powered:
                    return
        self.refused_yet()
        if m.powered:
            m.advance(1)

    def class18(self) -> None:
        m, pkg = self.m, self.pkg
        if self.fresh or not self.ours_open():
            self.new_session()
        try:
            m.action(IT, 1, (self.ident, len(pkg)), client=MGMT)  # the same identifier: resume
            block = m.get(IT, 2, client=MGMT)
            count = -(-len(pkg) // block)
            first, status = m.get(IT, 4, client=MGMT), m.get(IT, 3, client=MGMT)
            for i in range(first, count):
                if status[i] != "1":
                    m.action(IT, 2, (i, pkg[i * block : (i + 1) * block]), client=MGMT)
            m.action(IT, 3, 0, client=MGMT)
        except REFUSED:
            pass  # refused: what the meter says next decides
        except MeterUnavailable:
            return
        self.refused_yet()
        if m.powered:
            m.advance(1)

    def downgrades_logged(self) -> int:
        return sum("FOTA_ERR 0x8006" in line for line in self.m.audit_log)

    def refused_yet(self) -> None:
        """A downgrade is refused when the meter says failed, its session is
        closed, and a new 0x8006 record is in the log (the acceptance check
        refuses the complete package; the frame that completed it reads written)."""
        m = self.m
        if self.expect_refusal and m.powered and m.boot_state is BootState.FAILED and (
                not self.ours_open() and self.downgrades_logged() > self.downgrades):
            self.refused = True

    def activate(self) -> None:
        m, job = self.m, self.job
        if job.rot and not self.rotted:
            region = m.running_region
            assert region is not None
            m.flash.flip_bits(region.offset + 300, 0x10)  # the bank it would revert to rots
            self.rotted = True
        if job.behaviour == NORMAL:
            self.activated_max = max(self.activated_max, _counter(self.pkg))
        assert self.sid is not None
        self.activation = (self.sid, m.boot_record.sequence)
        try:
            if job.path == "class18":
                if m.get(IT, 6, client=MGMT) != ImageTransferStatus.VERIFICATION_SUCCESSFUL:
                    m.action(IT, 3, 0, client=MGMT)
                m.action(IT, 4, 0, client=MGMT)
            else:
                m.action(UPDATE, 1, True, client=MGMT)
        except REFUSED as exc:
            code = exc.error.code if exc.error is not None else exc
            _check(job.behaviour == CRASH and code == "0x800B",
                   f"activation of {job} refused: {code} {exc}")
        except MeterUnavailable:
            pass

    def trial(self) -> None:
        m, job = self.m, self.job
        _check(m.active_version == job.name, f"{m.active_version} on trial, not {job.name}")
        if job.behaviour == NORMAL:
            m.advance(5)
            try:
                if m.heartbeat():
                    self.floor = max(self.floor, _counter(self.pkg))
            except MeterUnavailable:
                pass
        else:
            try:
                m.heartbeat()  # ignored by a no-heartbeat image
            except MeterUnavailable:
                return
            m.advance(m.heartbeat_window + 1)

    def soak(self, seconds: Fraction) -> None:
        """Metering for hours: a snapshot every 15 minutes (the metrology ring
        wraps), now and then a neighbour's update on the air (a header frame of
        a package for other meters: one refused session each, logged) and a
        mains outage (a power cycle: power-fail save, BOOT record)."""
        m, sc = self.m, self.sc
        end = m.now + seconds
        tick = Fraction(sc.neighbours_every or sc.outage_every)
        next_outage = m.now + Fraction(sc.outage_every)
        while m.now < end:
            m.advance(min(tick, end - m.now))
            if not m.powered or m.now >= end:
                return
            if sc.neighbours_every:
                self.neighbour()
                if not m.powered:
                    return
            if m.now < next_outage:
                continue
            next_outage += Fraction(sc.outage_every)
            energy, fired, floor = m.energy_wh, self.cutter.fired, m.energy_floor_wh
            m.power_cycle()
            if not m.powered:
                return  # a cut in the boot: the drive loop powers up
            if self.cutter.fired > fired:  # a cut in the power-fail save
                self.after_cut(f"after cut {self.cuts + 1} (in a power-fail save)",
                               energy, floor, set())
            else:
                _check(m.energy_wh >= energy - EPS_WH,
                       f"a mains outage lost {energy - m.energy_wh:.6f} Wh "
                       "(the power-fail save)")

    def neighbour(self) -> None:
        """The header frame of another meter type's update, in a session of its own."""
        m = self.m
        self.foreigners += 1
        self.heard += 1
        pkg = foreign(self.rnd.choice(("vendor", "hw")))
        running = (m.active_version, m.active_bank)
        r = m.receive(stream(pkg, FOREIGN_SID + self.foreigners)[0])
        if m.powered:
            _check(r in (Receipt.REFUSED, Receipt.WRITTEN) and (
                m.active_version, m.active_bank) == running,
                f"a neighbour's header: {r.value}, running {(m.active_version, m.active_bank)}")

    # ------------------------------------------------------------ late and foreign frames
    def noise(self) -> tuple[list[bytes], set[int]]:
        """Frames on the air now that are not the job's: late ones of closed
        sessions (positions in ``late`` when the meter must still remember the
        session as closed), of sessions given up, and foreign ones."""
        r = self.rnd
        out: list[bytes] = []
        late: set[int] = set()
        if self.late and r.random() < 0.6:
            fr, at = r.choice(self.late[-2:])
            # The meter remembers the last KEEP closed sessions; once it may have
            # forgotten this one, a late header of it could rightly replace
            # what the meter keeps: then only non-header frames.
            remembered = self.heard - at < KEEP - 4
            for i in r.sample(range(0 if remembered else 1, len(fr)), 3):
                if remembered:
                    late.add(len(out))
                out.append(fr[i])
        if self.abandoned and r.random() < 0.3:  # a non-header frame: the meter may not know it
            fr = r.choice(self.abandoned[-2:])
            out.append(fr[r.randrange(1, len(fr))])
        if r.random() < 0.6:
            kind = r.choice(("vendor", "hw", "stray"))
            self.foreigners += 1
            self.heard += 1
            fr = stream(foreign(kind), FOREIGN_SID + self.foreigners)
            if kind == "stray":
                out.append(fr[r.randrange(1, len(fr))])
            else:
                picks = [0, *r.sample(range(1, len(fr)), 2)]
                r.shuffle(picks)
                out.extend(fr[i] for i in picks)
        return out, late

    def kept(self) -> tuple[int, set[int], BootState] | None:
        """The job's download when the meter keeps it (SPEC 6): verified, a
        class 18 transfer, or a mesh download whose header has passed."""
        m = self.m
        if not self.ours_open():
            return None
        missing = set(m.missing_fragments())
        if m.boot_state is BootState.VERIFIED or self.job.path == "class18" or 0 not in missing:
            assert self.sid is not None
            return self.sid, missing, m.boot_state
        return None

    def interfere(self) -> None:
        """Late and foreign frames between two head-end steps."""
        m = self.m
        noise, late = self.noise()
        if not noise:
            return
        kept, trial = self.kept(), m.boot_state is BootState.TRIAL
        running = (m.active_version, m.active_bank)
        if self.job.path == "burst":
            receipts = m.receive_many(noise)
        else:
            receipts = []
            for f in noise:
                receipts.append(m.receive(f))
                if not m.powered:
                    return
        if not m.powered:
            return
        for i, r in enumerate(receipts):
            if i in late or trial:
                _check(r.value.startswith("dropped"), f"{'a late' if i in late else 'a'} "
                       f"frame {'of a closed session' if i in late else 'on trial'}: {r.value}")
        _check((m.active_version, m.active_bank) == running,
               f"foreign frames changed the running image: {running} -> "
               f"{(m.active_version, m.active_bank)}")
        if kept is not None:
            sid, missing, state = kept
            now = (m.download_session(), m.boot_state)
            _check(now == (sid, state) and set(m.missing_fragments()) <= missing,
                   f"foreign frames touched the kept download {sid:#x} ({state}): now {now}, "
                   f"progress {m.download_progress()}")

    # ------------------------------------------------------------ checks
    def received_on_flash(self) -> set[int]:
        """Fragments the progress bitmap marks received, read from the cells."""
        m = self.m
        p = m.layout["progress"]
        cells = m.flash.dump()
        rec = cells[p.offset : p.offset + 32]
        if rec[:4] != b"MTDL" or zlib.crc32(rec[:28]) != int.from_bytes(rec[28:], "little"):
            return set()
        sid, _, _, count = struct.unpack_from("<IIII", rec, 4)
        if sid != self.sid:
            return set()
        bitmap = cells[p.offset + 32 : p.offset + 32 + (count + 7) // 8]
        return {i for i in range(count) if not bitmap[i // 8] >> (i % 8) & 1}

    def observe(self) -> None:
        """What the meter says it confirmed raises the floor it must keep."""
        m = self.m
        if m.boot_state is BootState.CONFIRMED and m.running_region is not None:
            region = m.running_region
            cells = m.flash.read(region.offset, 32)
            if m.active_bank != "golden" and m.boot_record.outcome is Outcome.CONFIRMED:
                self.floor = max(self.floor, _counter(cells))

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
        self.observe()
        _check(rec.counter >= self.floor, f"{where}: anti-rollback counter {rec.counter} "
               f"below {self.floor}, the highest the meter confirmed")
        for name in FLOOR_PROPERTIES:  # the meter's effective floor, where it has one
            floor = getattr(m, name, None)
            if floor is not None:
                _check(floor >= self.floor, f"{where}: {name} {floor} < {self.floor}")
        _check(rec.counter <= self.activated_max, f"{where}: counter {rec.counter} raised "
               f"above every normal image activated ({self.activated_max})")
        if m.active_bank != "golden":
            _check(_counter(pkg) >= self.floor, f"{where}: runs {m.active_version} "
                   f"(counter {_counter(pkg)}) below the floor {self.floor}")
        _check(m.energy_wh >= self.energy_floor - EPS_WH,
               f"{where}: energy {m.energy_wh} < floor {self.energy_floor}")

    def power_up_and_check(self) -> None:
        m = self.m
        before = self.received_on_flash()
        energy, floor = m.energy_wh, m.energy_floor_wh
        for _ in range(10):  # a later cut point may land in the boot itself
            m.power_on()
            if m.powered:
                break
        self.after_cut(f"after cut {self.cuts + 1}", energy, floor, before)

    def after_cut(self, where: str, energy: float, floor: float, before: set[int]) -> None:
        m = self.m
        if self.cuts == 0:  # from now on this run's own choices
            self.rnd = random.Random(f"{self.sc.name}/{self.label}")
        self.cuts += 1
        self.energy_floor = max(self.energy_floor, floor)
        self.check_running(where)
        _check(m.energy_wh >= energy - CUT_LOSS_WH - EPS_WH,
               f"{where}: energy {m.energy_wh:.6f} Wh, {energy:.6f} Wh before the cut: more "
               "than one 15-minute interval lost")
        if self.activation is not None:  # a record written since: the session was activated
            sid, seq = self.activation
            _check(not (m.boot_record.sequence > seq and m.download_session() == sid),
                   f"{where}: session {sid:#x}, activated (record {seq} -> "
                   f"{m.boot_record.sequence}), is open again ({m.boot_state.name})")
        if self.ours_open():
            missing = m.missing_fragments()
            again = before & set(missing)
            _check(not again, f"{where}: fragments {sorted(again)[:5]} requested again")
            if self.job.path == "class18":
                count = m.download_progress()[1]
                first = missing[0] if missing else count
                _check(m.get(IT, 4, client=MGMT) == first, f"{where}: class 18 attribute 4 reads "
                       f"{m.get(IT, 4, client=MGMT)}, the first missing block is {first}")
        self.fresh = self.rnd.random() < 0.5  # the head-end goes on, or starts afresh


# ---------------------------------------------------------------- runs and sweeps
def clean_ops(sc: Scenario) -> int:
    r = Run(sc)
    r.drive()
    return r.cutter.done


def run_with_cuts(sc: Scenario, points: list[tuple[int, Tear, int]], label: str) -> str | None:
    """Cut at each of ``points``, finish the scenario and the next update; None
    when every check held, else what failed."""
    r = Run(sc, label)
    r.cutter.points = sorted(points, key=lambda p: p[0])
    r.cutter.arm()
    try:
        r.drive()
        _check(r.cuts > 0, f"no cut came (points {points})")
        r.next_update()
    except Failure as exc:
        return f"{sc.title} {label}: {exc}"
    return None


def cut_once(sc: Scenario, k: int, tear: Tear) -> str | None:
    return run_with_cuts(sc, [(k, tear, k * 3 + int(tear) + 1)], f"k={k} tear={tear.name}")


def stacked(sc: Scenario, ops: int, seed: int) -> str | None:
    """Several random cuts (random operations, random tears) in one run."""
    rnd = random.Random(seed)
    points = [(k, rnd.choice(TEARS), rnd.getrandbits(31) + 1)
              for k in rnd.sample(range(ops), rnd.randrange(2, 6))]
    return run_with_cuts(sc, points, f"stacked seed={seed}")


@dataclass(frozen=True)
class Plan:
    """Which operations a sweep cuts at: every ``step``-th, with each of the
    tear modes (``rotate`` False: three runs per operation, the modes offset
    so that they hit different operations when step > 1), or with one mode
    per operation, the modes taking turns (``rotate``)."""

    step: int = 1
    rotate: bool = False

    def points(self, ops: int) -> list[tuple[int, Tear]]:
        if self.rotate:
            return [(k, TEARS[(k // self.step) % len(TEARS)]) for k in range(0, ops, self.step)]
        return [(k, t) for t in TEARS for k in range(int(t) % self.step, ops, self.step)]

    def __str__(self) -> str:
        what = "every op" if self.step == 1 else f"every {self.step}. op"
        return what + (", tear modes in turn" if self.rotate else f" x {len(TEARS)} tear modes")


def sweep(scenarios: Iterable[Scenario], plan: Callable[[Scenario, int], Plan],
          stacked_runs: Callable[[Scenario], int], report: Callable[[str], None]) -> None:
    total = failed = 0
    problems: list[str] = []
    t0 = time.perf_counter()
    for sc in scenarios:
        t1 = time.perf_counter()
        ops = clean_ops(sc)
        assert ops > 20, (sc.title, ops)
        how = plan(sc, ops)
        n0 = total
        for k, tear in how.points(ops):
            total += 1
            problem = cut_once(sc, k, tear)
            if problem:
                failed += 1
                problems.append(problem)
        for seed in range(stacked_runs(sc)):
            total += 1
            problem = stacked(sc, ops, seed)
            if problem:
                failed += 1
                problems.append(problem)
        report(f"sweep {sc.title}: {ops} flash ops in a clean run, {total - n0} runs "
               f"({how}, {stacked_runs(sc)} stacked), {time.perf_counter() - t1:.1f} s")
    report(f"sweep total: {total} interruption runs, {failed} failed, "
           f"{time.perf_counter() - t0:.1f} s")
    assert not problems, f"{failed} runs failed:\n" + "\n".join(problems[:20])


def _ring_wrapped(m: VirtualMeter, region: str, fmt: object) -> bool:
    """The ring's oldest record on flash is not its first: it went round."""
    r = m.layout[region]
    size = fmt.sizeof()  # type: ignore[attr-defined]
    cells = m.flash.dump()[r.offset : r.end]
    seqs = [rec.seq for rec in (unseal(fmt, cells[i : i + size])
                                for i in range(0, len(cells), size)) if rec is not None]
    return min(seqs) > 1


@pytest.mark.parametrize("sc", SCENARIOS + BIG_SCENARIOS, ids=lambda s: s.title)
def test_clean_runs_end_as_the_rules_say(sc: Scenario) -> None:
    r = Run(sc)
    r.drive()
    r.check_running("clean run")
    r.next_update()
    if sc.name == "campaign":  # long enough for both NVM rings to go round
        assert _ring_wrapped(r.m, "metrology", MetrologyRecord)
        assert _ring_wrapped(r.m, "audit", AuditRecord)


def _report(line: str) -> None:
    print("\n" + line)


COARSE_STEP = 5  # the default run: every 5th operation of the short 16 KiB scenarios, and
COARSE_RUNS = {"campaign": 100, "campaign (128 KiB banks)": 40}  # about this many runs of the
COARSE_BIG_RUNS = 100  # long ones and of each short 128 KiB one, the tear modes in turn


def coarse(sc: Scenario, ops: int) -> Plan:
    if not sc.big and sc.name != "campaign":
        return Plan(COARSE_STEP)
    return Plan(max(1, ops // COARSE_RUNS.get(sc.title, COARSE_BIG_RUNS)), rotate=True)


def full(sc: Scenario, ops: int) -> Plan:
    """Every operation with every tear mode; the long 128 KiB campaign (about
    0.2 s a run: 15 minutes for all three modes) every operation once, the
    tear modes in turn -- the 16 KiB campaign has the same jobs with all three."""
    return Plan(1, rotate=sc.big and sc.name == "campaign")


def test_power_cut_sweep_coarse(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(SCENARIOS, coarse, lambda sc: 3 if sc.name != "campaign" else 2, report=_report)


def test_power_cut_sweep_coarse_default_geometry(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(BIG_SCENARIOS, coarse, lambda sc: 1, report=_report)


@pytest.mark.slow
def test_power_cut_sweep_full(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(SCENARIOS, full, lambda sc: 50, report=_report)


@pytest.mark.slow
def test_power_cut_sweep_full_default_geometry(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        sweep(BIG_SCENARIOS, full, lambda sc: 10 if sc.name == "campaign" else 20,
              report=_report)
