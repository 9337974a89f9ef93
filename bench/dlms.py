"""``python -m bench.dlms``: the DLMS/COSEM server against a gurux-dlms one (SPEC section 9).

Three servers, each a separate process on loopback, started and stopped by
this run:

* **meteremu** -- ``meteremu serve`` (one meter, its flash in a temporary
  state file, trusting the bench key) as it runs by default: on uvloop where
  it is installed, busy polling after each reply (``--busy-poll``, 50 us);
  **meteremu-nopoll**, the same with ``--busy-poll 0`` (waiting in the loop
  only), and **meteremu-asyncio**, the same with ``--loop asyncio``;
* **gurux** -- ``python -m bench.gurux_server``: the same objects served by
  gurux-dlms's ``GXDLMSSecureServer`` (see that module for what is the
  library's and what is ours);
* **ceiling** -- an asyncio server that does no DLMS at all: it answers every
  frame with a canned response, on the loop meteremu runs on and with the
  same busy polling (and **ceiling-nopoll** without it). It shows what this
  client, the transport and the loopback allow on this machine, the bound of
  any ratio;
* **gurux-net** (when the ``bench`` extra installed gurux-net) -- the same
  reference on Gurux's own network media, a thread per connection, as
  Gurux's example server runs it.

One client drives all three: a raw socket sending frames built once before
timing (invoke byte 0xC1, TCP_NODELAY) and checking each response's tag and
result byte, so the ratios compare servers, not clients. Measured:

* GET round trips per second on one connection (1.0.0.2.0.255 attribute 2,
  the firmware identifier; the public client), best batch of several, the
  servers taking turns;
* the time of a 128 KiB class 18 transfer: initiate, 1,024 blocks of 128
  bytes, verify (management client, a fresh image identifier each time: the
  meter starts over), best of several;
* both in each **placement** of client and server, the batches taking turns
  through them (on a machine with two CPUs or more, where the process may
  set CPU affinities): **one CPU** (client and server pinned to the same
  CPU), **two CPUs** (each pinned to its own) and **unpinned** (the
  scheduler decides, and may move either between batches). A lock-step
  round trip on loopback is mostly the two processes waking each other, and
  on a small virtual machine where they run changes it by a third or more:
  left to the scheduler, a batch measures where it happened to put them.
  Each server's figure is its best batch in any placement (the best of each
  placement is printed too), so every server is measured where it does
  best, not where it was put;
* the server process's CPU per GET and per block (user + system, from
  /proc, over all the batches);
* GET/s over 50 connections at once (each with one request in flight),
  against one connection.

No test asserts on these figures; docs/BENCHMARKS.md keeps the latest ones.
``--quick`` for a short rough run, ``--json PATH`` to keep the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import pathlib
import platform
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

PASSWORD = "secret"
PACKAGE_SIZE = 128 * 1024
BLOCK = 128
CONNECTIONS = 50
INVOKE = 0xC1
GET_TARGET = 5.0  # ours >= 5x the reference's GET/s
TRANSFER_TARGET = 0.2  # ours <= 0.2x the reference's transfer time
START_WAIT = 60.0
IO_WAIT = 30.0


@dataclass(frozen=True)
class Budget:
    get_seconds: float  # per timed GET batch
    batches: int  # GET batches per server; the best counts
    transfers: int  # class 18 transfers per server; the best counts
    multi_seconds: float  # the 50-connection window


FULL = Budget(0.5, 9, 9, 2.0)
QUICK = Budget(0.15, 3, 2, 0.6)


# ---------------------------------------------------------------------------
# frames (ours to build; built before any timing)


def _frames() -> dict[str, Any]:
    from meteremu.dlms import xdlms
    from meteremu.dlms.apdu import encode_apdu
    from meteremu.dlms.axdr import Data, DataType
    from meteremu.dlms.wrapper import wrap

    ln = bytes((1, 0, 0, 2, 0, 255))
    get = encode_apdu(xdlms.GetRequestNormal(INVOKE, xdlms.AttributeDescriptor(1, ln, 2)))
    transfer = bytes((0, 0, 44, 0, 0, 255))

    def action(method: int, param: Data) -> bytes:
        return wrap(1, 1, encode_apdu(xdlms.ActionRequestNormal(
            INVOKE, xdlms.MethodDescriptor(18, transfer, method), param)))

    def initiate(identifier: bytes, size: int) -> bytes:
        return action(1, Data(DataType.STRUCTURE, (Data(DataType.OCTET_STRING, identifier),
                                                   Data(DataType.DOUBLE_LONG_UNSIGNED, size))))

    def blocks(package: bytes) -> list[bytes]:
        return [action(2, Data(DataType.STRUCTURE, (
            Data(DataType.DOUBLE_LONG_UNSIGNED, n),
            Data(DataType.OCTET_STRING, package[n * BLOCK:(n + 1) * BLOCK]))))
            for n in range(-(-len(package) // BLOCK))]

    return {"get": wrap(16, 1, get), "initiate": initiate, "blocks": blocks,
            "verify": action(3, Data(DataType.INTEGER, 0)),
            "activate": action(4, Data(DataType.INTEGER, 0))}


def _package(tmp: pathlib.Path) -> tuple[bytes, pathlib.Path]:
    from meteremu.testing import make_firmware, make_keys, make_package

    keys = make_keys(0)
    pkg = make_package(make_firmware(PACKAGE_SIZE - 256, seed=9), keys, version="2.0.0",
                       security_counter=2, fragment_size=BLOCK, trailer_size=128)
    assert len(pkg) == PACKAGE_SIZE
    pub = tmp / "bench-pub.pem"
    pub.write_bytes(keys.public_pem)
    return pkg, pub


# ---------------------------------------------------------------------------
# the client


class Link:
    """One connection: associate with our client's AARQ, then raw frames."""

    def __init__(self, port: int, client_sap: int) -> None:
        from meteremu.dlms.client import DlmsClient

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(65536)
        self.view = memoryview(self.buf)
        dlms = DlmsClient(client_sap=client_sap,
                          password=PASSWORD.encode() if client_sap == 1 else None)
        n = self.roundtrip(dlms.associate())
        (result,) = dlms.receive_data(bytes(self.buf[:n]))
        if not result.accepted:
            raise RuntimeError(f"association refused (diagnostic {result.diagnostic})")

    def roundtrip(self, frame: bytes) -> int:
        """Send one frame, read one whole frame back; its length."""
        sock, buf, view = self.sock, self.buf, self.view
        sock.sendall(frame)
        n = sock.recv_into(buf)
        while n < 8 or n < 8 + (buf[6] << 8 | buf[7]):
            got = sock.recv_into(view[n:])
            if not got:
                raise ConnectionError("the server closed the connection")
            n += got
        return n

    def check(self, tag: int) -> None:
        """The response just read is ``tag`` (C4 GET, C7 ACTION) with success."""
        if self.buf[8] != tag or self.buf[11] != 0:
            raise RuntimeError(f"unexpected response {bytes(self.buf[8:16]).hex()}")

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------------
# the servers


