"""The campaign report as one self-contained HTML file (docs/CAMPAIGN.md, "Report").

:func:`render_html` reads a campaign database (:mod:`.reportdb`, read-only)
and returns one document: inline CSS, inline SVG plots (:mod:`.svg`) and a
few lines of inline script -- no external script, font, image or style, so
the file can be mailed, archived or opened offline. Every string that comes
from the database is escaped; on top of that the document's Content Security
Policy lets only the report's own script run (by its hash) and loads nothing.

The markup is well-formed XML as well as HTML, so tests parse the whole
document with :mod:`xml.etree.ElementTree`.

The inline script checks that every plot was laid out -- each has a data
mark whose ``getBBox`` has a non-empty size -- and records it on ``<body>``:
``data-rendered="ok"`` and ``data-plots`` (what a headless browser check
reads back).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from collections.abc import Iterable

from .._version import __version__
from ..errors import by_code
from .reportdb import FAILED_LIMIT, Report, as_float, read_report
from .svg import clip, esc, hbars, share_bars, stacked_area

__all__ = ["STATE_COLORS", "render_html"]

#: One colour per meter state: greys waiting, blues on the way, green done,
#: yellow/purple/grey not known done, orange and red failed.
STATE_COLORS = {
    "confirmed": "#2ca25f", "activated": "#08519c", "verified": "#3182bd",
    "downloaded": "#6baed6", "sent": "#bdd7e7", "waiting": "#d9d9d9",
    "pending": "#f2c500", "incomplete": "#9e77c9", "unreachable": "#636363",
    "reverted": "#f28e2b", "refused": "#d62728",
}
#: Bottom to top in the state plot: what is done first, what is not yet last.
STACK_ORDER = ("confirmed", "reverted", "refused", "unreachable", "incomplete", "pending",
               "activated", "verified", "downloaded", "sent", "waiting")
OTHER_COLOR = "#999999"

_SCRIPT = """
(function () {
  var plots = document.querySelectorAll("svg.plot");
  var drawn = 0;
  plots.forEach(function (svg) {
    var shown = 0;
    svg.querySelectorAll(".mark").forEach(function (mark) {
      var box = mark.getBBox();
      if (box.width > 0) { if (box.height > 0) { shown += 1; } }
    });
    if (shown > 0) { drawn += 1; }
  });
  document.body.setAttribute("data-plots", String(plots.length));
  document.body.setAttribute("data-rendered", drawn === plots.length ? "ok" : "incomplete");
})();
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
       "img-src 'none'; base-uri 'none'; form-action 'none'")

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2329;
  margin: 0 auto; padding: 16px 24px 40px; max-width: 1040px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px;
  border-bottom: 1px solid #dde1e5; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
