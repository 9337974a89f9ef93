"""The boot-control record and the floor slot in construct (meteremu.wire.boot):
the tables of csrc/mt_boot.h, and byte-for-byte agreement with the C codecs in
both directions, on valid records and on damaged ones."""

from __future__ import annotations

import zlib
from dataclasses import asdict

import pytest
from c_layout import c_defines, c_int, c_table
from construct import ConstructError
from hypothesis import given
from hypothesis import strategies as st

from meteremu._lowlevel.boot import (
    BootRecord,
    decode_floor_slot,
    decode_record,
    encode_floor_slot,
    encode_record,
)
from meteremu.wire.boot import (
    BOOT_MAGIC,
    BOOT_RECORD_SIZE,
    FLOOR_MAGIC,
    FLOOR_SLOT_SIZE,
    BootControlRecord,
    FloorSlot,
)
from meteremu.wire.layout import fields

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)
small = st.integers(0, 3)  # bank, state and outcome values: 3 is out of range

records = st.builds(BootRecord, sequence=u32, active=small, state=small, attempts=u8,
                    previous=small, counter=u32, outcome=small)

_FIELDS = ("sequence", "active", "state", "attempts", "previous", "counter", "outcome")


def _in_range(rec: BootRecord) -> bool:
    return max(rec.active, rec.state, rec.previous, rec.outcome) <= 2


def _table(con: object) -> list[tuple[int, int, str]]:
    return [(f.offset, f.size, f.name) for f in fields(con)]  # type: ignore[arg-type]


def test_layouts_match_mt_boot_h() -> None:
    assert _table(BootControlRecord) == c_table("mt_boot.h", "Boot-control record",
                                                "A record is valid")
    assert _table(FloorSlot) == c_table("mt_boot.h", "array of 16-byte slots",
                                        "A slot is valid")
    defs = c_defines("mt_boot.h")
    assert BOOT_RECORD_SIZE == c_int(defs["MT_BOOT_RECORD_SIZE"]) == 32
    assert FLOOR_SLOT_SIZE == c_int(defs["MT_BOOT_FLOOR_SLOT_SIZE"]) == 16
    assert defs["MT_BOOT_MAGIC"] == f'"{BOOT_MAGIC.decode()}"'
    assert defs["MT_BOOT_FLOOR_MAGIC"] == f'"{FLOOR_MAGIC.decode()}"'


@given(records)
def test_boot_record_construct_and_c_agree(rec: BootRecord) -> None:
    c_bytes = encode_record(rec)
    if not _in_range(rec):
        # C encodes anything and refuses it on decode; construct refuses to build it
        assert decode_record(c_bytes) is None
        with pytest.raises(ConstructError):
            BootControlRecord.build(asdict(rec))
        with pytest.raises(ConstructError):
            BootControlRecord.parse(c_bytes)
        return
    built = BootControlRecord.build(asdict(rec))
    assert built == c_bytes
    parsed = BootControlRecord.parse(c_bytes)
    assert {k: parsed[k] for k in _FIELDS} == asdict(decode_record(built))  # type: ignore[arg-type]
    assert parsed.crc32 == zlib.crc32(built[:28])


def _bodies() -> st.SearchStrategy[bytes]:
    """28-byte record bodies: field by field near the valid ranges (reserved
    bytes mostly 0), or any bytes at all."""
    reserved = st.one_of(st.just(bytes(11)), st.binary(min_size=11, max_size=11))
    fielded = st.builds(
        lambda magic, seq, a, s, n, p, c, o, r: (
            magic + seq.to_bytes(4, "little") + bytes([a, s, n, p]) + c.to_bytes(4, "little")
            + bytes([o]) + r),
        st.sampled_from([BOOT_MAGIC, b"MTBD"]), u32, small, small, u8, small, u32, small,
        reserved)
    return st.one_of(fielded, st.binary(min_size=28, max_size=28))


