"""The ``mesh`` commands: ``mesh broadcast``, seed step 4 on a simulated RF mesh.

``meteremu mesh broadcast --file firmware_v2.pkg --group residential_sector_04``
builds a mesh (``--meters N`` generated from ``--seed``, or ``--topology
FILE``), a :class:`~meteremu.device.VirtualMeter` for each meter of the
group, and broadcasts the package to them round by round
(:mod:`meteremu.mesh`), with a progress bar per round on a terminal and a
report at the end; ``--json`` gives the report as data. Nothing but the
package is needed: the meters run the built-in factory image, trust the
demo key that signed it (as ``meteremu serve`` does), and trust the
package's signer -- its public key recovered from the signature and matched
to the header's key ID (:mod:`meteremu.mesh.signer`) -- or, with
``--trusted-key``, exactly the keys given (rehearse a 0x8005 that way).

Exit status (:mod:`.common`): 0 when every meter of the group ended complete;
1 when some did not (refused, pending or incomplete: the report says which,
and each refusal's FOTA_ERR code); 2 usage errors, including a bad topology
file or a group with no meters.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Any

from ..errors import UsageError
from .common import (
    EXIT_OK,
    EXIT_REFUSED,
    U16,
    U32,
    number,
    probability,
    public_keys,
    read_file,
    uint,
    warn,
    write_atomic,
)

__all__ = ["COMMANDS", "MAX_METERS"]

# meters share their flash copy-on-write (docs/FLEET.md): about 0.2 MB each after a
# wave, so 100,000 fit this machine; the mesh's CPU grows with them (docs/MESH.md)
MAX_METERS = 100_000
_SHOWN = 20  # rows of failed / pending meters in the text report
_EACH = 30  # a group this small gets a row per meter in the text report


def _add_mesh(sub: Any) -> None:
    p = sub.add_parser(
        "mesh",
        help="the RF mesh: broadcast a package to a group of simulated meters",
        description="Simulated RF mesh (docs/MESH.md).",
    )
    msub = p.add_subparsers(dest="mesh_command", metavar="COMMAND", required=True)
    b = msub.add_parser(
        "broadcast",
        help="seed step 4: broadcast a package to a group, round by round",
        description="Broadcast PKG to the meters of GROUP over a simulated multi-hop RF mesh: "
        "rounds of the union of missing fragments, relays that store and forward, reports "
        "upstream through queues that can saturate, FOTA held to --cap of the channel in "
        "every window. Exit 0 when every meter of the group ended complete, 1 when some "
        "did not, 2 usage errors. See docs/MESH.md.",
    )
    b.add_argument("--file", required=True, metavar="PKG", help="the signed package")
    b.add_argument("--group", required=True, metavar="NAME",
                   help="the group to address (generated meters are all in it)")
    src = b.add_argument_group("mesh (generated unless --topology)")
    src.add_argument("--topology", metavar="FILE",
                     help="a topology file, .json or .csv (id, parent, quality, power, "
                     "hw_revision, group[, rate_kbps])")
    src.add_argument("--meters", type=uint(1, MAX_METERS), metavar="N",
                     help=f"generate N meters (default 100; at most {MAX_METERS})")
    src.add_argument("--fanout", type=uint(1, 64), default=6, metavar="F",
                     help="children per node at most (6)")
    src.add_argument("--depth", type=uint(1, 16), default=4, metavar="D",
                     help="hops from the concentrator at most (4)")
    src.add_argument("--loss", type=probability, default=None, metavar="P",
                     help="mean frame loss of a link (0.05)")
    src.add_argument("--spread", type=number(0, 1), default=0.04, metavar="S",
                     help="link losses drawn from P-S..P+S (0.04)")
    src.add_argument("--battery-share", type=number(0, 1), default=0.1, metavar="X",
                     help="share of battery meters, always leaves (0.1)")
    src.add_argument("--other-hw-share", type=number(0, 1), default=0.0, metavar="X",
                     help="share of meters of another hardware revision (they refuse: 0x8004)")
    src.add_argument("--rate", type=uint(50, 200), default=0, metavar="KBPS",
                     help="every link's rate, 50..200 kbps (default: by link quality)")
    src.add_argument("--save-topology", metavar="FILE",
                     help="write the topology used (.json or .csv)")
    ch = b.add_argument_group("channels")
    ch.add_argument("--burst", type=number(1, 1e6), default=None, metavar="L",
                    help="Gilbert-Elliott loss with mean bursts of L frames (default: Bernoulli)")
    ch.add_argument("--duplicate", type=number(0, 1), default=0.0, metavar="P",
                    help="frames duplicated on the way down (0)")
    ch.add_argument("--corrupt", type=probability, default=0.0, metavar="P",
                    help="frames damaged on the air (0)")
    ch.add_argument("--reorder", type=number(0, 1), default=0.0, metavar="P",
                    help="frames held back behind later ones (0)")
    air = b.add_argument_group("airtime and rounds")
    air.add_argument("--cap", type=number(0.01, 1), default=0.30, metavar="X",
                     help="FOTA share of the channel in any window (0.30, seed section B)")
    air.add_argument("--window", type=number(0.1, 86400), default=10.0, metavar="S",
                     help="the cap's window, seconds (10)")
    air.add_argument("--rounds", type=uint(1, 1000), default=30, metavar="N",
                     help="round limit (30)")
    air.add_argument("--queue", type=uint(1, 10_000), default=16, metavar="N",
                     help="reports a node holds for its parent (16)")
    air.add_argument("--retries", type=uint(0, 15), default=3, metavar="N",
                     help="MAC retries per hop of a report (3)")
    air.add_argument("--report-window", type=number(0, 86400), default=None, metavar="S",
                     help="seconds over which meters spread their reports (default: twice "
                     "the reports' airtime at the cap)")
    air.add_argument("--billing-interval", type=number(0, 86400 * 7), default=900.0,
                     metavar="S", help="each meter's billing read interval (900; 0: none)")
    met = b.add_argument_group("meters")
    met.add_argument("--trusted-key", action="append", metavar="PUB.pem",
                     help="a signing key the meters trust (repeatable; default: the package's "
                     "signer, recovered from its signature)")
    met.add_argument("--vendor-id", type=uint(0, U32), default=None, metavar="V",
                     help="the meters' vendor ID (default: the package's)")
    met.add_argument("--hw-revision", type=uint(0, U16), default=None, metavar="R",
                     help="generated meters' hardware revision (default: the package's)")
    met.add_argument("--battery-spare-mj", type=uint(1, 10**9), default=10_000, metavar="MJ",
                     help="a battery meter's reserve above its minimum, mJ (10000)")
    met.add_argument("--rx-frame-mj", type=number(0.001, 1e6), default=3.0, metavar="MJ",
                     help="what receiving a frame costs a battery meter, mJ (3)")
    b.add_argument("--session-id", type=uint(0, U32), default=None, metavar="ID",
                   help="the session ID (default: from the package's SHA-256)")
    b.add_argument("--seed", type=uint(0, U32), default=0, help="seed of everything random (0)")
    b.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    b.add_argument("--plain", action="store_true", help="no colours, no progress bar")
    b.set_defaults(handler=_run_broadcast)


# ---------------------------------------------------------------------------


def _keys(args: argparse.Namespace, pkg: bytes, header: Any) -> list[bytes]:
    """The keys the meters trust besides the demo key of their factory image.

    With ``--trusted-key``: those (a signer not among them is a rehearsal of
    0x8005, warned about). Without: the package's signer -- the demo key, or
    the key recovered from the signature (:mod:`meteremu.mesh.signer`).
    """
    from ..crypto import key_id
    from ..keys import public_point
    from ..mesh.signer import recover_signer
    from ..package.builtin import demo_key

    keys = public_keys(args.trusted_key)
    if len(keys) > 3:
        raise UsageError(f"mesh broadcast: {len(keys)} trusted keys; a meter holds at most 4, "
                         "one of them the demo key of its factory image")
    signer = bytes(header["key_id"])
    if signer == key_id(public_point(demo_key())):
        return keys
    if keys:
        if not any(key_id(k) == signer for k in keys):
            warn(f"mesh broadcast: no --trusted-key has the package's key ID {signer.hex()}: "
                 "the meters will refuse it (0x8005)")
        return keys
    point = recover_signer(pkg)
    if point is None:
        raise UsageError(
            f"mesh broadcast: the package's signer (key ID {signer.hex()}) cannot be recovered "
            "from its signature (unsigned, or the signature is broken): give --trusted-key "
            "PUB.pem to build meters that trust a key")
    return [point]


def _topology(args: argparse.Namespace, header: Any) -> Any:
    from ..mesh import Topology

    if args.topology is not None:
        if args.meters is not None:
            raise UsageError("mesh broadcast: --topology and --meters exclude each other")
        if args.loss is not None:
            raise UsageError("mesh broadcast: --loss is for generated meshes; a topology "
                             "file gives each link's quality")
        return Topology.load(args.topology)
    return Topology.generate(
        100 if args.meters is None else args.meters, seed=args.seed, fanout=args.fanout,
        depth=args.depth, loss=0.05 if args.loss is None else args.loss, spread=args.spread,
        battery_share=args.battery_share, group=args.group,
        hw_revision=header["hw_revision"] if args.hw_revision is None else args.hw_revision,
        other_hw_share=args.other_hw_share, rate_kbps=args.rate)


def _run_broadcast(args: argparse.Namespace) -> int:
    from ..crypto import sha256
    from ..hes import fragment_package
    from ..mesh import BatterySpec, Broadcast, MeshConfig, virtual_meters
    from ..package import parse_package

    started = time.perf_counter()
    save_kind = None
    if args.save_topology:
        save_kind = pathlib.Path(args.save_topology).suffix.lower().lstrip(".")
        if save_kind not in ("json", "csv"):
            raise UsageError(f"mesh broadcast: --save-topology writes a .json or a .csv file, "
                             f"not {args.save_topology!r}")
    pkg = read_file(args.file, "package")
    parsed = parse_package(pkg)  # a malformed package: exit 1 with its code
    header = parsed.header
    keys = _keys(args, pkg, header)
    topo = _topology(args, header)
    if args.topology is not None and args.rate:
        warn("mesh broadcast: --rate is for generated meshes; the file's rates stand")
    if save_kind is not None:
        write_atomic(args.save_topology, topo.dumps(save_kind).encode("utf-8"))
    members = topo.group(args.group)
    if not members:
        if not any(topo.groups()):
            raise UsageError(f"mesh broadcast: group {args.group!r} has no meters: the "
                             f"topology gives no meter a group (no 'group' column or field, "
                             f"or every one empty)")
        known = ", ".join(sorted(g or "''" for g in topo.groups())[:10])
        raise UsageError(f"mesh broadcast: group {args.group!r} has no meters "
                         f"(groups: {known})")
    vendor = header["vendor_id"] if args.vendor_id is None else args.vendor_id
    config = MeshConfig(
        seed=args.seed, burst=args.burst, duplicate=args.duplicate, corrupt=args.corrupt,
        reorder=args.reorder, cap=args.cap, window_s=args.window, max_rounds=args.rounds,
        queue=args.queue, retries=args.retries, report_window_s=args.report_window,
        billing_interval_s=args.billing_interval)
    try:
        for n in members:
            config.loss_model(topo[n].loss)
    except ValueError as exc:
        raise UsageError(f"mesh broadcast: --burst: {exc}") from None
    session = (int.from_bytes(sha256(pkg)[:4], "big") if args.session_id is None
               else args.session_id)
    frames = fragment_package(pkg, session_id=session)
    spec = BatterySpec(spare_mj=args.battery_spare_mj, rx_frame_mj=args.rx_frame_mj)
    meters = virtual_meters((topo[n] for n in members), trusted_keys=keys, vendor_id=vendor,
                            battery=spec)
    out = _Output(args)
    try:
        with out.progress() as observer:
            report = Broadcast(topo, args.group, frames, meters, config, session=session,
                               observers=[observer]).run()
    finally:
        for m in meters.values():
            m.close()
    report.extra.update(
        package={"file": args.file, "bytes": len(pkg), "sha256": sha256(pkg).hex(),
                 "version": str(parsed.version), "hw_revision": header["hw_revision"],
                 "vendor_id": header["vendor_id"], "key_id": bytes(header["key_id"]).hex()},
        group=args.group,
        config={"seed": args.seed, "loss": _loss_text(args, config),
                "cap": args.cap, "window_s": args.window, "max_rounds": args.rounds,
                "queue": args.queue, "retries": args.retries,
                "report_window_s": args.report_window,
                "billing_interval_s": args.billing_interval,
                "topology": args.topology or f"generated: {len(topo)} meters, fan-out "
                f"{args.fanout}, depth {args.depth}"},
        boot_states=_boot_states(report.meters),
        wall_s=round(time.perf_counter() - started, 3),
    )
    out.report(report)
    return EXIT_OK if report.complete else EXIT_REFUSED


def _loss_text(args: argparse.Namespace, config: Any) -> str:
    base = ("per link: 1 - quality (topology file)" if args.topology
            else f"{0.05 if args.loss is None else args.loss:g} ± {args.spread:g}")
    model = ("Bernoulli" if args.burst is None
             else f"Gilbert-Elliott, mean burst {args.burst:g} frames")
    extra = ", ".join(f"{k} {v:g}" for k, v in (("duplicate", args.duplicate),
                                                 ("corrupt", args.corrupt),
                                                 ("reorder", args.reorder)) if v)
    return f"{base}, {model}" + (f", {extra}" if extra else "")


def _boot_states(meters: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in meters:
        out[row["boot_state"]] = out.get(row["boot_state"], 0) + 1
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------


class _Output:
    """Progress on stderr (a terminal only), the report on stdout."""

    def __init__(self, args: argparse.Namespace) -> None:
        from rich.console import Console

        self.json = args.json
        self.plain = args.plain
        self.err = Console(file=sys.stderr, highlight=False)
        self.out = Console(file=sys.stdout, highlight=False, soft_wrap=False,
                           no_color=args.plain, width=None if sys.stdout.isatty() else 140)

    def progress(self) -> Any:
        import contextlib

        if self.plain or not self.err.is_terminal:
            return contextlib.nullcontext(lambda event: None)
        return _RoundBars(self.err)

    def report(self, report: Any) -> None:
        if self.json:
            import json

            sys.stdout.write(json.dumps(report.to_dict(), indent=1) + "\n")
            return
        _render(self.out, report)


class _RoundBars:
    """A rich progress bar per round: members known done out of those waited for."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(TextColumn("round {task.fields[round]:>2}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                            console=console, transient=False)
        self.task: Any = None

    def __enter__(self) -> Any:
        self.bar.__enter__()
        return self.on_event

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def on_event(self, event: Any) -> None:
        from ..mesh.events import ReportArrived, RoundEnded, RoundStarted

        if isinstance(event, RoundStarted):
            self.task = self.bar.add_task(
                "round", total=event.waiting, round=event.round,
                note=f"{event.fragments} fragments")
        elif isinstance(event, ReportArrived) and event.kind != "missing":
            self.bar.advance(self.task)
        elif isinstance(event, RoundEnded):
            self.bar.update(self.task, note=(
                f"complete {event.complete}, pending {event.pending}, "
                f"incomplete {event.incomplete}, refused {event.refused}"))


