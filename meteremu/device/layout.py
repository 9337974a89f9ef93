"""Where everything sits in the meter's flash (SPEC section 2, default map).

    bank A | bank B | golden | boot-control 0 | boot-control 1 |
    download progress | metrology NVM | audit-log NVM

Every region starts and ends on a sector boundary. Sizes are parameters; the
defaults are the seed's: 128 KiB banks, 4 KiB sectors, write alignment 8.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PROGRESS_HEADER", "Geometry", "Layout", "Region"]

#: Bytes at the start of the progress region before the received-bitmap.
PROGRESS_HEADER = 64
#: Smallest fragment the package format allows (mt_pkg.h): bounds the bitmap size.
FRAGMENT_MIN = 16


@dataclass(frozen=True)
class Geometry:
    """The flash a meter is built with."""

    bank_size: int = 128 * 1024
    sector_size: int = 4096
    align: int = 8
    metrology_sectors: int = 2
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
        bitmap = -(-g.bank_size // FRAGMENT_MIN) // 8 + 1
        progress = -(-(PROGRESS_HEADER + bitmap) // ss) * ss
        sizes = [
            ("bank_a", g.bank_size),
            ("bank_b", g.bank_size),
            ("golden", g.bank_size),
            ("boot0", ss),
            ("boot1", ss),
            ("progress", progress),
            ("metrology", g.metrology_sectors * ss),
            ("audit", g.audit_sectors * ss),
        ]
        regions, off = {}, 0
        for name, size in sizes:
            regions[name] = Region(name, off, size)
            off += size
        object.__setattr__(self, "regions", regions)
        object.__setattr__(self, "size", off)

    def __getitem__(self, name: str) -> Region:
        return self.regions[name]

    def bank(self, index: int) -> Region:
        """0 = bank A, 1 = bank B, 2 = golden."""
        return self.regions[("bank_a", "bank_b", "golden")[index]]
