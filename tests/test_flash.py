"""The C NOR flash model through its binding: semantics, faults, file backing, and a
hypothesis property against a plain Python NOR model."""

from __future__ import annotations

import mmap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu._lowlevel.flash import (
    GEN_UNKNOWN,
    Flash,
    FlashAlignError,
    FlashError,
    FlashOneError,
    FlashPowerError,
    FlashRangeError,
    FlashWornError,
    Tear,
    compute_layout,
)
from meteremu.errors import MeteremuError, UsageError

SEC = 256


def test_nor_semantics_and_errors() -> None:
    f = Flash(4 * SEC, SEC, 8)
    assert f.dump() == b"\xff" * (4 * SEC)
    f.program(16, bytes([0xF0, 0x0F, 0xAA, 0x55, 0, 0xFF, 0x12, 0x34]))
    f.program(16, bytes([0xC0, 0x0F, 0x2A, 0x55, 0, 0xFE, 0x02, 0x30]))
    assert f.read(16, 8) == bytes([0xC0, 0x0F, 0x2A, 0x55, 0, 0xFE, 0x02, 0x30])
    with pytest.raises(FlashOneError) as exc:
        f.program(16, b"\xff" * 8)
    assert isinstance(exc.value, MeteremuError)
    assert exc.value.error is not None and exc.value.error.code == "0x9004"
    with pytest.raises(FlashAlignError):
        f.program(17, b"\x00" * 8)
    with pytest.raises(FlashAlignError):
        f.program(24, b"\x00" * 4)
    with pytest.raises(FlashRangeError):
        f.program(4 * SEC - 8, b"\x00" * 16)
    with pytest.raises(FlashAlignError):
        f.erase(8)
    with pytest.raises(FlashRangeError):
        f.read(4 * SEC - 1, 2)
    assert f.ops == 2
    f.erase(0)
    assert f.read(16, 8) == b"\xff" * 8
    assert f.wear(0) == 1 and f.wear(SEC) == 0
    view = f.peek(16, 8)
    assert view is not None and bytes(view) == b"\xff" * 8
    assert f.peek(4 * SEC - 4, 8) is None


def test_power_cut_is_sticky_and_tears() -> None:
    f = Flash(4 * SEC, SEC, 8)
    f.cut_after(1)
    f.program(0, b"\x00" * 8)
    f.set_tear(Tear.PREFIX, 5)
    with pytest.raises(FlashPowerError):
        f.program(8, b"\x00" * 16)
    assert f.dump()[8:24] == b"\x00" * 5 + b"\xff" * 11
    assert not f.powered
    with pytest.raises(FlashPowerError):
        f.read(0, 8)
    with pytest.raises(FlashPowerError):
        f.erase(SEC)
    assert f.peek(0, 8) is None
    f.power_up()
    assert f.powered and f.ops == 0 and f.ops_total == 2
    f.erase(0)
    # torn erase (tear length still 5): a prefix of the sector erased, the rest as it was
    f.program(SEC, b"\x00" * SEC)
    f.cut_after(0)
    with pytest.raises(FlashPowerError):
        f.erase(SEC)
    cells = f.dump()[SEC : 2 * SEC]
    assert cells == b"\xff" * 5 + b"\x00" * (SEC - 5)
    assert f.wear(SEC) == 1


def test_cell_faults_and_wear() -> None:
    f = Flash(4 * SEC, SEC, 8)
    f.flip_bits(3, 0x80)
    assert f.dump()[3] == 0x7F
    f.stick_bits(40, zero=0x01)
    f.erase(0)
    assert f.read(40, 1) == b"\xfe"
    f.stick_bits(48, one=0x80)
    f.program(48, b"\x00" * 8)
    assert f.read(48, 1) == b"\x80"
    with pytest.raises(ValueError, match=r"a bit cannot be stuck at 0 and at 1"):
        f.stick_bits(50, zero=1, one=1)
    f.set_sector_endurance(2 * SEC, 1)
    f.erase(2 * SEC)
    with pytest.raises(FlashWornError):
        f.erase(2 * SEC)
    with pytest.raises(FlashWornError):
        f.program(2 * SEC, b"\x00" * 8)
    f.clear_faults()
    f.program(2 * SEC, b"\x00" * 8)
    g = Flash(8 * SEC, SEC)
    for i in range(4):
        g.set_sector_endurance(i * SEC, 5)
    with pytest.raises(UsageError, match="fault table full"):  # the table holds four sectors
        g.set_sector_endurance(4 * SEC, 5)


