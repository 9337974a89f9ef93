"""The broadcast's report, folded from its events (:mod:`.events`).

:class:`Recorder` subscribes to a :class:`~.broadcast.Broadcast` and keeps,
per round, what went on the air (fragments, relayed fragments, reports and
their retries, billing), what reached the concentrator and what was lost
where; per node, its radio's time on the air; per member, how it ended.
:meth:`Recorder.report` turns that into a :class:`Report`, whose
:meth:`Report.to_dict` is the ``--json`` output of ``meteremu mesh
broadcast`` (docs/MESH.md, "Report").

Outcomes of a member (what the seed's CMS would show, and why):

* ``complete`` -- the concentrator received its "complete" report;
* ``pending`` -- the meter holds the whole image, but no report saying so
  reached the concentrator (the seed's stuck "Pending" nodes: lost at a full
  parent queue, or on the way up); ``stuck_at`` names the node where its last
  report went no further, ``cause`` why;
* ``incomplete`` -- the meter still lacks fragments;
* ``refused`` -- the meter refused the session (its FOTA_ERR code and audit
  line), whether or not its report got through. ``reported`` says what the
  concentrator last heard as final: a battery meter that reported complete
  and then spent its reserve on its siblings' retransmissions refuses the
  session it had (0x9003) and shows ``refused`` with ``reported`` "complete".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .airtime import WindowPeak
from .clock import NS, ns
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

__all__ = ["OUTCOMES", "Recorder", "Report"]

OUTCOMES = ("complete", "pending", "incomplete", "refused")
HOTTEST = 5


class _NodeAir:
    """A node's radio time (ns) and its busiest fixed window of transmitting."""

    __slots__ = ("peak", "retries", "sent", "tx", "win", "win_k")

    def __init__(self) -> None:
        self.tx = self.sent = self.retries = 0
        self.win_k = -1
        self.win = 0
        self.peak = 0

    def transmit(self, start: int, end: int, window: int) -> None:
        self.tx += end - start
        self.sent += 1
        while start < end:  # split at window edges
            k = start // window
            part = min(end, (k + 1) * window) - start
            if k != self.win_k:
                self.peak = max(self.peak, self.win)
                self.win_k, self.win = k, 0
            self.win += part
            start += part

    @property
    def peak_tx(self) -> int:
        return max(self.peak, self.win)


@dataclass
class _Round:
    round: int
    start: int
    fragments: int
    waiting: int
    end: int = 0
    relayed: int = 0
    reports_sent: int = 0
    report_retries: int = 0
    reports_arrived: int = 0
    lost_queue: int = 0
    lost_path: int = 0
    fota_ns: int = 0
    billing_ns: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    peak: int = 0  # the busiest window ending with one of the round's transmissions

    def as_dict(self, window: int) -> dict[str, Any]:
        duration = self.end - self.start
        return {
            "round": self.round,
            "fragments_sent": self.fragments,
            "frames_relayed": self.relayed,
            "waiting_for": self.waiting,
            "reports_sent": self.reports_sent,
            "report_retries": self.report_retries,
            "reports_arrived": self.reports_arrived,
            "reports_lost_queue": self.lost_queue,
            "reports_lost_path": self.lost_path,
            "airtime_s": self.fota_ns / NS,
            "duration_s": duration / NS,
            "share": self.fota_ns / duration if duration else 0.0,
            "peak_share": self.peak / window,
            **{k: self.counts.get(k, 0) for k in OUTCOMES},
        }