@given(_bodies(), st.booleans())
def test_boot_record_both_refuse_the_same_bytes(body: bytes, good_crc: bool) -> None:
    """Valid for C exactly when valid for construct, and then the same fields."""
    crc = zlib.crc32(body) ^ (0 if good_crc else 1)
    raw = body + crc.to_bytes(4, "little")
    c = decode_record(raw)
    try:
        parsed = BootControlRecord.parse(raw)
    except ConstructError:
        assert c is None
        return
    assert c is not None
    assert {k: parsed[k] for k in _FIELDS} == asdict(c)


@given(u32)
def test_floor_slot_construct_and_c_agree(floor: int) -> None:
    built = FloorSlot.build({"floor": floor})
    assert built == encode_floor_slot(floor)
    parsed = FloorSlot.parse(built)
    assert parsed.floor == decode_floor_slot(built) == floor
    assert parsed.floor_inv == floor ^ 0xFFFFFFFF


@given(u32, u32, st.sampled_from([FLOOR_MAGIC, b"MTFM"]), st.booleans())
def test_floor_slot_both_refuse_the_same_bytes(floor: int, inv: int, magic: bytes,
                                               good_crc: bool) -> None:
    body = magic + floor.to_bytes(4, "little") + inv.to_bytes(4, "little")
    raw = body + (zlib.crc32(body) ^ (0 if good_crc else 1)).to_bytes(4, "little")
    try:
        got: int | None = FloorSlot.parse(raw).floor
    except ConstructError:
        got = None
    assert got == decode_floor_slot(raw)


@given(st.data())
def test_torn_floor_slots_are_whole_or_refused_by_both(data: st.DataObject) -> None:
    """A torn program leaves some of the intended clears undone (bits still 1)."""
    floor = data.draw(u32)
    slot = bytearray(FloorSlot.build({"floor": floor}))
    for i, b in enumerate(slot):
        slot[i] = b | data.draw(u8)
    raw = bytes(slot)
    try:
        got: int | None = FloorSlot.parse(raw).floor
    except ConstructError:
        got = None
    assert got == decode_floor_slot(raw)
    assert got in (None, floor)


def test_records_the_bootloader_writes_parse_with_the_definition() -> None:
    """An update, its confirmation and a revert; then every record and floor slot
    on flash, read cell by cell, parses to what the C decoder reads."""
    from test_boot import AREAS, Rig, pkg, update

    rig = Rig()
    rig.boot.start()
    update(rig, pkg(2, salt=3))
    rig.boot.boot_ok()
    rig.boot.confirm()
    update(rig, pkg(3, salt=4))
    rig.boot.revert()
    cells = rig.flash.read(*AREAS["boot0"]) + rig.flash.read(*AREAS["boot1"])
    slots = [cells[i : i + BOOT_RECORD_SIZE] for i in range(0, len(cells), BOOT_RECORD_SIZE)]
    written = [s for s in slots if s != b"\xff" * BOOT_RECORD_SIZE]
    assert len(written) >= 5
    for raw in written:
        parsed = BootControlRecord.parse(raw)
        assert {k: parsed[k] for k in _FIELDS} == asdict(decode_record(raw))  # type: ignore[arg-type]
        assert BootControlRecord.build(parsed) == raw
    cells = rig.flash.read(*AREAS["floor"])
    slots = [cells[i : i + FLOOR_SLOT_SIZE] for i in range(0, len(cells), FLOOR_SLOT_SIZE)]
    written = [s for s in slots if s != b"\xff" * FLOOR_SLOT_SIZE]
    assert [FloorSlot.parse(raw).floor for raw in written] == [2]
    assert [decode_floor_slot(raw) for raw in written] == [2]
    assert FloorSlot.build({"floor": 2}) == written[0]


def test_encode_record_checks_widths() -> None:
    rec = BootRecord(1, 0, 0, 0, 2, 0)  # type: ignore[arg-type]
    assert decode_record(encode_record(rec)) == rec
    with pytest.raises(ValueError, match="sequence must fit 32 bits"):
        encode_record(BootRecord(-1, 0, 0, 0, 2, 0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attempts must fit 8 bits"):
        encode_record(BootRecord(1, 0, 0, 256, 2, 0))  # type: ignore[arg-type]
