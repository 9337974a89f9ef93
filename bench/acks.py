"""``python -m bench.acks``: acks per second the head-end absorbs through a local
mosquitto (issue 12), beside the in-process bus as the peer.

Each MQTT case starts its own ``mosquitto`` on 127.0.0.1 (tests/mosquittokit.py;
Debian package ``mosquitto``) and runs two processes:

* the **concentrators**: ``python -m bench.acks --publish ...``, one
  :class:`~meteremu.campaign.mqtt.MqttBus` (``role="concentrator"``) that
  builds its acks before timing, then publishes them all at QoS 1 and waits
  for the last PUBACK;
* the **head-end**: this process, a ``role="head-end"`` bus polling until
  every ack arrived (or none came for ``QUIET`` seconds: the rest were lost).

The figure is acks received over the wall time from "go" to the last one, as
the head-end sees it; the head-end's CPU per ack (user + system of this
process, network thread included) is given too, being less disturbed by other
work on the machine. Cases: plain MQTT with mosquitto's queue unbounded
(``max_queued_messages 0``), plain at mosquitto's defaults (1,000 queued per
client: a head-end that falls behind loses acks, counted), and MQTTS (TLS,
client certificates) unbounded. The peer is :class:`InProcessBus` with the
same acks (encode, queue, decode). Best of ``--repeat`` runs per case.

No test asserts on these figures; docs/BENCHMARKS.md keeps the latest ones.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from meteremu.campaign.bus import ACK_STATES, Ack, InProcessBus
from meteremu.campaign.mqtt import MqttBus

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the broker kit the MQTT tests use

import mosquittokit  # noqa: E402

CAMPAIGN = "bench"
QUIET = 10.0  # seconds without an ack after which the rest count as lost
WAIT = 60.0


def fleet(n: int, concentrators: int = 50) -> list[Ack]:
    return [Ack(CAMPAIGN, f"K{i % concentrators:03d}", f"M{i:07d}", ACK_STATES[i % 4], i,
                1.8e9 + i, "2.1.0") for i in range(n)]


@dataclass
class Result:
    case: str
    received: int
    sent: int
    seconds: float
    cpu_us: float  # head-end CPU per ack received
    publish_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0


def in_process(n: int) -> Result:
    acks = fleet(n)
    bus = InProcessBus()
    cpu, t0 = time.process_time(), time.perf_counter()
    got = 0
    for i, ack in enumerate(acks):
        bus.publish(ack)
        if i % 1000 == 999:
            got += len(bus.poll())
    got += len(bus.poll())
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu
    return Result("in-process bus (peer)", got, n, wall, cpu / max(got, 1) * 1e6, wall)


def _tls_options(certs: mosquittokit.Certs | None) -> list[str]:
    if certs is None:
        return []
    return ["--ca", str(certs.ca), "--cert", str(certs.client_cert), "--key",
            str(certs.client_key)]


def _publisher(url: str, n: int, certs: mosquittokit.Certs | None) -> subprocess.Popen[bytes]:
    pub = subprocess.Popen(
        [sys.executable, "-m", "bench.acks", "--publish", url, "--count", str(n),
         *_tls_options(certs)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert pub.stdout is not None
    ready = pub.stdout.readline()
    if ready.strip() != b"ready":
        pub.kill()
        pub.wait(WAIT)
        raise RuntimeError(f"the publisher did not start: {ready!r}")
    return pub


def _go(pub: subprocess.Popen[bytes]) -> None:
    assert pub.stdin is not None
    pub.stdin.write(b"go\n")
    pub.stdin.flush()


def _done(pub: subprocess.Popen[bytes]) -> float:
    """The publisher's time from "go" to the last PUBACK."""
    assert pub.stdout is not None
    done = pub.stdout.readline().split()
    pub.wait(WAIT)
    if done[:1] != [b"done"]:
        raise RuntimeError(f"the publisher failed (exit status {pub.returncode}); "
                           "its error is above")
    return float(done[1])


def _absorb(head_end: MqttBus, n: int) -> tuple[int, float]:
    """(acks received, time of the last) polling until ``n`` or QUIET seconds of nothing."""
    got, last = 0, time.perf_counter()
    while got < n:
        more = head_end.poll(timeout=QUIET)
        if not more:
            break
        got += len(more)
        last = time.perf_counter()
    return got, last


