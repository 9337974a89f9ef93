"""Inline SVG plots for the campaign report (:mod:`.html`).

Each function returns one ``<svg class="plot">`` element as text, its data
drawn as elements of class ``mark`` (what the report's script checks): no scripts,
no external references, every label escaped with :func:`esc`. The markup is
well-formed XML too, so a test can parse every plot with
:mod:`xml.etree.ElementTree`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence

__all__ = ["clip", "esc", "hbars", "share_bars", "stacked_area", "ticks"]

# Characters XML 1.0 forbids (and HTML renders as garbage): C0 controls other
# than tab, LF and CR, lone surrogates, and the two non-characters U+FFFE/FFFF.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(value: object) -> str:
    """``value`` as text safe in an element's content or a quoted attribute.

    Everything the report shows from the database goes through here: meter
    IDs, codes and event details are untrusted."""
    text = html.escape(_BAD_CHARS.sub("\ufffd", str(value)), quote=True)
    return text.replace("\r", "&#13;")  # a bare CR would be read back as a line feed


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    nice = [m * mag for m in (0.1, 0.2, 0.5, 1, 2, 5, 10)]
    i = next(i for i, v in enumerate(nice) if v >= raw)
    # the smallest round step over raw can miss [lo, hi] altogether (1..40002 in
    # two: 50,000 apart); the next smaller one then fits in the span
    while i > 0 and math.ceil(lo / nice[i]) * nice[i] > hi:
        i -= 1
    step = nice[i]
    first = math.ceil(lo / step) * step
    out = []
    k = 0
    while first + k * step <= hi + step * 1e-9:
        out.append(round(first + k * step, 12))
        k += 1
    return out


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis last): a label must
    fit beside its plot whatever the database holds."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(v: float) -> str:
    """A coordinate, short: two decimals at most."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _label(v: float) -> str:
    return f"{v:g}"


def _open(width: int, height: int, label: str, kind: str) -> str:
    return (f'<svg class="plot" data-plot="{esc(kind)}" xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{esc(label)}"><title>{esc(label)}</title>')


def stacked_area(times: Sequence[float], series: Mapping[str, Sequence[int]],
                 colors: Mapping[str, str], *, label: str, x_label: str,
                 width: int = 960, height: int = 200) -> str:
    """Counts per state stacked over time, one band per state (in ``series``
    order, first at the bottom). ``times`` are the x values of every sample."""
    left, right, top, bottom = 48, 12, 10, 34
    pw, ph = width - left - right, height - top - bottom
    t0, t1 = (times[0], times[-1]) if times else (0.0, 1.0)
    if t1 <= t0:
        t1 = t0 + 1.0
    n = len(times)
    totals = [sum(s[i] for s in series.values()) for i in range(n)]
    ymax = max([*totals, 1])

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return top + ph - v / ymax * ph

    out = [_open(width, height, label, "states")]
    for tv in ticks(0, ymax, 4):
        out.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{_num(y(tv))}" '
                   f'y2="{_num(y(tv))}"/><text class="tick" x="{left - 4}" '
                   f'y="{_num(y(tv) + 3)}" text-anchor="end">{_label(tv)}</text>')
    base = [0] * n
    for state, values in series.items():
        if n == 0 or not any(values):
            continue
        upper = [b + v for b, v in zip(base, values, strict=True)]
        pts = [f"{_num(x(t))},{_num(y(u))}" for t, u in zip(times, upper, strict=True)]
        pts += [f"{_num(x(t))},{_num(y(b))}"
                for t, b in zip(reversed(times), reversed(base), strict=True)]
        last = values[-1]
        out.append(f'<polygon class="band mark" data-state="{esc(state)}" '
                   f'fill="{esc(colors[state])}" points="{" ".join(pts)}">'
                   f"<title>{esc(state)}: {last} at the end</title></polygon>")
        base = upper
    for tv in ticks(t0, t1, 6):
        out.append(f'<line class="axis" x1="{_num(x(tv))}" x2="{_num(x(tv))}" '
                   f'y1="{top + ph}" y2="{top + ph + 4}"/><text class="tick" '
                   f'x="{_num(x(tv))}" y="{top + ph + 15}" text-anchor="middle">'
                   f'{_label(tv)}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" '
               f'y2="{top + ph}"/><text class="axis-label" x="{left + pw / 2:g}" '
               f'y="{height - 4}" text-anchor="middle">{esc(x_label)}</text></svg>')
    return "".join(out)


