"""Where everything sits in the meter's flash (SPEC section 2, default map).

    bank A | bank B | golden | boot-control 0 | boot-control 1 |
    download progress | metrology NVM | audit-log NVM | anti-rollback floor |
    closed sessions

The offsets are computed by the C core's partition map (csrc/mt_layout.h);
this module only names the regions. Every region starts and ends on a sector
boundary. Sizes are parameters; the defaults are the seed's: 128 KiB banks,
4 KiB sectors, write alignment 8. The progress region is sized for the
reassembler's record and a bitmap bit for every fragment of the smallest
fragment size that fills a bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._lowlevel.flash import compute_layout
from .._lowlevel.reasm import progress_bytes
from ..wire.package import FRAGMENT_MIN  # the smallest fragment bounds the bitmap size

__all__ = ["Geometry", "Layout", "Region"]


@dataclass(frozen=True)
class Geometry:
    """The flash a meter is built with."""

    bank_size: int = 128 * 1024
    sector_size: int = 4096
    align: int = 8
    metrology_sectors: int = 3  # a worn one still leaves two to alternate
    audit_sectors: int = 8
    endurance: int = 100_000

    def __post_init__(self) -> None:
        ss = self.sector_size
        if ss & (ss - 1) or not 256 <= ss <= 65536:
            raise ValueError(f"sector_size must be a power of two in 256..65536, not {ss}")
        if self.bank_size <= 0 or self.bank_size % ss:
            raise ValueError("bank_size must be a positive multiple of sector_size")
        if self.align not in (1, 2, 4, 8, 16):
            raise ValueError("align must be 1, 2, 4, 8 or 16")
        if self.metrology_sectors < 2 or self.audit_sectors < 2:
            raise ValueError("the metrology and audit rings need at least 2 sectors each")


@dataclass(frozen=True)
class Region:
    name: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Layout:
    geometry: Geometry
    regions: dict[str, Region] = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        g = self.geometry
        ss = g.sector_size
        progress = progress_bytes(-(-g.bank_size // FRAGMENT_MIN))
        c = compute_layout(sector_size=ss, bank_size=g.bank_size, golden_size=g.bank_size,
                           boot_sectors=1, progress_sectors=-(-progress // ss),
                           metrology_sectors=g.metrology_sectors,
                           audit_sectors=g.audit_sectors, floor_sectors=1,
                           session_sectors=2)
        regions = {name: Region(name, p.off, p.size) for name, p in c.partitions().items()}
        object.__setattr__(self, "regions", regions)
        object.__setattr__(self, "size", c.used)

    def __getitem__(self, name: str) -> Region:
        return self.regions[name]

    def bank(self, index: int) -> Region:
        """0 = bank A, 1 = bank B, 2 = golden."""
        return self.regions[("bank_a", "bank_b", "golden")[index]]
