"""The NVM records (meteremu.wire.nvm): each construct definition and its struct
twin agree byte for byte, both ways, and so do the ring's seal and unseal."""

from __future__ import annotations

import zlib

import pytest
from construct import ConstructError
from hypothesis import given
from hypothesis import strategies as st

from meteremu.device.nvm import seal, unseal
from meteremu.wire.nvm import (
    AUDIT_TEXT_MAX,
    AuditRecord,
    MetrologyRecord,
    SessionRecord,
    record_struct,
)
from meteremu.wire.package import Header
from meteremu.wire.progress import ProgressRecord

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)

#: Field values of each record (constants and CRC left to the definition).
RECORDS = {
    "metrology": (MetrologyRecord, st.fixed_dictionaries(
        {"boot_state": u8, "seq": u32, "energy_uwh": u64, "clock": u64, "battery_mj": u32})),
    "audit": (AuditRecord, st.fixed_dictionaries(
        {"length": u8, "seq": u32,
         "text": st.binary(min_size=AUDIT_TEXT_MAX, max_size=AUDIT_TEXT_MAX)})),
    "session": (SessionRecord, st.fixed_dictionaries(
        {"kind": u8, "seq": u32, "session_id": u32, "reason": u8, "clock": u64})),
}
SIZES = {"metrology": 32, "audit": 128, "session": 32}

records = st.sampled_from(sorted(RECORDS)).flatmap(
    lambda name: st.tuples(st.just(name), RECORDS[name][1]))


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_sizes_and_derived_formats(name: str) -> None:
    definition = RECORDS[name][0]
    twin = record_struct(definition)
    assert definition.sizeof() == twin.size == twin.struct.size == SIZES[name]
    assert twin.names[-1] == "crc" and twin.body.size == twin.size - 4
    assert twin.consts["version"] == 1 and len(twin.consts["magic"]) == 2
    assert record_struct(definition) is twin  # made once


@given(records)
def test_construct_and_struct_agree(case: tuple[str, dict]) -> None:
    name, fields = case
    definition = RECORDS[name][0]
    twin = record_struct(definition)
    built = definition.build(fields)
    # construct-built bytes read with struct, and struct-packed bytes with construct
    assert twin.unpack(built) == definition.parse(built)
    body = twin.pack_body(fields)
    packed = body + zlib.crc32(body).to_bytes(4, "little")
    assert packed == built
    parsed = definition.parse(packed)
    assert {k: parsed[k] for k in fields} == fields
    assert twin.struct.unpack(built) == tuple(parsed[k] for k in twin.names)


@given(records)
def test_seal_and_unseal_are_the_definition(case: tuple[str, dict]) -> None:
    name, fields = case
    definition = RECORDS[name][0]
    raw = seal(definition, **fields)
    assert raw == definition.build(fields)
    assert unseal(definition, raw) == definition.parse(raw)
    assert definition.build(unseal(definition, raw)) == raw


@given(records, st.data())
def test_both_refuse_the_same_slots(case: tuple[str, dict], data: st.DataObject) -> None:
    """A slot with a valid CRC but another magic or version, or a torn one."""
    name, fields = case
    definition = RECORDS[name][0]
    raw = bytearray(definition.build(fields))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] = data.draw(u8)
    if data.draw(st.booleans()):  # keep the CRC valid: a foreign record
        raw[-4:] = zlib.crc32(bytes(raw[:-4])).to_bytes(4, "little")
    raw = bytes(raw)
    try:
        want = definition.parse(raw)
    except ConstructError:
        want = None
    assert unseal(definition, raw) == want


def test_free_short_and_foreign_slots() -> None:
    assert unseal(MetrologyRecord, b"\xff" * 32) is None
    raw = seal(SessionRecord, kind=0, seq=1, session_id=2, reason=0, clock=3)
    assert unseal(MetrologyRecord, raw) is None  # same size, other magic
    assert unseal(SessionRecord, raw[:-1]) is None
    with pytest.raises(ValueError, match="magic is the constant"):
        seal(SessionRecord, magic=b"XX", kind=0, seq=1, session_id=2, reason=0, clock=3)
    assert seal(SessionRecord, magic=b"SC", kind=0, seq=1, session_id=2, reason=0,
                clock=3) == raw


def test_only_sealed_records_have_a_twin() -> None:
    with pytest.raises(TypeError):
        record_struct(Header.body)
    with pytest.raises(TypeError):
        record_struct(Header)  # sealed, but its flags are a bit field
    with pytest.raises(TypeError):
        record_struct(ProgressRecord)  # its CRC is not over the bytes as they stand
