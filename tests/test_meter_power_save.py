"""A mains loss saves the registers: a plain power cycle or a clean close loses no energy.

SPEC section 5: like a real meter, a mains loss triggers a power-fail save of
the registers in the supply's hold-up time. Only a cut injected into that save
itself (a flash fault), or a killed process, may lose energy, and then at most
one 15-minute snapshot interval.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from meterkit import MGMT, meter

from meteremu._lowlevel.flash import Tear

ENERGY = "1.0.1.8.0.255"
INTERVAL = 900  # seconds between snapshots


def _wh(m) -> int:
    """Energy as a head-end reads it: 1.0.1.8.0.255 attribute 2, whole Wh."""
    return m.get(ENERGY, 2, client=MGMT)


def test_power_cycle_keeps_the_energy_read_by_the_head_end() -> None:
    m = meter(load=4000)
    m.advance(898)  # before the first snapshot
    before = _wh(m)
    assert before == 997
    exact = m.metrology.energy_wh
    m.power_cycle()
    assert _wh(m) == before
    assert 0 <= exact - m.metrology.energy_wh < Fraction(1, 10**6)  # NVM keeps whole µWh
    m.advance(2)
    assert m.energy_wh == pytest.approx(1000, abs=1e-6)


def test_power_off_then_on_keeps_the_energy() -> None:
    m = meter(load=1000)
    m.advance(1000)
    before = _wh(m)
    m.power_off()
    m.advance(3600)  # off: nothing is counted
    m.power_on()
    assert _wh(m) == before


def test_close_and_reopen_on_the_state_file_keeps_the_energy(tmp_path: Path) -> None:
    path = tmp_path / "meter.flash"
    m = meter(load=1000, state=path)
    m.advance(2880)
    before = _wh(m)
    assert before == 800
    m.close()
    again = meter(load=1000, state=path)
    assert _wh(again) == before
    again.close()


def test_a_cut_during_the_power_fail_save_loses_at_most_one_interval() -> None:
    """The cut fires at the first or second flash operation of the save (its
    program, or the erase of the next sector and the program), across a whole
    wrap of the metrology ring."""
    load = 1000
    m = meter(load=load)
    worst = 0.0
    for i in range(90):
        m.advance(1000)
        before = m.energy_wh
        m.flash.seed(i + 1)
        m.flash.set_tear([Tear.NONE, Tear.PREFIX, Tear.BITS][i % 3])
        m.flash.cut_after(i % 2)
        m.power_cycle()
        assert m.available
        lost = before - m.energy_wh
        assert 0 <= lost <= load * INTERVAL / 3600, i
        worst = max(worst, lost)
    assert worst > 0  # some saves were really cut


_KILLED = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from meterkit import MGMT, meter
m = meter(load=1000, state={path!r})
m.advance(1000)
print(m.energy_wh, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_a_killed_meter_is_a_cut_and_loses_at_most_one_interval(tmp_path: Path) -> None:
    path = tmp_path / "meter.flash"
    code = _KILLED.format(tests=os.path.dirname(__file__), path=str(path))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == -signal.SIGKILL, run.stderr
    before = float(run.stdout)
    again = meter(load=1000, state=path)
    assert again.energy_wh == 250  # the snapshot at 900 s: no power-fail save
    assert 0 < before - again.energy_wh <= 1000 * INTERVAL / 3600
    again.close()
