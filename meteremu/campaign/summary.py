"""A campaign's summary from its database: what ``meteremu campaign status``
and ``report`` print, and their ``--json``."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .store import FINAL, Store

__all__ = ["summary", "virtual_time"]


def virtual_time(t: float | None) -> str:
    if t is None:
        return "-"
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def summary(store: Store, cid: str | None = None) -> dict[str, Any]:
    c = store.campaign(cid)
    cid = c["id"]
    rows = store.meters(cid)
    by_code: dict[int, dict[str, int]] = {}
    for r in rows:
        if r.state == "refused":
            d = by_code.setdefault(r.wave, {})
            d[r.last_code or "?"] = d.get(r.last_code or "?", 0) + 1
    waves = []
    for w in store.waves(cid):
        waves.append({
            "wave": w["wave"], "kind": "canary" if w["wave"] == 0 else "wave",
            "state": w["state"], "meters": w["meters"], "updated": w["updated"],
            "reverted": w["reverted"], "refused": w["refused"],
            "refused_by_code": dict(sorted(by_code.get(w["wave"], {}).items())),
            "pending": w["pending"], "incomplete": w["incomplete"], "rounds": w["rounds"],
            "airtime_s": round(w["airtime_s"] or 0.0, 3),
            "fota_share": round(w["fota_share"] or 0.0, 4),
            "started": virtual_time(w["started_virtual"]),
            "ended": virtual_time(w["ended_virtual"])})
    failures: dict[str, dict[str, Any]] = {}
    for e in store.events(cid, "failure"):
        failures[e["meter"]] = {"meter": e["meter"], "wave": e["wave"],
                                "code": e["detail"].get("code"),
                                "audit": e["detail"].get("audit")}
    still = {r.meter for r in rows if r.state in ("refused", "reverted")}
    acks = store.events(cid, "ack")
    reads = store.events(cid, "read")
    soak = [e["detail"] for e in store.events(cid, "soak") if e["detail"].get("state") == "done"]
    counts = store.counts(cid)
    return {
        "campaign": cid, "package": c["package"], "package_sha256": c["package_sha256"],
        "version": c["version"], "seed": c["seed"], "state": c["state"],
        "paused_reason": c["paused_reason"], "now": virtual_time(c["now_virtual"]),
        "meters": len(rows), "states": dict(sorted(counts.items())),
        "done": sum(v for k, v in counts.items() if k in FINAL),
        "waves": waves,
        "acks": {"received": len(acks),
                 "recorded": sum(1 for e in acks if e["detail"].get("recorded"))},
        "settled_by_read": len({e["meter"] for e in reads}),
        "soak": soak[-1] if soak else None,
        "failures": [failures[m] for m in sorted(failures) if m in still],
        "params": c["params"].get("engine", {}),
        "policy": c["params"].get("policy", {}),
    }
