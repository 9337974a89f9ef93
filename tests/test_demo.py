"""`meteremu demo`, run in-process as the console script would run it."""

from __future__ import annotations

import re

import pytest

from meteremu.cli import main


def test_demo_with_no_arguments_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
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
    assert main(["demo", "--plain", "--seed", "7"]) == 0
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
    assert main(["demo", "--plain", "--loss", "0.99"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: download incomplete" in out
    assert "did not end as expected" in out


def test_loss_must_leave_something(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--loss", "1"]) == 2
    assert "--loss" in capsys.readouterr().err