def test_bad_geometry() -> None:
    with pytest.raises(ValueError, match=r"size 1000 must be a positive multiple of sector_size"):
        Flash(1000, SEC)
    with pytest.raises(ValueError, match=r"bad geometry: .* align 3 \(1, 2, 4, 8 or 16\)"):
        Flash(4 * SEC, SEC, 3)
    # a whole number of sectors, but sectors that are not a power of two
    with pytest.raises(ValueError, match=r"bad geometry: sector_size 300 \(power of two"):
        Flash(4 * 300, 300)
    with pytest.raises(ValueError, match=rf"buffer must be exactly {4 * SEC} bytes"):
        Flash(4 * SEC, SEC, buffer=bytearray(10))


def test_file_backed_state_survives_the_process(tmp_path) -> None:
    """Cells and wear in a mapped file: a new Flash over the file sees exactly what
    the old one left, as after kill -9."""
    size, sectors = 8 * SEC, 8
    path = tmp_path / "meter.flash"
    path.write_bytes(b"\xff" * size + b"\x00" * (4 * sectors))
    with open(path, "r+b") as fh:
        mm = mmap.mmap(fh.fileno(), 0)
        mem, wear = memoryview(mm)[:size], memoryview(mm)[size:]
        f = Flash(size, SEC, 8, buffer=mem, wear=wear)
        f.erase(SEC)
        f.program(SEC + 8, b"\x12" * 8)
        del f
        mem.release()
        wear.release()
        mm.flush()
        mm.close()
    with open(path, "r+b") as fh:
        mm = mmap.mmap(fh.fileno(), 0)
        mem, wear = memoryview(mm)[:size], memoryview(mm)[size:]
        g = Flash(size, SEC, 8, buffer=mem, wear=wear)
        assert g.read(SEC + 8, 8) == b"\x12" * 8
        assert g.wear(SEC) == 1
        del g
        mem.release()
        wear.release()
        mm.close()


def test_write_generations_follow_every_change() -> None:
    """Programs, erases, torn operations and cell faults move the generation of
    the sectors they touch (RAM only: a new Flash over the same cells stamps every
    sector afresh); refused calls and reads move nothing."""
    f = Flash(4 * SEC, SEC, 8)
    g = [f.generation(i * SEC) for i in range(4)]
    assert len(set(g)) == 1 and g[0] != GEN_UNKNOWN
    f.program(SEC - 8, b"\x00" * 16)  # sectors 0 and 1
    assert f.generation(0) > g[0] and f.generation(SEC) == f.generation(0)
    assert f.generation(2 * SEC, 2 * SEC) == g[0]
    assert f.generation(0, 4 * SEC) == f.generation(0)
    top = f.generation(0, 4 * SEC)
    f.read(0, 4 * SEC)
    with pytest.raises(FlashOneError):
        f.program(SEC - 8, b"\xff" * 8)
    with pytest.raises(FlashAlignError):
        f.erase(8)
    assert f.generation(0, 4 * SEC) == top
    f.flip_bits(3 * SEC + 5, 0x01)
    assert f.generation(3 * SEC) > top and f.generation(2 * SEC) == g[0]
    top = f.generation(0, 4 * SEC)
    f.stick_bits(2 * SEC, zero=0x80)
    assert f.generation(2 * SEC) > top
    top = f.generation(0, 4 * SEC)
    f.set_tear(Tear.PREFIX, 3)
    f.cut_after(0)
    with pytest.raises(FlashPowerError):
        f.erase(SEC)
    f.power_up()
    assert f.generation(SEC) > top
    assert f.generation(4 * SEC) == GEN_UNKNOWN
    g2 = Flash(4 * SEC, SEC, 8, buffer=bytearray(f.dump()))
    assert g2.generation(0, 4 * SEC) != GEN_UNKNOWN


