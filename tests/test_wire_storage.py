"""The flash file's head (meteremu.wire.storage) and the storage that writes it."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from construct import ConstructError

from meteremu.device.layout import Geometry, Layout
from meteremu.device.storage import Storage
from meteremu.wire.storage import STATE_FILE_HEAD_SIZE, STATE_FILE_MAGIC, StateFileHead

GEOMETRY = dict(flash_size=0x81000, sector_size=4096, align=8, bank_size=0x20000,
                metrology_sectors=2, audit_sectors=4)


def test_head_layout_against_struct() -> None:
    raw = StateFileHead.build(GEOMETRY)
    assert STATE_FILE_HEAD_SIZE == len(raw) == 64
    assert raw == struct.pack("<16s6I", STATE_FILE_MAGIC, *GEOMETRY.values()).ljust(64, b"\0")
    assert {k: v for k, v in StateFileHead.parse(raw).items() if k in GEOMETRY} == GEOMETRY
    with pytest.raises(ConstructError):
        StateFileHead.parse(raw[:-1] + b"\1")  # the reserved bytes are 0


def test_storage_writes_the_head_of_its_geometry(tmp_path: Path) -> None:
    layout = Layout(Geometry())
    path = tmp_path / "meter.flash"
    Storage(layout, path).close()
    head = StateFileHead.parse(path.read_bytes()[:STATE_FILE_HEAD_SIZE])
    g = layout.geometry
    assert (head.flash_size, head.sector_size, head.align, head.bank_size,
            head.metrology_sectors, head.audit_sectors) == (
        layout.size, g.sector_size, g.align, g.bank_size, g.metrology_sectors, g.audit_sectors)
