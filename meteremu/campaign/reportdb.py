"""What the campaign report shows, read from a campaign's SQLite database.

The database is opened read-only (``mode=ro``): a report never changes the
state of a campaign, and it can be taken while the campaign runs (all
queries share one read transaction, so the figures are one snapshot). The
tables are those of docs/CAMPAIGN.md, "State (SQLite)". Values are taken as
they are stored and never trusted: a number column holding text is shown as
text and left out of the plots.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError, short_repr

__all__ = ["METER_STATES", "Report", "event_state", "read_report", "state_events", "timelines"]

#: A meter's states, as docs/CAMPAIGN.md lists them.
METER_STATES = ("waiting", "sent", "downloaded", "verified", "activated", "confirmed",
                "reverted", "refused", "pending", "incomplete", "unreachable")
#: A meter counts as failed in these states (pending, incomplete and
#: unreachable are not failures: no phantom failure).
FAILED_STATES = ("refused", "reverted")
TABLES = ("campaign", "meters", "waves", "events")
SAMPLES = 160      # points per wave on the time axis of the state plot
FAILED_LIMIT = 100  # failed meters listed
LOG_LIMIT = 50      # campaign-level events listed (the latest)
DEFAULT_CAP = 0.30  # FOTA share of the channel (seed section B; MeshConfig.cap)

WAVE_COLUMNS = ("wave", "state", "meters", "updated", "reverted", "refused", "pending",
                "incomplete", "rounds", "airtime_s", "fota_share", "started_virtual",
                "ended_virtual")


@dataclass
class Report:
    """One campaign's figures, plain values ready to render."""

    campaign: dict[str, Any]
    params: dict[str, Any]
    cap: float
    by_state: dict[str, int]
    waves: list[dict[str, Any]]
    refused_by_code: dict[Any, dict[str, int]]     # wave -> code -> meters
    timelines: dict[int, tuple[list[float], dict[str, list[int]]]]  # wave -> (hours, series)
    start_virtual: float | None
    codes: list[tuple[str, dict[str, int]]]         # code -> state -> meters, largest first
    failed: list[dict[str, Any]]
    failed_total: int
    log: list[tuple[Any, ...]]
    log_total: int
    meters_total: int = field(default=0)


def as_float(value: object) -> float | None:
    """A finite number stored in a column, or ``None`` (NULL, text, inf, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def event_state(kind: object, detail: object) -> str | None:
    """The meter state an event records: ``detail``'s ``"state"`` when it is a
    JSON object naming one, else ``kind`` when it is a state's name."""
    if isinstance(detail, str) and detail.lstrip().startswith("{"):
        try:
            obj = json.loads(detail)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("state") in METER_STATES:
            return str(obj["state"])
    return str(kind) if kind in METER_STATES else None


