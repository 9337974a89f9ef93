"""The campaign's state in SQLite (docs/CAMPAIGN.md, "State").

One file holds every campaign run against it: one row per campaign, one per
meter, one per wave, and an event log. WAL mode and one transaction per state
change, so a head-end killed with ``kill -9`` between two changes leaves the
file at the last one; every step of the engine is idempotent against it, so
``resume`` is "run again". A row says what was observed and where from:
``source`` is ``ack`` (the bus) or ``read`` (the head-end read the meter).

The schema carries a version (``PRAGMA user_version``); :func:`Store.open`
migrates an older file forward and refuses a newer one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

__all__ = ["FINAL", "SCHEMA", "SCHEMA_VERSION", "MeterRow", "Store"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign (id TEXT PRIMARY KEY, package TEXT, package_sha256 TEXT,
    version TEXT, seed INTEGER, params TEXT, state TEXT, paused_reason TEXT,
    created_wall REAL, now_virtual REAL);
CREATE TABLE IF NOT EXISTS meters (campaign TEXT, meter TEXT, concentrator TEXT, wave INTEGER,
    state TEXT, version TEXT, last_code TEXT, updated_virtual REAL, acked_seq INTEGER,
    source TEXT, PRIMARY KEY (campaign, meter));
CREATE INDEX IF NOT EXISTS meters_wave ON meters (campaign, wave, state);
CREATE TABLE IF NOT EXISTS waves (campaign TEXT, wave INTEGER, state TEXT, meters INTEGER,
    updated INTEGER, reverted INTEGER, refused INTEGER, pending INTEGER, incomplete INTEGER,
    rounds INTEGER, airtime_s REAL, fota_share REAL, started_virtual REAL,
    ended_virtual REAL, PRIMARY KEY (campaign, wave));
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT,
    at_virtual REAL, at_wall REAL, wave INTEGER, meter TEXT, kind TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS events_campaign ON events (campaign, kind);
"""

#: Meter states the campaign is finished with: the update landed, or the
#: meter said no in a way the head-end confirmed by reading it.
FINAL = frozenset({"confirmed", "reverted", "refused"})
#: Meter states as docs/CAMPAIGN.md lists them.
_ORDER = {s: i for i, s in enumerate(("downloaded", "verified", "activated", "confirmed"))}
METER_STATES = ("waiting", "sent", "downloaded", "verified", "activated", "confirmed",
                "reverted", "refused", "pending", "incomplete", "unreachable")


@dataclass(frozen=True, slots=True)
class MeterRow:
    meter: str
    concentrator: str
    wave: int
    state: str
    version: str | None
    last_code: str | None
    updated_virtual: float | None
    acked_seq: int
    source: str | None


