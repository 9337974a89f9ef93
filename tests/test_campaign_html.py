"""The campaign's HTML report: one well-formed, self-contained document whose
figures are the database's, with every string from the database inert."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser

import pytest
from campaignkit import HOSTILE, make_campaign_db, schema
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meteremu.campaign.html import render_html
from meteremu.campaign.reportdb import FAILED_LIMIT, METER_STATES, read_report, state_events
from meteremu.campaign.svg import ticks
from meteremu.errors import UsageError

SVG = "{http://www.w3.org/2000/svg}"


def parse(doc: str) -> ET.Element:
    """The document as XML (the report is well-formed XML as well as HTML)."""
    head, rest = doc.split("\n", 1)
    assert head == "<!DOCTYPE html>"
    return ET.fromstring(rest)


def by_id(root: ET.Element, ident: str) -> ET.Element:
    found = [e for e in root.iter() if e.get("id") == ident]
    assert len(found) == 1, ident
    return found[0]


def text(e: ET.Element) -> str:
    return "".join(e.itertext())


class Balance(HTMLParser):
    """Every element closed in order, as a browser's parser sees the document."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


@pytest.fixture
def kit(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite")
    return db, render_html(db.path)


def test_one_well_formed_self_contained_document(kit):
    db, doc = kit
    root = parse(doc)
    checker = Balance()
    checker.feed(doc)
    checker.close()
    assert checker.stack == []
    # nothing fetched from anywhere: no reference attribute, no stylesheet link,
    # no url() or @import in the CSS
    for e in root.iter():
        assert not {"src", "href", "xlink:href", "srcset", "action"} & set(e.attrib), e.tag
        assert e.tag not in ("link", "iframe", "object", "embed", "img")
    style = text(root.find("head/style"))
    assert "url(" not in style and "@import" not in style
    # one script, the report's own, and the policy allows that one only
    scripts = [e for e in root.iter() if e.tag == "script"]
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].text.encode()).digest()).decode()
    csp = [m.get("content") for m in root.iter("meta")
           if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and f"script-src 'sha256-{digest}'" in csp[0]
    assert "default-src 'none'" in csp[0]
    # the plots: one per wave for the states, the airtime share, the codes
    kinds = Counter(s.get("data-plot") for s in root.iter(SVG + "svg"))
    assert kinds == {"states": len(db.waves), "airtime": 1, "codes": 1}


def test_wave_table_is_the_database(kit):
    db, doc = kit
    table = by_id(parse(doc), "wave-table")
    rows = {r.get("data-wave"): r for r in table.iter("tr") if r.get("data-wave") is not None}
    conn = sqlite3.connect(db.path)
    waves = conn.execute("SELECT wave, meters, updated, reverted, refused, pending, incomplete, "
                         "rounds, fota_share FROM waves WHERE campaign = ?", (db.campaign,))
    seen = 0
    for wave, *numbers, share in waves:
        row = rows[str(wave)]
        cells = {c.get("class").split()[-1]: c for c in row.iter("td")}
        for name, value in zip(("meters", "updated", "reverted", "refused", "pending",
                                "incomplete", "rounds"), numbers, strict=True):
            assert cells[name].text == str(value), (wave, name)
        assert text(cells["fota_share"]) == f"{share * 100:.1f} %"
        # refused by code: the meters table's refusals of this wave, code by code
        codes = dict(conn.execute("SELECT last_code, COUNT(*) FROM meters WHERE campaign = ? "
                                  "AND wave = ? AND state = 'refused' GROUP BY last_code",
                                  (db.campaign, wave)).fetchall())
        shown = {s.get("data-code"): text(s).rsplit(": ", 1)[1] for s in row.iter("span")}
        assert shown == {str(k): str(n) for k, n in codes.items()}
        seen += 1
    assert seen == len(rows) == 4
    # and the kit's own truth: wave 1 refused 0x8004 twice and 0x9003 once
    assert {m.code for m in db.in_wave(1) if m.state == "refused"} == {"0x8004", "0x9003"}


def test_summary_and_codes_are_the_database(kit):
    db, doc = kit
    root = parse(doc)
    states = {r.get("data-state"): int(text(r.findall("td")[1]))
              for r in by_id(root, "by-state").iter("tr") if r.get("data-state")}
    assert states == Counter(m.state for m in db.meters)
    codes = {r.get("data-code"): int(text(r.findall("td")[2]))
             for r in by_id(root, "code-table").iter("tr") if r.get("data-code")}
    assert codes == Counter(m.code for m in db.meters if m.code)
    assert "hardware revision mismatch" in text(by_id(root, "code-table"))
    failed = [r.get("data-meter") for r in by_id(root, "failed-table").iter("tr")
              if r.get("data-meter")]
    assert sorted(failed) == sorted(m.meter for m in db.meters
                                    if m.state in ("refused", "reverted"))
    assert text(by_id(root, "campaign-state")) == "waves"


def test_states_over_time_replay_the_events(kit):
    """The state plot's model: a wave's meters are all counted at every point,
    and at the end each meter is in the state it reached."""
    db, _ = kit
    report = read_report(db.path)
    assert sorted(report.timelines) == sorted(db.waves)
    for wave, (hours, series) in report.timelines.items():
        size = len(db.in_wave(wave))
        assert hours == sorted(hours)
        assert all(sum(series[s][k] for s in METER_STATES) == size for k in range(len(hours)))
        assert all(v >= 0 for s in METER_STATES for v in series[s])
        end = {s: series[s][-1] for s in METER_STATES if series[s][-1]}
        assert end == Counter(m.state for m in db.in_wave(wave))
        start = {s: series[s][0] for s in METER_STATES if series[s][0]}
        assert set(start) <= {"waiting", "sent"}


def test_airtime_bars_against_the_cap(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite")
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE waves SET fota_share = 0.41 WHERE wave = 2")
    svg = next(s for s in parse(render_html(db.path)).iter(SVG + "svg")
           if s.get("data-plot") == "airtime")
    bars = [r for r in svg.iter(SVG + "rect") if "share" in r.get("class", "").split()]
    assert len(bars) == len(db.waves)
    over = [text(b) for b in bars if "over" in b.get("class").split()]
    assert over == ["wave 2: 41.0 %"]
    assert "cap 30 %" in text(svg)


def test_hostile_strings_from_the_database_are_text(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite", hostile=HOSTILE, paused_reason=HOSTILE)
    doc = render_html(db.path)
    root = parse(doc)
    assert [e.tag for e in root.iter() if e.tag in ("script", "img")] == ["script"]
    assert not [a for e in root.iter() for a in e.attrib if a.lower().startswith("on")]
    assert text(by_id(root, "paused-reason")) == HOSTILE
    failed = {r.get("data-meter") for r in by_id(root, "failed-table").iter("tr")}
    assert f"M-{HOSTILE}" in failed
    assert HOSTILE in text(by_id(root, "code-table"))
    assert HOSTILE in {r.get("data-state") for r in by_id(root, "by-state").iter("tr")}
    wave2 = next(r for r in by_id(root, "wave-table").iter("tr") if r.get("data-wave") == "2")
    assert text(next(c for c in wave2.iter("td") if c.get("class") == "state")) == HOSTILE
    assert HOSTILE in text(by_id(root, "codes"))  # the plot's legend
    assert HOSTILE in text(root.find("body"))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_string_renders_as_itself(tmp_path, value):
    """Any text in the database (markup, quotes, control characters) leaves the
    document well-formed and reads back as itself (XML's forbidden characters
    as U+FFFD)."""
    path = tmp_path / "h.sqlite"
    path.unlink(missing_ok=True)
    make_campaign_db(path, canary=0, waves=1, per_wave=10, hostile=value, paused_reason=value)
    root = parse(render_html(path))
    shown = text(by_id(root, "paused-reason"))
    assert len(shown) == len(value)
    assert all(a == b or b == "\ufffd" for a, b in zip(value, shown, strict=True))
    assert len([e for e in root.iter() if e.tag == "script"]) == 1


def test_a_campaign_without_waves_still_renders(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite", canary=0, waves=0)
    root = parse(render_html(db.path))
    assert text(by_id(root, "no-waves")) == "No wave has started yet."
    assert text(by_id(root, "no-failed")) == "No meter failed."
    assert [s for s in root.iter(SVG + "svg")] == []
    assert text(by_id(root, "campaign-state")) == "planned"
    rows = [r.get("data-state") for r in by_id(root, "by-state").iter("tr") if r.get("data-state")]
    assert rows == ["waiting"]


def test_failed_list_is_limited_and_says_how_many_more(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite", per_wave=200, running_last=False)
    failed = sum(m.state in ("refused", "reverted") for m in db.meters)
    assert failed > FAILED_LIMIT
    root = parse(render_html(db.path))
    rows = [r for r in by_id(root, "failed-table").iter("tr") if r.get("data-meter")]
    assert len(rows) == FAILED_LIMIT
    assert by_id(root, "failed-more").get("data-more") == str(failed - FAILED_LIMIT)
    assert text(by_id(root, "campaign-state")) == "done"


def test_latest_campaign_by_default_any_by_name(tmp_path):
    path = tmp_path / "c.sqlite"
    make_campaign_db(path, campaign="old", created_wall=1.0e9)
    make_campaign_db(path, campaign="new", created_wall=2.0e9, waves=1)
    assert "Campaign <code>new</code>" in render_html(path)
    assert "Campaign <code>old</code>" in render_html(path, "old")


def test_odd_values_render_as_stored(tmp_path):
    """Columns SQLite lets hold anything: text in a number column is shown as
    stored and left out of the plots; NULLs are shown as a dash."""
    db = make_campaign_db(tmp_path / "c.sqlite")
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE waves SET fota_share = 'n/a', airtime_s = NULL WHERE wave = 1")
        conn.execute("UPDATE events SET at_virtual = 'soon' WHERE id = 5")
    root = parse(render_html(db.path))
    row = next(r for r in by_id(root, "wave-table").iter("tr") if r.get("data-wave") == "1")
    cells = {c.get("class").split()[-1]: text(c) for c in row.iter("td")}
    assert (cells["fota_share"], cells["airtime_s"]) == ("n/a", "—")
    svg = next(s for s in root.iter(SVG + "svg") if s.get("data-plot") == "airtime")
    assert len([r for r in svg.iter(SVG + "rect")]) == len(db.waves) - 1


def test_bad_databases_are_usage_errors_and_stay_unchanged(tmp_path):
    with pytest.raises(UsageError, match="no campaign database"):
        render_html(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError, match="not a campaign database"):
        render_html(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE campaign (id TEXT)")
    with pytest.raises(UsageError, match="no table meters, waves, events"):
        render_html(other)
    db = make_campaign_db(tmp_path / "c.sqlite")
    before = db.path.read_bytes()
    with pytest.raises(UsageError, match=r"no campaign 'nope' in .*\(it holds 'spring-2026'\)"):
        render_html(db.path, "nope")
    render_html(db.path)
    assert db.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite", "junk.sqlite",
                                                           "other.sqlite"]
    with sqlite3.connect(db.path) as conn:
        conn.execute("ALTER TABLE waves DROP COLUMN fota_share")
    with pytest.raises(UsageError, match="does not hold the campaign schema"):
        render_html(db.path)
    with sqlite3.connect(db.path) as conn:
        conn.execute("DELETE FROM campaign")
    with pytest.raises(UsageError, match="holds no campaign yet"):
        render_html(db.path)


_DETAILS = st.one_of(
    st.none(), st.just("{not json"), st.just("[1, 2]"), st.just("17"),
    st.sampled_from([*METER_STATES, "bogus"]).map(lambda s: json.dumps({"state": s})),
    st.just('{"state": ["confirmed"]}'), st.just('{"code": "0x8004"}'))
_EVENTS = st.lists(st.tuples(
    st.one_of(st.floats(allow_nan=False), st.integers(-10**6, 10**6), st.none(), st.just("x")),
    st.one_of(st.none(), st.integers(0, 3), st.just("w")),
    st.sampled_from(["M1", "M2", "M3", "M-unknown"]),
    st.sampled_from([*METER_STATES[:4], "ack", "read", "bogus"]),
    _DETAILS), max_size=30)


@settings(max_examples=60)
@given(_EVENTS)
def test_state_events_in_sql_are_the_python_rule(events):
    """The events' states read by SQL's JSON functions (the fast path) are
    those :func:`event_state` reads in Python, event for event."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(schema())
    conn.executemany("INSERT INTO meters (campaign, meter, wave, state) VALUES ('c', ?, ?, "
                     "'waiting')", [("M1", 1), ("M2", 2), ("M3", None)])
    conn.executemany("INSERT INTO events (campaign, at_virtual, wave, meter, kind, detail) "
                     "VALUES ('c', ?, ?, ?, ?, ?)", events)
    assert conn.execute("SELECT json_valid('{}')").fetchone() == (1,)  # the fast path runs
    fast = [tuple(r) for r in state_events(conn, "c")]
    slow = [tuple(r) for r in state_events(conn, "c", use_json_sql=False)]
    assert fast == slow
    assert all(s in METER_STATES for *_, s in fast)


def test_text_that_is_not_utf8_shows_as_replacement(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite")
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE meters SET meter = CAST(x'4dff41' AS TEXT) WHERE meter = 'M01-0003'")
    root = parse(render_html(db.path))
    failed = {r.get("data-meter") for r in by_id(root, "failed-table").iter("tr")}
    assert "M\ufffdA" in failed


def test_report_while_the_campaign_writes(tmp_path):
    """WAL mode, a writer in the middle of a transaction: the report shows what
    was committed, and the writer carries on."""
    db = make_campaign_db(tmp_path / "c.sqlite")
    writer = sqlite3.connect(db.path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("UPDATE campaign SET state = 'paused', paused_reason = 'error rate'")
    writer.commit()
    writer.execute("BEGIN")
    writer.execute("UPDATE campaign SET state = 'done'")
    root = parse(render_html(db.path))
    assert text(by_id(root, "campaign-state")) == "paused"
    writer.commit()
    writer.close()
    assert text(by_id(parse(render_html(db.path)), "campaign-state")) == "done"


@example(1.0, 40001.0, 2)  # the smallest round step over span / count misses the range
@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6), st.integers(2, 8))
def test_ticks_are_round_and_cover_the_range(lo, span, count):
    hi = lo + span
    values = ticks(lo, hi, count)
    assert values and all(lo - 1e-6 * span <= v <= hi + 1e-6 * span for v in values)
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(values) <= 2 * count + 1 and len(steps) <= 2  # float rounding aside
    assert ticks(5.0, 5.0) == [5.0]


def test_a_wave_of_one_instant_and_a_wave_without_airtime(tmp_path):
    db = make_campaign_db(tmp_path / "c.sqlite", waves=1)
    with sqlite3.connect(db.path) as conn:
        conn.execute("UPDATE events SET at_virtual = 1.8e9 WHERE wave = 1")
        conn.execute("UPDATE waves SET fota_share = NULL")
    hours, _ = read_report(db.path).timelines[1]
    assert hours[-1] > hours[0]
    root = parse(render_html(db.path))
    assert "airtime" not in {s.get("data-plot") for s in root.iter(SVG + "svg")}
    assert "No wave has an airtime figure yet." in text(by_id(root, "airtime"))


def test_markup_in_every_column_stays_text(tmp_path):
    """Markup appended to every text column of every table, and put in place of
    a number in every number column of some rows: the document keeps its own
    elements only."""
    db = make_campaign_db(tmp_path / "c.sqlite", paused_reason="x")
    with sqlite3.connect(db.path) as conn:
        for table in ("campaign", "meters", "waves", "events"):
            for _, col, kind, *_ in conn.execute(f"PRAGMA table_info({table})").fetchall():
                if kind == "TEXT":
                    conn.execute(f"UPDATE {table} SET {col} = {col} || ?", (HOSTILE,))
                elif col != "id":
                    conn.execute(f"UPDATE {table} SET {col} = ? WHERE rowid % 3 = 0", (HOSTILE,))
    doc = render_html(db.path)
    clean = render_html(make_campaign_db(tmp_path / "d.sqlite", paused_reason="x").path)
    tags = Counter(e.tag for e in parse(doc).iter())
    assert tags["script"] == 1 and "img" not in tags
    assert set(tags) <= {e.tag for e in parse(clean).iter()}
    assert not [a for e in parse(doc).iter() for a in e.attrib if a.lower().startswith("on")]
    assert doc.count(HOSTILE) == 0  # every one escaped
