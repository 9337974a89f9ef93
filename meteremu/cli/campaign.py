"""The ``campaign`` commands: ``run``, ``status``, ``resume``, ``report``.

``meteremu campaign run --package fw.pkg --meters 2000`` rolls the package
out to a simulated fleet (generated from ``--seed``, or ``--fleet FILE``): a
canary, a 24 h soak of virtual time, then waves, with the state in SQLite
(``--db``, default ``campaign.sqlite``) and each meter's flash in the state
directory beside it, so a head-end killed at any point goes on with
``meteremu campaign resume``. See docs/CAMPAIGN.md.

Exit status (:mod:`.common`): 0 when the campaign is done and every meter
runs the new firmware; 1 when it is done with meters that did not take it
(refused, reverted, incomplete) or the policy paused it; 2 usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import UsageError
from .common import EXIT_OK, EXIT_REFUSED, U32, number, probability, read_file, uint, warn

__all__ = ["COMMANDS", "print_report", "progress_bars"]

_SHOWN = 20


def _add_campaign(sub: Any) -> None:
    p = sub.add_parser(
        "campaign", help="roll a package out to a fleet: canary, soak, waves (state in SQLite)",
        description="Campaigns (docs/CAMPAIGN.md).")
    csub = p.add_subparsers(dest="campaign_command", metavar="COMMAND", required=True)

    r = csub.add_parser(
        "run", help="start a campaign and run it until it is done or paused",
        description="Roll PKG out to a fleet: a canary (--canary of the meters, spread over "
        "the concentrators), 24 h of virtual soak, then waves of up to --wave meters, pushed "
        "to at most --concurrency concentrators at once, paused by policy. Exit 0 when every "
        "meter runs the new firmware, 1 when some did not or the campaign paused, 2 usage "
        "errors.")
    r.add_argument("--package", required=True, metavar="PKG", help="the signed package")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--fleet", metavar="FILE",
                     help="a fleet file: a topology (.json/.csv) or {\"concentrators\": [...]}")
    src.add_argument("--meters", type=uint(1, 1_000_000), metavar="N",
                     help="generate a fleet of N meters from --seed")
    r.add_argument("--db", default="campaign.sqlite", metavar="FILE",
                   help="the campaign database (campaign.sqlite); meters' state in FILE.d/")
    r.add_argument("--name", metavar="NAME", help="the campaign's ID (default fw-VERSION)")
    r.add_argument("--canary", type=number(0.001, 0.5), default=0.02, metavar="X",
                   help="share of the fleet in the canary (0.02)")
    r.add_argument("--wave", type=uint(1, 1_000_000), default=10_000, metavar="N",
                   help="meters per wave at most (10000)")
    r.add_argument("--concurrency", type=uint(1, 1000), default=4, metavar="N",
                   help="concentrators broadcasting at once at most (4)")
    r.add_argument("--error-threshold", type=number(0, 1), default=0.05, metavar="X",
                   help="pause when a wave's share of refused or reverted meters is above X "
                   "(0.05)")
    r.add_argument("--window", default="19:00-06:00", metavar="HH:MM-HH:MM",
                   help="daily schedule window on the meters' clock, UTC (19:00-06:00, the "
                   "cooler evening hours; 'always': none)")
    r.add_argument("--blackout", action="append", metavar="PERIOD",
                   help="no wave starts in PERIOD: daily HH:MM-HH:MM or ISO/ISO (repeatable; "
                   "default 17:00-20:00, peak demand; 'none': no blackout)")
    r.add_argument("--soak-hours", type=number(0, 24 * 30), default=24.0, metavar="H",
                   help="virtual hours the canary soaks (24)")
    gen = r.add_argument_group("generated fleet (--meters)")
    gen.add_argument("--per-concentrator", type=uint(1, 10_000), default=250, metavar="N",
                     help="meters under one concentrator (250)")
    gen.add_argument("--loss", type=probability, default=0.05, metavar="P",
                     help="mean frame loss of a link (0.05)")
    gen.add_argument("--battery-share", type=number(0, 1), default=0.1, metavar="X",
                     help="share of battery meters (0.1)")
    gen.add_argument("--other-hw-share", type=number(0, 1), default=0.0, metavar="X",
                     help="share of meters of another hardware revision (0)")
    m = r.add_argument_group("meters and mesh")
    m.add_argument("--trusted-key", action="append", metavar="PUB.pem",
                   help="a key the meters trust (default: the package's signer)")
    m.add_argument("--bank-kib", type=uint(4, 1024), default=128, metavar="KIB",
                   help="the meters' flash bank size, KiB (128)")
    m.add_argument("--rounds", type=uint(1, 1000), default=30, metavar="N",
                   help="broadcast round limit (30)")
    m.add_argument("--field", choices=("mesh", "fleet"), default="mesh",
                   help="mesh (default): each meter's flash in a file under --db's state "
                   "directory, every broadcast on the multi-hop mesh; fleet: in-memory "
                   "meters (cheap enough for 100,000), every broadcast a star of lossy "
                   "links, and NO resume: the meters' state goes with the process, so a "
                   "killed or paused fleet campaign cannot be resumed (docs/CAMPAIGN.md)")
    _bus_options(r)
    r.add_argument("--seed", type=uint(0, U32), default=0, help="seed of everything random (0)")
    _common(r)
    r.set_defaults(handler=_run)

    s = csub.add_parser("status", help="where a campaign stands",
                        description="A campaign's state, its meters by state, its waves.")
    _which(s)
    _common(s)
    s.set_defaults(handler=_status)

    re_ = csub.add_parser(
        "resume", help="go on with a campaign after a crash, a kill or a pause",
        description="Go on from where the database says: meters in flight are read first, "
        "none already done is sent the package again. A campaign the policy paused goes on "
        "only with --unpause. A campaign run with --field fleet cannot be resumed (its "
        "meters lived in the memory of the process that ran it): resume refuses it.")
    _which(re_)
    re_.add_argument("--unpause", action="store_true",
                     help="go on past what paused the campaign")
    _bus_options(re_)
    _common(re_)
    re_.set_defaults(handler=_resume)

    rp = csub.add_parser("report", help="the campaign's report: per wave, failures, acks",
                         description="Per wave: updated, reverted, refused by code, pending, "
                         "airtime, rounds; the failed meters' audit lines.")
    _which(rp)
    rp.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    _common(rp)
    rp.set_defaults(handler=_report)


def _which(p: Any) -> None:
    p.add_argument("--db", default="campaign.sqlite", metavar="FILE",
                   help="the campaign database (campaign.sqlite)")
    p.add_argument("--campaign", metavar="NAME", help="which campaign (default: the latest)")


def _bus_options(p: Any) -> None:
    p.add_argument("--mqtt", metavar="URL",
                   help="acks through a broker, mqtt[s]://HOST:PORT (default: in-process)")
    p.add_argument("--mqtt-ca", metavar="PEM", help="the CA that signed the broker's certificate")
    p.add_argument("--mqtt-cert", metavar="PEM", help="the head-end's client certificate")
    p.add_argument("--mqtt-key", metavar="PEM", help="the client certificate's key")
    p.add_argument("--ack-loss", type=probability, default=0.0, metavar="P",
                   help="lose this share of acks on the in-process bus (rehearse a broker "
                   "that drops them; 0)")


def _common(p: Any) -> None:
    p.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    p.add_argument("--plain", action="store_true", help="no progress bars, no colours")


# ---------------------------------------------------------------------------


def _keys(paths: list[str] | None, pkg: bytes, header: Any) -> list[bytes]:
    from ..crypto import key_id
    from ..keys import public_point
    from ..mesh.signer import recover_signer
    from ..package.builtin import demo_key
    from .common import public_keys

    keys = public_keys(paths)
    if len(keys) > 3:
        raise UsageError("campaign run: a meter trusts at most 3 keys besides its factory key")
    if keys or bytes(header["key_id"]) == key_id(public_point(demo_key())):
        return keys
    point = recover_signer(pkg)
    if point is None:
        raise UsageError("campaign run: the package's signer cannot be recovered from its "
                         "signature: give --trusted-key PUB.pem")
    return [point]


def _policy(args: argparse.Namespace) -> Any:
    from ..campaign.policy import Policy, parse_blackout, parse_daily

    window = None if args.window == "always" else parse_daily(args.window)
    spec = args.blackout or ["17:00-20:00"]
    blackouts = [] if spec == ["none"] else [parse_blackout(b) for b in spec if b != "none"]
    return Policy(error_threshold=args.error_threshold, window=window, blackouts=blackouts)


def _bus(args: argparse.Namespace, cid: str, seed: int) -> Any:
    import random

    from ..campaign.bus import open_bus

    tls = {k: v for k, v in (("ca", args.mqtt_ca), ("cert", args.mqtt_cert),
                             ("key", args.mqtt_key)) if v is not None}
    if args.mqtt is not None:
        if args.ack_loss:
            raise UsageError("campaign: --ack-loss is for the in-process bus, not --mqtt")
        # A persistent session: acks sent while the head-end was down wait for it.
        return open_bus(args.mqtt, campaign=cid, session=f"meteremu-head-end-{cid}", **tls)
    if tls:
        raise UsageError("campaign: --mqtt-ca, --mqtt-cert and --mqtt-key need --mqtt "
                         "mqtts://HOST:PORT")
    if args.ack_loss:
        rnd = random.Random(seed)
        return open_bus(None, drop=lambda _ack: rnd.random() < args.ack_loss)
    return open_bus(None)


def _run(args: argparse.Namespace) -> int:
    from ..campaign.engine import Params
    from ..campaign.fleet import generate_fleet, load_fleet
    from ..campaign.runner import create
    from ..campaign.store import Store
    from ..package import parse_package

    pkg = read_file(args.package, "package")
    parsed = parse_package(pkg)
    header = parsed.header
    keys = _keys(args.trusted_key, pkg, header)
    policy = _policy(args)
    if args.fleet is not None:
        fleet = load_fleet(args.fleet)
    else:
        fleet = generate_fleet(args.meters, seed=args.seed,
                               per_concentrator=args.per_concentrator, loss=args.loss,
                               battery_share=args.battery_share,
                               hw_revision=header["hw_revision"],
                               other_hw_share=args.other_hw_share)
    params = Params(canary=args.canary, wave=args.wave, seed=args.seed,
                    concurrency=args.concurrency, soak_s=args.soak_hours * 3600.0)
    version = str(parsed.version)
    cid = args.name or f"fw-{version}"
    bank = args.bank_kib * 1024
    geometry = {"bank_size": bank, "sector_size": 4096 if bank % 4096 == 0 else 1024,
                "align": 8}
    store = Store.open(args.db)
    try:
        create(store, cid, package=pkg, package_name=args.package, fleet=fleet, params=params,
               policy=policy, version=version, trusted_keys=keys,
               vendor_id=header["vendor_id"], field=args.field,
               extra={"field": {"geometry": geometry, "mesh": {"max_rounds": args.rounds}}})
        return _drive(args, store, cid)
    finally:
        store.close()


def _resume(args: argparse.Namespace) -> int:
    from ..campaign.runner import resumable, unpause
    from ..campaign.store import Store

    store = Store.open(args.db, create=False)
    try:
        c = store.campaign(args.campaign)
        resumable(store, c["id"])  # before --unpause changes anything
        if c["state"] == "paused":
            if not args.unpause:
                warn(f"campaign {c['id']} is paused: {c['paused_reason']} (resume --unpause "
                     "goes on past it)")
                return EXIT_REFUSED
            unpause(store, c["id"])
        return _drive(args, store, c["id"])
    finally:
        store.close()


def _drive(args: argparse.Namespace, store: Any, cid: str) -> int:
    from ..campaign.runner import open_campaign
    from ..campaign.summary import summary

    bus = _bus(args, cid, store.campaign(cid)["seed"])
    with _progress(args) as progress:
        opened = open_campaign(store, cid, bus=bus, progress=progress,
                               ack_wait=0.2 if args.mqtt else 0.0)
        try:
            opened.engine.run()
        finally:
            opened.close()
            bus.close()
    d = summary(store, cid)
    _print_summary(args, d)
    return _exit(d)


def _exit(d: dict[str, Any]) -> int:
    updated = d["states"].get("confirmed", 0)
    return EXIT_OK if d["state"] == "done" and updated == d["meters"] else EXIT_REFUSED


def _status(args: argparse.Namespace) -> int:
    from ..campaign.store import Store
    from ..campaign.summary import summary

    store = Store.open(args.db, create=False)
    try:
        d = summary(store, args.campaign)
    finally:
        store.close()
    _print_summary(args, d)
    return _exit(d)


def _report(args: argparse.Namespace) -> int:
    from ..campaign.store import Store
    from ..campaign.summary import summary

    store = Store.open(args.db, create=False)
    try:
        d = summary(store, args.campaign)
    finally:
        store.close()
    if args.html:
        from ..campaign.html import render_html  # imported only when a report is asked for
        from .common import write_atomic

        write_atomic(args.html, render_html(args.db, d["campaign"]).encode("utf-8"))
    _print_summary(args, d, full=True)
    return _exit(d)


# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _progress(args: argparse.Namespace) -> Iterator[Any]:
    """Progress bars on stderr when it is a terminal (and not --plain / --json)."""
    from rich.console import Console

    from ..campaign.engine import Progress

    err = Console(file=sys.stderr, highlight=False)
    if args.plain or args.json or not err.is_terminal:
        yield Progress()
        return
    with progress_bars(False, err) as bars:
        yield bars


@contextlib.contextmanager
def progress_bars(plain: bool, console: Any) -> Iterator[Any]:
    """A :class:`~meteremu.campaign.engine.Progress` drawing a bar per wave on
    ``console`` (a terminal); elsewhere, or ``plain``, a line per phase and wave."""
    from ..campaign.engine import Progress

    def name(wave: int) -> str:
        return "canary" if wave == 0 else f"wave {wave}"

    if plain or not console.is_terminal:

        class _Lines(Progress):
            def phase(self, text: str) -> None:
                console.print(f"      campaign: {text}", markup=False)

            def wave(self, wave: int, meters: int) -> None:
                console.print(f"      {name(wave)}: {meters} meters", markup=False)

        yield _Lines()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    with Bars(TextColumn("      {task.description}"), BarColumn(), MofNCompleteColumn(),
              TimeElapsedColumn(), console=console, transient=False) as bars:

        class _Bars(Progress):
            task: Any = None

            def phase(self, text: str) -> None:
                bars.console.print(f"      campaign: {text}", markup=False)

            def wave(self, wave: int, meters: int) -> None:
                self.task = bars.add_task(name(wave), total=meters)

            def advance(self, n: int) -> None:
                if self.task is not None:
                    bars.advance(self.task, n)

        yield _Bars()


def _print_summary(args: argparse.Namespace, d: dict[str, Any], *, full: bool = False) -> None:
    if getattr(args, "json", False):
        json.dump(d, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False, soft_wrap=False,
                      no_color=getattr(args, "plain", False),
                      width=None if sys.stdout.isatty() else 140)
    print_report(console, d, full=full)


def print_report(console: Any, d: dict[str, Any], *, full: bool = True) -> None:
    """The text report: the campaign, a row per wave, the failures' audit lines."""
    from rich.table import Table

    state = d["state"] + (f" ({d['paused_reason']})" if d["paused_reason"] else "")
    console.print(f"campaign {d['campaign']}: {d['version']} from {d['package']}, "
                  f"{d['meters']} meters, {state}; virtual time {d['now']}", markup=False)
    t = Table(title=f"waves of {d['campaign']}")
    for col in ("wave", "state", "meters", "updated", "reverted", "refused by code", "pending",
                "incomplete", "airtime s", "FOTA share", "rounds"):
        t.add_column(col, justify="left" if col in ("wave", "state", "refused by code")
                     else "right")
    for w in d["waves"]:
        codes = ", ".join(f"{k} x{v}" for k, v in w["refused_by_code"].items()) or "-"
        t.add_row("canary" if w["wave"] == 0 else str(w["wave"]), w["state"], str(w["meters"]),
                  str(w["updated"]), str(w["reverted"]), codes, str(w["pending"]),
                  str(w["incomplete"]), f"{w['airtime_s']:.1f}", f"{w['fota_share']:.1%}",
                  str(w["rounds"]))
    console.print(t)
    console.print("meters: " + ", ".join(f"{k} {v}" for k, v in d["states"].items()),
                  markup=False)
    console.print(f"acks: {d['acks']['received']} received, {d['acks']['recorded']} recorded; "
                  f"{d['settled_by_read']} meters settled by reading them", markup=False)
    if d["soak"]:
        s = d["soak"]
        p95 = s.get("billing_p95_s")
        console.print(f"soak: {s['meters']} canary meters, metrology checked on "
                      f"{s['metrology_checked']}, billing p95 "
                      f"{'-' if p95 is None else f'{p95 * 1e3:.0f} ms'}; "
                      f"{'; '.join(s['problems']) or 'no problem'}", markup=False)
    if full and d["failures"]:
        t = Table(title="failed meters (audit log)")
        for col in ("meter", "wave", "code", "audit record"):
            t.add_column(col)
        for f in d["failures"][:_SHOWN]:
            t.add_row(f["meter"], str(f["wave"]), f["code"] or "-", f["audit"] or "-")
        console.print(t)
        if len(d["failures"]) > _SHOWN:
            console.print(f"... and {len(d['failures']) - _SHOWN} more (--json lists all)")


COMMANDS = (_add_campaign,)
