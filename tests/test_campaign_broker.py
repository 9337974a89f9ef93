"""A campaign whose acks go through a real mosquitto, one with limits small enough
that it drops them: the database still ends equal to the meters, meter by meter.

Skips where the MQTT bus (meteremu.campaign.mqtt) or mosquitto is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rolloutkit import package, truth

from meteremu.campaign.bus import InProcessBus
from meteremu.campaign.runner import open_campaign
from meteremu.campaign.store import Store
from meteremu.cli import main

pytest.importorskip("meteremu.campaign.mqtt")
mosquittokit = pytest.importorskip("mosquittokit")
if mosquittokit.MOSQUITTO is None:
    pytest.skip(mosquittokit.SKIP_REASON, allow_module_level=True)


@pytest.mark.parametrize("limits", [{}, {"max_queued_messages": 5, "max_inflight_messages": 2}],
                         ids=["plain", "dropping"])
def test_campaign_over_a_broker_ends_equal_to_the_meters(
        tmp_path: Path, limits: dict, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "fw.pkg"
    pkg.write_bytes(package())
    db = tmp_path / "c.sqlite"
    with mosquittokit.Broker(tmp_path / "broker", limits=limits) as broker:
        status = main(["campaign", "run", "--package", str(pkg), "--meters", "150",
                       "--per-concentrator", "50", "--wave", "50", "--bank-kib", "16",
                       "--seed", "8", "--db", str(db), "--mqtt", broker.url, "--json"])
    assert status == 0, capsys.readouterr().err
    d = json.loads(capsys.readouterr().out)
    assert d["states"] == {"confirmed": 150}
    store = Store.open(db, create=False)
    opened = open_campaign(store, d["campaign"], bus=InProcessBus())
    try:
        for r in store.meters(d["campaign"]):
            assert (r.state, r.version) == truth(opened.field, r.meter, "2.0.0")
    finally:
        opened.close()
        store.close()
