"""``kill -9`` of a running campaign at several points, then ``campaign resume``:
no meter already done is sent the package again, none is lost, and the
database ends equal to what every meter really is (read from its flash file).

Real subprocesses, killed while the database grows past a few fixed marks of
a fixed-seed campaign; a longer sweep of marks is marked ``slow``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rolloutkit import package, truth

from meteremu.campaign.bus import InProcessBus
from meteremu.campaign.runner import open_campaign
from meteremu.campaign.store import FINAL, Store
from meteremu.cli import main

ARGS = ["--meters", "120", "--per-concentrator", "40", "--wave", "40", "--bank-kib", "16",
        "--seed", "8", "--ack-loss", "0.3", "--concurrency", "2", "--other-hw-share", "0.02",
        "--plain", "--json"]


def _events(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def _run_and_kill(tmp: Path, mark: int) -> tuple[Path, bool]:
    pkg = tmp / "fw.pkg"
    pkg.write_bytes(package())
    db = tmp / "c.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "meteremu.cli", "campaign", "run", "--package", str(pkg),
         "--db", str(db), *ARGS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed = False
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _events(db) >= mark:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    proc.wait()
    return db, killed


def _check(db: Path) -> None:
    store = Store.open(db, create=False)
    opened = open_campaign(store, store.campaigns()[-1], bus=InProcessBus())
    try:
        cid = opened.engine.cid
        assert store.campaign(cid)["state"] == "done"
        rows = store.meters(cid)
        assert len(rows) == 120  # none lost
        for r in rows:
            assert (r.state, r.version) == truth(opened.field, r.meter, "2.0.0"), r
        # Never re-sent: after a meter's row became final, no "sent" for it.
        final_at: dict[str, int] = {}
        for e in store.events(cid):
            m, d = e["meter"], e["detail"]
            if m is None:
                continue
            if e["kind"] == "sent":
                assert m not in final_at, f"{m} sent the package again after it was done"
            elif d.get("state") in FINAL and (e["kind"] != "ack" or d.get("recorded")):
                final_at.setdefault(m, e["id"])
        # Never updated twice. (At most once: the kill is a power cut for the meters
        # too, and one cut between the swap's or the confirm's record and its audit
        # line loses that line, as on a real meter; that the update happened is the
        # row's state and version, checked against the meter above.)
        for r in rows:
            if r.state == "confirmed":
                log = opened.field.meter(r.meter).audit_log
                assert sum("FOTA_OK CONFIRMED version=2.0.0" in x for x in log) <= 1, r.meter
                assert sum("FOTA_OK ACTIVATED" in x for x in log) <= 1, r.meter
    finally:
        opened.close()
        store.close()


def _kill_and_resume(tmp: Path, mark: int) -> None:
    db, killed = _run_and_kill(tmp, mark)
    assert killed, "the campaign ended before the mark: pick a smaller one"
    status = main(["campaign", "resume", "--db", str(db), "--plain", "--json"])
    assert status in (0, 1)  # 1: the wrong-hardware meters refused, as they should
    _check(db)


@pytest.mark.parametrize("mark", [40, 300])
def test_kill_9_then_resume(tmp_path: Path, mark: int,
                            capsys: pytest.CaptureFixture[str]) -> None:
    _kill_and_resume(tmp_path, mark)


@pytest.mark.slow
@pytest.mark.parametrize("mark", [3, 8, 60, 120, 180, 250, 350, 420, 470])
def test_kill_9_sweep(tmp_path: Path, mark: int, capsys: pytest.CaptureFixture[str]) -> None:
    _kill_and_resume(tmp_path, mark)
