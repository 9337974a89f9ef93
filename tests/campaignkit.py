"""Campaign databases for the report tests, written straight in the schema of
docs/CAMPAIGN.md (a helper module, not a test module).

:func:`make_campaign_db` writes a plausible campaign -- a canary, three waves,
some meters refused (0x8004) or reverted (0x800B), some pending or
incomplete, one wave still running -- with its events over virtual time, and
returns the ground truth it wrote, so tests do not depend on the engine.
The schema is taken from docs/CAMPAIGN.md itself: when the document changes,
these databases follow.
"""

from __future__ import annotations

import json
import pathlib
import random
import re
import sqlite3
from dataclasses import dataclass, field

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "CAMPAIGN.md"
T0 = 1_780_336_800.0  # 2026-06-01 18:00 UTC, the canary's start
HOUR = 3600.0
#: Markup an honest engine never writes: a report must show it as text.
HOSTILE = ('<script>document.body.dataset.pwned="1"</script>'
           '<img src=x onerror="document.body.dataset.pwned=2">"\'&amp;')


def schema() -> str:
    """The ``CREATE TABLE`` statements of docs/CAMPAIGN.md, "State (SQLite)"."""
    block = re.search(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/CAMPAIGN.md has no sql block"
    return block.group(1)


@dataclass
class Meter:
    meter: str
    concentrator: str
    wave: int
    path: list[str]          # the states it went through, in order
    code: str | None = None

    @property
    def state(self) -> str:
        return self.path[-1] if self.path else "waiting"


@dataclass
class CampaignDb:
    path: pathlib.Path
    campaign: str
    meters: list[Meter] = field(default_factory=list)
    waves: dict[int, dict[str, object]] = field(default_factory=dict)

    def in_wave(self, wave: int) -> list[Meter]:
        return [m for m in self.meters if m.wave == wave]


# What a meter of a finished wave went through, by its index in the wave
# (index % 20): most confirm; a few refuse (hardware revision), revert (the
# new image did not come up), stay pending (no report reached the
# head-end) or incomplete.
_FATES = {3: ("refused", "0x8004"), 9: ("refused", "0x8004"), 7: ("reverted", "0x800B"),
          11: ("pending", None), 13: ("incomplete", None), 17: ("refused", "0x9003")}
_PATHS = {
    "confirmed": ["sent", "downloaded", "verified", "activated", "confirmed"],
    "refused": ["sent", "downloaded", "refused"],
    "reverted": ["sent", "downloaded", "verified", "activated", "reverted"],
    "pending": ["sent", "downloaded", "pending"],
    "incomplete": ["sent", "incomplete"],
}


def make_campaign_db(path: str | pathlib.Path, *, campaign: str = "spring-2026",
                     canary: int = 2, waves: int = 3, per_wave: int = 20,
                     running_last: bool = True, hostile: str | None = None,
                     paused_reason: str | None = None, created_wall: float = 1.0e9,
                     seed: int = 7) -> CampaignDb:
    """Write (or add to) a campaign database at ``path``.

    ``waves`` 0 and ``canary`` 0 make a campaign planned but not started:
    meters all waiting, no wave, no event. ``hostile`` is woven into a meter
    ID, a meter's state, a code, a concentrator, a wave's state, the package
    name, the paused reason and event details (markup an honest engine would
    never write, a report must show it as text). ``running_last``: the last
    wave is still running (its meters part-way)."""
    rng = random.Random(seed)
    path = pathlib.Path(path)
    conn = sqlite3.connect(path)
    if not conn.execute("SELECT name FROM sqlite_master WHERE name = 'campaign'").fetchone():
        conn.executescript(schema())
    db = CampaignDb(path, campaign)
    started = canary + waves > 0
    sizes = ([canary] if canary else []) + [per_wave] * waves
    first_wave = 0 if canary else 1
    for wi, size in enumerate(sizes):
        wave = first_wave + wi
        last = wave == first_wave + len(sizes) - 1 and running_last and wave > 0
        for i in range(size):
            meter = f"M{wave:02d}-{i:04d}"
            if hostile and wave == 1 and i == 3:
                meter = f"M-{hostile}"
            state, code = ("confirmed", None) if wave == 0 else _FATES.get(i % 20, ("confirmed",
                                                                                      None))
            if hostile and wave == 1 and i == 9:
                code = hostile
            steps = list(_PATHS[state])
            if hostile and wave == 2 and i == 3:
                steps[-1] = hostile  # a state no engine writes
            if last:  # part-way: sent, downloaded or verified
                steps, code = _PATHS["confirmed"][: 1 + i % 3], None
            conc = f"C{i % 4}" if not (hostile and i == 0) else f"C-{hostile}"
            db.meters.append(Meter(meter, conc, wave, steps, code))
    for m in _unstarted(campaign, canary, waves, per_wave):
        db.meters.append(m)
    params = {"canary": 0.02, "wave": 10000, "cap": 0.30}
    pkg = f"fw-2.4.1{hostile or ''}.pkg"
    now = T0 + (26 + 4 * waves) * HOUR if started else T0
    state = "planned" if not started else ("paused" if paused_reason else
                                             ("waves" if running_last else "done"))
    conn.execute("INSERT INTO campaign VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (campaign, pkg, "ab" * 32, "2.4.1", seed, json.dumps(params), state,
                  paused_reason, created_wall, now))
    events: list[tuple[float, int | None, str | None, str, str]] = []
    if started:
        events.append((T0 - 60, None, None, "created", json.dumps({"meters": len(db.meters)})))
    for wi in range(len(sizes)):
        wave = first_wave + wi
        start = T0 if wave == 0 else T0 + (26 + 4 * (wave - 1)) * HOUR
        members = db.in_wave(wave)
        for i, m in enumerate(members):
            t = start + 20 * i
            for k, st in enumerate(m.path):
                t += rng.uniform(300, 1500) if k else 0
                source = "read" if st in ("pending", "incomplete") else "ack"
                detail = {"state": st, "source": source}
                if st in ("refused", "reverted"):
                    detail["code"] = m.code
                    if hostile:
                        detail["note"] = hostile
                events.append((t, wave, m.meter, source, json.dumps(detail)))
        counts = {s: sum(m.state == s for m in members)
                  for s in ("confirmed", "reverted", "refused", "pending", "incomplete")}
        running = wave > 0 and wave == first_wave + len(sizes) - 1 and running_last
        end = None if running else max(e[0] for e in events if e[1] == wave) + 600
        share = round(rng.uniform(0.12, 0.29), 4)
        wave_state = "running" if running else "done"
        if hostile and wave == 2:
            wave_state = hostile
        row = {"wave": wave, "state": wave_state, "meters": len(members),
               "updated": counts["confirmed"], "reverted": counts["reverted"],
               "refused": counts["refused"], "pending": counts["pending"],
               "incomplete": counts["incomplete"], "rounds": 1 + wave % 3,
               "airtime_s": round(rng.uniform(40, 900), 1), "fota_share": share,
               "started_virtual": start, "ended_virtual": end}
        db.waves[wave] = row
        conn.execute(f"INSERT INTO waves (campaign, {', '.join(row)}) VALUES "
                     f"(?, {', '.join('?' * len(row))})", (campaign, *row.values()))
        events.append((start, wave, None, "wave_started", json.dumps({"meters": len(members)})))
        if end is not None:
            events.append((end, wave, None, "wave_done", json.dumps(counts)))
    if paused_reason:
        events.append((now, None, None, "paused", json.dumps({"reason": paused_reason})))
    for m in db.meters:
        conn.execute("INSERT INTO meters (campaign, meter, concentrator, wave, state, version, "
                     "last_code, updated_virtual, acked_seq, source) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (campaign, m.meter, m.concentrator, m.wave, m.state,
                      "2.4.1" if m.state == "confirmed" else "2.3.0", m.code, None, len(m.path),
                      "read" if m.state in ("refused", "reverted") else "ack"))
    events.sort(key=lambda e: e[0])
    conn.executemany("INSERT INTO events (campaign, at_virtual, at_wall, wave, meter, kind, "
                     "detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [(campaign, t, created_wall + k, w, m, kind, d)
                      for k, (t, w, m, kind, d) in enumerate(events)])
    conn.commit()
    conn.close()
    return db


def _unstarted(campaign: str, canary: int, waves: int, per_wave: int) -> list[Meter]:
    """A planned campaign's fleet: meters waiting, none in a wave yet."""
    if canary + waves > 0:
        return []
    return [Meter(f"M-{i:04d}", f"C{i % 4}", 1 + i // max(1, per_wave), []) for i in range(12)]