table { border-collapse: collapse; margin: 6px 0; } th, td { padding: 3px 9px;
  border-bottom: 1px solid #e6e9ec; text-align: left; vertical-align: top; }
th { background: #f4f6f8; font-weight: 600; } td.n, th.n { text-align: right;
  font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: #5b6670; } dl.facts dd { margin: 0; word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
  background: #e8ecef; } .badge.paused { background: #fde2e1; color: #a4161a; }
.badge.done { background: #dff3e6; color: #1b6e3a; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.legend span { margin-right: 14px; white-space: nowrap; } .muted { color: #6b7680; }
.codes { font-size: 12px; color: #5b6670; }
.codes span { display: block; white-space: nowrap; } td code, dd { overflow-wrap: anywhere; }
#wave-table { font-size: 13px; } td.n { white-space: nowrap; }
td.when, td.wave, th.when { white-space: nowrap; }
svg.plot { display: block; margin: 4px 0 10px; background: #fcfcfd; }
svg .grid { stroke: #e6e9ec; } svg .axis { stroke: #8a949c; }
svg .tick, svg .value, svg .row-label { font-size: 11px; fill: #3c464f; }
svg .axis-label { font-size: 11px; fill: #5b6670; }
svg .share { fill: #3182bd; } svg .share.over { fill: #d62728; }
svg .cap { stroke: #d62728; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .value.inside { fill: #fff; }
svg .cap-label { font-size: 11px; fill: #d62728; font-weight: 600; }
footer { margin-top: 32px; color: #8a949c; font-size: 12px; }
"""


def _color(state: str) -> str:
    return STATE_COLORS.get(state, OTHER_COLOR)


def _wave_name(wave: object) -> str:
    return "canary" if wave == 0 else f"wave {wave}"


def _when(value: object, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    """A virtual time (seconds since the Unix epoch) in UTC; anything else as is."""
    t = as_float(value)
    if t is None:
        return "—" if value is None else esc(value)
    try:
        return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return esc(value)


_SHORT = "%m-%d %H:%M"


def _cell(value: object) -> str:
    return "—" if value is None else esc(value)


def _duration(value: object) -> str:
    s = as_float(value)
    if s is None:
        return _cell(value)
    if s < 120:
        return f"{s:.1f} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min" if s >= 3600 else f"{s / 60:.1f} min"


def _share(value: object) -> str:
    s = as_float(value)
    return _cell(value) if s is None else f"{s * 100:.1f} %"


def _code_label(code: str) -> str:
    try:
        return f"{code} {by_code(code).name}"
    except KeyError:
        return code


def _table(head: Iterable[tuple[str, str]], rows: Iterable[str], **attrs: str) -> str:
    a = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    th = "".join(f'<th class="{c}">{t}</th>' if c else f"<th>{t}</th>" for t, c in head)
    return f"<table{a}><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _summary(r: Report) -> str:
    c = r.campaign
    badge = {"paused": "badge paused", "done": "badge done"}.get(str(c["state"]), "badge")
    facts = [("package", f"<code>{_cell(c['package'])}</code>"),
             ("package SHA-256", f"<code>{_cell(c['package_sha256'])}</code>"),
             ("version", _cell(c["version"])),
             ("state", f'<span class="{badge}" id="campaign-state">{_cell(c["state"])}</span>'),
             ("paused because", f'<span id="paused-reason">{_cell(c["paused_reason"])}</span>'),
             ("virtual time now", _when(c["now_virtual"])), ("seed", _cell(c["seed"])),
             ("meters", str(r.meters_total))]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts
                 if k != "paused because" or c["paused_reason"] is not None)
    rows = [f'<tr data-state="{esc(s)}"><td><span class="swatch" style="background:'
            f'{_color(str(s))}"></span>{esc(s)}</td><td class="n">{n}</td>'
            f'<td class="n">{n / max(1, r.meters_total) * 100:.1f} %</td></tr>'
            for s, n in r.by_state.items()]
    return (f'<section id="summary"><h2>Summary</h2><dl class="facts">{dl}</dl>'
            "<h3>Meters by state</h3>"
            + _table((("state", ""), ("meters", "n"), ("share", "n")), rows, id="by-state")
            + "</section>")


def _waves(r: Report) -> str:
    if not r.waves:
        return ('<section id="waves"><h2>Waves</h2><p class="muted" id="no-waves">No wave has '
                "started yet.</p></section>")
    head = [("wave", "when"), ("state", ""), ("meters", "n"), ("updated", "n"), ("reverted", "n"),
            ("refused", "n"), ("pending", "n"), ("incomplete", "n"), ("rounds", "n"),
            ("airtime", "n"), ("FOTA share", "n"), ("started (UTC)", ""), ("ended (UTC)", "")]
    rows = []
    for w in r.waves:
        by_code = r.refused_by_code.get(w["wave"], {})
        codes = "".join(f'<span data-code="{esc(k)}" title="{esc(k)}">{esc(clip(k, 12))}: '
                        f"{n}</span>" for k, n in by_code.items())
        cells = [f'<td class="wave">{esc(_wave_name(w["wave"]))}</td>',
                 f'<td class="state">{_cell(w["state"])}</td>']
        cells += [f'<td class="n {k}">{_cell(w[k])}</td>' for k in
                  ("meters", "updated", "reverted")]
        cells.append(f'<td class="n refused">{_cell(w["refused"])}'
                     + (f'<div class="codes">{codes}</div>' if codes else "") + "</td>")
        cells += [f'<td class="n {k}">{_cell(w[k])}</td>' for k in
                  ("pending", "incomplete", "rounds")]
        cells += [f'<td class="n airtime_s">{_duration(w["airtime_s"])}</td>',
                  f'<td class="n fota_share">{_share(w["fota_share"])}</td>',
                  f'<td class="when">{_when(w["started_virtual"], _SHORT)}</td>',
                  f'<td class="when">{_when(w["ended_virtual"], _SHORT)}</td>']
        rows.append(f'<tr data-wave="{esc(w["wave"])}">{"".join(cells)}</tr>')
    return '<section id="waves"><h2>Waves</h2>' + _table(head, rows, id="wave-table") + "</section>"


def _legend(states: Iterable[str]) -> str:
    return '<p class="legend">' + "".join(
        f'<span><span class="swatch" style="background:{_color(s)}"></span>{esc(s)}</span>'
        for s in states) + "</p>"


def _timeline(r: Report) -> str:
    out = ['<section id="timeline"><h2>Meters by state over virtual time</h2>']
    if not r.timelines:
        out.append('<p class="muted">No meter has changed state yet.</p></section>')
        return "".join(out)
    used = [s for s in STACK_ORDER
            if any(any(series[s]) for _, series in r.timelines.values())]
    out.append(f'<p class="muted">Hours since the first event ({_when(r.start_virtual)}), '
               "per wave.</p>" + _legend(used))
    for wave, (hours, series) in r.timelines.items():
        name = _wave_name(wave)
        ordered = {s: series[s] for s in STACK_ORDER if s in used}
        out.append(f"<h3>{esc(name)}</h3>" + stacked_area(
            hours, ordered, STATE_COLORS, label=f"{name}: meters by state over virtual time",
            x_label="hours of virtual time since the campaign's first event"))
    out.append("</section>")
    return "".join(out)


def _airtime(r: Report) -> str:
    out = ['<section id="airtime"><h2>Airtime: FOTA share per wave</h2>']
    if not r.waves:
        return out[0] + '<p class="muted">No wave yet.</p></section>'
    if all(as_float(w["fota_share"]) is None for w in r.waves):
        return out[0] + '<p class="muted">No wave has an airtime figure yet.</p></section>'
    out.append(f'<p class="muted">The FOTA share of the mesh channel per wave against the '
               f"{r.cap * 100:g} % cap.</p>")
    out.append(share_bars([_wave_name(w["wave"]) for w in r.waves],
                          [as_float(w["fota_share"]) for w in r.waves], r.cap,
                          label="FOTA airtime share per wave against the cap"))
    return "".join(out) + "</section>"


def _codes(r: Report) -> str:
    out = ['<section id="codes"><h2>Outcome by FOTA_ERR code</h2>']
    if not r.codes:
        return out[0] + '<p class="muted">No meter reported a code.</p></section>'
    parts = sorted({p for _, ps in r.codes for p in ps}, key=lambda s: (s not in STATE_COLORS, s))
    colors = {p: _color(p) for p in parts}
    rows = [(_code_label(code), {p: ps.get(p, 0) for p in parts}) for code, ps in r.codes[:20]]
    out.append(_legend(parts) + hbars(rows, colors, label="meters by last FOTA_ERR code"))
    trs = [f'<tr data-code="{esc(code)}"><td><code>{esc(code)}</code></td>'
           f"<td>{esc(_code_label(code)[len(code):].strip())}</td>"
           f'<td class="n">{sum(ps.values())}</td><td>'
           + ", ".join(f"{esc(s)} {n}" for s, n in sorted(ps.items())) + "</td></tr>"
           for code, ps in r.codes]
    out.append(_table((("code", ""), ("name", ""), ("meters", "n"), ("outcome", "")), trs,
                      id="code-table"))
    return "".join(out) + "</section>"


def _failed(r: Report) -> str:
    out = ['<section id="failed"><h2>Failed meters</h2>']
    if not r.failed_total:
        return out[0] + '<p class="muted" id="no-failed">No meter failed.</p></section>'
    rows = []
    for f in r.failed:
        ev = f.get("last_event")
        last = "—" if ev is None else f"{esc(ev[0])} <code>{_cell(ev[1])}</code>"
        rows.append(f'<tr data-meter="{esc(f["meter"])}"><td><code>{esc(f["meter"])}</code></td>'
                    f"<td>{_cell(f['concentrator'])}</td><td>{esc(_wave_name(f['wave']))}</td>"
                    f"<td>{_cell(f['state'])}</td><td><code>{_cell(f['last_code'])}</code></td>"
                    f"<td>{_cell(f['version'])}</td><td>{last}</td></tr>")
    head = [(h, "") for h in ("meter", "concentrator", "wave", "state", "last code",
                              "version", "last event")]
    out.append(_table(head, rows, id="failed-table"))
    more = r.failed_total - len(r.failed)
    if more > 0:
        out.append(f'<p class="muted" id="failed-more" data-more="{more}">… and {more} more '
                   f"(the first {FAILED_LIMIT} are listed).</p>")
    return "".join(out) + "</section>"


def _log(r: Report) -> str:
    out = ['<section id="log"><h2>Campaign log</h2>']
    if not r.log:
        return out[0] + '<p class="muted">No campaign event yet.</p></section>'
    if r.log_total > len(r.log):
        out.append(f'<p class="muted">The last {len(r.log)} of {r.log_total} events.</p>')
    rows = [f'<tr><td class="mono">{_when(at)}</td><td>{"" if wave is None else esc(wave)}</td>'
            f"<td>{_cell(kind)}</td><td><code>{_cell(detail)}</code></td></tr>"
            for at, wave, kind, detail in r.log]
    out.append(_table((("virtual time", ""), ("wave", ""), ("event", ""), ("detail", "")),
                      rows, id="log-table"))
    return "".join(out) + "</section>"


def render(r: Report) -> str:
    """The HTML document of a report already read."""
    title = f"Campaign {r.campaign['id']}"
    body = "".join((_summary(r), _waves(r), _timeline(r), _airtime(r), _codes(r), _failed(r),
                    _log(r)))
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8"/>'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}"/>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
            f"<title>{esc(title)} · meteremu</title><style>{_CSS}</style></head>"
            f'<body><h1>Campaign <code>{esc(r.campaign["id"])}</code></h1>{body}'
            f"<footer>meteremu {esc(__version__)} · virtual time in UTC · figures read from "
            f"the campaign database</footer><script>{_SCRIPT}</script></body></html>\n")


def render_html(db_path: str | os.PathLike[str], campaign: str | None = None) -> str:
    """One campaign of ``db_path`` as a self-contained HTML document.

    ``campaign`` None takes the latest created (the only one, usually). A
    missing database, one without the campaign tables, or an unknown
    campaign is a :class:`~meteremu.errors.UsageError`; the database is only
    read."""
    return render(read_report(db_path, campaign))

