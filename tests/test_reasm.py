"""Reassembly through the binding: any order equals in order, hostile frames are
dropped and counted, the header is refused before any write, retransmission rounds
driven by the missing bitmap, and a power-cut sweep over a file-backed flash."""

from __future__ import annotations

import random
import struct
import zlib

import crcmod.predefined
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.flash import Flash, FlashPowerError, Tear, compute_layout
from meteremu._lowlevel.reasm import (
    FRAME_OVERHEAD,
    Frame,
    PackageRefused,
    Phase,
    Reassembler,
    decode_frame,
    encode_frame,
)
from meteremu.errors import StateError

VENDOR, HW, SESSION = 0x4D455445, 3, 0x5EED0001
SEC = 256
LAYOUT = compute_layout(sector_size=SEC, bank_size=16 * SEC, metrology_sectors=1, audit_sectors=1)
_x25 = crcmod.predefined.mkPredefinedCrcFun("x-25")


def make_package(image: bytes, fragment_size: int, trailer_size: int = 64, *,
                 vendor: int = VENDOR, hw: int = HW) -> bytes:
    """A package with a valid header (csrc/mt_pkg.h), built here with struct and zlib,
    independently of the C core."""
    total = 128 + len(image) + trailer_size
    count = -(-total // fragment_size)
    head = struct.pack(
        "<4sHHIHHBBHIIIHHII32s8s40s",
        b"MTRP", 1, 128, vendor, hw, 0, 1, 2, 3, 4, 5, len(image), fragment_size,
        trailer_size, count, zlib.crc32(image), b"\x11" * 32, b"\x22" * 8, b"\x00" * 40,
    )
    head += struct.pack("<I", zlib.crc32(head))
    return head + image + b"\xff" * trailer_size


def fragments(pkg: bytes, fs: int) -> list[bytes]:
    return [pkg[i : i + fs] for i in range(0, len(pkg), fs)]


def frames(pkg: bytes, fs: int, session: int = SESSION) -> list[bytes]:
    frags = fragments(pkg, fs)
    return [
        encode_frame(Frame(session, len(pkg), fs, i, len(frags), p)) for i, p in enumerate(frags)
    ]


def meter(flash: Flash | None = None) -> tuple[Flash, Reassembler]:
    flash = flash or Flash(LAYOUT.used, SEC, 8)
    return flash, Reassembler(flash, LAYOUT.bank_b, LAYOUT.progress, VENDOR, HW)


def bank(flash: Flash, n: int) -> bytes:
    return flash.dump()[LAYOUT.bank_b.off : LAYOUT.bank_b.off + n]


def test_frame_layout_matches_an_independent_encoder() -> None:
    payload = bytes(range(40))
    raw = encode_frame(Frame(0x01020304, 1000, 64, 7, 16, payload))
    body = struct.pack("<BIIHHHH", 0xF1, 0x01020304, 1000, 64, 7, 16, 40) + payload
    assert raw == body + struct.pack("<H", _x25(body))
    assert len(raw) == FRAME_OVERHEAD + 40
    assert decode_frame(raw) == Frame(0x01020304, 1000, 64, 7, 16, payload)
    with pytest.raises(PackageRefused) as exc:
        decode_frame(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert exc.value.error.code == "0x8009"


@settings(max_examples=60, deadline=None)
@given(
    image=st.binary(min_size=1, max_size=3000),
    fs=st.sampled_from([16, 32, 64, 128, 208, 512, 1024]),
    seed=st.integers(0, 2**32 - 1),
    dup_rate=st.floats(0, 1),
    blocks=st.booleans(),
)
def test_any_order_with_duplicates_equals_in_order(
    image: bytes, fs: int, seed: int, dup_rate: float, blocks: bool
) -> None:
    pkg = make_package(image, fs)
    flash, r = meter()
    frags = fragments(pkg, fs)
    r.begin(SESSION, len(pkg), fs, len(frags))
    rnd = random.Random(seed)
    order = list(range(len(frags)))
    order += [i for i in order if rnd.random() < dup_rate]
    rnd.shuffle(order)
    wire = frames(pkg, fs)
    for i in order:
        if blocks:
            r.block(i, frags[i])
        else:
            r.frame(wire[i])
    assert r.complete and r.received == len(frags)
    assert r.stats.accepted == len(frags)
    assert r.stats.duplicates == len(order) - len(frags)
    assert bank(flash, LAYOUT.bank_b.size) == pkg + b"\xff" * (LAYOUT.bank_b.size - len(pkg))
    assert r.missing_indices() == []


def test_hostile_frames_are_counted_and_never_written() -> None:
    pkg = make_package(bytes(range(256)) * 4, 128)
    flash, r = meter()
    wire = frames(pkg, 128)
    r.begin(SESSION, len(pkg), 128, len(wire))
    before = flash.dump()
    bad = [
        wire[2][:-1] + bytes([wire[2][-1] ^ 0xFF]),  # FCS
        wire[2][:-3],  # truncated
        b"",
        b"\xf2" + wire[2][1:],  # type
        frames(pkg, 128, session=SESSION + 1)[2],  # other session
        encode_frame(Frame(SESSION, len(pkg), 128, len(wire), len(wire), b"\x00" * 128)),
        encode_frame(Frame(SESSION, len(pkg), 128, 2, len(wire), b"\x00" * 100)),
    ]
    for raw in bad:
        with pytest.raises(PackageRefused) as exc:
            r.frame(raw)
        assert exc.value.error.code == "0x8009"
    s = r.stats
    assert (s.bad_crc, s.bad_frame, s.bad_session, s.bad_index, s.bad_length) == (1, 3, 1, 1, 1)
    assert s.accepted == 0
    assert flash.dump() == before
    # a conflicting duplicate is refused and changes nothing
    assert r.frame(wire[3])
    after = flash.dump()
    forged = encode_frame(Frame(SESSION, len(pkg), 128, 3, len(wire), b"\x00" * 128))
    with pytest.raises(PackageRefused) as exc:
        r.frame(forged)
    assert exc.value.err_name == "MT_E_CONFLICT"
    assert flash.dump() == after
    assert not r.frame(wire[3])  # the true duplicate is fine


@pytest.mark.parametrize("fs", [32, 128, 1024])
@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        ({"vendor": VENDOR + 1}, "0x8007"),
        ({"hw": HW + 1}, "0x8004"),
    ],
)
def test_header_refused_before_any_write(fs: int, spoil: dict[str, int], code: str) -> None:
    pkg = make_package(b"\xa5" * 1500, fs, **spoil)
    flash, r = meter()
    flash.program(LAYOUT.bank_b.off, b"\x00" * 64)  # an older download is there
    before = flash.dump()
    wire = frames(pkg, fs)
    r.begin(SESSION, len(pkg), fs, len(wire))
    with pytest.raises(PackageRefused) as exc:
        for raw in wire[: -(-128 // fs)]:
            r.frame(raw)
    assert exc.value.error.code == code
    assert r.phase is Phase.REFUSED
    assert flash.dump() == before
    with pytest.raises(StateError):  # the session was refused: nothing more is taken
        r.frame(wire[-1])
    assert flash.dump() == before


def test_too_big_is_refused_at_begin() -> None:
    _, r = meter()
    size = LAYOUT.bank_b.size + 1
    with pytest.raises(PackageRefused) as exc:
        r.begin(SESSION, size, 1024, -(-size // 1024))
    assert exc.value.error.code == "0x9002"
    with pytest.raises(PackageRefused) as exc:
        r.begin(SESSION, 1000, 100, 9)  # count disagrees with the sizes
    assert exc.value.err_name == "MT_E_HDR_FIELD"


def test_retransmission_rounds_from_the_missing_bitmap() -> None:
    pkg = make_package(bytes(random.Random(1).randbytes(3500)), 64)
    flash, r = meter()
    wire = frames(pkg, 64)
    r.begin(SESSION, len(pkg), 64, len(wire))
    rnd = random.Random(7)
    todo = list(range(len(wire)))
    rounds = 0
    while todo:
        rounds += 1
        for i in todo:
            if rnd.random() > 0.4:  # 40 % loss
                r.frame(wire[i])
        todo = r.missing_indices()
        assert r.next_missing() == (todo[0] if todo else len(wire))
        assert rounds < 50
    assert rounds > 1 and r.complete
    assert bank(flash, len(pkg)) == pkg


@pytest.mark.parametrize("tear", list(Tear))
def test_power_cut_at_every_flash_operation(tmp_path, tear: Tear) -> None:
    """Clean run counts the operations; then cut at each one, bring up a new
    reassembler over the same cells (as a restarted process would), resume, and
    receive everything again: the bank ends up holding the package."""
    pkg = make_package(bytes(random.Random(2).randbytes(700)), 64)
    wire = frames(pkg, 64)
    old = bytearray(b"\xff" * LAYOUT.used)
    old[LAYOUT.bank_b.off : LAYOUT.bank_b.off + 500] = b"\x5a" * 500  # an older image
    old[LAYOUT.progress.off : LAYOUT.progress.off + 40] = b"\x00" * 40

    flash, r = meter(Flash(LAYOUT.used, SEC, 8, buffer=bytearray(old)))
    r.begin(SESSION, len(pkg), 64, len(wire))
    for raw in wire:
        r.frame(raw)
    clean_ops = flash.ops
    assert r.complete and clean_ops > 2 * len(wire)

    for cut in range(clean_ops):
        cells = bytearray(old)
        flash, r = meter(Flash(LAYOUT.used, SEC, 8, buffer=cells))
        flash.seed(cut + 1)
        flash.set_tear(tear)
        flash.cut_after(cut)
        r.begin(SESSION, len(pkg), 64, len(wire))
        with pytest.raises(FlashPowerError):
            for raw in wire:
                r.frame(raw)
        assert r.phase is Phase.FAULT
        # the process restarts: new objects over the same cells
        flash, r = meter(Flash(LAYOUT.used, SEC, 8, buffer=cells))
        r.resume()
        r.begin(SESSION, len(pkg), 64, len(wire))
        for raw in reversed(wire):
            r.frame(raw)
        assert r.complete, f"cut {cut}"
        assert bank(flash, len(pkg)) == pkg, f"cut {cut}"
        outside = slice(0, LAYOUT.bank_b.off)
        assert cells[outside] == old[outside]
        assert cells[LAYOUT.progress.end :] == old[LAYOUT.progress.end :]


@settings(max_examples=80, deadline=None)
@given(data=st.data(), fs=st.sampled_from([64, 128, 256]), size=st.integers(1, 2500))
def test_reset_is_a_new_reassembler_over_the_same_flash(data, fs, size):
    """After any history -- a session begun, frames taken (in any order, some
    twice), closed or not -- ``reset()`` leaves exactly the state a reassembler
    made anew over the same flash has, byte for byte, and so does the resume
    from flash after it."""
    from meteremu._lowlevel import ffi

    def state(r: Reassembler) -> bytes:
        return bytes(ffi.buffer(r._st))

    flash, used = meter()
    pkg = make_package(bytes(random.Random(size).getrandbits(8) for _ in range(size)), fs)
    fr = frames(pkg, fs)
    if data.draw(st.booleans(), label="resume first"):
        used.resume()
    used.begin(SESSION, len(pkg), fs, len(fr), tag=data.draw(st.integers(0, 3), label="tag"))
    for i in data.draw(st.lists(st.integers(0, len(fr) - 1), max_size=2 * len(fr)),
                       label="frames"):
        used.frame(fr[i])
    if data.draw(st.booleans(), label="close") and used.is_open:
        used.close()
    used.reset()
    fresh = Reassembler(flash, LAYOUT.bank_b, LAYOUT.progress, VENDOR, HW)
    assert state(used) == state(fresh)
    assert used.resume() == fresh.resume()
    assert state(used) == state(fresh)
