"""The campaign report in a real browser: headless Chromium loads the file,
runs its script, lays the plots out and paints them.

Chromium is the Debian package ``chromium`` (.ci/run installs it); without a
chromium binary these tests are skipped. Each run gets its own profile
directory and a timeout; whatever is still running at teardown is killed by
its process group, the one the test started.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pngkit
import pytest
from campaignkit import HOSTILE, make_campaign_db

from meteremu.campaign.html import STATE_COLORS, render_html

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
TIMEOUT_S = 120
Run = Callable[..., tuple[str, str]]

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium; "
                             ".ci/run installs it)")


class Dom(HTMLParser):
    """What the tests read back from the rendered DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str | None] = {}
        self.plots: list[str | None] = []
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "svg" and "plot" in (a.get("class") or "").split():
            self.plots.append(a.get("data-plot"))
        elif tag == "script":
            self.scripts += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def dom(dump: str) -> Dom:
    d = Dom()
    d.feed(dump)
    d.close()
    return d


def console(stderr: str) -> list[str]:
    """The page's console messages (Chromium logs them to stderr as CONSOLE)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Run]:
    started: list[subprocess.Popen[str]] = []

    def run(page: Path, *args: str) -> tuple[str, str]:
        profile = tmp_path / f"profile-{len(started)}"
        cmd = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
               *args, page.as_uri()]
        # its own session: the browser's helper processes share its group
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        started.append(proc)
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"chromium did not finish within {TIMEOUT_S} s")
        assert proc.returncode == 0, err[-2000:]
        return out, err

    yield run
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def write_report(tmp_path: Path, **kit: object) -> tuple[Path, int]:
    """The report of a kit database as a file, and the number of waves in it."""
    db = make_campaign_db(tmp_path / "c.sqlite", **kit)  # type: ignore[arg-type]
    page = tmp_path / "report.html"
    page.write_text(render_html(db.path), encoding="utf-8")
    return page, len(db.waves)


@needs_chromium
def test_the_report_runs_and_lays_out_its_plots(tmp_path, chromium):
    page, waves = write_report(tmp_path, hostile=HOSTILE, paused_reason=HOSTILE)
    out, err = chromium(page, "--dump-dom")
    d = dom(out)
    # the report's script ran and found every plot laid out with a size
    assert d.body.get("data-rendered") == "ok", d.body
    assert d.body.get("data-plots") == str(waves + 2)
    assert sorted(map(str, d.plots)) == sorted(["airtime", "codes"] + ["states"] * waves)
    # the database's markup stayed text: it ran nothing and shows as written
    assert "data-pwned" not in d.body
    assert d.scripts == 1
    assert HOSTILE in "".join(d.text)
    assert console(err) == []


@needs_chromium
def test_the_policy_stops_a_script_that_got_in(tmp_path, chromium):
    """Defence in depth: were a string ever left unescaped, the page's policy
    would still refuse to run any script but the report's own."""
    page, _ = write_report(tmp_path)
    doc = page.read_text(encoding="utf-8")
    page.write_text(doc.replace("</h1>", '</h1><script>document.body.dataset.pwned = "1";'
                                "</script>", 1), encoding="utf-8")
    out, err = chromium(page, "--dump-dom")
    d = dom(out)
    assert "data-pwned" not in d.body
    assert d.body.get("data-rendered") == "ok"
    assert any("Content Security Policy" in line for line in console(err)), err[-2000:]


@needs_chromium
def test_a_plot_drawn_empty_is_reported(tmp_path, chromium):
    """The script's check is not a formality: a plot whose marks are gone (here
    the airtime bars lose their class) leaves the report marked incomplete."""
    page, _ = write_report(tmp_path)
    doc = page.read_text(encoding="utf-8")
    page.write_text(doc.replace('class="share mark', 'class="share'), encoding="utf-8")
    out, _ = chromium(page, "--dump-dom")
    assert dom(out).body.get("data-rendered") == "incomplete"


@needs_chromium
def test_a_campaign_without_waves_renders(tmp_path, chromium):
    page, _ = write_report(tmp_path, canary=0, waves=0)
    out, err = chromium(page, "--dump-dom")
    d = dom(out)
    assert (d.body.get("data-rendered"), d.body.get("data-plots")) == ("ok", "0")
    assert "No wave has started yet." in "".join(d.text)
    assert console(err) == []


@needs_chromium
def test_the_screenshot_shows_the_plots(tmp_path, chromium):
    page, _ = write_report(tmp_path, paused_reason="error rate 17.6 % in wave 2")
    shot = tmp_path / "report.png"
    _, err = chromium(page, f"--screenshot={shot}", "--window-size=1100,2600",
                      "--force-device-scale-factor=1")
    assert console(err) == []
    width, height, bpp, rows = pngkit.decode(shot.read_bytes())
    assert (width, height) == (1100, 2600)
    seen = pngkit.colours(rows, bpp)
    assert len(seen) > 50, "the screenshot is (nearly) one colour"
    # the state bands, the failures and the bars are painted in their colours
    for state in ("confirmed", "refused", "reverted", "sent"):
        rgb = bytes.fromhex(STATE_COLORS[state][1:])
        assert seen.get(rgb, 0) > 200, state
    # text was drawn: dark pixels (headings, tables) on the white page
    dark = sum(n for px, n in seen.items() if max(px) < 80)
    assert dark > 2000


def test_png_reader_reads_every_filter():
    """The screenshot check's PNG reader against the writer, every row filter."""
    rng = random.Random(12)
    for bpp in (3, 4):
        rows = [bytes(rng.randrange(256) for _ in range(9 * bpp)) for _ in range(15)]
        data = pngkit.encode(rows, 9, bpp, [y % 5 for y in range(15)])
        assert pngkit.decode(data) == (9, 15, bpp, rows)


def test_console_lines_are_recognised():
    line = ('[1:1:1130/0:INFO:CONSOLE:1] "Uncaught ReferenceError: x is not defined", '
            "source: file:///tmp/report.html (1)")
    assert console(f"noise\n{line}\n[1:1:0:ERROR:dbus/bus.cc:405] Failed") == [line]