def test_layout_default_is_the_spec_map() -> None:
    lay = compute_layout()
    assert lay.used == 432 * 1024
    assert (lay.bank_a.off, lay.bank_b.off, lay.golden.off) == (0, 0x20000, 0x40000)
    assert lay.bank_a.size == lay.bank_b.size == lay.golden.size == 128 * 1024
    assert (lay.boot0.off, lay.boot1.off, lay.progress.off) == (0x60000, 0x61000, 0x62000)
    assert (lay.audit.end, lay.floor.off, lay.sessions.off) == (0x69000, 0x69000, 0x6A000)
    assert lay.sessions.end == lay.used
    with pytest.raises(ValueError, match=rf"the partitions do not fit a {lay.used - 4096}-byte"):
        compute_layout(lay.used - 4096)
    with pytest.raises(ValueError, match=r"bad layout parameters \(sizes must be whole, non-zero"):
        compute_layout(bank_size=1000)
    small = compute_layout(sector_size=SEC, bank_size=16 * SEC)
    assert small.progress.size == SEC


# -- property: the C model equals a plain Python NOR model, byte for byte --------


class NorModel:
    """The SPEC §2 rules, written as plainly as possible."""

    def __init__(self, size: int, sector: int, align: int, endurance: int) -> None:
        self.mem = bytearray(b"\xff" * size)
        self.wear = [0] * (size // sector)
        self.size, self.sector, self.align, self.endurance = size, sector, align, endurance
        self.ops = 0
        self.stuck: dict[int, tuple[int, int]] = {}  # addr -> (stuck at 0, stuck at 1)

    def _apply_stuck(self, addr: int, length: int) -> None:
        for a, (zero, one) in self.stuck.items():
            if addr <= a < addr + length:
                self.mem[a] = (self.mem[a] & ~zero & 0xFF) | one

    def stick(self, addr: int, zero: int, one: int) -> bool:
        """False when the table (8 bytes) is full and addr is not in it."""
        if addr not in self.stuck and len(self.stuck) == 8:
            return False
        z, o = self.stuck.get(addr, (0, 0))
        self.stuck[addr] = ((z & ~one) | zero, (o & ~zero) | one)
        self._apply_stuck(addr, 1)
        return True

    def _worn(self, addr: int, length: int) -> bool:
        first, last = addr // self.sector, (addr + length - 1) // self.sector
        return any(self.wear[s] >= self.endurance for s in range(first, last + 1))

    def program(self, addr: int, data: bytes) -> type[FlashError] | None:
        n = len(data)
        if addr > self.size or n > self.size - addr:
            return FlashRangeError
        if addr % self.align or n % self.align:
            return FlashAlignError
        if n == 0:
            return None
        if self._worn(addr, n):
            return FlashWornError
        stuck0 = {a: z for a, (z, _) in self.stuck.items()}
        if any(d & ~self.mem[addr + i] & ~stuck0.get(addr + i, 0) & 0xFF
               for i, d in enumerate(data)):
            return FlashOneError  # a 1 over a bit stuck at 0 is not refused
        for i, d in enumerate(data):
            self.mem[addr + i] &= d
        self._apply_stuck(addr, n)
        self.ops += 1
        return None

    def erase(self, addr: int, length: int) -> type[FlashError] | None:
        if addr > self.size or length > self.size - addr:
            return FlashRangeError
        if addr % self.sector or length % self.sector:
            return FlashAlignError
        if length == 0:
            return None
        if self._worn(addr, length):
            return FlashWornError
        for base in range(addr, addr + length, self.sector):
            self.mem[base : base + self.sector] = b"\xff" * self.sector
            self.wear[base // self.sector] += 1
            self._apply_stuck(base, self.sector)
            self.ops += 1
        return None


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([1, 2, 4, 8, 16]), st.integers(1, 4), st.data())
def test_c_model_matches_python_model(align: int, endurance: int, data: st.DataObject) -> None:
    sector, sectors = 64, 4
    size = sector * sectors
    c = Flash(size, sector, align)
    c.set_endurance(endurance)
    m = NorModel(size, sector, align, endurance)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        kind = data.draw(st.integers(0, 5), label="kind")
        if kind == 5:
            # bits stuck at 0 or 1 (a program over them is never refused for them)
            addr = data.draw(st.integers(0, size - 1), label="stuck addr")
            zero = data.draw(st.integers(0, 255), label="stuck0")
            one = data.draw(st.integers(0, 255), label="stuck1") & ~zero
            if m.stick(addr, zero, one):
                c.stick_bits(addr, zero, one)
            else:  # the fault table is full: a usage error, nothing changes
                with pytest.raises(UsageError):
                    c.stick_bits(addr, zero, one)
            assert c.dump() == bytes(m.mem)
            continue
        if kind == 0:
            addr = data.draw(st.sampled_from([0, sector, 2 * sector, 3 * sector, 8, size]))
            length = data.draw(st.sampled_from([0, sector, 2 * sector, 16, size]))
            expect, op, args = m.erase(addr, length), c.erase, (addr, length)
        else:
            unit = data.draw(st.integers(0, size // align), label="unit")
            addr = unit * align + data.draw(st.sampled_from([0, 0, 0, 1]), label="skew")
            n = data.draw(st.integers(0, 40 // align + 3), label="units") * align
            n += data.draw(st.sampled_from([0, 0, 0, 1]), label="len skew")
            raw = data.draw(st.binary(min_size=n, max_size=n), label="bytes")
            if data.draw(st.booleans(), label="valid"):
                # mostly ask for what NOR can do: clear bits of what is there
                raw = bytes(
                    b & (m.mem[addr + i] if addr + i < size else 0xFF)
                    for i, b in enumerate(raw)
                )
            expect, op, args = m.program(addr, raw), c.program, (addr, raw)
        before, gens = c.dump(), [c.generation(i * sector) for i in range(sectors)]
        if expect is None:
            op(*args)
        else:
            with pytest.raises(expect):
                op(*args)
        assert c.dump() == bytes(m.mem)
        # a sector whose cells changed has a newer write generation
        after = c.dump()
        for i in range(sectors):
            span = slice(i * sector, (i + 1) * sector)
            if before[span] != after[span]:
                assert c.generation(i * sector) > gens[i]
    assert c.wear_counters() == m.wear
    assert c.ops == m.ops


_DROPPED_IN_A_CYCLE = """
import gc, mmap
from meteremu._lowlevel.flash import Flash
gc.disable()
mm = mmap.mmap(-1, 8192)
view = memoryview(mm)
cells, wear = view[:4096], view[4096:4100]
f = Flash(4096, 4096, buffer=cells, wear=wear)
f.me = f  # a cycle through the flash, as a meter's parts make
del view, cells, wear, f
gc.collect()
print("collected")
"""


def test_a_flash_over_an_mmap_dropped_unclosed_in_a_cycle_is_collected_without_a_crash():
    """A meter with a state file left unclosed: the garbage collector used to clear
    the mmap's memoryview while the flash's C view still held it, and the process
    died of a segmentation fault when the view went (CPython 3.11)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _DROPPED_IN_A_CYCLE], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "collected" and "BufferError" not in run.stderr


def test_close_lets_go_of_the_buffer_so_the_mapping_can_close():
    import mmap

    mm = mmap.mmap(-1, 8192)
    view = memoryview(mm)
    cells, wear = view[:4096], view[4096:4100]
    f = Flash(4096, 4096, buffer=cells, wear=wear)
    f.close()
    f.close()  # twice: nothing more
    for v in (cells, wear, view):
        v.release()
    mm.close()  # no view left on it
