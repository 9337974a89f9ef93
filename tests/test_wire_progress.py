"""The download-progress partition in construct (meteremu.wire.progress) against
the C reassembler: the table of csrc/mt_reasm.h; what a session writes parses
with the definition, open and closed; what the definition builds, the
reassembler resumes from."""

from __future__ import annotations

import random

import pytest
from c_layout import c_defines, c_int, c_table
from construct import ConstructError
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reasm import LAYOUT, SESSION, frames, make_package, meter

from meteremu._lowlevel.flash import Flash
from meteremu._lowlevel.reasm import Phase
from meteremu.wire.layout import fields, offset_of
from meteremu.wire.progress import (
    PROGRESS_CLOSED,
    PROGRESS_MAGIC,
    PROGRESS_RECORD_SIZE,
    Progress,
    ProgressRecord,
)

PROGRESS = LAYOUT.progress


def _partition(flash: Flash) -> bytes:
    return flash.read(PROGRESS.off, PROGRESS.size)


def test_layout_matches_mt_reasm_h() -> None:
    rows = c_table("mt_reasm.h", "Progress partition", "A bit is marked")
    assert [(f.offset, f.size, f.name) for f in fields(ProgressRecord)] == rows
    defs = c_defines("mt_reasm.h")
    assert PROGRESS_RECORD_SIZE == c_int(defs["MT_REASM_RECORD_SIZE"]) == 32
    assert defs["MT_REASM_MAGIC"] == f'"{PROGRESS_MAGIC.decode()}"'
    assert offset_of(Progress, "bitmap") == 32


@settings(max_examples=40, deadline=None)
@given(
    image=st.binary(min_size=1, max_size=1500),
    fs=st.sampled_from([16, 64, 128, 256]),
    tag=st.integers(0, 0xFFFFFFFF),
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0, 1),
)
def test_a_session_on_flash_parses_with_the_definition(
    image: bytes, fs: int, tag: int, seed: int, share: float
) -> None:
    pkg = make_package(image, fs)
    wire = frames(pkg, fs)
    flash, r = meter()
    r.begin(SESSION, len(pkg), fs, len(wire), tag=tag)
    order = list(range(len(wire)))
    random.Random(seed).shuffle(order)
    header = list(range(min(len(wire), -(-128 // fs))))  # the header opens the session on flash
    for i in [*header, *order[: int(share * len(order))]]:
        r.frame(wire[i])
    got = Progress.parse(_partition(flash))
    rec = got.record
    assert rec.magic == PROGRESS_MAGIC
    assert (rec.session_id, rec.package_size, rec.fragment_size, rec.fragment_count,
            rec.tag) == (SESSION, len(pkg), fs, len(wire), tag)
    assert rec.bank_off == LAYOUT.bank_b.off
    missing = {i for i in range(len(wire)) if got.bitmap[i // 8] >> (i % 8) & 1}
    assert missing == set(r.missing_indices())
    record = _partition(flash)[:PROGRESS_RECORD_SIZE]
    assert ProgressRecord.build(rec) == record  # the same bytes, CRC included

    r.close()
    closed = Progress.parse(_partition(flash))
    assert closed.record.magic == PROGRESS_CLOSED
    assert {k: v for k, v in closed.record.items() if k != "magic"} == {
        k: v for k, v in rec.items() if k != "magic"}
    assert closed.bitmap == got.bitmap
    assert ProgressRecord.build(closed.record) == _partition(flash)[:PROGRESS_RECORD_SIZE]


def _write(flash: Flash, data: bytes) -> None:
    flash.erase(PROGRESS.off, PROGRESS.size)
    data += b"\xff" * (-len(data) % flash.align)
    flash.program(PROGRESS.off, data)


@settings(max_examples=60, deadline=None)
@given(
    fs=st.sampled_from([16, 64, 128, 1024]),
    size=st.integers(129, LAYOUT.bank_b.size),
    session=st.integers(0, 0xFFFFFFFF),
    tag=st.integers(0, 0xFFFFFFFF),
    closed=st.booleans(),
    data=st.data(),
)
def test_the_reassembler_resumes_from_what_the_definition_builds(
    fs: int, size: int, session: int, tag: int, closed: bool, data: st.DataObject
) -> None:
    count = -(-size // fs)
    bitmap = data.draw(st.binary(min_size=(count + 7) // 8, max_size=(count + 7) // 8))
    raw = Progress.build({
        "record": {"magic": PROGRESS_CLOSED if closed else PROGRESS_MAGIC,
                   "session_id": session, "package_size": size, "fragment_size": fs,
                   "fragment_count": count, "bank_off": LAYOUT.bank_b.off, "tag": tag},
        "bitmap": bitmap,
    })
    flash, _ = meter()
    _write(flash, raw)
    r = meter(flash)[1]
    assert r.resume() is (not closed)
    assert r.phase == (Phase.CLOSED if closed else Phase.ACTIVE)
    assert (r.session_id, r.package_size, r.fragment_size, r.fragment_count, r.tag) == (
        session, size, fs, count, tag)
    received = sum(1 for i in range(count) if not bitmap[i // 8] >> (i % 8) & 1)
    assert r.received == received


@given(st.integers(0, 8 * PROGRESS_RECORD_SIZE - 1), st.booleans())
def test_a_damaged_record_is_refused_by_both(bit: int, closed: bool) -> None:
    raw = bytearray(ProgressRecord.build({
        "magic": PROGRESS_CLOSED if closed else PROGRESS_MAGIC, "session_id": SESSION,
        "package_size": 1000, "fragment_size": 128, "fragment_count": 8,
        "bank_off": LAYOUT.bank_b.off, "tag": 1}))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ConstructError):
        ProgressRecord.parse(bytes(raw))
    flash, _ = meter()
    _write(flash, bytes(raw) + b"\x00")
    r = meter(flash)[1]
    assert r.resume() is False and r.phase == Phase.IDLE
