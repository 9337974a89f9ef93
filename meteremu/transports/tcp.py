"""The DLMS/COSEM TCP wrapper server (IEC 62056-47) in asyncio: sockets and the real clock.

One :class:`asyncio.Protocol` per connection feeds a sans-I/O
:class:`~meteremu.dlms.connection.ServerConnection`; nothing is shared between
connections but the meters. Per connection:

* the receive side holds at most one partial frame (the connection consumes
  every whole frame at once); a frame over the server's max receive PDU ends
  the connection;
* a peer that sends requests and does not read the responses fills the
  transport's write buffer past :data:`WRITE_HIGH_WATER`; the protocol then
  pauses reading from it until the buffer drains (``pause_reading``);
* one idle timeout: no whole frame within ``idle_timeout`` seconds (a client
  that stalls mid-frame, or never sends its RLRQ) and the connection closes.
  Bytes that do not complete a frame do not count as activity;
* busy polling (:mod:`.poll`, ``busy_poll_us``): after a reply the connection
  polls briefly for the client's next request and answers it inline, up to
  :data:`POLL_FRAMES` in a row, while nothing else is ready -- not while its
  reading is paused or replies wait to be written.

Time: the meters' clocks are moved only from here (:class:`MeterClock`): a
monotonic clock scaled by ``time_scale`` (1.0 real time, 60 a minute per
second, 0 frozen), applied to a meter just before anything asks it something
(:class:`ClockedMeter`) and to every meter once a second, so a heartbeat
window or a 15-minute snapshot falls due with no traffic too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, cast

from ..device.cosem import Client
from ..dlms.association import DEFAULT_MAX_RECEIVE_PDU
from ..dlms.connection import ServerConnection
from ..dlms.events import (
    ApduRefused,
    Associated,
    AssociationRejected,
    ConnectionClosed,
    Event,
    Released,
    Served,
)
from ..dlms.security import SecurityPolicy
from ..errors import UsageError
from .poll import BUSY_POLL_US, MAX_BUSY_POLL_US, BusyPoller, available

__all__ = ["BUSY_POLL_US", "GRAIN_US", "POLL_FRAMES", "WRITE_HIGH_WATER", "ClockedMeter",
           "MeterClock", "MeterServer", "protocol_class"]

log = logging.getLogger("meteremu.serve")

WRITE_HIGH_WATER = 64 * 1024  # bytes queued for a peer before its reading is paused
TICK = 1.0  # seconds between advancing every meter
GRAIN_US = 10_000  # virtual time a request may find a meter behind (a hundredth)
RECEIVE_BUFFER = 64 * 1024  # bytes a connection reads at once
POLL_FRAMES = 32  # requests answered inline by busy polling before the loop's turn


class MeterClock:
    """Virtual seconds since the server started: ``(monotonic - start) * scale``,
    kept in whole microseconds so every meter's sum of advances is exact."""

    def __init__(self, scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not scale >= 0 or scale > 1e6:
            raise UsageError(f"time scale must be 0..1000000, not {scale!r}")
        self.scale = scale
        self.read = clock  # the underlying clock (seconds)
        self._start = clock()

    def now_us(self) -> int:
        return int((self.read() - self._start) * self.scale * 1_000_000)

    def reading_at(self, us: int) -> float:
        """A reading of the underlying clock a little before virtual time reaches
        ``us`` (never, at scale 0)."""
        if self.scale == 0:
            return float("inf")
        return self._start + us / (self.scale * 1_000_000) - 1e-6


class ClockedMeter:
    """A meter as an association sees it: every call first brings the meter's clock
    up to the server's (the meter itself never reads a clock).

    A request may find the meter up to :data:`GRAIN_US` of virtual time behind
    (the date-time's resolution, a hundredth of a second): advancing a meter was
    the dearest part of a GET or a class 18 block, and at thousands of requests
    a second nearly every one of them moved it by a few microseconds. The
    heartbeat, an association and the once-a-second tick bring it fully up to
    date; no sum of advances is lost either way (the server's clock is counted
    in whole microseconds and the meter gets all of them).
    """

    def __init__(self, meter: Any, clock: MeterClock) -> None:
        self.meter = meter
        self._clock = clock
        self._done_us = 0
        self._read = clock.read
        self._due = float("-inf")  # a clock reading before which no request syncs

    def sync(self, grain_us: int = 0) -> None:
        target = self._clock.now_us()
        if target - self._done_us > grain_us:
            self.meter.advance(Fraction(target - self._done_us, 1_000_000))
            self._done_us = target
        # a request syncs once the meter may be more than the grain behind: the
        # clock is read and compared, nothing else, until then
        self._due = self._clock.reading_at(self._done_us + GRAIN_US)

    @property
    def available(self) -> bool:
        self.sync()
        return bool(self.meter.available)

    def get(self, obis: bytes, attr: int, client: Client) -> Any:
        if self._read() > self._due:
            self.sync(GRAIN_US)
        return self.meter.get(obis, attr, client)

    def set(self, obis: bytes, attr: int, value: Any, client: Client) -> None:
        if self._read() > self._due:
            self.sync(GRAIN_US)
        self.meter.set(obis, attr, value, client)

    def action(self, obis: bytes, method: int, param: Any, client: Client) -> Any:
        if self._read() > self._due:
            self.sync(GRAIN_US)
        return self.meter.action(obis, method, param, client)

    def heartbeat(self) -> bool:
        self.sync()
        return bool(self.meter.heartbeat())


class _Protocol(asyncio.Protocol):
    """One connection, as a plain protocol: the loop hands it the bytes it read
    (uvloop reads into a buffer of its own and makes a bytes object of the size
    read; asyncio's own loop needs :class:`_BufferedProtocol`)."""

    def __init__(self, server: MeterServer) -> None:
        self.server = server
        self.conn = ServerConnection(server.meters, server.policy,
                                     max_receive_pdu=server.max_receive_pdu)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._loop = asyncio.get_running_loop()  # protocols are made inside the loop
        self._idle: asyncio.TimerHandle | None = None
        self._active = 0.0  # loop time of the last whole frame
        self._frames = 0
        self._poller: BusyPoller | None = None  # set while this connection busy-polls
        self._fd = -1
        self._sock: Any = None  # the transport's socket (its options), while polling
        self._replied = -1e9  # the poller's clock when the last reply was written

    # ---------------------------------------------------------------- asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # typed, not checked: uvloop's transports have the Transport methods but do not
        # derive from asyncio.Transport (an assert here reset every uvloop connection)
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if self.server.poller is not None and sock is not None:
            self._sock = sock
            self._fd = sock.fileno()
            self.server.poller.add(self._fd, self)
            self._poller = self.server.poller
        self._arm()

    def data_received(self, data: bytes) -> None:
        poller = self._poller
        if poller is None:
            self._receive(data)
            return
        # adaptive: poll after this reply only if this request came within the window
        # of the last reply (a lock-step client); a slower one is left to the loop
        quick = poller.clock() - self._replied <= poller.window
        self._receive(data)
        if quick:
            self._poll(poller)
        self._replied = poller.clock()

    def _poll(self, poller: BusyPoller) -> None:
        """Busy polling: the next requests, while they come in lock-step, read and
        answered here -- not while reading is paused, replies wait to be written,
        or the connection closes; never more than :data:`POLL_FRAMES` in a row.
        The only connection reads first (a client on the same CPU has often sent
        its next request by now), then keeps reading until its request comes;
        with others open, the poller is asked whether another is ready. A
        client on this CPU is not waited for: it needs the CPU to send."""
        t, fd = self.transport, self._fd
        assert t is not None
        for _ in range(POLL_FRAMES):
            if t.is_closing() or not t.is_reading() or t.get_write_buffer_size():
                return
            data = poller.next_request(fd, self._sock, len(self.server.connections) == 1)
            if data is None:  # the loop's turn (an end of stream: its own read sees it)
                return
            self._receive(data)

    def _receive(self, data: bytes) -> None:
        """``data`` to the connection; its replies written, its events reported. Every
        request passes here: the usual one (a whole frame, one reply, one Served
        event) takes no step it does not need."""
        conn = self.conn
        try:
            events = conn.receive_data(data)
        except Exception:  # never happens by design; a bug closes this connection only
            log.exception("%s: connection failed", self.peer)
            self._abort()
            return
        if conn.closing is None and len(events) == 1 and type(events[0]) is Served \
                and not log.isEnabledFor(logging.DEBUG):  # -v logs every request
            out = conn.data_to_send()
            if out:  # the reply first: the client waits for it, the bookkeeping does not
                t = self.transport
                assert t is not None
                if not t.is_closing():
                    t.write(out)
            self.server.events_seen += 1
        else:
            self._flush(events)
        if conn.frames != self._frames:  # a whole frame: activity
            self._frames = conn.frames
            self._active = self._loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self._poller is not None:
            self._poller.discard(self._fd, self)
            self._poller = None
        if self._idle is not None:
            self._idle.cancel()
        self._report(self.conn.close("peer closed" if exc is None else f"lost: {exc}"))

    def pause_writing(self) -> None:  # the peer does not read: stop taking requests
        self.server.pauses += 1
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # ---------------------------------------------------------------- helpers
    def _arm(self) -> None:
        """The idle timer: one timer per connection, moved only when it fires (a
        frame just records its time), so a busy connection does not fill the
        loop's timer heap with a cancelled timer per request."""
        self._active = self._loop.time()
        self._idle = self._loop.call_later(self.server.idle_timeout, self._on_idle)

    def _on_idle(self) -> None:
        quiet = self._loop.time() - self._active
        if quiet < self.server.idle_timeout:
            self._idle = self._loop.call_later(self.server.idle_timeout - quiet,
                                               self._on_idle)
            return
        self._flush(self.conn.close("idle timeout"))

    def _flush(self, events: list[Event]) -> None:
        assert self.transport is not None
        out = self.conn.data_to_send()
        if out and not self.transport.is_closing():
            self.transport.write(out)
        self._report(events)
        if self.conn.closing is not None and not self.transport.is_closing():
            self.transport.close()  # after the buffered replies are written

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self, reason: str) -> None:
        """Server shutdown: end this connection (the association is closed)."""
        self._flush(self.conn.close(reason))

    def _report(self, events: list[Event]) -> None:
        self.server.events_seen += len(events)
        for e in events:
            if type(e) is Served:  # one a request: logged with -v only
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s: %s", self.peer, e)
            elif isinstance(e, Associated):
                log.info("%s: client %d associated with meter %d%s", self.peer, e.client,
                         e.meter, " (heartbeat: trial image confirmed)" if e.heartbeat else "")
            elif isinstance(e, AssociationRejected):
                log.info("%s: client %d rejected (diagnostic %d): %s", self.peer, e.client,
                         e.diagnostic, e.reason)
            elif isinstance(e, Released):
                log.info("%s: client %d released", self.peer, e.client)
            elif isinstance(e, ConnectionClosed) and e.reason not in ("released",
                                                                     "peer closed"):
                log.info("%s: closed: %s", self.peer, e.reason)
            elif isinstance(e, ApduRefused):
                log.debug("%s: refused: %s", self.peer, e.reason)
            else:
                log.debug("%s: %s", self.peer, e)