def share_bars(labels: Sequence[str], shares: Sequence[float | None], cap: float, *,
               label: str, width: int = 960, height: int = 220) -> str:
    """One bar per wave: the FOTA share of the channel, against the ``cap`` line.
    A wave without a share yet (``None``) gets an empty slot."""
    left, right, top, bottom = 48, 64, 12, 34
    pw, ph = width - left - right, height - top - bottom
    known = [s for s in shares if s is not None]
    ymax = max([cap * 1.25, *(s * 1.1 for s in known)])

    def y(v: float) -> float:
        return top + ph - v / ymax * ph

    out = [_open(width, height, label, "airtime")]
    for tv in ticks(0, ymax * 100, 5):
        out.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{_num(y(tv / 100))}" '
                   f'y2="{_num(y(tv / 100))}"/><text class="tick" x="{left - 4}" '
                   f'y="{_num(y(tv / 100) + 3)}" text-anchor="end">{_label(tv)} %</text>')
    slot = pw / max(1, len(labels))
    bw = min(60.0, slot * 0.6)
    for i, (name, share) in enumerate(zip(labels, shares, strict=True)):
        cx = left + slot * (i + 0.5)
        if share is not None:
            cls = "share mark over" if share > cap else "share mark"
            out.append(f'<rect class="{cls}" x="{_num(cx - bw / 2)}" y="{_num(y(share))}" '
                       f'width="{_num(bw)}" height="{_num(y(0) - y(share))}">'
                       f'<title>{esc(name)}: {share * 100:.1f} %</title></rect>'
                       + _bar_value(cx, y(share), y(cap), y(0), f"{share * 100:.1f} %"))
        out.append(f'<text class="tick" x="{_num(cx)}" y="{top + ph + 15}" '
                   f'text-anchor="middle">{esc(name)}</text>')
    out.append(f'<line class="cap" x1="{left}" x2="{left + pw}" y1="{_num(y(cap))}" '
               f'y2="{_num(y(cap))}"/><text class="cap-label" x="{left + pw + 4}" '
               f'y="{_num(y(cap) + 4)}">cap {cap * 100:g} %</text>'
               f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" '
               f'y2="{top + ph}"/></svg>')
    return "".join(out)


def _bar_value(cx: float, top: float, cap_y: float, base: float, text: str) -> str:
    """A bar's value above it, or inside its top where the cap line runs close."""
    inside = abs(top - 3 - cap_y) < 12 and base - top > 16
    ty = top + 12 if inside else top - 3
    cls = "value inside" if inside else "value"
    return (f'<text class="{cls}" x="{_num(cx)}" y="{_num(ty)}" text-anchor="middle">'
            f"{esc(text)}</text>")


def hbars(rows: Sequence[tuple[str, Mapping[str, int]]], colors: Mapping[str, str], *,
          label: str, width: int = 960, row_height: int = 26) -> str:
    """Horizontal bars, one per row, split into parts (e.g. a code's meters by
    outcome); the total at the end of each bar."""
    left, right, top = 260, 60, 8
    height = top * 2 + row_height * max(1, len(rows))
    pw = width - left - right
    vmax = max([sum(parts.values()) for _, parts in rows] + [1])
    out = [_open(width, height, label, "codes")]
    for i, (name, parts) in enumerate(rows):
        y0 = top + i * row_height
        out.append(f'<text class="row-label" x="{left - 6}" y="{y0 + row_height * 0.65:g}" '
                   f'text-anchor="end">{esc(clip(name, 40))}<title>{esc(name)}</title></text>')
        x0 = float(left)
        for part, count in parts.items():
            if count <= 0:
                continue
            w = count / vmax * pw
            out.append(f'<rect class="bar mark" data-part="{esc(part)}" fill="{esc(colors[part])}" '
                       f'x="{_num(x0)}" y="{y0 + 3}" width="{_num(w)}" '
                       f'height="{row_height - 6}"><title>{esc(name)}, {esc(part)}: {count}'
                       f'</title></rect>')
            x0 += w
        out.append(f'<text class="value" x="{_num(x0 + 4)}" y="{y0 + row_height * 0.65:g}">'
                   f'{sum(parts.values())}</text>')
    out.append("</svg>")
    return "".join(out)
