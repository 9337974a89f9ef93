"""Backing memory for the meter's flash: RAM, or a file mapped into memory.

With a file, every program and erase lands in the mapping as it happens, so a
process killed with ``kill -9`` leaves exactly the cells a power cut would, and
the next meter made on the same file resumes from them. The file is::

    0   64  head (:data:`meteremu.wire.storage.StateFileHead`): magic, then the
            geometry the cells were made for
    64  .   the flash cells
    .   .   one u32 LE erase counter per sector
"""

from __future__ import annotations

import functools
import mmap
import os
from typing import Any

from .._lowlevel.image import ImageCache
from ..wire.storage import STATE_FILE_HEAD_SIZE as _HEAD_SIZE
from ..wire.storage import StateFileHead
from .layout import Geometry, Layout

__all__ = ["Storage"]


def _head(layout: Layout) -> bytes:
    """The state file's head for ``layout``: magic and geometry."""
    return _head_of(layout.geometry, layout.size)


@functools.lru_cache(maxsize=16)
def _head_of(g: Geometry, size: int) -> bytes:
    return StateFileHead.build({
        "flash_size": size, "sector_size": g.sector_size, "align": g.align,
        "bank_size": g.bank_size, "metrology_sectors": g.metrology_sectors,
        "audit_sectors": g.audit_sectors,
    })


class Storage:
    """``cells`` and ``wear`` buffers for a flash of ``layout``; ``fresh`` if just made."""

    def __init__(self, layout: Layout, path: str | os.PathLike[str] | None = None) -> None:
        g = layout.geometry
        size = layout.size
        sectors = size // g.sector_size
        head = self._head = _head(layout)
        self._mmap: mmap.mmap | None = None
        self._views: list[memoryview] = []
        self.checked: ImageCache | None = None
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

    @classmethod
    def over(cls, layout: Layout, head: bytes, cells: Any, wear: Any,
             checked: ImageCache | None = None, keep: object = None) -> Storage:
        """A storage over buffers that already hold a meter's flash: ``cells`` and
        ``wear`` (writable, ``layout.size`` and 4 bytes per sector), found behind
        ``head`` (the state file's head, which must be the one ``layout``
        makes) -- a slot of a larger mapping, say, as :mod:`meteremu.fleet` gives
        each of its meters. ``keep`` is held as long as the storage (what
        keeps the buffers' memory alive).

        ``checked``: the check of the package the golden region and bank A were
        provisioned with (``check_package(..., cache=)``); the meter's
        bootloader adopts it, as at provisioning. It is keyed on every byte
        the check reads (content key, csrc/mt_image.h), so banks that differ
        from that package in any byte simply miss it and get the full check."""
        g = layout.geometry
        size = layout.size
        sizes = []
        for buf in (cells, wear):
            with memoryview(buf) as v:
                sizes.append(-1 if v.readonly else v.nbytes)
        if bytes(head) != _head(layout) or sizes != [size, 4 * (size // g.sector_size)]:
            raise ValueError(f"not a writable meteremu flash state for this geometry "
                             f"({g.bank_size} B banks, {g.sector_size} B sectors)")
        return cls._over(bytes(head), cells, wear, checked, keep)

    @classmethod
    def _over(cls, head: bytes, cells: Any, wear: Any, checked: ImageCache | None,
              keep: object) -> Storage:
        """:meth:`over` without its checks, for a caller that made them already on
        buffers of the same kind, sizes and head (a pool of slots alike)."""
        self = cls.__new__(cls)
        self._head = head
        self.checked = checked
        self._mmap = None
        self._keep = keep
        self.fresh = False
        self.cells = cells
        self.wear = wear
        self._views = []
        return self

    def state_bytes(self) -> bytes:
        """The flash as a state file holds it: head, cells, wear."""
        return self._head + bytes(self.cells) + bytes(self.wear)

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