class Recorder:
    """Folds a broadcast's events into its :class:`Report`."""

    def __init__(self, topology: Any, config: Any, fragments: int) -> None:
        self.topology = topology
        self.config = config
        self.fragments = fragments
        self.window = ns(config.window_s)
        self.peak = WindowPeak(self.window)
        self.rounds: list[_Round] = []
        self.air: dict[str, _NodeAir] = {}
        self.kinds: dict[str, int] = {"fragment": 0, "relay": 0, "report": 0, "billing": 0}
        self.rx: dict[str, int] = {}
        self.last_loss: dict[str, tuple[str, str, int]] = {}
        self.finals: list[MeterFinal] = []
        self.billing: list[tuple[int, int]] = []  # (latency, service) ns
        self.started: BroadcastStarted | None = None
        self.ended: BroadcastEnded | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            OnAir: self._on_air,
            RoundStarted: self._round_started,
            RoundEnded: self._round_ended,
            ReportArrived: self._arrived,
            ReportLost: self._lost,
            MeterFinal: self.finals.append,
            BillingRead: self._billing,
            BroadcastStarted: self._started,
            BroadcastEnded: self._ended,
        }

    def on_event(self, event: MeshEvent) -> None:
        self._handlers[type(event)](event)

    def _started(self, e: BroadcastStarted) -> None:
        self.started = e

    def _ended(self, e: BroadcastEnded) -> None:
        self.ended = e

    def _node(self, nid: str) -> _NodeAir:
        a = self.air.get(nid)
        if a is None:
            a = self.air[nid] = _NodeAir()
        return a

    def _on_air(self, e: OnAir) -> None:
        if self.ended is not None:
            return  # a billing read finishing after the broadcast
        d = e.end - e.start
        self.kinds[e.kind] += d
        cur = self.rounds[-1] if self.rounds else None
        if e.fota:
            busy = self.peak.add(e.start, e.end)
            a = self._node(e.node)
            a.transmit(e.start, e.end, self.window)
            rx = self.rx
            for nid in e.listeners:
                rx[nid] = rx.get(nid, 0) + d
            if e.retry:
                a.retries += 1
            if cur is not None:
                cur.fota_ns += d
                if busy > cur.peak:
                    cur.peak = busy
                if e.kind == "relay":
                    cur.relayed += 1
                elif e.kind == "report":
                    cur.reports_sent += 1
                    cur.report_retries += e.retry
        elif cur is not None:
            cur.billing_ns += d

    def _round_started(self, e: RoundStarted) -> None:
        self.rounds.append(_Round(e.round, e.t, e.fragments, e.waiting))

    def _round_ended(self, e: RoundEnded) -> None:
        r = self.rounds[-1]
        r.end = e.t
        r.counts = {"complete": e.complete, "pending": e.pending,
                    "incomplete": e.incomplete, "refused": e.refused}

    def _arrived(self, e: ReportArrived) -> None:
        self.rounds[-1].reports_arrived += 1
        self.last_loss.pop(e.member, None)  # this one got through

    def _lost(self, e: ReportLost) -> None:
        r = self.rounds[-1]
        if e.cause == "queue":
            r.lost_queue += 1
        else:
            r.lost_path += 1
        self.last_loss[e.member] = (e.node, e.cause, e.round)

    def _billing(self, e: BillingRead) -> None:
        if self.ended is None:
            self.billing.append((e.done - e.arrived, e.service))

    # ------------------------------------------------------------ the report
    def report(self) -> Report:
        assert self.started is not None and self.ended is not None
        end = self.ended.t
        window = self.window
        topo = self.topology
        members = set(self.started.members)
        meters = []
        failed = []
        pending = []
        battery = []
        for f in self.finals:
            a = self.air.get(f.member) or _NodeAir()
            row: dict[str, Any] = {
                "id": f.member,
                "outcome": f.outcome,
                "boot_state": f.boot_state,
                "received": f.received,
                "count": f.count,
                "depth": f.depth,
                "reported": f.reported,
                "code": f.code,
                "audit": f.audit,
                "power": "battery" if f.battery_start_mj is not None else "mains",
                "frames_heard": f.frames_heard,
                **_duty(a, self.rx.get(f.member, 0), end, window),
            }
            if f.battery_start_mj is not None:
                spent = (f.battery_start_mj - f.battery_end_mj
                         if f.battery_end_mj is not None else None)
                row.update(battery_start_mj=f.battery_start_mj,
                           battery_end_mj=f.battery_end_mj, battery_spent_mj=spent)
                battery.append(row)
            if f.outcome == "pending":
                node, cause, rnd = self.last_loss.get(f.member, (None, None, None))
                row.update(stuck_at=node, cause=cause, last_report_round=rnd)
                pending.append({"id": f.member, "stuck_at": node, "cause": cause,
                                "round": rnd})
            if f.outcome == "refused":
                failed.append({"id": f.member, "code": f.code, "audit": f.audit,
                               "receipt": f.receipt, "boot_state": f.boot_state,
                               "reported": f.reported})
            meters.append(row)
        outcome = {k: 0 for k in OUTCOMES}
        for row in meters:
            outcome[row["outcome"]] += 1
        hottest = sorted(
            ({"id": nid, "member": nid in members,
              **_duty(a, self.rx.get(nid, 0), end, window)}
             for nid, a in self.air.items() if nid != topo.concentrator),
            key=lambda h: (-h["peak_tx_duty"], -h["tx_s"], h["id"]))[:HOTTEST]
        fota = sum(self.kinds[k] for k in ("fragment", "relay", "report"))
        lat = sorted(x[0] for x in self.billing)
        service = [x[1] for x in self.billing]
        return Report(
            session=self.started.session,
            fragments=self.fragments,
            members=len(self.started.members),
            nodes=len(self.started.nodes),
            relays=self.started.relays,
            depth=max((topo.depth[m] for m in self.started.members), default=0),
            rounds=[r.as_dict(window) for r in self.rounds],
            outcome=outcome,
            meters=meters,
            failed=failed,
            pending=pending,
            hottest=hottest,
            airtime={
                "fota_s": fota / NS,
                "fragments_s": self.kinds["fragment"] / NS,
                "relay_s": self.kinds["relay"] / NS,
                "reports_s": self.kinds["report"] / NS,
                "billing_s": self.kinds["billing"] / NS,
                "duration_s": end / NS,
                "share": fota / end if end else 0.0,
                "peak_window_share": self.peak.peak / window,
                "peak_window_fota_s": self.peak.peak / NS,
                "cap": self.config.cap,
                "window_s": self.config.window_s,
            },
            billing=_billing(lat, service, self.config.billing_interval_s),
            battery=_battery(battery),
        )


