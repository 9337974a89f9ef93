"""One line of the results table."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    area: str  # "CRC-32", "SHA-256", "ECDSA P-256 verify", ...
    case: str  # input size or variant
    unit: str  # "MB/s" or "verify/s"
    ours: float | None  # None when the code is not built
    peer: str
    theirs: float | None
    target: float | None  # minimum ratio ours/theirs; None = reported only
    path: str  # which implementation of ours ran
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.theirs:
            return None
        return self.ours / self.theirs

    @property
    def verdict(self) -> str:
        if self.ours is None:
            return "not built"
        if self.note.startswith("WRONG"):
            return "WRONG"
        if self.target is None:
            return "info"
        ratio = self.ratio
        return "pass" if ratio is not None and ratio >= self.target else "FAIL"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["verdict"] = self.verdict
        return d
