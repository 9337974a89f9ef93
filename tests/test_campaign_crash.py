"""The head-end crashing at every state change, MCUboot-simulator style: count the
transactions of a clean campaign, then for each k stop the head-end at its k-th
transaction (which never lands), start a new head-end on the same database and
the same meters, and check it ends with the database equal to the meters, no
meter sent the package after it was done and none updated twice.

In process (the meters are the same objects, as the flash files are for a
killed process), so every crash point is reached, deterministically.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rolloutkit import GEOMETRY, VENDOR, package, truth

from meteremu.campaign.bus import InProcessBus
from meteremu.campaign.engine import Engine, Params
from meteremu.campaign.fleet import generate_fleet
from meteremu.campaign.policy import Policy
from meteremu.campaign.runner import create, open_campaign
from meteremu.campaign.store import FINAL, Store


class Crash(BaseException):
    """The head-end dies here (BaseException: nothing in the engine catches it)."""


FLEET = generate_fleet(60, seed=11, per_concentrator=20, other_hw_share=0.03)
PARAMS = Params(canary=0.05, wave=20, seed=11, concurrency=2)
POLICY = Policy(error_threshold=0.5, window=None, blackouts=[])


def _setup(tmp: Path, crash_at: int | None) -> tuple[Store, object, list[int]]:
    tmp.mkdir(parents=True, exist_ok=True)
    store = Store.open(tmp / "c.sqlite")
    create(store, "c", package=package(), package_name="fw.pkg", fleet=FLEET, params=PARAMS,
           policy=POLICY, version="2.0.0", trusted_keys=[], vendor_id=VENDOR, persist=False)
    count = [0]
    real = store.tx

    def tx():  # type: ignore[no-untyped-def]
        count[0] += 1
        if crash_at is not None and count[0] == crash_at:
            raise Crash
        return real()

    store.tx = tx  # type: ignore[method-assign]
    return store, real, count


def _campaign(tmp: Path, crash_at: int | None) -> tuple[int, bool]:
    store, real, count = _setup(tmp, crash_at)
    rnd = random.Random(0)  # the same losses in every run: the same transactions
    bus = InProcessBus(drop=lambda _a: rnd.random() < 0.3)
    opened = open_campaign(store, "c", bus=bus, fleet=FLEET, package=package(),
                           persist=False, field_options={"geometry": GEOMETRY})
    crashed = False
    try:
        opened.engine.run()
    except Crash:
        crashed = True
        store.tx = real  # type: ignore[method-assign]
        again = Engine(store, "c", opened.field, bus, package(),
                       policy=POLICY, params=PARAMS)
        opened.field.uplink = again.publish
        again.run()
    try:
        assert store.campaign("c")["state"] == "done"
        rows = store.meters("c")
        assert len(rows) == 60
        for r in rows:
            assert (r.state, r.version) == truth(opened.field, r.meter, "2.0.0"), (crash_at, r)
        done: set[str] = set()
        for e in store.events("c"):
            m, d = e["meter"], e["detail"]
            if m is None:
                continue
            if e["kind"] == "sent":
                assert m not in done, (crash_at, m)
            elif d.get("state") in FINAL:
                done.add(m)
        for r in rows:
            log = opened.field.meter(r.meter).audit_log
            assert sum("FOTA_OK ACTIVATED" in x for x in log) <= 1, (crash_at, r.meter)
    finally:
        opened.close()
    return count[0], crashed


def test_crash_at_every_state_change_then_resume(tmp_path: Path) -> None:
    total, _ = _campaign(tmp_path / "clean", None)
    assert total > 50
    stride = max(1, total // 25)  # about 25 crash points here; the slow test takes all
    for k in range(1, total + 1, stride):
        _, crashed = _campaign(tmp_path / f"k{k}", k)
        assert crashed


@pytest.mark.slow
def test_crash_at_every_single_state_change(tmp_path: Path) -> None:
    total, _ = _campaign(tmp_path / "clean", None)
    for k in range(1, total + 1):
        _campaign(tmp_path / f"k{k}", k)
