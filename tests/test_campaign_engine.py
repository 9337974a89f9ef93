"""The campaign engine on in-memory fleets: no phantom failure, the policy, the soak.

The behavioural tests run on both fields (``field``): the mesh field (meters on
a multi-hop mesh) and the fleet field (Fleet meters on a star of lossy links,
meteremu.campaign.fleetfield): the engine must keep its promises on either."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rolloutkit import GEOMETRY, VENDOR, package, truth

from meteremu.campaign.bus import InProcessBus
from meteremu.campaign.distributor import Distributor
from meteremu.campaign.engine import Params
from meteremu.campaign.fleet import generate_fleet
from meteremu.campaign.policy import Policy
from meteremu.campaign.runner import create, open_campaign
from meteremu.campaign.store import Store


def _campaign(tmp: Path, meters: int, *, drop: float = 0.0, pkg: bytes | None = None,
              version: str = "2.0.0", params: Params | None = None,
              policy: Policy | None = None, other_hw: float = 0.0, seed: int = 1,
              field: str = "mesh"):
    store = Store.open(tmp / "c.sqlite")
    fleet = generate_fleet(meters, seed=seed, per_concentrator=250, other_hw_share=other_hw)
    pkg = pkg or package()
    params = params or Params(canary=0.02, wave=1000, seed=seed)
    create(store, "c1", package=pkg, package_name="fw.pkg", fleet=fleet, params=params,
           policy=policy or Policy(), version=version, trusted_keys=[], vendor_id=VENDOR,
           persist=False, field=field)
    rnd = random.Random(seed)
    bus = InProcessBus(drop=(lambda a: rnd.random() < drop) if drop else None)
    opened = open_campaign(store, "c1", bus=bus, fleet=fleet, package=pkg, persist=False,
                           field_options={"geometry": GEOMETRY})
    return store, opened, bus


FIELDS = pytest.mark.parametrize("field", ["mesh", "fleet"])


@FIELDS
def test_lost_acks_never_make_a_failure_db_equals_the_meters(tmp_path: Path,
        field: str) -> None:
    """Thousands of meters, most acks lost on the bus: the database ends equal to
    what each meter really is, and nothing that updated is recorded failed."""
    store, opened, bus = _campaign(tmp_path, 2000, drop=0.6, other_hw=0.002, field=field)
    try:
        assert opened.engine.run() == "done"
        assert bus.dropped > bus.published // 2  # most of them lost
        rows = store.meters("c1")
        assert len(rows) == 2000
        for r in rows:
            assert (r.state, r.version) == truth(opened.field, r.meter, "2.0.0"), r
            if r.state == "refused":
                assert r.last_code == "0x8004"  # the wrong hardware revision, read from it
                assert r.source == "read"  # a failure is recorded from a read, never an ack
        counts = store.counts("c1")
        assert counts["confirmed"] >= 1990
        # what the acks missed, the head-end read
        assert any(r.source == "read" and r.state == "confirmed" for r in rows)
    finally:
        opened.close()


def test_canary_is_reproducible_and_spread_over_concentrators(tmp_path: Path) -> None:
    from meteremu.campaign.plan import plan

    fleet = generate_fleet(1000, seed=3, per_concentrator=200)
    dcs = {t.concentrator: [n.id for n in t] for t in fleet}
    a = plan(dcs, canary=0.02, wave=300, seed=9)
    b = plan(dcs, canary=0.02, wave=300, seed=9)
    assert a == b
    canary = [m for m, w in a.items() if w == 0]
    assert len(canary) == 20
    where = {m: dc for dc, ids in dcs.items() for m in ids}
    assert {where[m] for m in canary} == set(dcs)  # every concentrator gives some
    assert plan(dcs, canary=0.02, wave=300, seed=10) != a
    sizes = {}
    for w in a.values():
        sizes[w] = sizes.get(w, 0) + 1
    assert all(v <= 300 for k, v in sizes.items() if k)
    assert sorted(a) == sorted(where)


@FIELDS
def test_a_no_heartbeat_image_rolls_back_in_the_canary_and_pauses(tmp_path: Path,
        field: str) -> None:
    store, opened, _ = _campaign(tmp_path, 300, pkg=package("3.0.0", "no-heartbeat"),
                                 version="3.0.0", drop=0.3, field=field)
    try:
        assert opened.engine.run() == "paused"
        c = store.campaign("c1")
        assert "reverted" in c["paused_reason"] and "wave 0" in c["paused_reason"]
        canary = store.meters("c1", wave=0)
        assert canary and all(r.state == "reverted" for r in canary)
        for r in canary:
            m = opened.field.meter(r.meter)
            assert m.active_version == "1.0.0" and r.version == "1.0.0"
        # Nothing beyond the canary was touched.
        assert all(r.state == "waiting" for r in store.meters("c1") if r.wave)
        assert all(opened.field.meter(r.meter).active_version == "1.0.0"
                   for r in store.meters("c1")[:5])
    finally:
        opened.close()


@FIELDS
def test_soak_takes_24_virtual_hours_and_checks_metrology(tmp_path: Path,
        field: str) -> None:
    store, opened, _ = _campaign(tmp_path, 200, field=field)
    try:
        assert opened.engine.run() == "done"
        soak = [e for e in store.events("c1", "soak")]
        start, end = soak[0]["at"], soak[-1]["at"]
        assert end - start == pytest.approx(86400)
        assert soak[-1]["detail"]["metrology_checked"] == len(store.meters("c1", wave=0))
        assert soak[-1]["detail"]["problems"] == []
        waves = store.waves("c1")
        assert waves[1]["started_virtual"] >= end
    finally:
        opened.close()


@FIELDS
def test_waves_start_only_in_the_window_and_outside_blackouts(tmp_path: Path,
        field: str) -> None:
    policy = Policy(window=(19 * 3600, 6 * 3600), blackouts=[("daily", 17 * 3600.0, 20 * 3600.0)])
    store, opened, _ = _campaign(tmp_path, 300, policy=policy,
                                 params=Params(canary=0.02, wave=100, seed=1), field=field)
    try:
        assert opened.engine.run() == "done"
        for w in store.waves("c1"):
            hour = (w["started_virtual"] % 86400) / 3600
            assert hour >= 20 or hour < 6, w
    finally:
        opened.close()


@FIELDS
def test_distributor_never_runs_more_than_its_limit(tmp_path: Path,
        field: str) -> None:
    store, opened, _ = _campaign(tmp_path, 1200,
                                 params=Params(canary=0.01, wave=1200, seed=2, concurrency=2),
                                 field=field)
    try:
        assert opened.engine.run() == "done"
        spans = [(e["detail"]["concentrator"], e["detail"]["start"], e["detail"]["end"])
                 for e in store.events("c1", "broadcast") if e["wave"] == 1]
        assert len({s[0] for s in spans}) == 5
        assert Distributor.most_at_once(spans) == 2
    finally:
        opened.close()


def test_policy_window_and_blackout_arithmetic() -> None:
    p = Policy(window=(19 * 3600, 6 * 3600), blackouts=[("daily", 17 * 3600.0, 20 * 3600.0),
                                                        ("once", 86400 * 3 + 21 * 3600.0,
                                                         86400 * 3 + 23 * 3600.0)])
    assert not p.allowed(12 * 3600)
    assert not p.allowed(19.5 * 3600)  # in the window, but peak demand
    assert p.allowed(20 * 3600) and p.allowed(86400 + 3 * 3600)
    assert p.next_allowed(12 * 3600) == 20 * 3600
    assert p.next_allowed(86400 * 3 + 21 * 3600.0) == 86400 * 3 + 23 * 3600.0
    assert p.judge(1, 100, {"refused": 5, "confirmed": 95}, []) is None
    assert "6 of 100" in (p.judge(1, 100, {"refused": 4, "reverted": 2}, []) or "")
    assert "F.03" in (p.judge(2, 100, {"confirmed": 100}, [("M1", "F.03")]) or "")


def test_meters_built_beforehand_stand_behind_the_field(tmp_path: Path) -> None:
    """The field drives meters it is given (a memory-cheap fleet can be one)."""
    from meteremu.mesh import virtual_meters

    fleet = generate_fleet(120, seed=5, per_concentrator=60)
    built = virtual_meters([n for t in fleet for n in t], trusted_keys=[], vendor_id=VENDOR,
                           geometry=GEOMETRY)
    store = Store.open(tmp_path / "c.sqlite")
    create(store, "c1", package=package(), package_name="fw.pkg", fleet=fleet,
           params=Params(canary=0.02, wave=60, seed=5), policy=Policy(), version="2.0.0",
           trusted_keys=[], vendor_id=VENDOR, persist=False)
    opened = open_campaign(store, "c1", bus=InProcessBus(), fleet=fleet, package=package(),
                           persist=False, field_options={"meters": built})
    assert opened.engine.run() == "done"
    opened.close()
    assert all(m.active_version == "2.0.0" for m in built.values())
    assert store.counts("c1") == {"confirmed": 120}