def connect(db_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open ``db_path`` read-only and check it holds the campaign tables."""
    path = pathlib.Path(os.fspath(db_path))
    if not path.is_file():
        raise UsageError(f"no campaign database at {path}")
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open {path}: {exc}") from None
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        conn.close()
        raise UsageError(f"{path} is not a campaign database: {exc}") from None
    missing = [t for t in TABLES if t not in names]
    if missing:
        conn.close()
        raise UsageError(f"{path} is not a campaign database: no table {', '.join(missing)} "
                         "(docs/CAMPAIGN.md, State)")
    return conn


def _pick(conn: sqlite3.Connection, path: str, campaign: str | None) -> dict[str, Any]:
    cols = ("id", "package", "package_sha256", "version", "seed", "params", "state",
            "paused_reason", "created_wall", "now_virtual")
    sel = f"SELECT {', '.join(cols)} FROM campaign"
    if campaign is None:
        row = conn.execute(sel + " ORDER BY created_wall DESC, rowid DESC LIMIT 1").fetchone()
        if row is None:
            raise UsageError(f"{path} holds no campaign yet")
    else:
        row = conn.execute(sel + " WHERE id = ?", (campaign,)).fetchone()
        if row is None:
            known = [str(r[0]) for r in conn.execute("SELECT id FROM campaign LIMIT 11")]
            listed = ", ".join(short_repr(k) for k in known[:10]) + (", ..." if len(known) > 10
                                                                      else "")
            raise UsageError(f"no campaign {short_repr(campaign)} in {path} "
                             f"({'it holds ' + listed if known else 'it holds none'})")
    return dict(zip(cols, row, strict=True))


_STATES_SQL = ", ".join(f"'{s}'" for s in METER_STATES)
# The state events in SQL (JSON functions, built into SQLite since 3.38):
# the same rule as event_state, without a Python call per event.
_EVENTS_SQL = f"""
SELECT at, wave, meter, state FROM (
  SELECT e.id AS id, e.at_virtual AS at, COALESCE(e.wave, m.wave) AS wave, e.meter AS meter,
    CASE WHEN json_valid(e.detail) AND json_extract(e.detail, '$.state') IN ({_STATES_SQL})
           THEN json_extract(e.detail, '$.state')
         WHEN e.kind IN ({_STATES_SQL}) THEN e.kind END AS state
  FROM events e LEFT JOIN meters m ON m.campaign = e.campaign AND m.meter = e.meter
  WHERE e.campaign = ? AND e.meter IS NOT NULL
    AND typeof(e.at_virtual) IN ('integer', 'real') AND abs(e.at_virtual) < 1e300)
WHERE state IS NOT NULL AND typeof(wave) = 'integer' ORDER BY at, id"""


def state_events(conn: sqlite3.Connection, cid: object, *, use_json_sql: bool = True,
                 ) -> Iterable[tuple[float, int, object, str]]:
    """``(at, wave, meter, state)`` of every state change of a meter, in time
    order (ties by ID). ``use_json_sql`` False (or an SQLite without JSON
    functions) reads each event's detail in Python instead."""
    if use_json_sql:
        try:
            return conn.execute(_EVENTS_SQL, (cid,))
        except sqlite3.OperationalError as exc:
            if "no such function" not in str(exc):
                raise
    out = []
    for at, wave, meter, kind, detail in conn.execute(
            "SELECT e.at_virtual, COALESCE(e.wave, m.wave), e.meter, e.kind, e.detail "
            "FROM events e LEFT JOIN meters m ON m.campaign = e.campaign AND m.meter = e.meter "
            "WHERE e.campaign = ? AND e.meter IS NOT NULL ORDER BY e.at_virtual, e.id", (cid,)):
        t, state = as_float(at), event_state(kind, detail)
        if t is not None and abs(t) < 1e300 and state is not None and isinstance(wave, int) \
                and not isinstance(wave, bool):
            out.append((t, wave, meter, state))
    return out


def timelines(conn: sqlite3.Connection, cid: object, waves: list[dict[str, Any]], *,
              use_json_sql: bool = True,
              ) -> tuple[dict[int, tuple[list[float], dict[str, list[int]]]], float | None]:
    """Per wave, the count of its meters in each state at SAMPLES points of
    virtual time, replayed from the events (a meter starts ``waiting``)."""
    size = {w: n for w, n in conn.execute(
        "SELECT wave, COUNT(*) FROM meters WHERE campaign = ? GROUP BY wave", (cid,))}
    ends = {w["wave"]: as_float(w["ended_virtual"]) for w in waves}
    per_wave: dict[int, list[tuple[float, object, str]]] = {}
    for at, wave, meter, state in state_events(conn, cid, use_json_sql=use_json_sql):
        per_wave.setdefault(wave, []).append((float(at), meter, state))
    if not per_wave:
        return {}, None
    start = min(ev[0][0] for ev in per_wave.values())
    out = {}
    for wave, ev in sorted(per_wave.items()):
        t0, t1 = ev[0][0], ev[-1][0]
        end = ends.get(wave)
        if end is not None and end > t1:
            t1 = end
        t1 = max(t1, t0 + 60)  # a wave of one instant still gets a width
        times = [t0 + (t1 - t0) * k / (SAMPLES - 1) for k in range(SAMPLES)]
        counts: Counter[str] = Counter({"waiting": int(size.get(wave, 0))})
        current: dict[object, str] = {}
        series: dict[str, list[int]] = {s: [] for s in METER_STATES}
        i = 0
        for t in times:
            while i < len(ev) and ev[i][0] <= t:
                _, meter, state = ev[i]
                old = current.get(meter)
                if old is not None:
                    counts[old] -= 1
                elif counts["waiting"] > 0:
                    counts["waiting"] -= 1
                counts[state] += 1
                current[meter] = state
                i += 1
            for s in METER_STATES:
                series[s].append(counts[s])
        out[wave] = ([(t - start) / 3600 for t in times], series)
    return out, start


def _read(conn: sqlite3.Connection, path: str, campaign: str | None) -> Report:
    camp = _pick(conn, path, campaign)
    cid = camp["id"]
    try:
        params = json.loads(camp["params"]) if isinstance(camp["params"], str) else {}
    except ValueError:
        params = {}
    params = params if isinstance(params, dict) else {}
    cap = as_float(params.get("cap"))
    cap = cap if cap is not None and 0 < cap <= 1 else DEFAULT_CAP
    by_state = dict(conn.execute(
        "SELECT state, COUNT(*) FROM meters WHERE campaign = ? GROUP BY state "
        "ORDER BY COUNT(*) DESC", (cid,)).fetchall())
    waves = [dict(zip(WAVE_COLUMNS, r, strict=True)) for r in conn.execute(
        f"SELECT {', '.join(WAVE_COLUMNS)} FROM waves WHERE campaign = ? ORDER BY wave", (cid,))]
    refused: dict[Any, dict[str, int]] = {}
    for wave, code, n in conn.execute(
            "SELECT wave, last_code, COUNT(*) FROM meters WHERE campaign = ? AND state = "
            "'refused' GROUP BY wave, last_code ORDER BY wave, COUNT(*) DESC", (cid,)):
        refused.setdefault(wave, {})[str(code) if code not in (None, "") else "no code"] = n
    lines, start = timelines(conn, cid, waves)
    codes: dict[str, dict[str, int]] = {}
    for code, state, n in conn.execute(
            "SELECT last_code, state, COUNT(*) FROM meters WHERE campaign = ? AND "
            "last_code IS NOT NULL AND last_code != '' GROUP BY last_code, state", (cid,)):
        codes.setdefault(str(code), {})[str(state)] = n
    ranked = sorted(codes.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    marks = ", ".join("?" * len(FAILED_STATES))
    failed_total = conn.execute(
        f"SELECT COUNT(*) FROM meters WHERE campaign = ? AND state IN ({marks})",
        (cid, *FAILED_STATES)).fetchone()[0]
    fcols = ("meter", "concentrator", "wave", "state", "last_code", "version", "updated_virtual")
    failed = [dict(zip(fcols, r, strict=True)) for r in conn.execute(
        f"SELECT {', '.join(fcols)} FROM meters WHERE campaign = ? AND state IN ({marks}) "
        "ORDER BY wave, meter LIMIT ?", (cid, *FAILED_STATES, FAILED_LIMIT))]
    if failed:
        last = {}
        ids = [f["meter"] for f in failed]
        for meter, kind, detail in conn.execute(
                f"SELECT meter, kind, detail FROM events WHERE campaign = ? AND meter IN "
                f"({', '.join('?' * len(ids))}) ORDER BY at_virtual, id", (cid, *ids)):
            last[meter] = (kind, detail)
        for f in failed:
            f["last_event"] = last.get(f["meter"])
    log_total = conn.execute("SELECT COUNT(*) FROM events WHERE campaign = ? AND meter IS NULL",
                             (cid,)).fetchone()[0]
    log = conn.execute("SELECT at_virtual, wave, kind, detail FROM events WHERE campaign = ? "
                       "AND meter IS NULL ORDER BY id DESC LIMIT ?", (cid, LOG_LIMIT)).fetchall()
    return Report(campaign=camp, params=params, cap=cap, by_state=by_state, waves=waves,
                  refused_by_code=refused, timelines=lines, start_virtual=start,
                  codes=ranked, failed=failed, failed_total=failed_total, log=log[::-1],
                  log_total=log_total, meters_total=sum(by_state.values()))


def read_report(db_path: str | os.PathLike[str], campaign: str | None = None) -> Report:
    """Read one campaign's report (``campaign`` None: the latest created).

    A missing file, a file that is not a campaign database (no such tables,
    or columns missing from them) or an unknown campaign is a
    :class:`~meteremu.errors.UsageError`."""
    conn = connect(db_path)
    path = os.fspath(db_path)
    try:
        conn.execute("BEGIN")  # one read transaction: a consistent snapshot
        try:
            return _read(conn, str(path), campaign)
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc):
                raise
        # text that is not UTF-8: read again, showing what is undecodable as U+FFFD
        conn.text_factory = lambda b: b.decode("utf-8", "replace")
        return _read(conn, str(path), campaign)
    except sqlite3.Error as exc:
        raise UsageError(f"{path} does not hold the campaign schema of docs/CAMPAIGN.md: "
                         f"{exc}") from None
    finally:
        conn.close()