class Server:
    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_WAIT
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(rb"127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
            if not line:
                break
        self.stop()
        raise RuntimeError(f"{name} did not start: {line!r}")

    def cpu(self) -> float:
        """User + system seconds of the server process so far."""
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(START_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _has_gurux_net() -> bool:
    try:
        import gurux_net  # noqa: F401
    except ImportError:
        return False
    return True


def fast_loop() -> str:
    """The loop meteremu is measured on: uvloop when installed, else asyncio's."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _start(tmp: pathlib.Path, pub: pathlib.Path) -> dict[str, Server]:
    py = sys.executable
    loop = fast_loop()

    def serve(name: str, loop: str, *more: str) -> Server:
        return Server(name, [
            py, "-m", "meteremu.cli", "serve", "--port", "0", "--state", str(tmp / name),
            "--password", PASSWORD, "--trusted-key", str(pub), "-q", "--loop", loop, *more])

    from meteremu.transports.poll import BUSY_POLL_US  # serve's default

    def ceiling(name: str, poll_us: float) -> Server:
        return Server(name, [py, "-m", "bench.dlms", "--ceiling-server", f"{loop}:{poll_us:g}"])

    servers = {
        "meteremu": serve("meteremu", loop),
        "gurux": Server("gurux", [py, "-m", "bench.gurux_server", "--password", PASSWORD]),
        "ceiling": ceiling("ceiling", BUSY_POLL_US),
        "meteremu-nopoll": serve("meteremu-nopoll", loop, "--busy-poll", "0"),
        "ceiling-nopoll": ceiling("ceiling-nopoll", 0),
    }
    if loop != "asyncio":  # asyncio's own loop too
        servers["meteremu-asyncio"] = serve("meteremu-asyncio", "asyncio")
    if _has_gurux_net():  # the bench extra: the reference on Gurux's own media too
        servers["gurux-net"] = Server("gurux-net", [
            py, "-m", "bench.gurux_server", "--media", "gurux-net", "--password", PASSWORD])
    return servers


# ---------------------------------------------------------------------------
# measurements


@dataclass
class Figures:
    get_per_s: float = 0.0
    get_cpu_us: float = 0.0
    transfer_s: float = 0.0
    block_cpu_us: float = 0.0
    activate_ms: float | None = None
    multi_get_per_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    # the best of each placement (PLACEMENTS): GET/s, transfer seconds
    get_by_placement: dict[str, float] = field(default_factory=dict)
    transfer_by_placement: dict[str, float] = field(default_factory=dict)


#: where client and server run: both on one CPU, each on its own, or unpinned
PLACEMENTS = ("one CPU", "two CPUs", "unpinned")


def placements() -> tuple[str, ...]:
    """The placements this machine allows: all three with two CPUs or more and
    CPU affinity (Linux), else only unpinned."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return ("unpinned",)
    return PLACEMENTS


class Placer:
    """Pins this process (the client) and a server to a placement; ``free()``
    gives both every CPU this process started with."""

    def __init__(self) -> None:
        self.all = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

    def place(self, placement: str, server: Server) -> None:
        if placement == "unpinned":
            self._pin(0, self.all)
            self._pin(server.proc.pid, self.all)
            return
        client_cpu = self.all[0]
        server_cpu = client_cpu if placement == "one CPU" else self.all[1]
        self._pin(0, [client_cpu])
        self._pin(server.proc.pid, [server_cpu])

    def free(self, servers: dict[str, Server]) -> None:
        if not self.all:
            return
        self._pin(0, self.all)
        for s in servers.values():
            self._pin(s.proc.pid, self.all)

    @staticmethod
    def _pin(pid: int, cpus: list[int]) -> None:
        """Every thread of ``pid`` (0: this process's, whose client is single-threaded)."""
        if not cpus:
            return
        tasks = [pid] if pid == 0 else [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        for tid in tasks:
            with contextlib.suppress(ProcessLookupError):  # a thread that just ended
                os.sched_setaffinity(tid, cpus)


def _get_batch(link: Link, frame: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        link.roundtrip(frame)
    elapsed = time.perf_counter() - start
    link.check(0xC4)
    return elapsed


def measure_get(servers: dict[str, Server], frames: dict[str, Any], budget: Budget,
                figures: dict[str, Figures]) -> None:
    links = {name: Link(s.port, 16) for name, s in servers.items()}
    try:
        sizes = {}
        for name, link in links.items():  # calibrate: a batch of about get_seconds
            link.roundtrip(frames["get"])
            link.check(0xC4)
            n = 200
            while (t := _get_batch(link, frames["get"], n)) < budget.get_seconds / 4:
                n *= 4
            sizes[name] = max(int(n * budget.get_seconds / t), 100)
        places = placements()
        best = {name: dict.fromkeys(places, float("inf")) for name in links}
        cpu = dict.fromkeys(links, 0.0)
        count = dict.fromkeys(links, 0)
        placer = Placer()
        for batch in range(max(budget.batches, len(places))):
            place = places[batch % len(places)]  # the placements take turns too
            for name, link in links.items():  # the servers take turns
                placer.place(place, servers[name])
                c0 = servers[name].cpu()
                t = _get_batch(link, frames["get"], sizes[name])
                cpu[name] += servers[name].cpu() - c0
                count[name] += sizes[name]
                best[name][place] = min(best[name][place], t / sizes[name])
        for name in links:
            figures[name].get_by_placement = {p: 1.0 / t for p, t in best[name].items()}
            figures[name].get_per_s = max(figures[name].get_by_placement.values())
            figures[name].get_cpu_us = 1e6 * cpu[name] / count[name]
    finally:
        Placer().free(servers)
        for link in links.values():
            link.close()


def measure_transfer(servers: dict[str, Server], frames: dict[str, Any], package: bytes,
                     budget: Budget, figures: dict[str, Figures]) -> None:
    blocks = frames["blocks"](package)
    names = [n for n in servers if not n.startswith("ceiling")]
    links = {name: Link(servers[name].port, 1) for name in names}
    try:
        places = placements()
        best = {name: dict.fromkeys(places, float("inf")) for name in names}
        cpu = dict.fromkeys(names, 0.0)
        placer = Placer()
        transfers = max(budget.transfers, len(places))
        for rep in range(transfers):
            place = places[rep % len(places)]
            for name in names:
                link = links[name]
                placer.place(place, servers[name])
                initiate = frames["initiate"](f"bench-{rep}".encode(), len(package))
                c0 = servers[name].cpu()
                start = time.perf_counter()
                link.roundtrip(initiate)
                link.check(0xC7)
                for frame in blocks:
                    link.roundtrip(frame)
                link.check(0xC7)  # the last block
                link.roundtrip(frames["verify"])
                elapsed = time.perf_counter() - start
                link.check(0xC7)
                cpu[name] += servers[name].cpu() - c0
                best[name][place] = min(best[name][place], elapsed)
        placer.free(servers)
        for name in names:
            figures[name].transfer_by_placement = best[name]
            figures[name].transfer_s = min(best[name].values())
            figures[name].block_cpu_us = 1e6 * cpu[name] / (transfers * len(blocks))
            start = time.perf_counter()
            links[name].roundtrip(frames["activate"])
            figures[name].activate_ms = 1e3 * (time.perf_counter() - start)
            links[name].check(0xC7)
    finally:
        Placer().free(servers)
        for link in links.values():
            link.close()


def measure_multi(server: Server, frames: dict[str, Any], seconds: float) -> float:
    """GET/s with CONNECTIONS connections, one request in flight on each."""
    links = [Link(server.port, 16) for _ in range(CONNECTIONS)]
    sel = selectors.DefaultSelector()
    frame = frames["get"]
    pending = {}
    try:
        for link in links:
            link.sock.setblocking(False)
            sel.register(link.sock, selectors.EVENT_READ, link)
            pending[link] = 0
        done = 0
        start = time.perf_counter()
        deadline = start + seconds
        for link in links:
            link.sock.send(frame)
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            for key, _ in sel.select(deadline - now):
                link = key.data
                n = pending[link] + link.sock.recv_into(link.view[pending[link]:])
                while n >= 8 and n >= 8 + (link.buf[6] << 8 | link.buf[7]):
                    size = 8 + (link.buf[6] << 8 | link.buf[7])
                    if link.buf[8] != 0xC4 or link.buf[11] != 0:
                        raise RuntimeError(f"unexpected {bytes(link.buf[8:16]).hex()}")
                    done += 1
                    link.buf[:n - size] = link.buf[size:n]
                    n -= size
                    link.sock.send(frame)
                pending[link] = n
        elapsed = time.perf_counter() - start
        return done / elapsed
    finally:
        sel.close()
        for link in links:
            link.close()


# ---------------------------------------------------------------------------
# the ceiling server: no DLMS, a canned answer per frame


class _Canned(asyncio.BufferedProtocol):
    GET = b"\x00\x01\x00\x01\x00\x10\x00\x0b" + bytes((0xC4, 1, INVOKE, 0, 9, 5)) + b"1.0.0"
    ACTION = b"\x00\x01\x00\x01\x00\x01\x00\x05" + bytes((0xC7, 1, INVOKE, 0, 0))
    live: ClassVar[set[Any]] = set()  # the connections of this (one) server

    def __init__(self, poller: Any = None) -> None:
        self.buf = bytearray(65536)
        self.n = 0
        self.poller = poller  # serve's busy polling (meteremu.transports.poll), or None
        self.fd = -1

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        _Canned.live.add(self)
        if self.poller is not None:
            self.sock = transport.get_extra_info("socket")
            self.fd = self.sock.fileno()
            self.poller.add(self.fd, self)

    def connection_lost(self, exc: Exception | None) -> None:
        _Canned.live.discard(self)
        if self.poller is not None:
            self.poller.discard(self.fd, self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buf)[self.n:]

    def buffer_updated(self, nbytes: int) -> None:
        self._answer(nbytes)
        poller = self.poller
        if poller is None:
            return
        t = self.transport
        for _ in range(32):  # as serve polls (meteremu.transports.tcp), the loop's turn after
            if t.is_closing() or t.get_write_buffer_size():
                return
            data = poller.next_request(self.fd, self.sock, len(_Canned.live) == 1)
            if data is None or len(data) > len(self.buf) - self.n:
                return
            self.buf[self.n:self.n + len(data)] = data
            self._answer(len(data))

    def _answer(self, nbytes: int) -> None:
        self.n += nbytes
        buf = self.buf
        while self.n >= 8 and self.n >= 8 + (buf[6] << 8 | buf[7]):
            size = 8 + (buf[6] << 8 | buf[7])
            if buf[8] == 0x60:  # an AARQ: accept, whatever it asks
                self.transport.write(_aare(buf[2:4], buf[4:6]))
            else:
                self.transport.write(self.ACTION if buf[8] == 0xC3 else self.GET)
            buf[:self.n - size] = buf[size:self.n]
            self.n -= size


def _aare(client: bytes, server: bytes) -> bytes:
    from meteremu.dlms import acse, xdlms
    from meteremu.dlms.apdu import encode_apdu

    apdu = encode_apdu(acse.Aare(0, 0, user_information=xdlms.InitiateResponse(
        xdlms.Conformance.GET | xdlms.Conformance.ACTION, 1024)))
    return b"\x00\x01" + server + client + len(apdu).to_bytes(2, "big") + apdu


def ceiling_server(mode: str) -> None:
    """``LOOP[:POLL_US]``: the canned server on that loop, busy polling as serve does."""
    loop, _, poll = mode.partition(":")
    poll_us = float(poll or 0)

    async def main() -> None:
        from meteremu.transports.poll import BusyPoller, available

        poller = BusyPoller(poll_us) if poll_us > 0 and available() else None
        srv = await asyncio.get_running_loop().create_server(
            lambda: _Canned(poller), "127.0.0.1", 0)
        print(f"ceiling on 127.0.0.1:{srv.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        if loop == "uvloop":
            import uvloop

            uvloop.run(main())
        else:
            asyncio.run(main())


# ---------------------------------------------------------------------------
# report


def _machine() -> dict[str, str]:
    import gurux_dlms

    from bench.__main__ import cpu_model

    return {"cpu": cpu_model(), "cores": str(os.cpu_count()),
            "python": platform.python_version(),
            "gurux_dlms": getattr(gurux_dlms, "__version__", _dist_version("gurux-dlms")),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "loop": fast_loop()}


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    try:
        return version(name)
    except Exception:
        return "?"


def render(f: dict[str, Figures], loop: str = "asyncio") -> list[str]:
    ours, ref, top = f["meteremu"], f["gurux"], f["ceiling"]
    get_ratio = ours.get_per_s / ref.get_per_s
    transfer_ratio = ours.transfer_s / ref.transfer_s
    rows = [
        ("GET round trips/s, 1 connection", f"{ours.get_per_s:,.0f}", f"{ref.get_per_s:,.0f}",
         f"{get_ratio:.2f}x", f">= {GET_TARGET:g}x",
         "pass" if get_ratio >= GET_TARGET else "FAIL"),
        ("class 18 transfer, 128 KiB (s)", f"{ours.transfer_s:.3f}", f"{ref.transfer_s:.3f}",
         f"{transfer_ratio:.2f}x", f"<= {TRANSFER_TARGET:g}x",
         "pass" if transfer_ratio <= TRANSFER_TARGET else "FAIL"),
        ("server CPU per GET (us)", f"{ours.get_cpu_us:.1f}", f"{ref.get_cpu_us:.1f}",
         f"{ours.get_cpu_us / ref.get_cpu_us:.2f}x", "-", "info"),
        ("server CPU per block (us)", f"{ours.block_cpu_us:.1f}", f"{ref.block_cpu_us:.1f}",
         f"{ours.block_cpu_us / ref.block_cpu_us:.2f}x", "-", "info"),
        ("activate (ms)", f"{ours.activate_ms:.2f}", f"{ref.activate_ms:.2f}", "-", "-",
         "info"),
        (f"GET/s, {CONNECTIONS} connections", f"{ours.multi_get_per_s:,.0f}",
         f"{ref.multi_get_per_s:,.0f}", f"{ours.multi_get_per_s / ref.multi_get_per_s:.2f}x",
         "-", "info"),
        (f"GET/s at {CONNECTIONS} / at 1 connection",
         f"{ours.multi_get_per_s / ours.get_per_s:.2f}",
         f"{ref.multi_get_per_s / ref.get_per_s:.2f}", "-", "-", "info"),
        (f"ceiling: no-DLMS server ({loop}, busy poll), GET/s", f"{top.get_per_s:,.0f}", "-",
         f"{top.get_per_s / ref.get_per_s:.2f}x", "-", "bound"),
        (f"ceiling, {CONNECTIONS} connections, GET/s", f"{top.multi_get_per_s:,.0f}", "-",
         f"{top.multi_get_per_s / ref.multi_get_per_s:.2f}x", "-", "bound"),
    ]
    for place in PLACEMENTS:
        if place in ours.get_by_placement and place in ref.get_by_placement:
            g, r = ours.get_by_placement[place], ref.get_by_placement[place]
            rows.append((f"GET/s, {place}", f"{g:,.0f}", f"{r:,.0f}", f"{g / r:.2f}x", "-",
                         "info"))
    for place in PLACEMENTS:
        if place in ours.transfer_by_placement and place in ref.transfer_by_placement:
            g, r = ours.transfer_by_placement[place], ref.transfer_by_placement[place]
            rows.append((f"transfer (s), {place}", f"{g:.3f}", f"{r:.3f}", f"{g / r:.2f}x",
                         "-", "info"))
    for name, what in (("meteremu-nopoll", "meteremu, no busy poll"),
                       ("meteremu-asyncio", "meteremu on asyncio's loop")):
        other = f.get(name)
        if other is None:
            continue
        rows += [
            (f"{what}, GET/s", f"{other.get_per_s:,.0f}", f"{ref.get_per_s:,.0f}",
             f"{other.get_per_s / ref.get_per_s:.2f}x", "-", "info"),
            (f"{what}, transfer (s)", f"{other.transfer_s:.3f}", f"{ref.transfer_s:.3f}",
             f"{other.transfer_s / ref.transfer_s:.2f}x", "-", "info"),
            (f"{what}, CPU/GET (us)", f"{other.get_cpu_us:.1f}", f"{ref.get_cpu_us:.1f}",
             f"{other.get_cpu_us / ref.get_cpu_us:.2f}x", "-", "info"),
            (f"{what}, CPU/block (us)", f"{other.block_cpu_us:.1f}",
             f"{ref.block_cpu_us:.1f}", f"{other.block_cpu_us / ref.block_cpu_us:.2f}x", "-",
             "info"),
        ]
    bare = f.get("ceiling-nopoll")
    if bare is not None:
        rows.append((f"ceiling, no busy poll ({loop}), GET/s", f"{bare.get_per_s:,.0f}", "-",
                     f"{bare.get_per_s / ref.get_per_s:.2f}x", "-", "bound"))
    net = f.get("gurux-net")
    if net is not None and net.get_per_s:
        rows += [
            ("reference on gurux-net media, GET/s", f"{ours.get_per_s:,.0f}",
             f"{net.get_per_s:,.0f}", f"{ours.get_per_s / net.get_per_s:.2f}x", "-", "info"),
            ("reference on gurux-net media, transfer (s)", f"{ours.transfer_s:.3f}",
             f"{net.transfer_s:.3f}", f"{ours.transfer_s / net.transfer_s:.2f}x", "-", "info"),
        ]
    head = ("case", "meteremu", "gurux", "ratio", "target", "result")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in (1, 2, 3) else c.ljust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    return [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def run(budget: Budget) -> tuple[dict[str, Figures], dict[str, str]]:
    figures = {name: Figures() for name in ("meteremu", "gurux", "ceiling", "gurux-net",
                                            "meteremu-nopoll", "ceiling-nopoll",
                                            "meteremu-asyncio")}
    with tempfile.TemporaryDirectory(prefix="bench-dlms-") as tmp_name:
        tmp = pathlib.Path(tmp_name)
        package, pub = _package(tmp)
        frames = _frames()
        machine = _machine()
        servers = _start(tmp, pub)
        try:
            measure_get(servers, frames, budget, figures)
            figures = {name: figures[name] for name in servers}
            measure_transfer(servers, frames, package, budget, figures)
            for name in ("meteremu", "gurux", "ceiling"):
                figures[name].multi_get_per_s = max(
                    measure_multi(servers[name], frames, budget.multi_seconds)
                    for _ in range(2 if budget is FULL else 1))
        finally:
            for s in servers.values():
                s.stop()
    return figures, machine


@contextlib.contextmanager
def _pythonpath() -> Iterator[None]:
    """The server subprocesses import ``bench`` from the repository root."""
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root + (os.pathsep + old if old else "")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dlms", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run, rougher figures")
    p.add_argument("--json", metavar="PATH", type=pathlib.Path, help="write results here")
    p.add_argument("--ceiling-server", nargs="?", const="asyncio", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ceiling_server:
        ceiling_server(args.ceiling_server)
        return 0
    budget = QUICK if args.quick else FULL
    with _pythonpath():
        figures, machine = run(budget)
    print(f"bench.dlms on {machine['cpu']} ({machine['cores']} cores), Python "
          f"{machine['python']}, gurux-dlms {machine['gurux_dlms']}, meteremu on "
          f"{machine['loop']}, load {machine['load']}"
          + (" (quick)" if args.quick else ""))
    for line in render(figures, machine["loop"]):
        print(line)
    ref = figures["gurux"]
    print(f"the gurux reference here: {ref.get_per_s:,.0f} GET/s and {ref.transfer_s:.3f} s per "
          "128 KiB (SPEC section 9 expected about 2,000 GET/s and 0.7 s); the ceiling row is "
          "the most any server can get with this client on this machine")
    if args.json:
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "quick": args.quick, "machine": machine,
            "figures": {k: vars(v) for k, v in figures.items()}}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
