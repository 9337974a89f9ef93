"""Seed step 4 on a tree: broadcast rounds from a concentrator to a group.

Each round (docs/MESH.md, "Rounds"):

1. **Down.** The concentrator broadcasts the union of what the members it
   still waits for last said they miss (everything in round 1, and for a
   member it has never heard from). A relay -- any node with group members
   below it -- forwards a fragment to its children once per round when it
   holds an intact copy (this round's or an earlier one's: store and
   forward) and its subtree needs it: what the reports that passed through it
   last round asked for, or everything when one of them did not reach it.
   Every transmission is a broadcast at the slowest rate among the sender's
   children, on the one shared channel (:class:`~.airtime.Medium`), FOTA
   held to its cap in every window. Each child's link draws its own fate
   for each frame.
2. **Hand-over.** When the last fragment of the round is on the air, each
   member's radio hands what it heard, in the order it came (duplicates and
   damaged copies included), to its meter in one ``receive_many`` burst,
   after moving the meter's clock to the queue's.
3. **Up.** Every member the concentrator still waits for sends its status
   (complete, missing bitmap, or refused with its code) at a seeded random
   moment of the report window. Reports go hop by hop: a unicast with MAC
   retries over the link's uplink, then into the parent's upstream queue,
   which holds ``queue`` reports; a report coming to a full queue is dropped
   there (parent-node saturation).
4. The round ends when every report has arrived or been lost. The
   concentrator stops waiting for a member whose report said complete or
   refused; the broadcast ends when it waits for none or after
   ``max_rounds``.

Billing reads run throughout on the same channel (a Poisson stream over
every meter of the mesh, request down and response up, uncapped), so the
report can say what the broadcast did to their latency.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..hes.fragments import by_fragment, session_of
from .airtime import Medium, airtime_ns
from .channel import Bernoulli, GilbertElliott, Link, LossModel, stream_seed, unit
from .clock import NS, EventQueue, ns
from .events import (
    BillingRead,
    BroadcastEnded,
    BroadcastStarted,
    MeshEvent,
    MeterFinal,
    OnAir,
    ReportArrived,
    ReportLost,
    RoundEnded,
    RoundStarted,
)
from .meters import MeshMeter, MeterAgent, Status, as_agents
from .topology import Topology

__all__ = ["Broadcast", "MeshConfig", "session_of"]


@dataclass(frozen=True)
class MeshConfig:
    """The knobs of a broadcast (docs/MESH.md lists them with the CLI options).

    Channels: every link's loss is ``1 - quality`` of its node; ``burst`` None
    makes it Bernoulli, a number makes it Gilbert-Elliott with that mean burst
    length (frames) and the same mean loss; ``duplicate``, ``corrupt`` and
    ``reorder`` are per frame on the way down.
    """

    seed: int = 0
    burst: float | None = None
    duplicate: float = 0.0
    corrupt: float = 0.0
    reorder: float = 0.0
    cap: float = 0.30  # FOTA share of the channel in any window (seed section B)
    window_s: float = 10.0
    max_rounds: int = 30
    queue: int = 16  # reports a node's radio holds for its parent
    retries: int = 3  # MAC retries per hop of a report (IEEE 802.15.4 macMaxFrameRetries)
    report_window_s: float | None = None  # None: spread reports over twice their airtime / cap
    overhead_bytes: int = 24  # PHY preamble, SFD, PHR, MAC header and FCS per frame
    ack_bytes: int = 17  # an ACK on the air, overhead included (unicasts only)
    report_header_bytes: int = 16
    billing_interval_s: float = 900.0  # each meter read every so often; 0: no billing
    billing_request_bytes: int = 32
    billing_response_bytes: int = 96

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        if self.queue < 1:
            raise ValueError("queue must hold at least one report")
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.window_s <= 0:
            raise ValueError("window_s must be > 0")
        if self.report_window_s is not None and self.report_window_s < 0:
            raise ValueError("report_window_s must be >= 0")
        if self.billing_interval_s < 0:
            raise ValueError("billing_interval_s must be >= 0")

    def loss_model(self, loss: float) -> LossModel:
        if self.burst is None:
            return Bernoulli(loss)
        return GilbertElliott.from_loss(loss, self.burst)


class _Report:
    __slots__ = ("member", "round", "status", "tries")

    def __init__(self, member: str, status: Status, round_: int) -> None:
        self.member = member
        self.status = status
        self.round = round_
        self.tries = 0


class _Radio:
    """A node's radio: its link up, its children, what it holds and knows."""

    __slots__ = ("agent", "buffer", "child_ids", "children", "depth", "desc_members",
                 "final_known", "forwarded", "id", "link", "need", "parent", "queue", "rate",
                 "seen", "sending", "store", "tx_rate")

    def __init__(self, node_id: str, depth: int, rate: int, link: Link) -> None:
        self.id = node_id
        self.depth = depth
        self.rate = rate  # of the link to the parent (reports up)
        self.link = link
        self.parent: _Radio | None = None  # None: the concentrator
        self.children: list[_Radio] = []
        self.child_ids: tuple[str, ...] = ()
        self.tx_rate = 0  # broadcast rate: the slowest child's
        self.agent: MeterAgent | None = None
        self.buffer: list[bytes] | None = None
        self.store = 0  # fragments held intact (bitmask)
        self.forwarded = 0  # fragments forwarded this round
        self.need = -1  # fragments the subtree needs (-1: all)
        self.queue: deque[_Report] = deque()
        self.sending = False
        self.desc_members = 0
        self.final_known: set[str] = set()
        self.seen: dict[str, int] = {}


