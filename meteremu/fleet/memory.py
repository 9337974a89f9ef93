"""Flash for many meters, shared copy-on-write.

A fleet meter starts as a copy of a template: a meter provisioned once per
(vendor, hardware revision, factory package, keys, geometry). The template's
flash state, in the state-file format (:mod:`meteremu.device.storage`: head,
cells, wear), is written ``block`` times, page-aligned, into one anonymous
in-memory file (``memfd``), and each block of ``block`` meters is one
``MAP_PRIVATE`` mapping of that file. The kernel hands every meter the
template's pages until the meter writes one: that page alone is copied for
the meter. So a meter costs the sectors it wrote, and a fault injected into
one meter (a cut, a torn write, a flipped bit) lands in its private copy and
nowhere else.

Why blocks, not one mapping per meter: a process may hold ``vm.max_map_count``
mappings (65,530 by default), and 100,000 meters would need more; a block
of 64 meters is one mapping (1,563 for 100,000 meters). The price is the file
itself: ``block`` copies of the template (64 x 460 KiB = 29 MiB per
template), paid once, shared by every block. Within a slot the cells start
on a page, so a flash sector (4 KiB) is exactly one page.

Sharing what meters wrote alike (:meth:`SlotPool.share`): after a broadcast
every meter that took it holds its own copy of the same image. The pool then
picks a new base -- page by page, the content most of a sample of its meters
hold -- writes it ``block`` times into a new file, and moves each block onto
it: a fresh private mapping of the new file gets, for each meter, a copy of
only the pages where that meter differs from the base, and then replaces the
block's mapping at the same address (``mremap``), so every pointer into the
meters' flash stays valid and every meter reads exactly the bytes it held.
Pages equal to the base are the new file's, shared again; a meter that
writes one later gets its own copy, as before.

Copying ahead (:func:`populate`): a meter about to write many pages -- a
download bank, which the reassembler reads for its blank check just before
-- can have them copied in one call rather than faulted twice each (mapped
for the read, then copied at the write); no byte changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import sys
from collections import Counter
from typing import Any

from .._lowlevel import ffi, lib
from ..device.layout import Layout
from ..device.storage import Storage
from ..wire.storage import STATE_FILE_HEAD_SIZE

__all__ = ["PAGE", "SlotPool", "cells_address", "populate", "private_bytes"]

PAGE = mmap.PAGESIZE


class SlotPool:
    """Slots holding copies of ``state`` (a template's state file), ``block`` per
    mapping; :meth:`take` hands out the next one as a :class:`Storage`.

    The mappings are made with the C library's ``mmap`` and reached through
    cffi buffers that keep them mapped: each is unmapped when the last view of
    it (the last meter's flash over it) is gone and the pool is closed, never
    before, whatever order the objects are freed in. (The open pool holds
    every mapping, so :meth:`share` never meets one that is gone.)"""

    def __init__(self, layout: Layout, state: bytes, block: int, checked: object) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self.layout = layout
        self.size = len(state)
        lead = -STATE_FILE_HEAD_SIZE % PAGE  # the cells start on a page
        self.lead = lead
        self.stride = -(-(lead + self.size) // PAGE) * PAGE
        self.block = block
        self._checked = checked
        self._spans: list[tuple[int, int]] = []
        self._maps: list[Any] = []  # every mapping's cffi pointer: mapped while the pool is open
        self._block: Any = None  # the newest mapping: a cffi pointer that unmaps it when freed
        self._used = block  # slots taken from the newest mapping
        self._taken = 0  # slots taken in all
        self._head: bytes | None = None  # the state's head, once a slot passed the checks
        fd = _anonymous_file()
        try:
            os.ftruncate(fd, self.stride * block)
            for k in range(block):
                os.pwrite(fd, state, k * self.stride + lead)
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd

    def take(self) -> Storage:
        return self.take_slot()[0]

    def take_slot(self) -> tuple[Storage, int]:
        """The next slot as a :class:`Storage`, and where its cells are in memory
        (what :func:`cells_address` says of it)."""
        if self._fd is None:
            raise ValueError("the pool is sealed")
        if self._used == self.block:
            length = self.stride * self.block
            self._block = _map_private(self._fd, length)
            self._maps.append(self._block)
            self._spans.append((int(ffi.cast("uintptr_t", self._block)), length))
            self._used = 0
        at = self._used * self.stride + self.lead
        self._used += 1
        self._taken += 1
        head = self._block + at
        cells = head + STATE_FILE_HEAD_SIZE
        size = self.layout.size
        wear = self.size - STATE_FILE_HEAD_SIZE - size
        cells_buf, wear_buf = ffi.buffer(cells, size), ffi.buffer(cells + size, wear)
        if self._head is None:
            # The first slot goes through Storage.over's checks; every slot after
            # it is a copy of the same state in the same kind of mapping, so the
            # checks would say the same: the pool's copy of the head serves.
            first = ffi.buffer(head, STATE_FILE_HEAD_SIZE)[:]
            storage = Storage.over(self.layout, first, cells_buf, wear_buf,
                                   checked=self._checked, keep=self._block)  # type: ignore[arg-type]
            self._head = first
        else:
            storage = Storage._over(self._head, cells_buf, wear_buf, self._checked,  # type: ignore[arg-type]
                                    self._block)
        return storage, self._spans[-1][0] + at + STATE_FILE_HEAD_SIZE

    def seal(self) -> None:
        """No more slots: the file is closed (the mappings keep it alive)."""
        self._block = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def spans(self) -> list[tuple[int, int]]:
        """(address, length) of each mapping, for :func:`private_bytes`."""
        return list(self._spans)

    def close(self) -> None:
        """Sealed, and the pool lets go of its mappings: each is unmapped when
        its last meter is gone too (see the class docstring)."""
        self.seal()
        self._maps = []
        self._spans = []
        self._taken = 0

    def _slots(self) -> list[list[int]]:
        """Per mapping, the start address of each slot a meter has taken."""
        out = []
        left = self._taken
        for addr, _length in self._spans:
            k = min(self.block, left)
            out.append([addr + i * self.stride for i in range(k)])
            left -= k
        return out

    def _majority(self, slots: list[int], sample: int) -> bytes:
        """A slot's worth of bytes: page by page, the content most of ``sample``
        slots spread over ``slots`` hold (the first seen on a tie)."""
        step = max(1, len(slots) // sample)
        picked = [ffi.buffer(ffi.cast("uint8_t *", a), self.stride)[:]
                  for a in slots[::step][:sample]]
        base = bytearray()
        for off in range(0, self.stride, PAGE):
            counts = Counter(slot[off : off + PAGE] for slot in picked)
            base += counts.most_common(1)[0][0]
        return bytes(base)

    def share(self, sample: int = 63) -> int | None:
        """Re-base every mapping on the pages most meters now hold alike (see the
        module's docstring); returns the pages still private to one meter, or
        None where the platform cannot move a mapping (``mremap``: Linux)."""
        if _MREMAP is None:
            return None
        blocks = self._slots()
        every = [a for block in blocks for a in block]
        if not every:
            return 0
        base = self._majority(every, sample)
        fd = _anonymous_file()
        try:
            os.ftruncate(fd, self.stride * self.block)
            for k in range(self.block):
                os.pwrite(fd, base, k * self.stride)
            private = 0
            base_c = ffi.from_buffer("uint8_t[]", base)
            pages = -(-self.stride // PAGE)
            same = ffi.new("uint8_t[]", -(-pages // 8))
            tail = [(1 << pages % 8) - 1] if pages % 8 else []
            everything = bytes([0xFF] * (pages // 8) + tail)  # the all-equal bitmap
            for (addr, length), slots in zip(self._spans, blocks, strict=True):
                fresh = _LIBC.mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE,
                                   mmap.MAP_PRIVATE, fd, 0)
                if fresh is None or fresh == _MAP_FAILED:
                    err = ctypes.get_errno()
                    raise OSError(err, f"mmap of {length} bytes: {os.strerror(err)}")
                for slot in slots:
                    at = slot - addr
                    rc = lib.mt_fleet_pages_equal(ffi.cast("uint8_t *", slot), base_c,
                                                  self.stride, PAGE, same, len(same))
                    if rc != 0:  # (arguments made here: cannot happen)
                        raise RuntimeError(f"mt_fleet_pages_equal: {rc}")
                    if ffi.buffer(same)[:] == everything:
                        continue
                    for p in range(pages):
                        if not same[p >> 3] >> (p & 7) & 1:
                            ctypes.memmove(fresh + at + p * PAGE, slot + p * PAGE, PAGE)
                            private += 1
                moved = _MREMAP(fresh, length, length, _MREMAP_MAYMOVE | _MREMAP_FIXED, addr)
                if moved is None or moved == _MAP_FAILED:
                    err = ctypes.get_errno()
                    _LIBC.munmap(fresh, length)
                    raise OSError(err, f"mremap of {length} bytes: {os.strerror(err)}")
        finally:
            os.close(fd)
        return private


_MAP_FAILED = ctypes.c_void_p(-1).value


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.restype = ctypes.c_int
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


_LIBC = _libc()
_MADV_POPULATE_WRITE = 23  # <sys/mman.h> (Linux 5.14)


def _linux_call(name: str, restype: Any, argtypes: list[Any]) -> Any:
    """libc's ``name`` typed for ctypes, or None off Linux or where libc lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    fn = getattr(_LIBC, name, None)
    if fn is None:
        return None
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_MADVISE = _linux_call("madvise", ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int])


def cells_address(storage: Storage) -> int:
    """Where a slot's cells (a :meth:`SlotPool.take` storage's) are in memory."""
    return int(ffi.cast("uintptr_t", ffi.from_buffer(storage.cells)))


def populate(addr: int, length: int) -> bool:
    """Make the pages wholly inside ``[addr, addr + length)`` of a meter's
    private mapping present and writable now, as writes would, without
    changing a byte (Linux's ``MADV_POPULATE_WRITE``): each page the template
    still shares is copied for the meter in this one call rather than by a
    fault at its first write -- and a page a meter reads before it writes
    (a bank's blank check before a download) is not faulted twice. False,
    changing nothing, where the call is not there (not Linux, an older
    kernel)."""
    lo = -(-addr // PAGE) * PAGE
    hi = (addr + length) // PAGE * PAGE
    if _MADVISE is None or hi <= lo:
        return False
    return _MADVISE(lo, hi - lo, _MADV_POPULATE_WRITE) == 0


_MREMAP_MAYMOVE, _MREMAP_FIXED = 1, 2  # <sys/mman.h> (Linux)
_MREMAP = _linux_call("mremap", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t,
                                                   ctypes.c_size_t, ctypes.c_int,
                                                   ctypes.c_void_p])


def _map_private(fd: int, length: int) -> Any:
    """``length`` bytes of ``fd`` mapped copy-on-write: a cffi ``uint8_t *`` that
    unmaps them when it is freed (each meter's storage holds it)."""
    addr = _LIBC.mmap(None, length, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE, fd, 0)
    if addr is None or addr == _MAP_FAILED:
        err = ctypes.get_errno()
        raise OSError(err, f"mmap of {length} bytes: {os.strerror(err)}")
    return ffi.gc(ffi.cast("uint8_t *", addr), lambda _p: _LIBC.munmap(addr, length))


def _anonymous_file() -> int:
    """A file in memory only: memfd where the platform has it, else an unlinked
    temporary file."""
    create = getattr(os, "memfd_create", None)
    if create is not None:
        with contextlib.suppress(OSError):
            return int(create("meteremu-fleet", getattr(os, "MFD_CLOEXEC", 0)))
    import tempfile

    with tempfile.TemporaryFile() as f:
        return os.dup(f.fileno())


def private_bytes(spans: list[tuple[int, int]]) -> int | None:
    """Bytes of the mappings in ``spans`` that meters have written: the pages the
    kernel copied for them (``Anonymous`` in /proc/self/smaps; the template's
    pages, shared by every meter, are file pages). None where /proc is not there."""
    want = {addr for addr, _ in spans}
    total = 0
    hit = False
    try:
        f = open("/proc/self/smaps")  # noqa: SIM115 (read line by line below)
    except OSError:
        return None
    with f:
        inside = False
        for line in f:
            head = line.split(" ", 1)[0]
            if "-" in head and ":" not in head:
                lo = int(head.split("-", 1)[0], 16)
                inside = lo in want
                hit = hit or inside
            elif inside and line.startswith("Anonymous:"):
                total += int(line.split()[1]) * 1024
    return total if hit or not spans else None
