"""Broadcast rounds over a tree of VirtualMeters: deterministic from the seed,
multi-hop delivery, pending told apart from incomplete, refusals reported with
their code and not waited for, battery reserves, and the FOTA cap held in
every window of whole broadcasts."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meshkit import busiest_window

from meteremu.device import VirtualMeter
from meteremu.errors import UsageError
from meteremu.mesh import (
    BatterySpec,
    Broadcast,
    MeshConfig,
    MeshMeter,
    Node,
    Topology,
    broadcast,
    virtual_meters,
)
from meteremu.mesh.events import MeshEvent, OnAir, ReportArrived
from meteremu.testing import VENDOR_ID, make_firmware, make_keys, make_package

G = "residential_sector_04"
KEYS = make_keys(0)


@functools.cache
def package(size: int = 2048, **config: Any) -> bytes:
    return make_package(make_firmware(size, seed=size), KEYS, **config)


def meters_for(topo: Topology, group: str = G, **kw: Any) -> dict[str, Any]:
    return virtual_meters((topo[m] for m in topo.group(group)), trusted_keys=[KEYS.point],
                          vendor_id=VENDOR_ID, **kw)


def run(topo: Topology, config: MeshConfig | None = None, *, group: str = G,
        pkg: bytes | None = None, observers: tuple = (), **kw: Any) -> tuple[Any, dict]:
    meters = meters_for(topo, group, **kw)
    rep = broadcast(pkg or package(), topo, group, meters, config, observers=observers)
    return rep, meters


def tree(*edges: tuple[str, str], quality: float = 1.0, **kw: Any) -> Topology:
    """A topology from (id, parent) pairs under concentrator DC, all in group G."""
    return Topology([Node(i, p, quality=quality, group=G, **kw) for i, p in edges],
                    concentrator="DC")


def test_virtual_meter_is_what_the_mesh_drives() -> None:
    (meter,) = meters_for(tree(("A", "DC"))).values()
    assert isinstance(meter, VirtualMeter) and isinstance(meter, MeshMeter)


def test_same_seed_same_report() -> None:
    topo = Topology.generate(25, seed=2, fanout=3, depth=3, loss=0.15, battery_share=0.3)
    cfg = MeshConfig(seed=9, burst=3.0, duplicate=0.05, corrupt=0.05, reorder=0.1)
    a = run(topo, cfg)[0].to_dict()
    b = run(topo, cfg)[0].to_dict()
    assert a == b
    c = run(topo, MeshConfig(seed=10, burst=3.0, duplicate=0.05, corrupt=0.05,
                             reorder=0.1))[0].to_dict()
    assert c != a


def test_multi_hop_reaches_a_depth_3_tree() -> None:
    # DC - A - B - C chains, with siblings at each level; every link loses 20 %.
    topo = tree(("A", "DC"), ("A2", "DC"), ("B", "A"), ("B2", "A"), ("C", "B"), ("C2", "B"),
                ("C3", "B2"), quality=0.8)
    rep, meters = run(topo, MeshConfig(seed=1, max_rounds=20))
    assert rep.complete and rep.depth == 3
    assert sum(r["frames_relayed"] for r in rep.rounds) > 0
    for m in ("C", "C2", "C3"):
        assert rep.meter(m)["outcome"] == "complete"
        assert rep.meter(m)["boot_state"] == "verified"
        received, count = meters[m].download_progress()
        assert received == count
    assert rep.rounds[0]["fragments_sent"] == rep.fragments
    assert rep.rounds[-1]["fragments_sent"] < rep.fragments  # later rounds: the union only


def _saturating_tree(children: int) -> Topology:
    """R relays for ``children`` leaves; L hangs on the concentrator over a bad link."""
    nodes = [Node("R", "DC", group=G)]
    nodes += [Node(f"K{i:02d}", "R", group=G) for i in range(children)]
    nodes += [Node("L", "DC", quality=0.3, group=G)]
    return Topology(nodes, concentrator="DC")


def test_a_saturated_parent_leaves_pending_meters_not_incomplete_ones() -> None:
    topo = _saturating_tree(30)
    cfg = MeshConfig(seed=4, queue=2, report_window_s=0.0, max_rounds=1, retries=0)
    rep, meters = run(topo, cfg)
    pending = {p["id"] for p in rep.pending}
    assert len(pending) >= 20  # R's queue of 2 takes few of 31 reports at once
    for p in rep.pending:
        assert p["stuck_at"] == "R" and p["cause"] == "queue"
        received, count = meters[p["id"]].download_progress()
        assert received == count  # the image is there; only the receipt is missing
    assert rep.meter("L")["outcome"] == "incomplete"
    received, count = meters["L"].download_progress()
    assert received < count
    assert rep.rounds[0]["reports_lost_queue"] == len(pending) > 0
    assert rep.outcome["complete"] + rep.outcome["pending"] == 31

    # Room in the queue: the same meters complete and nobody is pending.
    rep2, _ = run(topo, MeshConfig(seed=4, queue=64, report_window_s=0.0, max_rounds=1,
                                   retries=0))
    assert rep2.outcome["pending"] == 0 and rep2.outcome["complete"] == 31


@pytest.mark.parametrize("seed", range(6))
def test_outcomes_match_what_the_meters_hold(seed: int) -> None:
    """Whatever the losses: pending = the meter has the image, unreported; incomplete =
    it lacks fragments; complete = reported complete and verified."""
    topo = Topology.generate(30, seed=seed, fanout=8, depth=3, loss=0.3, spread=0.1,
                             battery_share=0.0)
    cfg = MeshConfig(seed=seed, queue=3, retries=1, report_window_s=0.05, max_rounds=3)
    rep, meters = run(topo, cfg)
    assert sum(rep.outcome.values()) == 30
    for row in rep.meters:
        received, count = meters[row["id"]].download_progress()
        has_image = count > 0 and received == count
        if row["outcome"] == "complete":
            assert has_image and row["reported"] == "complete"
            assert row["boot_state"] == "verified"
        elif row["outcome"] == "pending":
            assert has_image and row["reported"] is None
            assert row["cause"] in ("queue", "path")
            assert row["stuck_at"] in topo.path(row["id"])
        else:
            assert row["outcome"] == "incomplete" and not has_image


def test_a_refused_meter_is_reported_with_its_code_and_not_waited_for() -> None:
    nodes = [Node("A", "DC", group=G), Node("X", "A", group=G, hw_revision=4),
             Node("Y", "X", group=G), Node("B", "DC", group=G)]
    topo = Topology(nodes, concentrator="DC")
    rep, _ = run(topo, MeshConfig(seed=1))
    assert rep.rounds[-1]["round"] == 1  # nobody left to wait for after round 1
    x = rep.meter("X")
    assert x["outcome"] == "refused" and x["code"] == "0x8004" and x["reported"] == "refused"
    assert x["boot_state"] == "failed"
    assert "FOTA_ERR 0x8004 hardware revision mismatch" in x["audit"]
    assert rep.failed == [{"id": "X", "code": "0x8004", "audit": x["audit"],
                           "receipt": "refused", "boot_state": "failed", "reported": "refused"}]
    assert rep.meter("Y")["outcome"] == "complete"  # X refused, but still relays
    assert rep.outcome == {"complete": 3, "pending": 0, "incomplete": 0, "refused": 1}


def test_a_refusal_ends_the_waiting_once_reported() -> None:
    nodes = [Node(f"M{i}", "DC", quality=0.7, group=G) for i in range(6)]
    nodes.append(Node("X", "DC", quality=0.7, group=G, hw_revision=9))
    arrived: list[ReportArrived] = []

    def watch(e: MeshEvent) -> None:
        if isinstance(e, ReportArrived):
            arrived.append(e)

    rep, _ = run(Topology(nodes, concentrator="DC"), MeshConfig(seed=3, max_rounds=30),
                 observers=(watch,))
    assert len(rep.rounds) > 1 and rep.outcome["complete"] == 6
    from_x = [e for e in arrived if e.member == "X"]
    assert from_x and from_x[-1].kind == "refused" and from_x[-1].code == "0x8004"
    assert all(e.kind == "missing" for e in from_x[:-1])  # it said so as soon as it heard
    later = [r["waiting_for"] for r in rep.rounds if r["round"] > from_x[-1].round]
    assert all(w <= 6 for w in later)


def test_battery_reserves_go_down_by_the_frames_heard() -> None:
    topo = Topology.generate(20, seed=8, fanout=6, depth=3, loss=0.2, battery_share=0.5)
    spec = BatterySpec(spare_mj=100_000, rx_frame_mj=3)
    cfg = MeshConfig(seed=2, duplicate=0.1, corrupt=0.1)
    rep, meters = run(topo, cfg, battery=spec)
    rows = [r for r in rep.meters if r["power"] == "battery"]
    assert rows and rep.battery["meters"] == len(rows)
    for r in rows:
        assert r["frames_heard"] >= rep.fragments
        assert r["battery_spent_mj"] == pytest.approx(3 * r["frames_heard"])
        assert meters[r["id"]].battery_mj == r["battery_end_mj"]
    assert rep.battery["spent_mj_total"] == pytest.approx(
        3 * sum(r["frames_heard"] for r in rows))
    assert all("battery_spent_mj" not in r for r in rep.meters if r["power"] == "mains")


def test_a_battery_that_cannot_pay_for_the_download_refuses_it() -> None:
    topo = tree(("A", "DC"), ("B", "A"))
    topo = Topology([topo["A"], Node("B", "A", group=G, battery=True)], concentrator="DC")
    rep, _ = run(topo, MeshConfig(seed=1), battery=BatterySpec(spare_mj=30, rx_frame_mj=3))
    b = rep.meter("B")
    assert b["outcome"] == "refused" and b["code"] == "0x9003"
    assert "0x9003 battery reserve" in b["audit"]
    assert rep.battery["refused_0x9003"] == 1
    assert rep.meter("A")["outcome"] == "complete"


def test_a_battery_meter_keeps_what_it_completed_while_a_sibling_is_served() -> None:
    """Its parent keeps re-sending for a sibling on a bad link; every frame heard costs
    the battery meter until its minimum, and then it drops them: the package it
    holds complete stays verified (it used to refuse it, 0x9003)."""
    nodes = [Node("R", "DC", group=G), Node("B", "R", group=G, battery=True),
             Node("S", "R", group=G, quality=0.4)]
    topo = Topology(nodes, concentrator="DC")
    rep, meters = run(topo, MeshConfig(seed=2, max_rounds=20),
                      battery=BatterySpec(spare_mj=3 * 30, rx_frame_mj=3))
    b = rep.meter("B")
    assert b["reported"] == "complete"  # what the head-end was told
    assert b["outcome"] == "complete" and b["boot_state"] == "verified"  # what it holds
    assert meters["B"].battery_mj == 1_000_000  # the spare is spent on its sibling's rounds
    assert meters["B"].download_session() is not None
    assert rep.meter("S")["outcome"] == "complete"


def test_meters_that_activated_the_session_before_are_complete_not_refused() -> None:
    """The same broadcast sent again to meters that took it, activated it and
    confirmed it: each needs none of its frames (they come back dropped as of a
    closed session), which is done, not a refusal."""
    topo = tree(("A", "DC"), ("B", "A"), ("C", "DC"))
    rep, meters = run(topo, MeshConfig(seed=4))
    assert rep.complete
    for m in meters.values():
        assert m.activate() is None and m.heartbeat()
        assert m.session_outcome(0) == "missing"  # (a session it never heard)
    again = broadcast(package(), topo, G, meters, MeshConfig(seed=4))
    assert again.outcome == {"complete": 3, "pending": 0, "incomplete": 0, "refused": 0}
    assert again.failed == []
    assert again.rounds[-1]["round"] == 1  # nobody left to wait for


def test_non_members_relay_for_the_group_and_get_no_meter() -> None:
    nodes = [Node("N1", "DC", group="other"), Node("N2", "N1", group="other"),
             Node("M1", "N2", group=G, quality=0.9), Node("M2", "N1", group=G),
             Node("N3", "DC", group="other")]
    topo = Topology(nodes, concentrator="DC")
    meters = meters_for(topo)
    assert set(meters) == {"M1", "M2"}
    senders: set[str] = set()

    def watch(e: MeshEvent) -> None:
        if isinstance(e, OnAir) and e.kind == "relay":
            senders.add(e.node)

    rep = broadcast(package(), topo, G, meters, MeshConfig(seed=2), observers=(watch,))
    assert rep.complete and rep.members == 2 and rep.relays == 2
    assert senders == {"N1", "N2"}  # N3 has nobody of the group below it


def test_unknown_group_is_a_usage_error() -> None:
    topo = tree(("A", "DC"))
    with pytest.raises(UsageError, match="no meters"):
        Broadcast(topo, "nope", [b"x"], {}, MeshConfig())


def test_a_cap_too_small_for_one_frame_is_a_usage_error() -> None:
    topo = tree(("A", "DC"))
    with pytest.raises(UsageError, match="widen the window"):
        run(topo, MeshConfig(cap=0.01, window_s=0.1))


def test_bursty_links_complete_too_and_billing_is_measured() -> None:
    topo = Topology.generate(30, seed=3, loss=0.1, battery_share=0.2)
    rep, _ = run(topo, MeshConfig(seed=5, burst=6.0, billing_interval_s=60))
    assert rep.complete
    bill = rep.billing
    assert bill["reads"] > 0
    assert bill["latency_max_s"] >= bill["latency_mean_s"] >= bill["service_mean_s"] > 0
    assert rep.airtime["peak_window_share"] <= rep.airtime["cap"] + 1e-12
    assert 0 < rep.airtime["share"] <= rep.airtime["cap"] + 1e-9


def test_report_shape() -> None:
    rep, _ = run(Topology.generate(6, seed=1, battery_share=0.5), MeshConfig(seed=1))
    d = rep.to_dict()
    assert set(d) >= {"session", "fragments", "mesh", "rounds", "outcome", "failed",
                      "pending", "airtime", "billing", "battery", "hottest", "meters"}
    assert set(d["rounds"][0]) >= {"round", "fragments_sent", "frames_relayed", "airtime_s",
                                   "share", "peak_share", "complete", "pending",
                                   "incomplete", "refused"}
    row = d["meters"][0]
    assert set(row) >= {"id", "outcome", "boot_state", "received", "count", "code", "audit",
                        "duty", "tx_duty", "peak_tx_duty", "frames_heard", "power"}
    assert len(d["hottest"]) <= 5


@given(seed=st.integers(0, 2**16), meters=st.integers(2, 14), fanout=st.integers(1, 4),
       loss=st.sampled_from([0.0, 0.1, 0.3]), cap=st.sampled_from([0.1, 0.3, 0.6]),
       window=st.sampled_from([0.5, 2.0, 10.0]), size=st.sampled_from([600, 2048]),
       burst=st.sampled_from([None, 4.0]))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
def test_fota_stays_under_the_cap_in_every_window(seed, meters, fanout, loss, cap, window,
                                                 size, burst) -> None:
    try:
        topo = Topology.generate(meters, seed=seed, fanout=fanout, depth=4, loss=loss,
                                 battery_share=0.2)
    except UsageError:
        return  # the tree does not fit
    fota: list[tuple[int, int]] = []

    def watch(e: MeshEvent) -> None:
        if isinstance(e, OnAir) and e.fota:
            fota.append((e.start, e.end))

    cfg = MeshConfig(seed=seed, cap=cap, window_s=window, burst=burst, max_rounds=8,
                     billing_interval_s=30)
    rep, _ = run(topo, cfg, pkg=package(size), observers=(watch,))
    w = int(window * 1e9)
    assert busiest_window(sorted(fota), w) <= int(cap * 10) * w // 10
    assert rep.airtime["peak_window_share"] <= cap + 1e-12


@pytest.mark.slow
def test_a_thousand_meters_of_a_96_kib_package() -> None:
    """The docs' measured run (docs/MESH.md): 1,000 meters, 770 fragments."""
    topo = Topology.generate(1000, seed=1)
    rep, _ = run(topo, MeshConfig(seed=3), pkg=package(96 * 1024))
    assert rep.complete
    assert rep.airtime["peak_window_share"] <= 0.30 + 1e-12
    assert rep.battery["meters"] > 50 and rep.battery["refused_0x9003"] == 0
