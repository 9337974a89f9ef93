"""Backing memory for the meter's flash: RAM, or a file mapped into memory.

With a file, every program and erase lands in the mapping as it happens, so a
process killed with ``kill -9`` leaves exactly the cells a power cut would, and
the next meter made on the same file resumes from them. The file is::

    0   64  header: magic "METEREMU-FLASH01", then u32 LE: flash size, sector
            size, write alignment, bank size, metrology sectors, audit
            sectors; the rest 0
    64  .   the flash cells
    .   .   one u32 LE erase counter per sector
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any

from .layout import Layout

__all__ = ["Storage"]

_MAGIC = b"METEREMU-FLASH02"
_HEAD = struct.Struct("<16s6I")
_HEAD_SIZE = 64


class Storage:
    """``cells`` and ``wear`` buffers for a flash of ``layout``; ``fresh`` if just made."""

    def __init__(self, layout: Layout, path: str | os.PathLike[str] | None = None) -> None:
        g = layout.geometry
        size = layout.size
        sectors = size // g.sector_size
        head = _HEAD.pack(_MAGIC, size, g.sector_size, g.align, g.bank_size,
                          g.metrology_sectors, g.audit_sectors).ljust(_HEAD_SIZE, b"\0")
        self._mmap: mmap.mmap | None = None
        self._views: list[memoryview] = []
        if path is None:
            self.cells: Any = bytearray(b"\xff" * size)
            self.wear: Any = bytearray(4 * sectors)
            self.fresh = True
            return
        total = _HEAD_SIZE + size + 4 * sectors
        fd = os.open(os.fspath(path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            length = os.fstat(fd).st_size
            self.fresh = length == 0
            if self.fresh:
                os.write(fd, head + b"\xff" * size + bytes(4 * sectors))
            elif length != total or os.pread(fd, _HEAD_SIZE, 0) != head:
                raise ValueError(
                    f"{os.fspath(path)}: not a meteremu flash file for this geometry "
                    f"({g.bank_size} B banks, {g.sector_size} B sectors, align {g.align})"
                )
            self._mmap = mmap.mmap(fd, total)
        finally:
            os.close(fd)
        view = memoryview(self._mmap)
        self.cells = view[_HEAD_SIZE : _HEAD_SIZE + size]
        self.wear = view[_HEAD_SIZE + size :]
        self._views = [view, self.cells, self.wear]

    def flush(self) -> None:
        if self._mmap is not None:
            self._mmap.flush()

    def close(self) -> None:
        if self._mmap is None:
            return
        self._mmap.flush()
        try:
            for v in reversed(self._views):
                v.release()
            self._mmap.close()
        except BufferError:
            # The flash model still holds a view: the mapping closes with the last
            # reference. Everything is flushed already.
            pass
        self._views = []
        self._mmap = None