def through_broker(case: str, n: int, where: pathlib.Path, *, certs: mosquittokit.Certs | None,
                   limits: dict[str, int | str], backlog: bool = False) -> Result:
    """``backlog``: the concentrators publish everything while the head-end's
    persistent session is away, then the head-end connects and drains the
    queue -- its own pace, the publisher out of the picture. Otherwise both
    run at once."""
    opts = {} if certs is None else {"ca": str(certs.ca), "cert": str(certs.client_cert),
                                     "key": str(certs.client_key)}
    session = "bench-head-end" if backlog else None
    with mosquittokit.Broker(where, certs=certs, limits=limits) as broker:
        def head_end() -> MqttBus:
            return MqttBus.from_url(broker.url, role="head-end", campaign=CAMPAIGN,
                                    session=session, timeout=WAIT, **opts)

        pub = _publisher(broker.url, n, certs)
        try:
            if backlog:
                head_end().close()  # subscribed, then away
                _go(pub)
                publish_seconds = _done(pub)
                cpu, t0 = time.process_time(), time.perf_counter()
                bus = head_end()
            else:
                bus = head_end()
                cpu, t0 = time.process_time(), time.perf_counter()
                _go(pub)
            try:
                got, last = _absorb(bus, n)
                cpu = time.process_time() - cpu
            finally:
                bus.close()
            if not backlog:
                publish_seconds = _done(pub)
        finally:
            if pub.poll() is None:
                pub.kill()
                pub.wait(WAIT)
    return Result(case, got, n, last - t0, cpu / max(got, 1) * 1e6, publish_seconds)


def publish_main(url: str, n: int, ca: str | None, cert: str | None, key: str | None) -> int:
    """The concentrators' process: connect, build, say ready, publish on "go"."""
    opts = {k: v for k, v in (("ca", ca), ("cert", cert), ("key", key)) if v is not None}
    bus = MqttBus.from_url(url, role="concentrator", timeout=WAIT, **opts)
    acks = fleet(n)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    for ack in acks:
        bus.publish(ack)
    bus.flush(timeout=600.0)
    print(f"done {time.perf_counter() - t0:.6f}", flush=True)
    bus.close()
    return 0


def render(rows: list[Result], peer: Result) -> str:
    head = ("case", "acks/s absorbed", "ratio to peer", "received", "lost",
            "head-end CPU/ack (us)", "publish (s)")
    body = [(r.case, f"{r.rate:,.0f}", f"{r.rate / peer.rate:.3f}x", f"{r.received:,}",
             f"{r.sent - r.received:,}", f"{r.cpu_us:.1f}", f"{r.publish_seconds:.2f}")
            for r in rows]
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.acks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="acks per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    parser.add_argument("--quick", action="store_true", help="10,000 acks, one run")
    parser.add_argument("--publish", metavar="URL", help=argparse.SUPPRESS)
    for opt in ("--ca", "--cert", "--key"):
        parser.add_argument(opt, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publish:
        return publish_main(args.publish, args.count, args.ca, args.cert, args.key)
    if mosquittokit.MOSQUITTO is None:
        print(f"python -m bench.acks: {mosquittokit.SKIP_REASON}", file=sys.stderr)
        return 2
    n, repeat = (10_000, 1) if args.quick else (args.count, args.repeat)
    unbounded = {"max_queued_messages": 0}
    with tempfile.TemporaryDirectory(prefix="bench-acks-") as tmp_name:
        tmp = pathlib.Path(tmp_name)
        certs = mosquittokit.make_certs(tmp / "certs")
        cases = [  # (case, TLS certificates, broker limits, backlog)
            ("MQTT, live", None, unbounded, False),
            ("MQTT, backlog", None, unbounded, True),
            ("MQTTS, live", certs, unbounded, False),
            ("MQTTS, backlog", certs, unbounded, True),
            ("MQTT, live, mosquitto defaults", None, {}, False),
        ]
        best: dict[str, Result] = {}
        peer: Result | None = None
        for run in range(repeat):  # the cases take turns, so a busy moment hits all alike
            p = in_process(n)
            peer = p if peer is None or p.rate > peer.rate else peer
            for i, (case, c, limits, backlog) in enumerate(cases):
                r = through_broker(case, n, tmp / f"broker-{run}-{i}", certs=c, limits=limits,
                                   backlog=backlog)
                if case not in best or r.rate > best[case].rate:
                    best[case] = r
        assert peer is not None
    print(f"acks through a local mosquitto, {n:,} per run, best of {repeat}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(render([*best.values(), peer], peer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