def _duty(a: _NodeAir, rx: int, end: int, window: int) -> dict[str, Any]:
    return {
        "tx_s": a.tx / NS,
        "rx_s": rx / NS,
        "transmissions": a.sent,
        "retries": a.retries,
        "duty": (a.tx + rx) / end if end else 0.0,
        "tx_duty": a.tx / end if end else 0.0,
        "peak_tx_duty": a.peak_tx / window,
    }


def _billing(lat: list[int], service: list[int], interval: float) -> dict[str, Any]:
    if not lat:
        return {"reads": 0, "interval_s": interval}
    n = len(lat)
    return {
        "reads": n,
        "interval_s": interval,
        "latency_mean_s": sum(lat) / n / NS,
        "latency_p50_s": lat[(n - 1) // 2] / NS,
        "latency_p95_s": lat[min(n - 1, (95 * n) // 100)] / NS,
        "latency_max_s": lat[-1] / NS,
        "service_mean_s": sum(service) / n / NS,
    }


def _battery(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"meters": 0}
    spent = [r["battery_spent_mj"] for r in rows if r["battery_spent_mj"] is not None]
    return {
        "meters": len(rows),
        "spent_mj_total": sum(spent),
        "spent_mj_max": max(spent, default=0.0),
        "frames_heard_max": max(r["frames_heard"] for r in rows),
        "refused_0x9003": sum(1 for r in rows if r["code"] == "0x9003"),
    }


@dataclass
class Report:
    """A broadcast's report. :meth:`to_dict` is the JSON form (docs/MESH.md)."""

    session: int
    fragments: int
    members: int
    nodes: int
    relays: int
    depth: int
    rounds: list[dict[str, Any]]
    outcome: dict[str, int]
    meters: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    hottest: list[dict[str, Any]]
    airtime: dict[str, Any]
    billing: dict[str, Any]
    battery: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every member ended complete."""
        return self.outcome["complete"] == self.members

    def meter(self, member: str) -> dict[str, Any]:
        for row in self.meters:
            if row["id"] == member:
                return row
        raise KeyError(member)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "session": f"0x{self.session:08x}",
            "fragments": self.fragments,
            "mesh": {"members": self.members, "nodes": self.nodes, "relays": self.relays,
                     "depth": self.depth},
            "rounds": self.rounds,
            "outcome": self.outcome,
            "failed": self.failed,
            "pending": self.pending,
            "airtime": self.airtime,
            "billing": self.billing,
            "battery": self.battery,
            "hottest": self.hottest,
            "meters": self.meters,
        }