class Broadcast:
    """One broadcast of ``frames`` to the members of ``group`` in ``topology``.

    ``meters`` maps each member's node ID to its meter (a :class:`MeshMeter`).
    ``observers`` get every :mod:`event <.events>` as it happens; :meth:`run`
    returns the :class:`~.report.Report` folded from them.
    """

    def __init__(
        self,
        topology: Topology,
        group: str,
        frames: Sequence[bytes],
        meters: Mapping[str, MeshMeter],
        config: MeshConfig | None = None,
        *,
        session: int | None = None,
        observers: Iterable[Callable[[MeshEvent], Any]] = (),
    ) -> None:
        from .report import Recorder

        self.topology = topology
        self.group = group
        self.config = cfg = config or MeshConfig()
        self.members = topology.group(group)
        if not self.members:
            known = ", ".join(sorted(g or "''" for g in topology.groups())[:10])
            raise UsageError(f"group {group!r} has no meters in this topology (groups: {known})")
        if not frames:
            raise ValueError("no frames to broadcast")
        sid = session_of(frames) if session is None else session
        if sid is None:
            raise ValueError("no frame parses: cannot tell the session")
        self.session = sid
        # fragment i is frames[i] whatever order they came in: rounds send by index
        self.frames = by_fragment(frames, self.session)
        self.count = len(self.frames)
        self.everything = (1 << self.count) - 1
        self.agents = as_agents(meters, self.members)
        self.q = EventQueue()
        self.medium = Medium(self.q, cap=cfg.cap, window_ns=ns(cfg.window_s))
        self.recorder = Recorder(topology, cfg, self.count)
        self._observers = [self.recorder.on_event, *observers]
        self._build_radios()
        self.round = 0
        self.finished = False
        self.known_final: dict[str, Status] = {}
        self.last_missing: dict[str, int] = {}
        self.truth: dict[str, Status] = {}
        self._down = 0
        self._up = 0
        self._dur: dict[tuple[int, int], int] = {}
        self._billing_rnd = random.Random(stream_seed(cfg.seed, "billing"))

    # ------------------------------------------------------------ set-up
    def _build_radios(self) -> None:
        topo, cfg = self.topology, self.config
        members = set(self.members)
        active: set[str] = set()
        for m in self.members:
            for nid in topo.path(m):
                if nid in active:
                    break
                active.add(nid)
        self.radios: dict[str, _Radio] = {}
        for nid in topo.order:  # parents first
            if nid not in active:
                continue
            node = topo[nid]
            link = Link(stream_seed(cfg.seed, "link", nid), cfg.loss_model(node.loss),
                        duplicate=cfg.duplicate, corrupt=cfg.corrupt, reorder=cfg.reorder)
            r = _Radio(nid, topo.depth[nid], node.rate_kbps, link)
            r.parent = None if node.parent == topo.concentrator else self.radios[node.parent]
            if nid in members:
                r.agent = self.agents[nid]
                r.buffer = []
            self.radios[nid] = r
        self.root_children: list[_Radio] = []
        for r in self.radios.values():
            (self.root_children if r.parent is None else r.parent.children).append(r)
        for r in self.radios.values():
            r.child_ids = tuple(c.id for c in r.children)
            r.tx_rate = min((c.rate for c in r.children), default=0)
        self.root_ids = tuple(c.id for c in self.root_children)
        self.root_rate = min(c.rate for c in self.root_children)
        for m in self.members:
            for nid in topo.path(m)[1:]:
                self.radios[nid].desc_members += 1
        self.relays = [r for r in self.radios.values() if r.children]
        self._check_cap()

    def _check_cap(self) -> None:
        """Every transmission must fit the cap's budget of one window, or it never goes."""
        cfg = self.config
        slowest = min(r.rate for r in self.radios.values())
        longest = max(len(f) for f in self.frames) + cfg.overhead_bytes
        report = cfg.report_header_bytes + (self.count + 7) // 8 + cfg.overhead_bytes
        need = max(airtime_ns(longest, slowest),
                   airtime_ns(report, slowest) + airtime_ns(cfg.ack_bytes, slowest))
        if need > self.medium.budget:
            raise UsageError(
                f"a transmission takes up to {need / NS * 1e3:.1f} ms, more than the "
                f"{self.medium.budget / NS * 1e3:.1f} ms the FOTA cap allows in a "
                f"{cfg.window_s:g} s window: widen the window or raise the cap")

    def _emit(self, event: MeshEvent) -> None:
        for obs in self._observers:
            obs(event)

    def _airtime(self, nbytes: int, rate: int) -> int:
        key = (nbytes, rate)
        d = self._dur.get(key)
        if d is None:
            d = self._dur[key] = airtime_ns(nbytes, rate)
        return d

    # ------------------------------------------------------------ run
    def run(self) -> Any:
        """Run the broadcast to its end; the :class:`~.report.Report`."""
        if self.round:
            raise RuntimeError("a Broadcast runs once")
        self._emit(BroadcastStarted(self.session, self.count, tuple(self.members),
                                    len(self.relays), tuple(self.topology.order)))
        if self.config.billing_interval_s > 0:
            self._billing_next()
        self._start_round()
        self.q.run()
        return self.recorder.report()

    # ------------------------------------------------------------ down
    def _start_round(self) -> None:
        self.round += 1
        union = 0
        waiting = 0
        everything = self.everything
        for m in self.members:
            if m not in self.known_final:
                waiting += 1
                union |= self.last_missing.get(m, everything)
        for r in self.relays:
            r.forwarded = 0
        self._emit(RoundStarted(self.round, self.q.now, union.bit_count(), waiting))
        self._down = 0
        for i in range(self.count):
            if union >> i & 1:
                self._send_down(None, i)
        if self._down == 0:
            self._end_downlink()

    def _send_down(self, sender: _Radio | None, i: int) -> None:
        rate = self.root_rate if sender is None else sender.tx_rate
        d = self._airtime(len(self.frames[i]) + self.config.overhead_bytes, rate)
        self._down += 1
        self.medium.send(d, True, self._down_done, sender, i)

    def _down_done(self, start: int, end: int, sender: _Radio | None, i: int) -> None:
        self._down -= 1
        if sender is None:
            self._emit(OnAir(start, end, "fragment", self.topology.concentrator, self.root_ids))
            children = self.root_children
        else:
            self._emit(OnAir(start, end, "relay", sender.id, sender.child_ids))
            children = sender.children
        bit = 1 << i
        frame = self.frames[i]
        for c in children:
            if c.link.carry(frame, c.buffer):
                c.store |= bit
            if (c.children and c.need & bit and c.store & bit
                    and not c.forwarded & bit):
                c.forwarded |= bit
                self._send_down(c, i)
        if self._down == 0:
            self._end_downlink()

    # ------------------------------------------------------------ hand-over
    def _end_downlink(self) -> None:
        now = self.q.now
        for r in self.radios.values():
            r.link.flush(r.buffer)
            if r.buffer:
                assert r.agent is not None
                r.agent.deliver(now, r.buffer)
                r.buffer = []
        reporters = [m for m in self.members if m not in self.known_final]
        statuses = {}
        for m in reporters:
            st = self.agents[m].status(now, self.session, self.everything)
            statuses[m] = self.truth[m] = st
        window = self._report_window(statuses)
        self._up = len(reporters)
        for m in reporters:
            jitter = int(unit(self.config.seed, "report", m, self.round) * window)
            self.q.at(now + jitter, self._originate, self.radios[m],
                      _Report(m, statuses[m], self.round))
        if not reporters:
            self._end_round()

    def _report_bytes(self, st: Status) -> int:
        cfg = self.config
        body = 0
        if st.kind == "missing":
            body = min((self.count + 7) // 8, 2 * st.missing.bit_count())
        elif st.kind == "refused":
            body = 2
        return cfg.report_header_bytes + body + cfg.overhead_bytes

    def _report_window(self, statuses: Mapping[str, Status]) -> int:
        if self.config.report_window_s is not None:
            return ns(self.config.report_window_s)
        # Twice the reports' own airtime (every hop) at the FOTA cap: room to spare.
        total = 0
        ack = self.config.ack_bytes
        for m, st in statuses.items():
            size = self._report_bytes(st)
            r: _Radio | None = self.radios[m]
            while r is not None:
                total += self._airtime(size, r.rate) + self._airtime(ack, r.rate)
                r = r.parent
        return max(NS, int(2 * total / self.config.cap))

    # ------------------------------------------------------------ up
    def _originate(self, radio: _Radio, rep: _Report) -> None:
        self._enqueue(radio, rep)

    def _enqueue(self, radio: _Radio, rep: _Report) -> None:
        if len(radio.queue) >= self.config.queue:
            self._lost(rep, radio, "queue")
            return
        radio.queue.append(rep)
        if not radio.sending:
            self._send_up(radio)

    def _send_up(self, radio: _Radio) -> None:
        radio.sending = True
        rep = radio.queue[0]
        d = (self._airtime(self._report_bytes(rep.status), radio.rate)
             + self._airtime(self.config.ack_bytes, radio.rate))
        self.medium.send(d, True, self._up_done, radio)

    def _up_done(self, start: int, end: int, radio: _Radio) -> None:
        rep = radio.queue[0]
        parent = radio.parent
        to = (self.topology.concentrator,) if parent is None else (parent.id,)
        self._emit(OnAir(start, end, "report", radio.id, to, retry=rep.tries > 0))
        if radio.link.attempt():
            radio.queue.popleft()
            rep.tries = 0
            if parent is None:
                self._arrive(rep)
            else:
                self._learn(parent, rep)
                self._enqueue(parent, rep)
        else:
            rep.tries += 1
            if rep.tries > self.config.retries:
                radio.queue.popleft()
                rep.tries = 0
                self._lost(rep, radio, "path")
        if radio.queue:
            self._send_up(radio)
        else:
            radio.sending = False

    @staticmethod
    def _learn(relay: _Radio, rep: _Report) -> None:
        """A report of a member below ``relay`` passed through it."""
        if rep.status.final:
            relay.final_known.add(rep.member)
            relay.seen.pop(rep.member, None)
        else:
            relay.seen[rep.member] = rep.status.missing

    def _arrive(self, rep: _Report) -> None:
        st = rep.status
        self._emit(ReportArrived(self.q.now, rep.round, rep.member, st.kind, st.missing, st.code))
        if st.final:
            self.known_final[rep.member] = st
        else:
            self.last_missing[rep.member] = st.missing
        self._report_done()

    def _lost(self, rep: _Report, radio: _Radio, cause: str) -> None:
        self._emit(ReportLost(self.q.now, rep.round, rep.member, radio.id, cause,
                              rep.status.kind == "complete"))
        self._report_done()

    def _report_done(self) -> None:
        self._up -= 1
        if self._up == 0:
            self._end_round()

    # ------------------------------------------------------------ round end
    def _end_round(self) -> None:
        everything = self.everything
        for r in self.relays:
            expected = r.desc_members - len(r.final_known)
            if len(r.seen) >= expected:
                need = 0
                for missing in r.seen.values():
                    need |= missing
                r.need = need
            else:
                r.need = everything
            r.seen = {}
        now = self.q.now
        for m in self.known_final:  # a meter done with the session may still lose it
            self.truth[m] = self.agents[m].status(now, self.session, everything)
        counts = {"complete": 0, "pending": 0, "incomplete": 0, "refused": 0}
        for m in self.members:
            counts[self._outcome(m)] += 1
        self._emit(RoundEnded(self.round, self.q.now, **counts))
        if len(self.known_final) == len(self.members) or self.round >= self.config.max_rounds:
            self._finish()
        else:
            self._start_round()

    def _outcome(self, m: str) -> str:
        """By what the meter holds (its last status) and what the concentrator knows:
        refused (whatever was reported: a battery meter can lose an image it
        reported complete), complete (holds it, reported), pending (holds it,
        unreported), incomplete (lacks fragments)."""
        st = self.truth.get(m)
        if st is None or st.kind == "missing":
            return "incomplete"
        if st.kind == "refused":
            return "refused"
        known = self.known_final.get(m)
        return "complete" if known is not None and known.kind == "complete" else "pending"

    def _finish(self) -> None:
        self.finished = True
        now = self.q.now
        for m in self.members:
            agent = self.agents[m]
            self.truth[m] = agent.status(now, self.session, self.everything)
            meter = agent.meter
            received, count = (meter.download_progress()
                               if meter.download_session() == self.session else (0, self.count))
            refusal = agent.refusal
            refused = self.truth[m].kind == "refused"
            self._emit(MeterFinal(
                member=m, outcome=self._outcome(m),
                reported=None if m not in self.known_final else self.known_final[m].kind,
                received=received, count=count,
                boot_state=getattr(meter.boot_state, "name", str(meter.boot_state)).lower(),
                code=agent.code if refused else None,
                audit=refusal.line() if refused and refusal is not None else None,
                receipt=agent.refusal_receipt if refused else None,
                battery_start_mj=agent.battery_start,
                battery_end_mj=meter.battery_mj, frames_heard=agent.frames_heard,
                depth=self.topology.depth[m]))
        self._emit(BroadcastEnded(now, self.round))

    # ------------------------------------------------------------ billing
    def _billing_next(self) -> None:
        if self.finished:
            return
        topo, cfg = self.topology, self.config
        nodes = topo.order
        rnd = self._billing_rnd
        node = nodes[rnd.randrange(len(nodes))]
        req = cfg.billing_request_bytes + cfg.overhead_bytes
        resp = cfg.billing_response_bytes + cfg.overhead_bytes
        path = topo.path(node)  # the meter, its parent, ..., the first hop
        hops: list[tuple[int, str, str]] = []  # (airtime, sender, receiver)
        for nid in reversed(path):  # the request, down
            rate = topo[nid].rate_kbps
            hops.append((self._airtime(req, rate) + self._airtime(cfg.ack_bytes, rate),
                         topo[nid].parent, nid))
        for nid in path:  # the response, up
            rate = topo[nid].rate_kbps
            hops.append((self._airtime(resp, rate) + self._airtime(cfg.ack_bytes, rate),
                         nid, topo[nid].parent))
        read = [node, self.q.now, hops, 0]
        self._billing_hop(read)
        rate_per_s = len(nodes) / cfg.billing_interval_s  # every meter read once an interval
        self.q.after(max(1, ns(rnd.expovariate(rate_per_s))), self._billing_next)

    def _billing_hop(self, read: list[Any]) -> None:
        self.medium.send(read[2][read[3]][0], False, self._billing_done, read)

    def _billing_done(self, start: int, end: int, read: list[Any]) -> None:
        node, arrived, hops, k = read
        _, sender, receiver = hops[k]
        self._emit(OnAir(start, end, "billing", sender, (receiver,), fota=False))
        if k + 1 < len(hops):
            read[3] = k + 1
            self._billing_hop(read)
        else:
            self._emit(BillingRead(node, arrived, end, sum(h[0] for h in hops)))