class Store:
    """A campaign database. ``campaign`` is the ID the methods work on."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True) -> Store:
        p = os.fspath(path)
        if not create and not os.path.exists(p):
            raise UsageError(f"no campaign database {p}")
        parent = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(parent):
            raise UsageError(f"cannot open campaign database {p}: no directory {parent}")
        try:
            conn = sqlite3.connect(p, isolation_level=None, timeout=30)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise UsageError(f"{p}: campaign database schema {version} is newer than this "
                                 f"meteremu's ({SCHEMA_VERSION})")
            if not create:  # reading one: never add tables to a file that is not ours
                have = {r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not {"campaign", "meters", "waves", "events"} <= have:
                    conn.close()
                    raise UsageError(f"{p}: not a campaign database (no campaign tables)")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{p}: not a campaign database ({exc})") from None
        return cls(conn, p)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it lands, or none of it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------ campaigns
    def campaigns(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM campaign ORDER BY created_wall, id")]

    def campaign(self, cid: str | None = None) -> dict[str, Any]:
        """The campaign ``cid`` (default: the latest) as a dict, params decoded."""
        if cid is None:
            ids = self.campaigns()
            if not ids:
                raise UsageError(f"{self.path} holds no campaign")
            cid = ids[-1]
        cur = self.conn.execute("SELECT * FROM campaign WHERE id = ?", (cid,))
        row = cur.fetchone()
        if row is None:
            raise UsageError(f"{self.path} holds no campaign {cid!r} "
                             f"(it has: {', '.join(self.campaigns()) or 'none'})")
        out = dict(zip([c[0] for c in cur.description], row, strict=True))
        out["params"] = json.loads(out["params"] or "{}")
        return out

    def create(self, cid: str, *, package: str, sha256: str, version: str, seed: int,
               params: dict[str, Any], now: float,
               meters: Iterable[tuple[str, str, int]], waves: int) -> None:
        """The campaign with its meters ``(meter, concentrator, wave)``, all waiting."""
        if cid in self.campaigns():
            raise UsageError(f"{self.path} already holds campaign {cid!r}: "
                             "`meteremu campaign resume` goes on with it")
        with self.tx() as c:
            c.execute("INSERT INTO campaign VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (cid, package, sha256, version, seed, json.dumps(params, sort_keys=True),
                       "planned", None, time.time(), now))
            c.executemany("INSERT INTO meters VALUES (?,?,?,?,'waiting',NULL,NULL,NULL,0,NULL)",
                          ((cid, m, dc, w) for m, dc, w in meters))
            counts = dict(c.execute("SELECT wave, COUNT(*) FROM meters WHERE campaign = ? "
                                    "GROUP BY wave", (cid,)).fetchall())
            c.executemany("INSERT INTO waves VALUES (?,?,'waiting',?,0,0,0,0,0,0,0.0,0.0,"
                          "NULL,NULL)", ((cid, w, counts.get(w, 0)) for w in range(waves)))
            self._event(c, cid, now, None, None, "created", {"waves": waves})

    def set_state(self, cid: str, state: str, now: float, reason: str | None = None) -> None:
        with self.tx() as c:
            c.execute("UPDATE campaign SET state = ?, paused_reason = ?, now_virtual = ? "
                      "WHERE id = ?", (state, reason, now, cid))
            self._event(c, cid, now, None, None, "state",
                        {"state": state, **({"reason": reason} if reason else {})})

    def set_now(self, cid: str, now: float) -> None:
        self.conn.execute("UPDATE campaign SET now_virtual = MAX(COALESCE(now_virtual, 0), ?) "
                          "WHERE id = ?", (now, cid))

    # ------------------------------------------------------------ meters
    def meters(self, cid: str, wave: int | None = None,
               states: Sequence[str] | None = None,
               concentrator: str | None = None) -> list[MeterRow]:
        q = ("SELECT meter, concentrator, wave, state, version, last_code, updated_virtual, "
             "acked_seq, source FROM meters WHERE campaign = ?")
        args: list[Any] = [cid]
        if wave is not None:
            q += " AND wave = ?"
            args.append(wave)
        if concentrator is not None:
            q += " AND concentrator = ?"
            args.append(concentrator)
        if states is not None:
            q += f" AND state IN ({','.join('?' * len(states))})"
            args.extend(states)
        return [MeterRow(*r) for r in self.conn.execute(q + " ORDER BY meter", args)]

    def meter(self, cid: str, meter: str) -> MeterRow | None:
        rows = self.conn.execute(
            "SELECT meter, concentrator, wave, state, version, last_code, updated_virtual, "
            "acked_seq, source FROM meters WHERE campaign = ? AND meter = ?",
            (cid, meter)).fetchall()
        return MeterRow(*rows[0]) if rows else None

    def mark(self, cid: str, updates: Iterable[tuple[str, str, str | None, str | None]],
             now: float, source: str, *, wave: int | None = None, kind: str = "meter") -> None:
        """Record ``(meter, state, version, code)`` for each meter, in one transaction,
        with an event per meter; the campaign's clock moves up to ``now`` (so a
        resumed head-end never goes back behind what the meters saw)."""
        with self.tx() as c:
            c.execute("UPDATE campaign SET now_virtual = MAX(COALESCE(now_virtual, 0), ?) "
                      "WHERE id = ?", (now, cid))
            for meter, state, version, code in updates:
                c.execute("UPDATE meters SET state = ?, version = COALESCE(?, version), "
                          "last_code = ?, updated_virtual = ?, source = ? "
                          "WHERE campaign = ? AND meter = ?",
                          (state, version, code, now, source, cid, meter))
                self._event(c, cid, now, wave, meter, kind,
                            {"state": state, "version": version, "code": code,
                             "source": source})

    def apply_ack(self, cid: str, ack: Any) -> bool:
        """Record an ack if it is news (``seq`` above the last one seen); True if so."""
        with self.tx() as c:
            row = c.execute("SELECT acked_seq, state FROM meters WHERE campaign = ? AND "
                            "meter = ?", (cid, ack.meter)).fetchone()
            if row is None or ack.seq <= (row[0] or 0):
                return False
            c.execute("UPDATE meters SET acked_seq = ? WHERE campaign = ? AND meter = ?",
                      (ack.seq, cid, ack.meter))
            behind = (row[1] in _ORDER and ack.state in _ORDER
                      and _ORDER[ack.state] < _ORDER[row[1]])
            if ack.state in ("refused", "reverted") or row[1] in FINAL or behind:
                # A failure is only recorded after reading the meter; a final row
                # stays; a late ack does not move a row back (verified after activated).
                # "said", not "state": the event does not set the meter's state.
                self._event(c, cid, ack.at, None, ack.meter, "ack",
                            {"said": ack.state, "code": ack.code, "seq": ack.seq,
                             "recorded": False})
                return True
            c.execute("UPDATE meters SET state = ?, version = COALESCE(?, version), "
                      "last_code = ?, updated_virtual = ?, source = 'ack' "
                      "WHERE campaign = ? AND meter = ?",
                      (ack.state, ack.version, ack.code, ack.at, cid, ack.meter))
            self._event(c, cid, ack.at, None, ack.meter, "ack",
                        {"state": ack.state, "code": ack.code, "seq": ack.seq,
                         "recorded": True})
            return True

    def acked_seqs(self, cid: str) -> dict[str, int]:
        return dict(self.conn.execute(
            "SELECT meter, acked_seq FROM meters WHERE campaign = ? AND acked_seq > 0", (cid,)))

    # ------------------------------------------------------------ waves
    def waves(self, cid: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM waves WHERE campaign = ? ORDER BY wave", (cid,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def update_wave(self, cid: str, wave: int, now: float, **fields: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as c:
            c.execute(f"UPDATE waves SET {sets} WHERE campaign = ? AND wave = ?",
                      (*fields.values(), cid, wave))
            if "state" in fields:
                self._event(c, cid, now, wave, None, "wave", {"state": fields["state"]})

    def add_airtime(self, cid: str, wave: int, rounds: int, airtime_s: float,
                    duration_s: float) -> None:
        """Add one broadcast's rounds and airtime to its wave (``fota_share``: FOTA
        airtime over the summed broadcast durations)."""
        with self.tx() as c:
            row = c.execute("SELECT airtime_s, fota_share FROM waves WHERE campaign = ? AND "
                            "wave = ?", (cid, wave)).fetchone()
            air0, share0 = row
            dur0 = air0 / share0 if share0 else 0.0
            air, dur = air0 + airtime_s, dur0 + duration_s
            c.execute("UPDATE waves SET rounds = rounds + ?, airtime_s = ?, fota_share = ? "
                      "WHERE campaign = ? AND wave = ?",
                      (rounds, air, air / dur if dur else 0.0, cid, wave))

    # ------------------------------------------------------------ events
    def event(self, cid: str, now: float, kind: str, detail: dict[str, Any], *,
              wave: int | None = None, meter: str | None = None) -> None:
        with self.tx() as c:
            self._event(c, cid, now, wave, meter, kind, detail)

    def events(self, cid: str, kind: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, at_virtual, wave, meter, kind, detail FROM events WHERE campaign = ?"
        args: list[Any] = [cid]
        if kind is not None:
            q += " AND kind = ?"
            args.append(kind)
        return [{"id": r[0], "at": r[1], "wave": r[2], "meter": r[3], "kind": r[4],
                 "detail": json.loads(r[5] or "{}")}
                for r in self.conn.execute(q + " ORDER BY id", args)]

    @staticmethod
    def _event(c: sqlite3.Connection, cid: str, now: float, wave: int | None,
               meter: str | None, kind: str, detail: dict[str, Any]) -> None:
        c.execute("INSERT INTO events (campaign, at_virtual, at_wall, wave, meter, kind, "
                  "detail) VALUES (?,?,?,?,?,?,?)",
                  (cid, now, time.time(), wave, meter, kind,
                   json.dumps(detail, sort_keys=True, separators=(",", ":"))))

    def counts(self, cid: str, wave: int | None = None) -> dict[str, int]:
        q = "SELECT state, COUNT(*) FROM meters WHERE campaign = ?"
        args: list[Any] = [cid]
        if wave is not None:
            q += " AND wave = ?"
            args.append(wave)
        return dict(self.conn.execute(q + " GROUP BY state", args).fetchall())
