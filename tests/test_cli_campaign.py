"""``meteremu campaign``: run, status, resume, report, their exit codes and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rolloutkit import package

from meteremu.campaign.fleet import dump_fleet, generate_fleet
from meteremu.cli import main

SMALL = ["--bank-kib", "16", "--per-concentrator", "40", "--wave", "40"]


@pytest.fixture()
def pkg(tmp_path: Path) -> Path:
    p = tmp_path / "fw.pkg"
    p.write_bytes(package())
    return p


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_run_then_status_and_report(tmp_path: Path, pkg: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["campaign", "run", "--package", str(pkg), "--meters", "90", "--db", db,
                 "--seed", "3", "--json", *SMALL]) == 0
    d = _json(capsys)
    assert d["state"] == "done" and d["states"] == {"confirmed": 90}
    assert [w["kind"] for w in d["waves"]] == ["canary", "wave", "wave", "wave"]
    assert d["soak"]["problems"] == [] and d["soak"]["meters"] == d["waves"][0]["meters"]
    assert main(["campaign", "status", "--db", db, "--json"]) == 0
    assert _json(capsys)["states"] == {"confirmed": 90}
    assert main(["campaign", "report", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "waves of fw-2.0.0" in out and "canary" in out and "no problem" in out


def test_refusals_show_by_code_with_their_audit_line(tmp_path: Path, pkg: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    status = main(["campaign", "run", "--package", str(pkg), "--meters", "120", "--db", db,
                   "--seed", "8", "--other-hw-share", "0.02", "--ack-loss", "0.5", "--plain",
                   *SMALL])
    assert status == 1  # done, but not every meter took it
    capsys.readouterr()
    assert main(["campaign", "report", "--db", db, "--plain"]) == 1
    out = capsys.readouterr().out
    assert "0x8004 x1" in out
    assert "FOTA_ERR 0x8004 hardware revision mismatch" in out


def test_a_paused_campaign_resumes_only_when_told(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "nohb.pkg"
    bad.write_bytes(package("3.0.0", "no-heartbeat"))
    db = str(tmp_path / "c.sqlite")
    assert main(["campaign", "run", "--package", str(bad), "--meters", "80", "--db", db,
                 "--json", *SMALL]) == 1
    d = _json(capsys)
    assert d["state"] == "paused" and "reverted" in d["paused_reason"]
    assert main(["campaign", "resume", "--db", db]) == 1
    assert "is paused" in capsys.readouterr().err
    assert main(["campaign", "resume", "--db", db, "--unpause", "--json"]) == 1
    d = _json(capsys)
    # The soak finds no canary meter on 3.0.0: paused again, nothing else was touched.
    assert d["state"] == "paused" and d["paused_reason"].startswith("soak")
    assert d["states"].get("waiting") == 80 - d["waves"][0]["meters"]


def test_a_fleet_file_of_several_concentrators(tmp_path: Path, pkg: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.json"
    fleet.write_text(dump_fleet(generate_fleet(60, seed=4, per_concentrator=20)))
    db = str(tmp_path / "c.sqlite")
    assert main(["campaign", "run", "--package", str(pkg), "--fleet", str(fleet), "--db", db,
                 "--json", "--bank-kib", "16", "--name", "spring"]) == 0
    d = _json(capsys)
    assert d["campaign"] == "spring" and d["meters"] == 60
    # The same name again is refused, and says how to go on.
    assert main(["campaign", "run", "--package", str(pkg), "--fleet", str(fleet), "--db", db,
                 "--bank-kib", "16", "--name", "spring"]) == 2
    assert "campaign resume" in capsys.readouterr().err


def test_html_report(tmp_path: Path, pkg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["campaign", "run", "--package", str(pkg), "--meters", "40", "--db", db,
                 "--plain", *SMALL]) == 0
    capsys.readouterr()
    out = tmp_path / "r.html"
    assert main(["campaign", "report", "--db", db, "--html", str(out)]) == 0
    page = out.read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    # the report is of this campaign: its meters, all confirmed, and its waves
    assert "confirmed" in page and "canary" in page.lower()
    assert page.count("<svg") >= 3  # states over time, airtime, outcome by code


@pytest.mark.parametrize("argv, words", [
    (["campaign", "status", "--db", "nowhere.sqlite"], "no campaign database"),
    (["campaign", "run", "--package", "x.pkg", "--meters", "5", "--canary", "0"], "--canary"),
    (["campaign", "run", "--package", "x.pkg"], "--fleet"),
    (["campaign", "run", "--package", "x.pkg", "--meters", "5", "--fleet", "f.json"],
     "not allowed"),
    (["campaign", "run", "--package", "missing.pkg", "--meters", "5"], "cannot read package"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          argv: list[str], words: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_bad_window_and_fleet_files(tmp_path: Path, pkg: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["campaign", "run", "--package", str(pkg), "--meters", "5", "--db", db,
                 "--window", "25:00-03:00"]) == 2
    assert "HH:MM" in capsys.readouterr().err
    bad = tmp_path / "f.json"
    bad.write_text('{"concentrators": []}')
    assert main(["campaign", "run", "--package", str(pkg), "--fleet", str(bad),
                 "--db", db]) == 2
    assert "non-empty list" in capsys.readouterr().err
