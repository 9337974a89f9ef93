"""When the campaign may go on: error threshold, F.03/F.04, schedule window,
blackouts (docs/CAMPAIGN.md, "Policy").

Times are the meters' virtual clock, seconds since the Unix epoch (UTC). The
window is daily, ``HH:MM-HH:MM`` (it may wrap past midnight: the seed's
cooler evening hours, ``19:00-06:00`` by default); a blackout is daily
``HH:MM-HH:MM`` (peak demand, ``17:00-20:00`` by default) or absolute
``YYYY-MM-DDTHH:MM/YYYY-MM-DDTHH:MM``. A wave starts only inside the window
and outside every blackout; one under way runs to its end.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import UsageError

__all__ = ["DAY", "Policy", "parse_blackout", "parse_daily"]

DAY = 86400
_HM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _hm(text: str) -> int:
    m = _HM.fullmatch(text.strip())
    if m is None:
        raise UsageError(f"not a time of day HH:MM: {text!r}")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def parse_daily(text: str) -> tuple[int, int]:
    """``"19:00-06:00"`` as (start, end) seconds of the day."""
    a, sep, b = text.partition("-")
    if not sep:
        raise UsageError(f"a daily period is HH:MM-HH:MM, not {text!r}")
    start, end = _hm(a), _hm(b)
    if start == end:
        raise UsageError(f"daily period {text!r} is empty")
    return start, end


def parse_blackout(text: str) -> tuple[str, float, float]:
    """``("daily", start, end)`` or ``("once", start_ts, end_ts)``."""
    if "/" in text:
        a, _, b = text.partition("/")
        try:
            start = _dt.datetime.fromisoformat(a).replace(tzinfo=_dt.timezone.utc).timestamp()
            end = _dt.datetime.fromisoformat(b).replace(tzinfo=_dt.timezone.utc).timestamp()
        except ValueError:
            raise UsageError(f"a blackout is HH:MM-HH:MM or ISO/ISO, not {text!r}") from None
        if end <= start:
            raise UsageError(f"blackout {text!r} ends before it starts")
        return ("once", start, end)
    s, e = parse_daily(text)
    return ("daily", float(s), float(e))


def _in_daily(t: float, start: float, end: float) -> bool:
    s = t % DAY
    return start <= s < end if start < end else (s >= start or s < end)


@dataclass(frozen=True)
class Policy:
    """``error_threshold``: a wave whose share of refused, reverted or faulty
    meters is above it pauses the campaign; any meter showing F.03 or F.04
    pauses it too."""

    error_threshold: float = 0.05
    window: tuple[int, int] | None = (19 * 3600, 6 * 3600)
    blackouts: Sequence[tuple[str, float, float]] = field(
        default_factory=lambda: [("daily", 17 * 3600.0, 20 * 3600.0)])

    def allowed(self, t: float) -> bool:
        if self.window is not None and not _in_daily(t, *self.window):
            return False
        for kind, a, b in self.blackouts:
            if (kind == "daily" and _in_daily(t, a, b)) or (kind == "once" and a <= t < b):
                return False
        return True

    def next_allowed(self, t: float) -> float:
        """The first moment at or after ``t`` a wave may start (minute steps)."""
        probe = float(t)
        for _ in range(60 * 24 * 400):  # a year and some, in minutes
            if self.allowed(probe):
                return probe
            probe = (probe // 60 + 1) * 60
        raise UsageError("the schedule window and the blackouts leave no time to run a wave")

    @staticmethod
    def errors(counts: Mapping[str, int]) -> int:
        return counts.get("refused", 0) + counts.get("reverted", 0)

    def judge(self, wave: int, meters: int, counts: Mapping[str, int],
              faults: Sequence[tuple[str, str]]) -> str | None:
        """Why the campaign pauses after this wave, or None."""
        if faults:
            shown = ", ".join(f"{m} {c}" for m, c in faults[:5])
            return f"wave {wave}: meter fault on the display ({shown})"
        bad = self.errors(counts)
        if meters and bad / meters > self.error_threshold:
            return (f"wave {wave}: {bad} of {meters} meters refused or reverted "
                    f"({bad / meters:.1%} > {self.error_threshold:.1%})")
        return None

    def to_dict(self) -> dict[str, object]:
        return {"error_threshold": self.error_threshold,
                "window": list(self.window) if self.window else None,
                "blackouts": [list(b) for b in self.blackouts]}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Policy:
        w = d.get("window")
        return cls(error_threshold=float(d.get("error_threshold", 0.05)),  # type: ignore[arg-type]
                   window=tuple(w) if w else None,  # type: ignore[arg-type]
                   blackouts=[tuple(b) for b in d.get("blackouts", [])])  # type: ignore[union-attr,misc]