class _BufferedProtocol(_Protocol, asyncio.BufferedProtocol):
    """One connection on asyncio's own loop: the loop reads into one buffer of the
    connection's, where a plain protocol gets a fresh bytes object of 256 KiB for
    every read there (an mmap and munmap a request, a third of a GET's time)."""

    def __init__(self, server: MeterServer) -> None:
        super().__init__(server)
        self._buffer = memoryview(bytearray(RECEIVE_BUFFER))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._buffer[:nbytes]))


def protocol_class(loop: asyncio.AbstractEventLoop) -> type[_Protocol]:
    """Buffered on asyncio's own loops; plain on others (uvloop), where handing
    over the bytes read costs less than filling a buffer of ours (about 1 us a
    request less, measured)."""
    return _BufferedProtocol if isinstance(loop, asyncio.BaseEventLoop) else _Protocol


class MeterServer:
    """The meters behind one TCP listener: ``meters[wPort]`` (1 for a single meter).

    ``busy_poll_us``: the busy polling window after a reply (:mod:`.poll`); 0,
    or a platform without epoll, waits in the loop only.
    ``await start(host, port)`` listens (port 0: any free port, see
    :attr:`port`); ``await stop()`` closes the listener and every connection,
    brings the meters' clocks up to date and closes the meters (their
    power-fail save).
    """

    def __init__(self, meters: Mapping[int, Any], policy: SecurityPolicy, *,
                 time_scale: float = 1.0, idle_timeout: float = 120.0,
                 max_receive_pdu: int = DEFAULT_MAX_RECEIVE_PDU,
                 busy_poll_us: float = BUSY_POLL_US,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not meters:
            raise UsageError("a server needs at least one meter")
        if not idle_timeout > 0:
            raise UsageError(f"idle timeout must be positive, not {idle_timeout!r}")
        if not 0 <= busy_poll_us <= MAX_BUSY_POLL_US:
            raise UsageError(f"busy poll window must be 0..{MAX_BUSY_POLL_US:g} us, "
                             f"not {busy_poll_us!r}")
        self.busy_poll_us = busy_poll_us
        self.poller: BusyPoller | None = None  # made by start()
        self.clock = MeterClock(time_scale, clock)
        self.raw_meters = dict(meters)
        self.meters = {addr: ClockedMeter(m, self.clock) for addr, m in meters.items()}
        self.policy = policy
        self.idle_timeout = idle_timeout
        self.max_receive_pdu = max_receive_pdu
        self.connections: set[_Protocol] = set()
        self.events_seen = 0
        self.pauses = 0  # times a connection's reading was paused (its peer did not read)
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 4059) -> None:
        loop = asyncio.get_running_loop()
        protocol = protocol_class(loop)
        if self.busy_poll_us > 0 and available():
            self.poller = BusyPoller(self.busy_poll_us)
        self._server = await loop.create_server(lambda: protocol(self), host, port)
        sock = self._server.sockets[0].getsockname()
        self.host, self.port = sock[0], sock[1]
        if self.poller is not None:  # a new connection ends the polling too
            for listener in self._server.sockets:
                self.poller.add(listener.fileno(), self._server)
        self._ticker = asyncio.create_task(self._tick())

    def sync_all(self) -> None:
        for m in self.meters.values():
            m.sync()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                self.sync_all()
            except Exception:  # a meter that fails to advance must not stop the others
                log.exception("advancing the meters failed")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
        for c in list(self.connections):
            c.close("server shutdown")
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        self.sync_all()
        if self.poller is not None:
            self.poller.close()
            self.poller = None
        for meter in self.raw_meters.values():
            meter.close()  # the power-fail save; the state file is flushed
