"""Busy polling (meteremu/transports/poll.py): after a reply the server reads the
client's next request itself. It must never change what is answered, never read
a connection whose reading is paused, and never keep the loop from the others.
The wiring tests (test_dlms_server.py) run every server test with and without
it; here the poller and the protocol's polling, on real sockets, no timing."""

from __future__ import annotations

import asyncio
import os
import select
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transportkit import FakeTransport

from meteremu.dlms import xdlms
from meteremu.dlms.apdu import encode_apdu
from meteremu.dlms.client import DlmsClient
from meteremu.dlms.connection import ServerConnection
from meteremu.dlms.security import SecurityPolicy
from meteremu.dlms.wrapper import wrap
from meteremu.testing.factory import make_keys, make_meter
from meteremu.transports import tcp
from meteremu.transports.poll import BusyPoller
from meteremu.transports.tcp import MeterServer, _Protocol

pytestmark = pytest.mark.skipif(not hasattr(select, "epoll"), reason="busy polling needs epoll")

PW = b"secret"
H = bytes.fromhex


def get(obis: str, attr: int = 2, invoke: int = 0xC1) -> bytes:
    return wrap(16, 1, encode_apdu(xdlms.GetRequestNormal(
        invoke, xdlms.AttributeDescriptor(1, bytes(int(x) for x in obis.split(".")), attr))))


FIRMWARE = get("1.0.0.2.0.255")
SERIAL = get("0.0.96.1.0.255")
UNKNOWN = get("9.9.9.9.9.9")


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_read_tells_nothing_yet_from_end_of_stream(pair):
    a, b = pair
    p = BusyPoller(10)
    assert p.read(a.fileno()) == b""  # nothing yet: not the end
    b.sendall(b"abc")
    assert p.read(a.fileno()) == b"abc"
    b.shutdown(socket.SHUT_WR)
    assert p.read(a.fileno()) is None
    assert p.read(a.fileno()) is None  # and the loop's own read sees the end too
    assert a.recv(10) == b""
    p.close()


def test_wait_is_true_only_when_the_polled_connection_alone_is_ready(pair):
    a, b = pair
    c, d = socket.socketpair()
    p = BusyPoller(200)
    p.add(a.fileno(), "a")
    p.add(c.fileno(), "c")
    assert not p.wait(a.fileno()) and p.misses == 1  # nothing in the window
    b.sendall(b"x")
    assert p.wait(a.fileno()) and p.hits == 1
    d.sendall(b"y")  # another connection is ready too: the loop's turn
    assert not p.wait(a.fileno())
    assert not p.wait(c.fileno())
    p.close()
    assert not p.wait(a.fileno())  # a stopped server polls nothing
    c.close()
    d.close()


def test_wait_read_returns_the_request_nothing_or_the_end(pair):
    a, b = pair
    p = BusyPoller(200)
    assert p.wait_read(a.fileno()) == b"" and p.misses == 1  # nothing in the window
    b.sendall(b"req")
    assert p.wait_read(a.fileno()) == b"req" and p.hits == 1
    b.shutdown(socket.SHUT_WR)
    assert p.wait_read(a.fileno()) is None
    p.close()
    assert p.wait_read(a.fileno()) == b""  # a stopped server reads nothing


def test_next_request_alone_or_among_others(pair, monkeypatch):
    a, b = pair
    c, d = socket.socketpair()
    p = BusyPoller(200)
    monkeypatch.setattr(p, "client_here", lambda sock: False)  # a client on another CPU
    p.add(a.fileno(), "a")
    p.add(c.fileno(), "c")
    assert p.next_request(a.fileno(), a, alone=True) is None  # the window passed
    b.sendall(b"one")
    assert p.next_request(a.fileno(), a, alone=True) == b"one"
    b.sendall(b"two")
    assert p.next_request(a.fileno(), a, alone=False) == b"two"  # ours alone is ready
    b.sendall(b"three")
    d.sendall(b"other")
    assert p.next_request(a.fileno(), a, alone=False) is None  # the loop's turn
    assert a.recv(10) == b"three"  # left for the loop to read
    monkeypatch.setattr(p, "client_here", lambda sock: True)  # a client on this CPU
    assert p.next_request(a.fileno(), a, alone=True) is None
    p.close()
    c.close()
    d.close()


def test_an_fd_reused_by_a_new_connection_stays_polled(pair):
    a, b = pair
    p = BusyPoller(200)
    p.add(a.fileno(), "old")
    p.add(a.fileno(), "new")  # the old one's fd closed and came back for a new one
    p.discard(a.fileno(), "old")  # the old connection's late goodbye
    b.sendall(b"x")
    assert p.wait(a.fileno())
    p.discard(a.fileno(), "new")
    assert not p.wait(a.fileno())
    p.close()


def _connect(pair, window_us=1000.0):
    meters = {1: make_meter(make_keys(0))}
    server = MeterServer(meters, SecurityPolicy.default(PW), time_scale=0,
                         busy_poll_us=window_us)
    server.poller = BusyPoller(window_us)  # what start() makes
    server.poller.clock = lambda: 0.0  # frozen: every request comes "at once" (polled for)
    proto = _Protocol(server)
    t = FakeTransport(pair[0])
    proto.connection_made(t)
    proto.data_received(DlmsClient().associate())
    t.written.clear()
    return server, proto, t


def in_loop(body):
    """Run ``body()`` inside an event loop (protocols are made inside one)."""
    async def main():
        return body()

    return asyncio.run(main())


def _replies(reference: ServerConnection, frames: bytes) -> bytes:
    reference.receive_data(frames)
    return reference.data_to_send()


