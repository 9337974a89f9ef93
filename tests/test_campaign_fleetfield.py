"""The fleet field (meteremu.campaign.fleetfield): the same campaign as on the mesh,
its star's airtime and cap, and what it refuses (resume, a shared database)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rolloutkit import GEOMETRY, VENDOR, package, truth

from meteremu.campaign.bus import InProcessBus
from meteremu.campaign.engine import Params
from meteremu.campaign.fleet import generate_fleet
from meteremu.campaign.fleetfield import FleetField
from meteremu.campaign.policy import Policy
from meteremu.campaign.runner import create, open_campaign
from meteremu.campaign.store import Store
from meteremu.cli import main
from meteremu.errors import UsageError


def _open(tmp: Path, field: str, meters: int = 400, *, drop: float = 0.5,
          persist: bool = False, seed: int = 4):
    store = Store.open(tmp / f"{field}.sqlite")
    fleet = generate_fleet(meters, seed=seed, per_concentrator=100, other_hw_share=0.01)
    create(store, "c1", package=package(), package_name="fw.pkg", fleet=fleet,
           params=Params(canary=0.02, wave=150, seed=seed), policy=Policy(), version="2.0.0",
           trusted_keys=[], vendor_id=VENDOR, persist=persist, field=field)
    rnd = random.Random(seed)
    bus = InProcessBus(drop=lambda _a: rnd.random() < drop)
    opened = open_campaign(store, "c1", bus=bus, fleet=fleet if not persist else None,
                           package=package() if not persist else None, persist=persist,
                           field_options={"geometry": GEOMETRY})
    return store, opened


def test_the_same_campaign_ends_alike_on_the_mesh_and_the_fleet(tmp_path: Path) -> None:
    """Same plan, same acks lost, one meter losing power mid-swap: on both fields
    every meter ends in the same state, version and code, in the database and
    in the meter itself. The deliveries differ (multi-hop tree against a star
    of links, each with its own draws), so airtime, rounds and audit logs
    differ; the outcomes agree because both deliver every fragment to every
    meter that takes them within the round limit."""
    ends = {}
    for field in ("mesh", "fleet"):
        store, opened = _open(tmp_path, field)
        try:
            cut = next(r.meter for r in store.meters("c1", wave=1))
            opened.field.cut_power_at_swap(cut)
            assert opened.engine.run() == "done"
            rows = store.meters("c1")
            for r in rows:
                assert (r.state, r.version) == truth(opened.field, r.meter, "2.0.0"), r
            ends[field] = {r.meter: (r.state, r.version, r.last_code) for r in rows}
            real = {r.meter: (opened.field.meter(r.meter).boot_state.name,
                              opened.field.meter(r.meter).active_version) for r in rows}
            ends[field + "-meters"] = real
        finally:
            opened.close()
            store.close()
    assert ends["mesh"] == ends["fleet"]
    assert ends["mesh-meters"] == ends["fleet-meters"]
    states = {s for s, _, _ in ends["fleet"].values()}
    assert states == {"confirmed", "refused"}  # the other hardware revision refuses
    assert sum(s == "refused" for s, _, _ in ends["fleet"].values()) >= 1


def test_a_star_broadcast_holds_fota_to_the_cap(tmp_path: Path) -> None:
    """Each broadcast lasts its airtime over the cap (FOTA holds exactly the cap
    of the channel), a wave's airtime is its broadcasts', and billing latency
    is not claimed (not modelled on the star)."""
    store, opened = _open(tmp_path, "fleet", 300)
    try:
        assert opened.engine.run() == "done"
        events = store.events("c1", "broadcast")
        assert events
        for e in events:
            d = e["detail"]
            assert d["airtime_s"] > 0 and d["rounds"] >= 1
            assert d["end"] - d["start"] == pytest.approx(d["airtime_s"] / 0.30)
            assert d["billing_p95_s"] is None
        assert any(e["detail"]["rounds"] > 1 for e in events)  # lossy links: stragglers
        waves = store.waves("c1")
        assert sum(w["airtime_s"] for w in waves) == pytest.approx(
            sum(e["detail"]["airtime_s"] for e in events))
    finally:
        opened.close()


def test_a_started_fleet_campaign_cannot_be_resumed(tmp_path: Path) -> None:
    store, opened = _open(tmp_path, "fleet", 100, persist=True)
    opened.close()
    assert opened.field.fleets == []
    store.set_state("c1", "canary", store.campaign("c1")["now_virtual"], None)
    with pytest.raises(UsageError, match="cannot be resumed"):
        open_campaign(store, "c1", bus=InProcessBus())
    # the CLI says so, exit 2, and changes nothing (not even with --unpause)
    store.set_state("c1", "paused", store.campaign("c1")["now_virtual"], "a reason")
    db = str(tmp_path / "fleet.sqlite")
    store.close()
    assert main(["campaign", "resume", "--db", db, "--unpause"]) == 2
    again = Store.open(db, create=False)
    assert again.campaign("c1")["state"] == "paused"
    again.close()


def test_the_fleet_field_wants_a_database_of_its_own(tmp_path: Path) -> None:
    store, opened = _open(tmp_path, "fleet", 50)
    opened.close()
    with pytest.raises(UsageError, match="already holds a campaign"):
        create(store, "c2", package=package(), package_name="fw.pkg",
               fleet=generate_fleet(50, seed=4, per_concentrator=100), params=Params(),
               policy=Policy(), version="2.0.0", trusted_keys=[], vendor_id=VENDOR,
               persist=False, field="fleet")
    assert store.campaigns() == ["c1"]
    with pytest.raises(UsageError, match="use one of"):
        create(store, "c3", package=package(), package_name="fw.pkg",
               fleet=generate_fleet(50, seed=4), params=Params(), policy=Policy(),
               version="2.0.0", trusted_keys=[], vendor_id=VENDOR, persist=False,
               field="tree")


def test_what_the_star_does_not_model_is_refused() -> None:
    fleet = generate_fleet(10, seed=1)
    with pytest.raises(UsageError, match="does not model burst"):
        FleetField(fleet, trusted_keys=[], vendor_id=VENDOR, mesh={"burst": 4.0})
    with pytest.raises(UsageError, match="in memory only"):
        FleetField(fleet, trusted_keys=[], vendor_id=VENDOR, state_dir=".")
    field = FleetField(fleet, trusted_keys=[], vendor_id=VENDOR, geometry=GEOMETRY,
                       mesh={"max_rounds": 5, "cap": 0.5})
    with pytest.raises(UsageError, match="no meter"):
        field.meter("nope")
    field.close()


def test_cli_runs_a_campaign_on_the_fleet_field(tmp_path: Path) -> None:
    pkg = tmp_path / "fw.pkg"
    pkg.write_bytes(package())
    db = str(tmp_path / "c.sqlite")
    assert main(["campaign", "run", "--package", str(pkg), "--meters", "90", "--db", db,
                 "--field", "fleet", "--ack-loss", "0.5", "--bank-kib", "16",
                 "--per-concentrator", "40", "--wave", "40", "--json"]) == 0
    assert main(["campaign", "status", "--db", db]) == 0
    assert not (Path(f"{db}.d") / "meters").exists()  # nothing of the meters in files
    assert main(["campaign", "resume", "--db", db]) == 0  # done: nothing to recover
