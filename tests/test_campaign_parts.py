"""The campaign's parts against plain models: plan, policy, distributor, store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meteremu.campaign.bus import Ack
from meteremu.campaign.distributor import Distributor
from meteremu.campaign.plan import plan
from meteremu.campaign.policy import Policy
from meteremu.campaign.store import Store
from meteremu.errors import UsageError

fleets = st.dictionaries(st.sampled_from([f"DC{i}" for i in range(8)]),
                         st.integers(0, 60), min_size=1).filter(lambda d: sum(d.values()) > 0)


@given(fleets, st.floats(0.005, 0.3), st.integers(1, 50), st.integers(0, 2**32 - 1))
@settings(max_examples=150)
def test_plan_puts_every_meter_in_one_wave(sizes: dict[str, int], canary: float, wave: int,
                                           seed: int) -> None:
    dcs = {d: [f"{d}M{k}" for k in range(n)] for d, n in sizes.items()}
    total = sum(sizes.values())
    p = plan(dcs, canary=canary, wave=wave, seed=seed)
    assert sorted(p) == sorted(m for ids in dcs.values() for m in ids)
    assert p == plan(dcs, canary=canary, wave=wave, seed=seed)
    picked = [m for m, w in p.items() if w == 0]
    assert len(picked) == max(1, round(canary * total))
    nonempty = [d for d, ids in dcs.items() if ids]
    if len(picked) >= len(nonempty):  # enough canaries: every concentrator gives one
        assert {m.split("M")[0] for m in picked} == set(nonempty)
    counts: dict[int, int] = {}
    for w in p.values():
        counts[w] = counts.get(w, 0) + 1
    assert all(n <= wave for w, n in counts.items() if w)
    assert sorted(counts) == list(range(len(counts)))  # no empty wave in between


def _allowed_model(p: Policy, t: float) -> bool:
    s = t % 86400
    a, b = p.window or (0, 86400)
    inside = a <= s < b if a < b else (s >= a or s < b)
    blacked = any((k == "daily" and ((x <= s < y) if x < y else (s >= x or s < y)))
                  or (k == "once" and x <= t < y) for k, x, y in p.blackouts)
    return inside and not blacked


@given(st.integers(0, 23), st.integers(0, 23), st.integers(0, 23), st.integers(1, 6),
       st.integers(0, 86400 * 3))
@settings(max_examples=150)
def test_next_allowed_is_the_first_allowed_minute(a: int, b: int, c: int, width: int,
                                                  t0: int) -> None:
    if a == b:
        return
    p = Policy(window=(a * 3600, b * 3600), blackouts=[("daily", c * 3600.0,
                                                        ((c + width) % 24) * 3600.0)])
    if all(not _allowed_model(p, m * 60) for m in range(0, 1440)):
        with pytest.raises(UsageError):
            p.next_allowed(t0)
        return
    n = p.next_allowed(t0)
    assert n >= t0 and p.allowed(n) and _allowed_model(p, n)
    probe = t0
    while probe < n:  # nothing allowed before it, minute by minute
        assert not _allowed_model(p, probe)
        probe = (probe // 60 + 1) * 60


@given(st.integers(1, 5), st.lists(st.floats(1, 500), min_size=1, max_size=30))
def test_distributor_keeps_to_its_limit_and_never_idles_a_slot(limit: int,
                                                              lengths: list[float]) -> None:
    work = {f"DC{i:02d}": [f"M{i}"] for i in range(len(lengths))}
    d = Distributor(limit)
    end = d.run(work, 1000.0, lambda dc, ms, at: at + lengths[int(dc[2:])])
    assert Distributor.most_at_once(d.spans) == min(limit, len(lengths))
    assert [s[0] for s in d.spans] == sorted(work)
    # a concentrator waits only for a slot: it starts at once or when another ends,
    # and while it waits every slot is busy
    for dc, start, _ in d.spans:
        if start > 1000.0:
            assert any(e == start for o, _, e in d.spans if o != dc)
            before = sum(1 for o, s, e in d.spans if o != dc and s < start < e + 1e-9
                         and s <= start - 1e-6)
            assert before >= limit
    assert end == max(e for _, _, e in d.spans)


def _store(tmp: Path) -> Store:
    s = Store.open(tmp / "c.sqlite")
    s.create("c", package="p", sha256="00", version="2.0.0", seed=0, params={}, now=0.0,
             meters=[("M1", "DC1", 0), ("M2", "DC1", 1)], waves=2)
    return s


def _ack(state: str, seq: int, meter: str = "M1", code: str | None = None) -> Ack:
    return Ack("c", "DC1", meter, state, seq, 10.0 * seq, "2.0.0", code)


def test_acks_repeated_reordered_or_late_change_nothing(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.apply_ack("c", _ack("verified", 1))
    assert s.apply_ack("c", _ack("activated", 3))
    assert not s.apply_ack("c", _ack("verified", 1))  # a repeat
    assert not s.apply_ack("c", _ack("downloaded", 2))  # older than the last seen
    assert s.meter("c", "M1").state == "activated"
    assert s.apply_ack("c", _ack("verified", 4))  # news, but behind: logged, not recorded
    assert s.meter("c", "M1").state == "activated"
    assert s.apply_ack("c", _ack("confirmed", 5))
    assert (s.meter("c", "M1").state, s.meter("c", "M1").source) == ("confirmed", "ack")


def test_a_failure_ack_is_never_recorded_as_a_failure(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.apply_ack("c", _ack("refused", 1, "M2", "0x8004"))
    assert s.apply_ack("c", _ack("reverted", 2, "M2"))
    row = s.meter("c", "M2")
    assert row.state == "waiting" and row.acked_seq == 2  # the head-end will read it
    logged = [e["detail"] for e in s.events("c", "ack")]
    assert [d["recorded"] for d in logged] == [False, False]


def test_database_errors_are_usage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError, match="not a campaign database"):
        Store.open(junk)
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as c:
        c.execute("PRAGMA user_version=99")
    with pytest.raises(UsageError, match="newer"):
        Store.open(newer)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    with pytest.raises(UsageError, match="no campaign tables"):
        Store.open(other, create=False)
    with sqlite3.connect(other) as c:  # and nothing was added to it
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master")] == ["t"]
    s = _store(tmp_path)
    with pytest.raises(UsageError, match="already holds"):
        s.create("c", package="p", sha256="00", version="2", seed=0, params={}, now=0.0,
                 meters=[], waves=1)
    with pytest.raises(UsageError, match="no campaign 'x'"):
        s.campaign("x")