def _reference() -> ServerConnection:
    ref = ServerConnection({1: make_meter(make_keys(0))}, SecurityPolicy.default(PW))
    ref.receive_data(DlmsClient().associate())
    ref.data_to_send()
    return ref


def test_the_next_request_already_sent_is_answered_by_polling(pair):
    server, proto, t = in_loop(lambda: _connect(pair))
    pair[1].sendall(SERIAL)  # the client's next request, in before the loop would look
    proto.data_received(FIRMWARE)
    assert bytes(t.written) == _replies(_reference(), FIRMWARE + SERIAL)
    assert proto.conn.frames == 3  # the AARQ and both requests
    proto.connection_lost(None)
    assert server.poller is not None and not server.poller._owners  # no longer polled


@pytest.mark.parametrize("state", ["paused", "replies waiting", "closing"])
def test_no_polling_while_paused_backed_up_or_closing(pair, state):
    _server, proto, t = in_loop(lambda: _connect(pair))
    if state == "paused":
        proto.pause_writing()  # the peer does not read: reading paused
    elif state == "replies waiting":
        t.buffered = 100
    else:
        t.closed = True
    pair[1].sendall(SERIAL)
    proto.data_received(FIRMWARE)
    assert proto.conn.frames == 2  # the second request is still in the socket
    assert pair[0].recv(1024) == SERIAL


def test_polling_adapts_to_how_soon_the_client_sends_again(pair):
    """A request that came long after the last reply: the client thinks, the loop
    waits for it. One that came at once: the next is polled for."""
    server, proto, _ = in_loop(lambda: _connect(pair))
    now = [10.0]  # seconds: the AARE went out at 0, far more than the window ago
    server.poller.clock = lambda: now[0]
    pair[1].sendall(SERIAL)
    proto.data_received(FIRMWARE)
    assert proto.conn.frames == 2 and pair[0].recv(1024) == SERIAL  # not polled for
    pair[1].sendall(FIRMWARE)
    proto.data_received(SERIAL)  # at once after the last reply (the clock stood still)
    assert proto.conn.frames == 4  # and the next one was polled for


def test_polling_hands_back_to_the_loop_after_poll_frames(pair, monkeypatch):
    """A client that always has its next request ready still gives the loop its turn."""
    _server, proto, _ = in_loop(lambda: _connect(pair))
    monkeypatch.setattr(tcp, "POLL_FRAMES", 2)

    class Endless:
        reads = 0
        window = 1.0

        @staticmethod
        def clock():
            return 0.0

        def next_request(self, fd, sock, alone):
            self.reads += 1
            return FIRMWARE

    endless = Endless()
    proto._poller = endless  # type: ignore[assignment]
    proto.data_received(FIRMWARE)
    assert endless.reads == 2 and proto.conn.frames == 4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([FIRMWARE, SERIAL, UNKNOWN, wrap(16, 1, H("C0 01")),
                                 H("0001 0010 0001 0400")]), min_size=1, max_size=8),
       st.data())
def test_polling_never_changes_the_replies(requests, data):
    """One request stream cut in three: the loop hands over the first piece, polling
    reads the second (already sent), the loop hands over the third. The same bytes
    back, and the same close, as a connection fed the whole stream."""
    stream = b"".join(requests)
    c1 = data.draw(st.integers(1, len(stream)))
    c2 = data.draw(st.integers(c1, len(stream)))
    pair = socket.socketpair()
    try:
        pair[0].setblocking(False)
        _server, proto, t = in_loop(lambda: _connect(pair))
        pair[1].sendall(stream[c1:c2])
        proto.data_received(stream[:c1])
        if c2 < len(stream):
            proto.data_received(stream[c2:])
        ref = _reference()
        assert bytes(t.written) == _replies(ref, stream)
        assert t.closed == (ref.closing is not None)
    finally:
        pair[0].close()
        pair[1].close()


@pytest.mark.parametrize("window", [-1.0, 1000.5, float("nan")])
def test_a_window_out_of_range_is_a_usage_error(window):
    from meteremu.errors import UsageError

    with pytest.raises(UsageError, match="busy poll window"):
        MeterServer({1: make_meter(make_keys(0))}, SecurityPolicy.default(PW),
                    busy_poll_us=window)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2,
                    reason="needs two CPUs to pin to")
def test_a_client_on_this_cpu_is_not_polled_for():
    """Requests sent from this CPU: the client needs the CPU, polling would hold it up;
    sent from another CPU: polling pays. (Loopback TCP records the sender's CPU.)"""
    import threading

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("this process may run on one CPU only")
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    p = BusyPoller(10)
    old = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {cpus[0]})
        client.sendall(b"a")
        assert server.recv(1) == b"a"
        assert p.client_here(server)

        def send_elsewhere() -> None:
            os.sched_setaffinity(0, {cpus[1]})
            client.sendall(b"b")

        t = threading.Thread(target=send_elsewhere)
        t.start()
        t.join()
        assert server.recv(1) == b"b"
        assert not p.client_here(server)
    finally:
        os.sched_setaffinity(0, old)
        for s in (client, server, listener):
            s.close()
        p.close()


def test_verbose_logs_every_request_the_short_path_included(pair, caplog):
    """``serve -v``: every request is logged, whenever the level was raised."""
    import logging

    _, proto, _ = in_loop(lambda: _connect(pair))
    proto.data_received(FIRMWARE)  # quiet: not logged
    with caplog.at_level(logging.DEBUG, logger="meteremu.serve"):
        proto.data_received(SERIAL)
    served = [r.getMessage() for r in caplog.records if "Served" in r.getMessage()]
    assert len(served) == 1 and "0.0.96.1.0.255" in served[0]
