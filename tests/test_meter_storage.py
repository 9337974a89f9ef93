"""The state file: closing a meter unmaps it, and a closed meter refuses to run."""

from __future__ import annotations

import pathlib

import pytest
from meterkit import MGMT, meter

from meteremu.errors import UsageError


def _mapped(path: pathlib.Path) -> bool:
    return str(path) in pathlib.Path("/proc/self/maps").read_text()


@pytest.mark.skipif(not pathlib.Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_closing_a_meter_unmaps_its_state_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "flash"
    for _ in range(3):
        m = meter(state=path)
        m.get("1.0.1.8.0.255", 2, client=MGMT)
        assert _mapped(path)
        m.close()
        assert not _mapped(path)  # the C model let go of the cells; the mapping closed


def test_a_closed_meter_refuses_to_run(tmp_path: pathlib.Path) -> None:
    m = meter(state=tmp_path / "flash")
    m.close()
    with pytest.raises(UsageError, match="closed"):
        m.power_on()
    with pytest.raises(UsageError, match="closed"):
        m.flash.flip_bits(0, 1)
    assert not m.available
