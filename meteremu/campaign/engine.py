"""The campaign state machine: canary -> soak -> waves, with ``run`` and ``resume``.

States (``campaign.state``): ``planned`` -> ``canary`` -> ``soak`` -> ``waves``
-> ``done``; ``paused`` when the policy says stop (a wave's error share over
the threshold, a meter showing F.03/F.04, a soak that found something wrong).

Every step reads the database, acts, and writes what it observed, one
transaction per change; nothing is kept only in memory. So ``resume`` after a
``kill -9`` is "run again": a meter the database shows in flight is *read*
first, and the head-end does only what the meter still needs -- the package
(it does not hold it), an activation (it holds it verified), a heartbeat (it
runs it on trial) -- or records what it finds (confirmed, reverted,
refused). A meter already done is never sent the package again.

Acks (:mod:`.bus`) are hints. A success an ack reports is recorded as such; a
failure, or a missing ack, is settled by reading the meter (firmware
identifier, boot state, inactive bank's SHA-256, audit log): no phantom
failures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..crypto import sha256
from ..mesh.channel import stream_seed
from .bus import Ack, AckBus
from .distributor import Distributor
from .field import Field, Reading
from .policy import Policy
from .store import FINAL, Store

__all__ = ["Engine", "Params", "Progress"]

BOOT_S = 10.0  # after an activation, the head-end heartbeats this much later
FAULTS = ("F.03", "F.04")


@dataclass(frozen=True)
class Params:
    """What a campaign was started with (kept in ``campaign.params``)."""

    canary: float = 0.02
    wave: int = 10_000
    seed: int = 0
    concurrency: int = 4
    soak_s: float = 86_400.0
    soak_step_s: float = 3_600.0
    billing_p95_limit_s: float = 30.0
    metrology_tolerance: float = 0.01
    broadcasts: int = 2  # broadcasts per concentrator and wave (the second for stragglers)
    # A silent meter is read again every retry_s, kept below the heartbeat window:
    # one that comes back on trial is confirmed before it reverts for want of one.
    unreachable_retries: int = 15
    retry_s: float = 120.0
    heartbeat_window: float = 300.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Params:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class Progress:
    """What the engine tells whoever watches (the CLI draws bars from it)."""

    def phase(self, text: str) -> None: ...

    def wave(self, wave: int, meters: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def done(self) -> None: ...


class Engine:
    """Runs campaign ``cid`` of ``store`` over ``field`` until it is done or paused."""

    def __init__(self, store: Store, cid: str, field: Field, bus: AckBus, package: bytes, *,
                 policy: Policy, params: Params, progress: Progress | None = None,
                 ack_wait: float = 0.0) -> None:
        self.store = store
        self.cid = cid
        self.field = field
        self.bus = bus
        self.package = package
        self.sha = sha256(package).hex()
        c = store.campaign(cid)
        self.target = c["version"]
        self.now = float(c["now_virtual"])
        self.policy = policy
        self.params = params
        self.progress = progress or Progress()
        self.seq = store.acked_seqs(cid)
        self.distributor = Distributor(params.concurrency)
        self.reads = 0
        self.ack_wait = ack_wait  # wall seconds to wait for acks in flight (a broker's)

    # ------------------------------------------------------------ the uplink
    def publish(self, dc: str, meter: str, state: str, at: float, version: str | None,
                code: str | None) -> None:
        """The concentrators' side of the bus: an ack, ``seq`` growing per meter
        (its counter starts from the last one the head-end saw)."""
        n = self.seq.get(meter, 0) + 1
        self.seq[meter] = n
        self.bus.publish(Ack(self.cid, dc, meter, state, n, at, version, code))

    def drain(self) -> int:
        """Apply the acks that have arrived; how many were news."""
        news = 0
        for ack in self.bus.poll(self.ack_wait):
            if ack.campaign == self.cid and self.store.apply_ack(self.cid, ack):
                news += 1
        return news

    # ------------------------------------------------------------ the run
    def run(self) -> str:
        """Go on from wherever the database says; the state it ends in."""
        while True:
            c = self.store.campaign(self.cid)
            state = c["state"]
            if state in ("done", "paused"):
                return str(state)
            if state == "planned":
                self._state("canary")
            elif state == "canary":
                if self._wave(0):
                    self._state("soak")
            elif state == "soak":
                reason = self.soak()
                if reason:
                    self._state("paused", reason)
                else:
                    self._state("waves")
            elif state == "waves":
                for w in self.store.waves(self.cid):
                    if w["wave"] == 0 or w["state"] in ("done", "paused"):
                        continue
                    if not self._wave(w["wave"]):
                        break
                else:
                    self._state("done")
            else:
                raise ValueError(f"campaign {self.cid} in unknown state {state!r}")

    def _state(self, state: str, reason: str | None = None) -> None:
        self.store.set_state(self.cid, state, self.now, reason)
        if state != "soak":  # the soak tells what it soaks itself
            self.progress.phase(state if reason is None else f"{state}: {reason}")

    def _tick(self, t: float) -> None:
        self.now = max(self.now, t)
        self.store.set_now(self.cid, self.now)

    # ------------------------------------------------------------ a wave
    def _wave(self, wave: int) -> bool:
        """Run wave ``wave`` to its end; False when the policy paused the campaign."""
        info = next(w for w in self.store.waves(self.cid) if w["wave"] == wave)
        rows = self.store.meters(self.cid, wave=wave)
        self.progress.wave(wave, len(rows))
        if info["state"] == "waiting":
            start = self.policy.next_allowed(self.now)
            self._tick(start)
            self.store.update_wave(self.cid, wave, self.now, state="running",
                                   started_virtual=self.now)
        done = sum(1 for r in rows if r.state in FINAL)
        self.progress.advance(done)
        work: dict[str, list[str]] = {}
        for r in rows:
            if r.state not in FINAL:
                work.setdefault(r.concentrator, []).append(r.meter)

        def job(dc: str, meters: Sequence[str], at: float) -> float:
            return self._concentrator(wave, dc, meters, at)

        end = self.distributor.run(work, self.now, job)
        self._tick(end)
        return self._close_wave(wave)

    def _concentrator(self, wave: int, dc: str, meters: Sequence[str], at: float) -> float:
        """One concentrator's part of a wave: settle what is in flight, broadcast
        to the meters that lack the package, activate, confirm, reconcile."""
        t = at
        wanted = set(meters)
        rows = {r.meter: r for r in self.store.meters(self.cid, wave=wave, concentrator=dc)
                if r.meter in wanted}
        inflight = [m for m in meters if rows[m].state != "waiting"]
        need = [m for m in meters if rows[m].state == "waiting"]
        if inflight:  # a resumed wave: read before sending anything
            t, lacking = self._reconcile(wave, inflight, t, dc=dc)
            need += lacking
        for n in range(self.params.broadcasts):
            if not need:
                break
            self.store.mark(self.cid, ((m, "sent", None, None) for m in need), t, "head-end",
                            wave=wave, kind="sent")
            res = self.field.broadcast(dc, need, self.package, t,
                                       seed=stream_seed(self.params.seed, wave, n))
            self.store.add_airtime(self.cid, wave, res.rounds, res.airtime_s, res.duration_s)
            outcome: dict[str, int] = {}
            for o, _ in res.outcomes.values():
                outcome[o] = outcome.get(o, 0) + 1
            self.store.event(self.cid, res.end, "broadcast", {
                "concentrator": dc, "start": res.start, "end": res.end, "meters": len(need),
                "rounds": res.rounds, "airtime_s": res.airtime_s, "outcome": outcome,
                "billing_p95_s": res.billing_p95_s}, wave=wave)
            t = res.end
            self.drain()
            t = self._follow_acks(wave, need, t)
            t, need = self._reconcile(wave, need, t, dc=dc)
        if need:  # still without the package after the last broadcast
            self._record(wave, [(m, "incomplete", None, None) for m in need], t)
        t = self._retry_unreachable(wave, meters, t, dc)
        self.progress.advance(len(meters))
        return t

    def _follow_acks(self, wave: int, meters: Sequence[str], t: float) -> float:
        """The nominal path: activate the meters whose ``verified`` ack came,
        heartbeat the ones whose ``activated`` ack came."""
        wanted = set(meters)
        verified = [r.meter for r in self.store.meters(self.cid, wave=wave, states=["verified"])
                    if r.meter in wanted]
        for m in verified:
            self.field.activate(m, t)
        if verified:
            t += BOOT_S
        self.drain()
        activated = [r.meter for r in self.store.meters(self.cid, wave=wave,
                                                         states=["activated"])
                     if r.meter in wanted]
        for m in activated:
            self.field.heartbeat(m, t)
        self.drain()
        return t

    # ------------------------------------------------------------ reconcile
    def _reconcile(self, wave: int, meters: Sequence[str], t: float, *,
                   silent: bool = False, dc: str | None = None) -> tuple[float, list[str]]:
        """Read every meter of ``meters`` (all under concentrator ``dc`` when given:
        only its rows are looked at) the database does not show final and
        settle it from what it says; (the time after, the meters that lack the
        package)."""
        lacking: list[str] = []
        skip = ("incomplete",) if silent else ("unreachable", "incomplete")
        wanted = set(meters)
        for _ in range(4):
            open_ = [r.meter for r in self.store.meters(self.cid, wave=wave, concentrator=dc)
                     if r.meter in wanted and r.state not in FINAL
                     and r.state not in skip]
            open_ = [m for m in open_ if m not in lacking]
            if not open_:
                break
            wait = 0.0
            updates: list[tuple[str, str, str | None, str | None]] = []
            failures: list[tuple[str, str | None, str | None]] = []
            for m in open_:
                reading = self.field.read(m, t)
                self.reads += 1
                state, step = self._settle(reading, t)
                if state == "lacking":
                    lacking.append(m)
                    continue
                code = (reading.code or reading.lcd or None) if state == "refused" else None
                # after an activation or a heartbeat the meter runs the target
                version = self.target if state in ("activated", "confirmed") else reading.version
                updates.append((m, state, version, code))
                if state in ("refused", "reverted"):
                    failures.append((m, code, _telling(reading.audit, self.target)))
                wait = max(wait, step)
            self._record(wave, updates, t, source="read")
            for m, code, line in failures:
                self.store.event(self.cid, t, "failure", {"code": code, "audit": line},
                                 wave=wave, meter=m)
            if wait == 0.0:
                break
            t += wait
        return t, lacking

    def _settle(self, r: Reading, t: float) -> tuple[str, float]:
        """What meter reading ``r`` means, after the one step it may need; (the
        state to record, how long to wait before reading again)."""
        if not r.available:
            if r.lcd in FAULTS:
                return "refused", 0.0
            return "unreachable", 0.0
        target = r.version == self.target
        if r.boot_state == "confirmed" and target:
            return "confirmed", 0.0
        if r.boot_state == "trial" and target:
            if self.field.heartbeat(r.meter, t):
                return "confirmed", 0.0
            return "activated", self.params.heartbeat_window + BOOT_S
        if r.boot_state == "verified" and r.inactive_sha256 == self.sha:
            err = self.field.activate(r.meter, t)
            if err is None:
                return "activated", BOOT_S
            return ("unreachable", 0.0) if err == "unreachable" else ("verified", 0.0)
        if r.boot_state == "reverted" and any(
                "ROLLBACK" in line and f"version={self.target}" in line for line in r.audit):
            return "reverted", 0.0
        if r.boot_state == "failed":
            return "refused", 0.0
        return "lacking", 0.0

    def _record(self, wave: int, updates: Iterable[tuple[str, str, str | None, str | None]],
                t: float, source: str = "head-end") -> None:
        updates = list(updates)
        if updates:
            self.store.mark(self.cid, updates, t, source, wave=wave,
                            kind="read" if source == "read" else "meter")

    def _retry_unreachable(self, wave: int, meters: Sequence[str], t: float,
                           dc: str | None = None) -> float:
        wanted = set(meters)
        for _ in range(self.params.unreachable_retries):
            silent = [r.meter for r in self.store.meters(self.cid, wave=wave,
                                                         states=["unreachable"])
                      if r.meter in wanted]
            if not silent:
                break
            t += self.params.retry_s
            t, lacking = self._reconcile(wave, silent, t, silent=True, dc=dc)
            if lacking:
                self._record(wave, [(m, "incomplete", None, None) for m in lacking], t)
        return t

    def _close_wave(self, wave: int) -> bool:
        counts = self.store.counts(self.cid, wave)
        meters = sum(counts.values())
        faults = [(r.meter, r.last_code or "") for r in self.store.meters(self.cid, wave=wave)
                  if r.last_code in FAULTS]
        settled = {"confirmed", "reverted", "refused", "incomplete"}
        self.store.update_wave(
            self.cid, wave, self.now, state="done", ended_virtual=self.now,
            updated=counts.get("confirmed", 0), reverted=counts.get("reverted", 0),
            refused=counts.get("refused", 0), incomplete=counts.get("incomplete", 0),
            pending=sum(v for k, v in counts.items() if k not in settled))
        reason = self.policy.judge(wave, meters, counts, faults)
        if reason is not None:
            self.store.update_wave(self.cid, wave, self.now, state="paused")
            self._state("paused", reason)
            return False
        return True

    # ------------------------------------------------------------ the soak
    def soak(self) -> str | None:
        """24 h of virtual time on the canary: every hour each canary meter is
        heartbeaten and read (still answering, still on the new firmware,
        confirmed); at the end its energy register must match the load it was
        given, and the canary broadcasts' billing reads must have stayed fast.
        The reason to pause, or None."""
        p = self.params
        canary = [r.meter for r in self.store.meters(self.cid, wave=0, states=["confirmed"])]
        start = self.now
        self.progress.phase(f"soak: {len(canary)} canary meters, {p.soak_s / 3600:g} h of "
                            "virtual time")
        self.store.event(self.cid, start, "soak", {"state": "started", "meters": len(canary)})
        base: dict[str, int] = {}
        for m in canary:
            r = self.field.read(m, start)
            if r.available and r.energy_wh is not None:
                base[m] = r.energy_wh
        problems: list[str] = []
        t = start
        while t < start + p.soak_s and not problems:
            t = min(start + p.soak_s, t + p.soak_step_s)
            for m in canary:
                self.field.heartbeat(m, t)
                r = self.field.read(m, t)
                if not r.available:
                    problems.append(f"{m} stopped answering ({r.lcd or 'silent'})")
                elif r.version != self.target or r.boot_state != "confirmed":
                    problems.append(f"{m} runs {r.version} ({r.boot_state})")
            self._tick(t)
        metrology = 0
        if not problems:
            for m in canary:
                r = self.field.read(m, t)
                if m not in base or r.energy_wh is None:
                    continue
                got = r.energy_wh - base[m]
                want = self.field.expected_wh(m, t - start)
                if abs(got - want) > max(2.0, p.metrology_tolerance * want):
                    problems.append(f"{m} counted {got} Wh in the soak, its load makes "
                                    f"{want:.0f} Wh")
                metrology += 1
        p95 = [e["detail"].get("billing_p95_s") for e in self.store.events(self.cid, "broadcast")
               if e["wave"] == 0]
        worst = max((x for x in p95 if x is not None), default=None)
        if worst is not None and worst > p.billing_p95_limit_s:
            problems.append(f"billing reads' p95 latency {worst:.1f} s during the canary "
                            f"(limit {p.billing_p95_limit_s:g} s)")
        self.store.event(self.cid, t, "soak", {
            "state": "done", "meters": len(canary), "metrology_checked": metrology,
            "billing_p95_s": worst, "problems": problems[:20]})
        if not canary:
            return "soak: no canary meter confirmed the update"
        return f"soak: {problems[0]}" if problems else None


def _telling(audit: Sequence[str], target: str) -> str | None:
    """The audit line that says why an update failed: the last FOTA_ERR (not a
    dropped frame's 0x8009) or the rollback of ``target``."""
    for line in reversed(audit):
        if ("FOTA_ERR" in line and "0x8009" not in line) or (
                "ROLLBACK" in line and f"version={target}" in line):
            return line
    return None
