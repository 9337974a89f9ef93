"""`meteremu demo meter` (the story on one meter) and `meteremu demo` (a campaign over a
fleet), run in-process as the console script would run them."""

from __future__ import annotations

import re

import pytest

from meteremu.cli import main


def test_demo_meter_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "meter"]) == 0
    out = capsys.readouterr().out
    for n in range(1, 7):
        assert out.count(f"[{n}/6]") == 2  # six steps, two passes
    assert "bit-perfect copy" in out
    assert "confirmed: 2.0.0" in out
    assert "rolled back on its own after 300 s: 3.0.0 -> 2.0.0" in out
    # The audit log at the end, as the meter persisted it.
    assert "FOTA_OK CONFIRMED version=2.0.0" in out
    assert "FOTA_EVT ROLLBACK reason=no-heartbeat version=3.0.0" in out
    rounds = [int(r) for r in re.findall(r"(\d+) rounds, \d+ frames sent", out)]
    assert len(rounds) == 2 and all(r > 1 for r in rounds)  # 10 % loss: retransmissions


def test_plain_output_without_rich(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "meter", "--plain", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "== pass 2: 3.0.0, no-heartbeat image ==" in out
    assert re.search(r"round \d+: \d+/\d+ fragments on the meter", out)
    audit = out.split("meter audit log (NVM):", 1)[1]
    lines = [line.strip() for line in audit.splitlines() if line.startswith("  20")]
    assert lines[0].endswith("FOTA_EVT BOOT version=1.0.0 bank=A cold=1")
    assert any("FOTA_OK VERIFIED version=3.0.0" in line for line in lines)


def test_exit_status_is_not_zero_when_the_story_goes_wrong(
        capsys: pytest.CaptureFixture[str]) -> None:
    # 99 % loss: 50 rounds cannot complete the download.
    assert main(["demo", "meter", "--plain", "--loss", "0.99"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: download incomplete" in out
    assert "did not end as expected" in out


def test_loss_must_leave_something(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "meter", "--loss", "1"]) == 2
    assert "--loss" in capsys.readouterr().err


def test_demo_with_no_arguments_runs_a_campaign_over_a_fleet(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--plain", "--meters", "120"]) == 0
    out = capsys.readouterr().out
    for n in range(1, 6):
        assert f"[{n}/5]" in out
    # Per wave: updated, reverted, refused by code, pending, airtime, rounds.
    assert re.search(r"wave\s+.*updated.*reverted.*refused by code.*pending.*airtime.*rounds",
                     out)
    assert "0x8004 x1" in out  # the meter of the wrong hardware revision
    assert "FOTA_ERR 0x8004 hardware revision mismatch" in out  # its audit line
    assert "FOTA_EVT ROLLBACK reason=no-heartbeat version=3.0.0" in out  # the canary's
    assert "paused (wave 0:" in out  # the policy stopped 3.0.0 at its canary
    assert "the head-end confirmed it: ok" in out  # the meter that lost power mid-swap
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("fleet healthy: all 120 meters answer")


def test_demo_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--meters", "5"]) == 2
    assert "--meters" in capsys.readouterr().err