def _render(console: Any, report: Any) -> None:
    from rich.table import Table

    d = report.to_dict()
    pkg, air = d["package"], d["airtime"]
    console.print(
        f"mesh broadcast of {pkg['file']} ({pkg['bytes']} bytes, {d['fragments']} fragments, "
        f"session {d['session']}) to group {d['group']}: {d['mesh']['members']} meters, "
        f"{d['mesh']['relays']} relaying, {d['mesh']['depth']} hops deep", markup=False)
    console.print(f"channels: {d['config']['loss']}; FOTA cap {air['cap']:.0%} of the "
                  f"channel in any {air['window_s']:g} s window; seed {d['config']['seed']}",
                  markup=False)
    t = Table(title="rounds")
    for col in ("round", "fragments", "relayed", "reports up", "lost: queue / path",
                "airtime s", "share", "peak", "complete", "pending", "incomplete", "refused"):
        t.add_column(col, justify="right")
    for r in d["rounds"]:
        t.add_row(str(r["round"]), str(r["fragments_sent"]), str(r["frames_relayed"]),
                  f"{r['reports_arrived']}/{r['waiting_for']}",
                  f"{r['reports_lost_queue']} / {r['reports_lost_path']}",
                  f"{r['airtime_s']:.1f}", f"{r['share']:.1%}", f"{r['peak_share']:.1%}",
                  str(r["complete"]), str(r["pending"]), str(r["incomplete"]),
                  str(r["refused"]))
    console.print(t)
    t = Table(title="outcome")
    t.add_column("outcome")
    t.add_column("meters", justify="right")
    for k, v in d["outcome"].items():
        t.add_row(k, str(v), style={"complete": "green", "refused": "red",
                                    "pending": "yellow"}.get(k) if v else None)
    console.print(t)
    console.print("boot states: " + ", ".join(f"{k} {v}" for k, v in d["boot_states"].items()),
                  markup=False)
    if len(d["meters"]) <= _EACH:
        t = Table(title="meters")
        for col in ("meter", "hops", "power", "outcome", "boot state", "fragments", "code",
                    "frames heard", "duty"):
            t.add_column(col, justify="right" if col in ("hops", "frames heard") else "left")
        for m in d["meters"]:
            t.add_row(m["id"], str(m["depth"]), m["power"], m["outcome"], m["boot_state"],
                      f"{m['received']}/{m['count']}", m["code"] or "-",
                      str(m["frames_heard"]), f"{m['duty']:.1%}")
        console.print(t)
    if d["failed"]:
        t = Table(title="refused meters (audit log)")
        for col in ("meter", "code", "boot state", "head-end was told", "audit record"):
            t.add_column(col)
        for f in d["failed"][:_SHOWN]:
            t.add_row(f["id"], f["code"] or f["receipt"] or "-", f["boot_state"],
                      f["reported"] or "nothing", f["audit"] or "-")
        console.print(t)
        if len(d["failed"]) > _SHOWN:
            console.print(f"... and {len(d['failed']) - _SHOWN} more (--json lists all)")
    if d["pending"]:
        t = Table(title="pending meters: image complete, receipt not through")
        for col in ("meter", "stuck at", "cause", "round"):
            t.add_column(col)
        for p in d["pending"][:_SHOWN]:
            t.add_row(p["id"], str(p["stuck_at"]), {"queue": "parent queue full",
                                                     "path": "lost upstream"}.get(
                                                         p["cause"] or "", "-"),
                      str(p["round"]))
        console.print(t)
        if len(d["pending"]) > _SHOWN:
            console.print(f"... and {len(d['pending']) - _SHOWN} more (--json lists all)")
    console.print(
        f"airtime: FOTA {air['fota_s']:.1f} s of {air['duration_s']:.1f} s "
        f"({air['share']:.1%}; busiest {air['window_s']:g} s window {air['peak_window_share']:.1%}"
        f"): fragments {air['fragments_s']:.1f} s, relayed {air['relay_s']:.1f} s, "
        f"reports {air['reports_s']:.1f} s", markup=False)
    bill = d["billing"]
    if bill.get("reads"):
        console.print(
            f"billing: {bill['reads']} reads, latency mean {bill['latency_mean_s'] * 1e3:.0f} ms,"
            f" p95 {bill['latency_p95_s'] * 1e3:.0f} ms, max {bill['latency_max_s'] * 1e3:.0f} "
            f"ms (their own airtime: {bill['service_mean_s'] * 1e3:.0f} ms mean)", markup=False)
    bat = d["battery"]
    if bat["meters"]:
        console.print(
            f"battery meters: {bat['meters']}, {bat['spent_mj_total']:.0f} mJ spent in all, at "
            f"most {bat['spent_mj_max']:.0f} mJ ({bat['frames_heard_max']} frames heard) by one;"
            f" refused for the reserve (0x9003): {bat['refused_0x9003']}", markup=False)
    if d["hottest"]:
        t = Table(title="hottest radios (transmit duty: retransmissions heat the radio)")
        for col in ("meter", "tx s", "busiest window tx", "tx duty", "duty (tx+rx)",
                    "transmissions", "retries"):
            t.add_column(col, justify="right")
        for h in d["hottest"]:
            t.add_row(h["id"], f"{h['tx_s']:.1f}", f"{h['peak_tx_duty']:.1%}",
                      f"{h['tx_duty']:.2%}", f"{h['duty']:.2%}", str(h["transmissions"]),
                      str(h["retries"]))
        console.print(t)
    console.print(f"wall time {d['wall_s']:.1f} s", markup=False)


COMMANDS = (_add_mesh,)
